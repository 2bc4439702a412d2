"""Paths on the command line -> the Python files to scan, each with its module name.

Rules (why, in short):

* Only ``*.py``. Stubs (``.pyi``) hold no lock behaviour, and scanning both a module and its
  stub would define every name twice.
* Directories are walked recursively in sorted order, so the file list (and everything
  downstream, including finding order) is deterministic.
* Directories a user never means to scan are skipped while walking: VCS metadata, caches,
  virtual environments (any directory holding ``pyvenv.cfg``, whatever its name), ``site-packages``,
  ``node_modules``, and ``build``/``dist`` unless they are Python packages themselves (a project
  may well have a ``build`` package). A path named explicitly on the command line is never
  skipped by these defaults.
* ``config.exclude`` globs (gitignore-like, relative to ``config.root``; below a directory
  named on the command line that lies outside the project, relative to that directory, so
  ``lockwatch scan /elsewhere --extend-exclude 'test/**'`` means ``/elsewhere/test``) apply
  everywhere, explicit files included: pre-commit passes changed files explicitly, and a user who
  excluded ``vendor/`` does not want it scanned because a hook named one of its files.
* An exclude pattern that excluded nothing is recorded for the command line to warn about
  (:func:`watching_excludes`): a pattern anchored at the wrong directory otherwise fails
  silently and the user gets the code they excluded scanned. What counts as worth a warning
  is decided here, with the walk's facts at hand (see :meth:`ExcludeCheck.unused`); the
  matching itself does not change.
* Nothing here ever opens a file: ``stat`` decides. FIFOs, sockets and devices are never
  opened (opening a FIFO blocks), dangling symlinks and symlink loops are reported, symlinked
  directories are followed at most once (a link back to an ancestor is reported as a loop).
* A file reached twice (through a symlink, or named twice) is scanned once.

Module names: walk up from the file's directory while it holds ``__init__.py``; the first
directory without one is the root (what would be on ``sys.path``). This gives ``src``-layout
for free (``src/pkg/mod.py`` -> ``pkg.mod`` with root ``src``). A file outside any package is
a top-level module named by its stem.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fnmatch
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from lockwatch.config import Config
from lockwatch.findings import InputError, display_path

# Skipped while walking (never when named explicitly).
_SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", "__pycache__", "node_modules", ".tox",
    ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".lockwatch_cache",
    ".pytype", "__pypackages__", "site-packages", "dist-packages", ".direnv", "buck-out",
})
# Skipped while walking unless they are Python packages.
_SKIP_UNLESS_PACKAGE = frozenset({"build", "dist", "_build"})


@dataclass(frozen=True)
class SourceFile:
    path: str        # display path (SPEC: relative to cwd when under it, '/'-separated); the key
    abspath: str     # absolute, normalised, symlinks not resolved (the path the user sees)
    module: str      # dotted module name, e.g. "pkg.sub.mod" ("pkg.sub" for its __init__.py)
    is_package: bool  # True for an __init__.py
    root: str        # absolute directory that would be on sys.path for this module


def discover(paths: list[str], config: Config) -> tuple[list[SourceFile], list[InputError]]:
    """Files under ``paths`` (files or directories, default ``.``) in deterministic order,
    plus a reason for every input the user would want to know was not scanned."""
    walker = _Walker(config)
    result = walker.run(list(paths) or ["."])
    watch = _WATCH.get()
    if watch is not None:
        watch.append(ExcludeCheck(walker))
    return result


# The discovery runs inside ``watching_excludes()`` blocks (the engine calls ``discover``; the
# command line, which warns, does not call it itself, so the record travels beside the call).
_WATCH: contextvars.ContextVar[list[ExcludeCheck] | None] = contextvars.ContextVar(
    "lockwatch_exclude_watch", default=None)


@contextlib.contextmanager
def watching_excludes() -> Iterator[list[ExcludeCheck]]:
    """Collects an :class:`ExcludeCheck` for every ``discover`` run inside the block."""
    checks: list[ExcludeCheck] = []
    token = _WATCH.set(checks)
    try:
        yield checks
    finally:
        _WATCH.reset(token)


@dataclass(frozen=True)
class UnusedExclude:
    pattern: str                 # as the user wrote it
    anchored: bool               # holds a '/': matched relative to ``bases``
    bases: tuple[str, ...]       # absolute directories the pattern was matched against
    suggestion: str | None       # a rewrite that does match a scanned file, when one is found
    partial: bool                # no walked directory covers a whole base (a partial scan)


class _Walker:
    def __init__(self, config: Config) -> None:
        self.root = os.path.abspath(config.root or ".")
        self.raw_patterns = [p for p in (config.exclude or []) if p.strip()]
        self.patterns = [_norm_pattern(p) for p in self.raw_patterns]
        self.used: set[int] = set()        # indices of patterns that excluded something
        self.walked: list[str] = []        # directories named on the command line and walked
        self.default_skipped: list[str] = []  # directories skipped by the defaults while walking
        self.files: list[SourceFile] = []
        self.errors: list[InputError] = []
        self.seen_files: set[tuple[int, int]] = set()   # (st_dev, st_ino) of files taken
        self.seen_dirs: set[tuple[int, int]] = set()    # directories walked
        self._init_cache: dict[str, bool] = {}
        # Files reached through a symlink wait until everything else is walked, so that a
        # file seen both directly and through a link is named by its real location.
        self.linked: list[tuple[str, os.stat_result]] = []
        self._error_keys: set[tuple[str, str]] = set()
        # Directories named on the command line outside the project root: anchored excludes
        # are matched relative to them (longest first).
        self.outside: list[str] = []

    def run(self, paths: list[str]) -> tuple[list[SourceFile], list[InputError]]:
        for p in paths:
            self.explicit(p)
        for ap, st in self.linked:
            self.take(ap, st)
        return self.files, self.errors

    # -- explicit arguments -------------------------------------------------------------

    def explicit(self, given: str) -> None:
        ap = os.path.abspath(given)
        if _outside(ap, self.root) and os.path.isdir(ap) and ap not in self.outside:
            self.outside.append(ap)
            self.outside.sort(key=len, reverse=True)
        if self.excluded(ap):
            return
        try:
            st = os.stat(ap)
        except OSError as e:
            self.error(ap, _stat_reason(ap, e, explicit=True))
            return
        if stat.S_ISDIR(st.st_mode):
            if ap not in self.walked:
                self.walked.append(ap)
            self.walk(ap, st, ancestors=())
        elif stat.S_ISREG(st.st_mode):
            # A named file is scanned whatever its suffix: the user asked for it.
            self.take(ap, st)
        else:
            self.error(ap, f"not a regular file ({_kind(st.st_mode)}); skipped")

    # -- directory walk -----------------------------------------------------------------

    def walk(self, top: str, top_st: os.stat_result, ancestors: tuple[tuple[int, int], ...]) -> None:
        # Iterative depth-first walk with an explicit stack: no recursion limit on deep trees.
        stack = [(top, (top_st.st_dev, top_st.st_ino), ancestors)]
        while stack:
            d, ident, anc = stack.pop()
            if ident in self.seen_dirs:
                continue
            self.seen_dirs.add(ident)
            anc = anc + (ident,)
            try:
                with os.scandir(d) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                self.error(d, f"cannot read directory: {e.strerror or e}")
                continue
            subdirs = []
            for entry in entries:
                full = os.path.join(d, entry.name)
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_link, is_dir = False, False
                if is_link:
                    self.link(full, entry.name, anc, subdirs)
                elif is_dir:
                    if self.skip_dir(full, entry.name):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError as e:
                        self.error(full, f"cannot read directory: {e.strerror or e}")
                        continue
                    subdirs.append((full, (st.st_dev, st.st_ino), anc))
                elif entry.name.endswith(".py"):
                    if self.excluded(full):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError as e:
                        self.error(full, f"cannot stat: {e.strerror or e}")
                        continue
                    if stat.S_ISREG(st.st_mode):
                        self.take(full, st)
                    else:
                        self.error(full, f"not a regular file ({_kind(st.st_mode)}); skipped")
            # Reverse so that popping visits subdirectories in sorted order.
            stack.extend(reversed(subdirs))

    def link(self, full: str, name: str, anc: tuple, subdirs: list) -> None:
        """A symlink met while walking: follow it once, report it when it leads nowhere."""
        try:
            st = os.stat(full)
        except OSError as e:
            if name.endswith(".py") or e.errno == errno.ELOOP:
                if not self.excluded(full):
                    self.error(full, _stat_reason(full, e, explicit=False))
            return  # a dangling link that is not a .py file is none of our business
        if stat.S_ISDIR(st.st_mode):
            if self.skip_dir(full, name):
                return
            ident = (st.st_dev, st.st_ino)
            if ident in anc:
                self.error(full, f"symlink loop: points back to its ancestor {os.path.realpath(full)}; not followed")
                return
            subdirs.append((full, ident, anc))
        elif name.endswith(".py"):
            if self.excluded(full):
                return
            if stat.S_ISREG(st.st_mode):
                self.linked.append((full, st))
            else:
                self.error(full, f"not a regular file ({_kind(st.st_mode)}); skipped")

    def skip_dir(self, full: str, name: str) -> bool:
        if ((name in _SKIP_DIRS or name.endswith(".egg-info"))
                or (name in _SKIP_UNLESS_PACKAGE and not self.has_init(full))
                or os.path.exists(os.path.join(full, "pyvenv.cfg"))):  # a venv under any name
            if self.patterns:
                self.default_skipped.append(full)
            return True
        return self.excluded(full)

    # -- results ------------------------------------------------------------------------

    def take(self, ap: str, st: os.stat_result) -> None:
        ident = (st.st_dev, st.st_ino)
        if ident in self.seen_files:
            return
        self.seen_files.add(ident)
        module, is_package, root = self.module_of(ap)
        self.files.append(SourceFile(display_path(ap), ap, module, is_package, root))

    def error(self, ap: str, reason: str) -> None:
        key = (display_path(ap), reason)
        if key not in self._error_keys:  # the same FIFO named and also met in a walk
            self._error_keys.add(key)
            self.errors.append(InputError(*key))

    def module_of(self, ap: str) -> tuple[str, bool, str]:
        d, base = os.path.split(ap)
        stem = base[:-3] if base.endswith(".py") else os.path.splitext(base)[0]
        is_package = base == "__init__.py"
        parts = [] if is_package else [stem]
        while self.has_init(d):
            parent, name = os.path.split(d)
            parts.append(name)
            if parent == d:
                break
            d = parent
        if not parts:  # an __init__.py in a directory that is not a package?? cannot happen
            parts = [stem]
        return ".".join(reversed(parts)), is_package, d

    def has_init(self, d: str) -> bool:
        r = self._init_cache.get(d)
        if r is None:
            r = self._init_cache[d] = os.path.isfile(os.path.join(d, "__init__.py"))
        return r

    # -- excludes -----------------------------------------------------------------------

    def excluded(self, ap: str) -> bool:
        if not self.patterns:
            return False
        parts = self.rel_parts(ap)
        for i, (pat, anchored) in enumerate(self.patterns):
            if _matches(parts, pat, anchored):
                self.used.add(i)
                # Credit every other pattern that matches too, so that none of them is
                # reported as unused only because an earlier one came first. Excluded
                # paths are few (an excluded directory is not entered), so this is cheap.
                for j in range(i + 1, len(self.patterns)):
                    if j not in self.used and _matches(parts, *self.patterns[j]):
                        self.used.add(j)
                return True
        return False

    def rel_parts(self, ap: str) -> list[str]:
        """``ap`` as the '/'-separated parts that anchored patterns are matched against."""
        rel = os.path.relpath(ap, self.root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            base = next((b for b in self.outside if not _outside(ap, b)), None)
            rel = os.path.relpath(ap, base) if base is not None and ap != base else ap
        rel = rel.replace(os.sep, "/").lstrip("/")
        return rel.split("/")

    def base_of(self, ap: str) -> str | None:
        """The directory ``ap``'s anchored matching is relative to (None: an absolute path
        outside the project and outside every directory named on the command line)."""
        if not _outside(ap, self.root):
            return self.root
        return next((b for b in self.outside if not _outside(ap, b)), None)


class ExcludeCheck:
    """What one discovery did with its exclude patterns, for the command line's warning."""

    def __init__(self, walker: _Walker) -> None:
        self._w = walker
        self._prefixes: dict[str, list[str]] | None = None

    @property
    def walked(self) -> list[str]:
        """Directories named on the command line that were walked."""
        return list(self._w.walked)

    def unused(self) -> list[UnusedExclude]:
        """Patterns that excluded no path, once per pattern text, leaving out those whose
        silence is expected:

        * nothing was walked (only files were named, as the pre-commit hook does): a pattern
          for ``vendor/**`` matching none of three changed files says nothing;
        * the pattern names a directory the defaults skip anyway (``build/*``, ``.venv``,
          ``node_modules``), present or not: configurations copied from other tools list them;
        * an anchored pattern whose fixed leading part (``tests/data`` of ``tests/data/*.py``)
          exists but lies outside the walked directories (the configured ``vendor/**`` while
          ``src`` alone is scanned), inside a directory the defaults skipped, or below a path
          another pattern excluded (a redundant pattern: what it means is excluded).

        A fixed part that does not exist at all is the case this is for: the pattern is
        relative to another directory than the user thought, or misspelt."""
        w = self._w
        if not w.walked or not w.patterns:
            return []
        used_text = {w.raw_patterns[i] for i in w.used}
        bases = _dedupe([b for b in (w.base_of(d) for d in w.walked) if b is not None])
        partial = not any(w.base_of(d) == d for d in w.walked)
        out: list[UnusedExclude] = []
        seen: set[str] = set()
        for i, raw in enumerate(w.raw_patterns):
            if i in w.used or raw in used_text or raw in seen:
                continue
            seen.add(raw)
            pat, anchored = w.patterns[i]
            if _names_a_default(pat):
                continue
            if anchored:
                if self._expected_silence(i):
                    continue
                out.append(UnusedExclude(raw, True, tuple(bases), self._suggest(pat), partial))
            else:
                if any(fnmatch.fnmatchcase(os.path.basename(d), pat) for d in w.default_skipped):
                    continue
                out.append(UnusedExclude(raw, False, tuple(bases), None, partial))
        return out

    def _expected_silence(self, i: int) -> bool:
        w = self._w
        pat, _ = w.patterns[i]
        fixed = _fixed_part(pat)
        for d in w.walked:
            base = w.base_of(d)
            if base is None:
                continue
            where = os.path.normpath(os.path.join(base, *fixed)) if fixed else base
            if any(_within(where, s) or _matches(w.rel_parts(s), pat, True) for s in w.default_skipped):
                return True
            if where != base:
                parts = w.rel_parts(where)
                if any(_matches(parts, *w.patterns[j]) for j in w.used):
                    return True
            if os.path.lexists(where) and not any(_within(where, e) for e in w.walked):
                return True
        return False

    def _suggest(self, pat: str) -> str | None:
        """The pattern rewritten as if the user had meant it relative to the current
        directory, a walked directory or one of its parents, when that rewrite matches a
        file this scan took (nearest directory first)."""
        w = self._w
        starts = [os.getcwd()]
        for d in w.walked:
            while True:
                starts.append(d)
                parent = os.path.dirname(d)
                if parent == d:
                    break
                d = parent
        fixed = _fixed_part(pat)
        for start in _dedupe(starts):
            target = os.path.normpath(os.path.join(start, pat))
            base = w.base_of(target)
            if base is None or (fixed and not os.path.lexists(os.path.join(start, *fixed))):
                continue
            rel = os.path.relpath(target, base).replace(os.sep, "/")
            if rel == pat or rel == "." or rel.startswith("../"):
                continue
            match = re.compile(fnmatch.translate(rel)).match
            if any(match(p) for p in self._prefixes_under(base)):
                return rel
        return None

    def _prefixes_under(self, base: str) -> list[str]:
        """Every taken file's matched path and the directories above it, per base."""
        if self._prefixes is None:
            w = self._w
            by_base: dict[str, set[str]] = {}
            for f in w.files:
                b = w.base_of(f.abspath)
                if b is None:
                    continue
                parts = w.rel_parts(f.abspath)
                acc = by_base.setdefault(b, set())
                for n in range(len(parts), 0, -1):
                    acc.add("/".join(parts[:n]))
            self._prefixes = {b: sorted(v) for b, v in by_base.items()}
        return self._prefixes.get(base, [])


