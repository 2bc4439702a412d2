"""Frames -> the strings and sites findings carry.

Nothing here runs on the hot path: creation sites are computed once per lock object,
stacks only for new edges and reports.

Creation site rule (the join key with the static half, SPEC "Lock identity"): the frame
that called the factory. When that frame lies inside a stdlib wrapper module (threading,
queue, concurrent.futures, logging, asyncio, multiprocessing) the lock is an internal
part of a user-visible object (a ``queue.Queue``'s mutex, an ``Event``'s condition), so the
class key is the *user's* line that built that object plus the internal line in brackets:
``app.py:10 (queue.py:35)``. That keeps one class per user-visible object site (fewer false
cycles than one class for every Queue in the program) while the ``path:line`` before the
bracket is still the user's line, which is what the static half can name.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import sysconfig

from lockwatch.findings import display_path

_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PKG_DIR = os.path.dirname(_OWN_DIR.rstrip(os.sep)) + os.sep


def _wrapper_paths() -> tuple[set[str], tuple[str, ...]]:
    files: set[str] = set()
    dirs: list[str] = []
    import queue
    import threading

    for mod in (threading, queue):
        files.add(mod.__file__)
    try:
        import _threading_local
        import functools

        files.add(_threading_local.__file__)
        files.add(functools.__file__)
    except ImportError:  # pragma: no cover
        pass
    stdlib = sysconfig.get_paths().get("stdlib") or os.path.dirname(threading.__file__)
    for pkg in ("concurrent", "logging", "asyncio", "multiprocessing"):
        dirs.append(os.path.join(stdlib, pkg) + os.sep)
    return files, tuple(dirs)


_WRAPPER_FILES, _WRAPPER_DIRS = _wrapper_paths()
_is_wrapper_cache: dict[str, bool] = {}
_display_cache: dict[str, str] = {}


def is_own(filename: str) -> bool:
    return filename.startswith(_OWN_DIR)


def is_wrapper(filename: str) -> bool:
    r = _is_wrapper_cache.get(filename)
    if r is None:
        r = filename in _WRAPPER_FILES or filename.startswith(_WRAPPER_DIRS)
        _is_wrapper_cache[filename] = r
    return r


def disp(filename: str) -> str:
    r = _display_cache.get(filename)
    if r is None:
        r = filename if filename.startswith("<") else display_path(filename)
        _display_cache[filename] = r
    return r


def _column(f) -> int | None:
    try:
        for i, pos in enumerate(f.f_code.co_positions()):
            if i * 2 == f.f_lasti:
                return (pos[2] or 0) + 1 if pos[2] is not None else None
    except Exception:
        pass
    return None


def creation_site(frame) -> tuple[str, str, int, tuple, object]:
    """(class key, user path, user line, identity, frame) for a lock created by ``frame``.

    The identity is the call instruction (code, offset), so that ``a, b = Lock(), Lock()``
    are two classes while a lock created in a loop is one."""
    f = frame
    while f is not None and is_own(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return "<unknown>", "<unknown>", 0, ("<unknown>",), None
    inner = None
    if is_wrapper(f.f_code.co_filename):
        inner = f
        while f is not None and (is_wrapper(f.f_code.co_filename) or is_own(f.f_code.co_filename)):
            f = f.f_back
    if f is None:  # created entirely inside the stdlib (e.g. by a pool worker)
        p = disp(inner.f_code.co_filename)
        c = inner.f_code
        return f"{p}:{inner.f_lineno}", p, inner.f_lineno, (c.co_filename, c.co_firstlineno, c.co_name, inner.f_lasti), inner
    p = disp(f.f_code.co_filename)
    key = f"{p}:{f.f_lineno}"
    c = f.f_code
    ident = (c.co_filename, c.co_firstlineno, c.co_name, f.f_lasti)
    if inner is not None:
        key += f" ({os.path.basename(inner.f_code.co_filename)}:{inner.f_lineno})"
        ic = inner.f_code
        ident += (ic.co_filename, ic.co_firstlineno, inner.f_lasti)
    return key, p, f.f_lineno, ident, f


_ASSIGN = re.compile(r"^\s*([A-Za-z_][\w.\[\]'\"]*)\s*(?::[^=]*)?=(?!=)")


def lock_label(path: str, line: int) -> str:
    """The assignment target on the creation line (``self._lock``), for messages only."""
    try:
        text = linecache.getline(path, line)
    except Exception:
        return ""
    m = _ASSIGN.match(text)
    return m.group(1) if m else ""


def _skip_prefix(frames: list) -> list:
    # Drop the launcher's own frames (lockwatch run, runpy) before the user's program.
    i = 0
    while i < len(frames) and (
        frames[i].f_code.co_filename.startswith(_PKG_DIR)
        or os.path.basename(frames[i].f_code.co_filename) == "runpy.py"
        or frames[i].f_code.co_filename.startswith("<frozen runpy")
    ):
        i += 1
    return frames[i:] if i < len(frames) else frames


def frame_list(frame, limit: int = 40, hidden=None, launcher: bool = True) -> list:
    """Frames outermost first, the innermost ``limit`` of them, without those ``hidden``
    says (default: lockwatch's runtime frames) and, with ``launcher``, without the frames
    of ``lockwatch run``/runpy before the user's program."""
    hidden = hidden or is_own
    out = []
    f = frame
    while f is not None:
        if not hidden(f.f_code.co_filename):
            out.append(f)
        f = f.f_back
    out.reverse()
    if launcher:
        out = _skip_prefix(out)
    return out[-limit:]


def fmt_frame(f) -> str:
    return f"{disp(f.f_code.co_filename)}:{f.f_lineno} in {f.f_code.co_name}"


def stack_of(frame, limit: int = 40) -> list[str]:
    return [fmt_frame(f) for f in frame_list(frame, limit)]


def user_location(frame) -> tuple[str, int]:
    """Innermost frame that is neither lockwatch nor a stdlib wrapper; else innermost."""
    f = frame
    first = None
    while f is not None:
        fn = f.f_code.co_filename
        if not is_own(fn):
            if first is None:
                first = f
            if not is_wrapper(fn):
                return disp(fn), f.f_lineno
        f = f.f_back
    if first is not None:
        return disp(first.f_code.co_filename), first.f_lineno
    return "<unknown>", 0


def thread_stack(ident: int) -> list[str]:
    f = sys._current_frames().get(ident)
    return stack_of(f) if f is not None else []


def task_stack(task) -> list[str]:
    try:
        frames = task.get_stack()
    except Exception:
        return []
    out = []
    for f in frames:
        if not is_own(f.f_code.co_filename):
            out.append(fmt_frame(f))
    return out


def warning_frames(message: str) -> list[tuple[str, int, str]]:
    """(file, line, function) of each ``File "...", line N, in f`` line of a warning message,
    such as the origin CPython appends to "coroutine ... was never awaited"."""
    frames = []
    for ln in message.splitlines()[1:]:
        ln = ln.strip()
        if ln.startswith('File "'):
            try:
                fn, rest = ln[6:].split('", line ', 1)
                num, _, func = rest.partition(", in ")
                frames.append((fn, int(num), func.strip()))
            except ValueError:
                continue
    return frames
