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

import errno
import fnmatch
import os
import stat
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
    return _Walker(config).run(list(paths) or ["."])


class _Walker:
    def __init__(self, config: Config) -> None:
        self.root = os.path.abspath(config.root or ".")
        self.patterns = [_norm_pattern(p) for p in (config.exclude or []) if p.strip()]
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
        if name in _SKIP_DIRS or name.endswith(".egg-info"):
            return True
        if name in _SKIP_UNLESS_PACKAGE and not self.has_init(full):
            return True
        if os.path.exists(os.path.join(full, "pyvenv.cfg")):
            return True  # a virtual environment under any name
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
        rel = os.path.relpath(ap, self.root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            base = next((b for b in self.outside if not _outside(ap, b)), None)
            rel = os.path.relpath(ap, base) if base is not None and ap != base else ap
        rel = rel.replace(os.sep, "/").lstrip("/")
        parts = rel.split("/")
        for pat, anchored in self.patterns:
            if anchored:
                # Match the path itself or any directory above it ("tests/data" excludes
                # everything below tests/data).
                for i in range(len(parts), 0, -1):
                    if fnmatch.fnmatchcase("/".join(parts[:i]), pat):
                        return True
            elif any(fnmatch.fnmatchcase(part, pat) for part in parts):
                return True
        return False


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