def _fixed_part(pat: str) -> list[str]:
    """The leading components of a pattern that hold no wildcard."""
    out = []
    for comp in pat.split("/"):
        if any(c in comp for c in "*?["):
            break
        out.append(comp)
    return out


def _names_a_default(pat: str) -> bool:
    return any(c in _SKIP_DIRS or c in _SKIP_UNLESS_PACKAGE or c.endswith(".egg-info")
               for c in pat.split("/"))


def _within(path: str, d: str) -> bool:
    return path == d or not _outside(path, d)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _matches(parts: list[str], pat: str, anchored: bool) -> bool:
    if anchored:
        # The path itself or any directory above it ("tests/data" excludes everything
        # below tests/data).
        return any(fnmatch.fnmatchcase("/".join(parts[:i]), pat) for i in range(len(parts), 0, -1))
    return any(fnmatch.fnmatchcase(part, pat) for part in parts)


def _outside(ap: str, base: str) -> bool:
    rel = os.path.relpath(ap, base)
    return rel == os.pardir or rel.startswith(os.pardir + os.sep)


def _norm_pattern(p: str) -> tuple[str, bool]:
    """gitignore-like: a pattern without '/' matches any path component; one with '/' is
    anchored at the root. fnmatch's '*' already crosses '/', so '**' needs no special case
    beyond a leading '**/' (which also matches at the top)."""
    p = p.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    p = p.rstrip("/")
    if p.startswith("**/"):
        rest = p[3:]
        return (rest, "/" in rest)
    return (p.lstrip("/"), "/" in p)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def _stat_reason(ap: str, e: OSError, explicit: bool) -> str:
    if e.errno == errno.ELOOP:
        return "symlink loop; skipped"
    if e.errno == errno.ENOENT:
        if os.path.islink(ap):
            try:
                target = os.readlink(ap)
            except OSError:
                target = "?"
            return f"dangling symlink to {target}; skipped"
        return "no such file or directory" if explicit else "vanished while scanning"
    if e.errno == errno.EACCES:
        return "permission denied"
    return f"cannot stat: {e.strerror or e}"
