"""What a program leaves behind: asyncio tasks and coroutines nobody owns (LW203
dangling-task, LW204 unawaited coroutine) and threads still running when the program or a
``watch()`` scope ends (LW211 unjoined-thread), each with the stack that created it.

Hooks (installed with the tracer, all pure-Python stdlib entry points):
``Thread.start`` and ``BaseEventLoop.create_task`` take the creation stack (rare next to lock
operations); tasks and threads are held through weak references only, so tracking never
keeps anything alive. ``asyncio.runners._cancel_all_tasks`` and ``BaseEventLoop.close`` see
the tasks still pending as their loop's run ends; ``BaseEventLoop.call_exception_handler``
sees asyncio's own "Task was destroyed but it is pending!" and "exception was never
retrieved"; ``warnings._showwarnmsg`` sees "coroutine ... was never awaited" at the line
the interpreter names (where the dropped coroutine was finalised: the line that dropped it).
Every wrapper calls the original unchanged and swallows its own errors.

Precision: a task still pending when its loop ends is reported only when nothing but
asyncio's own callbacks refers to it (no set, attribute, gather, or awaiting coroutine), i.e.
it was created and dropped. Threads are reported only when the code that started them is the
program's own (not the stdlib or an installed package), after a grace period.
"""

from __future__ import annotations

import collections
import gc
import sys
import threading
import time
import types
import weakref
from dataclasses import dataclass, field

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.stacks import disp, fmt_frame, frame_list, is_own, warning_frames

# Coroutine origin tracking costs on every coroutine creation (measured: the mixed benchmark
# workload went from 2.4x to 4x CPU with depth 8), and is not needed for the common case: a
# coroutine dropped unawaited is finalised at once, so the interpreter's warning already
# points at the line that dropped it. Set > 0 to also get the creation stack.
ORIGIN_DEPTH = 0


@dataclass
class Started:
    ref: weakref.ref
    name: str
    stack: list[str]
    path: str
    line: int
    seq: int
    daemon: bool = False
    executor: bool = False
    reported: bool = False
    extra: dict = field(default_factory=dict)


_saved: list[tuple[object, str, object]] = []
_threads: list[Started] = []
_tasks: dict[int, Started] = {}
_dead: collections.OrderedDict = collections.OrderedDict()   # id -> Started, recently freed tasks
_seq = 0
_reported: set = set()
_origin_saved: int | None = None
_STD: tuple | None = None


def _stdlib(fn: str) -> bool:
    global _STD
    if _STD is None:
        import sysconfig

        _STD = tuple(p for p in (sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib")) if p)
    return (fn.startswith(_STD) and "site-packages" not in fn) or fn.startswith("<")


def _third_party(fn: str) -> bool:
    return "site-packages" in fn or "dist-packages" in fn


def _capture(frame) -> tuple[list[str], str, int, bool]:
    """(stack, path, line, program's own) of a creation: the site is the innermost frame
    outside the stdlib and lockwatch."""
    frames = frame_list(frame, 30)
    site = next((f for f in reversed(frames) if not _stdlib(f.f_code.co_filename)), None)
    stack = [fmt_frame(f) for f in frames]
    if site is None:
        return stack, "<unknown>", 0, False
    fn = site.f_code.co_filename
    return stack, disp(fn), site.f_lineno, not _third_party(fn) and not is_own(fn)


def _set(owner, name: str, value) -> None:
    _saved.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


def _emit(fd: Finding, key) -> None:
    if key in _reported:
        return
    _reported.add(key)
    with state.mutex:
        state.findings.append(fd)


# ---- install ----------------------------------------------------------------------

def _plugin_tracking() -> bool:
    # The pytest plugin tracks threads and tasks per test itself (lockwatch/plugin/leaks.py,
    # installed before the tracer): a second tracker would report each leak twice.
    return getattr(threading.Thread.start, "__module__", "") == "lockwatch.plugin.leaks"


def install() -> None:
    global _origin_saved
    if _plugin_tracking():
        return
    try:
        _install_threads()
        _install_asyncio()
        _install_warnings()
        if ORIGIN_DEPTH and sys.get_coroutine_origin_tracking_depth() == 0:
            _origin_saved = 0
            sys.set_coroutine_origin_tracking_depth(ORIGIN_DEPTH)
    except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
        state.internal_error("lifecycle-install", e)


def uninstall() -> None:
    global _origin_saved
    while _saved:
        owner, name, value = _saved.pop()
        try:
            setattr(owner, name, value)
        except Exception as e:  # noqa: BLE001  # pragma: no cover - never disturb the program
            state.internal_error("lifecycle-uninstall", e)
    if _origin_saved is not None:
        try:
            sys.set_coroutine_origin_tracking_depth(_origin_saved)
        except Exception:  # noqa: BLE001, S110 - lockwatch must never disturb the program
            pass
        _origin_saved = None


def _install_threads() -> None:
    orig_start = threading.Thread.start

    def start(thread, *a, **kw):
        try:
            _thread_started(thread, sys._getframe(1))
        except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
            state.internal_error("lifecycle-thread", e)
        return orig_start(thread, *a, **kw)

    start.__doc__ = orig_start.__doc__
    _set(threading.Thread, "start", start)


def _thread_started(thread, frame) -> None:
    global _seq
    stack, path, line, own = _capture(frame)
    if not own:
        return
    _seq += 1
    ex = "concurrent" in (getattr(getattr(thread, "_target", None), "__module__", "") or "")
    _threads.append(Started(weakref.ref(thread), thread.name, stack, path, line, _seq,
                            daemon=thread.daemon, executor=ex))


def _install_asyncio() -> None:
    import asyncio.base_events as be
    from asyncio import runners

    orig_create = be.BaseEventLoop.create_task

    def create_task(loop, coro, *a, **kw):
        task = orig_create(loop, coro, *a, **kw)
        try:
            _task_created(task, sys._getframe(1))
        except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
            state.internal_error("lifecycle-task", e)
        return task

    create_task.__doc__ = orig_create.__doc__
    _set(be.BaseEventLoop, "create_task", create_task)

    orig_cancel_all = getattr(runners, "_cancel_all_tasks", None)
    if orig_cancel_all is not None:
        def _cancel_all_tasks(loop):
            try:
                loop_ending(loop, "asyncio.run() finished and cancelled it")
            except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
                state.internal_error("lifecycle-loop-end", e)
            return orig_cancel_all(loop)

        _set(runners, "_cancel_all_tasks", _cancel_all_tasks)

    orig_close = be.BaseEventLoop.close

    def close(loop):
        try:
            if not loop.is_running() and not loop.is_closed():
                loop_ending(loop, "its event loop was closed")
        except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
            state.internal_error("lifecycle-loop-close", e)
        return orig_close(loop)

    close.__doc__ = orig_close.__doc__
    _set(be.BaseEventLoop, "close", close)

    orig_handler = be.BaseEventLoop.call_exception_handler

    def call_exception_handler(loop, context):
        try:
            _exception_context(context)
        except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
            state.internal_error("lifecycle-exception-handler", e)
        return orig_handler(loop, context)

    call_exception_handler.__doc__ = orig_handler.__doc__
    _set(be.BaseEventLoop, "call_exception_handler", call_exception_handler)


def _install_warnings() -> None:
    import warnings

    orig = warnings._showwarnmsg

    def _showwarnmsg(msg):
        try:
            if issubclass(msg.category, RuntimeWarning) and "was never awaited" in str(msg.message):
                _unawaited(str(msg.message), msg.filename, msg.lineno)
        except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
            state.internal_error("lifecycle-warning", e)
        return orig(msg)

    _set(warnings, "_showwarnmsg", _showwarnmsg)


# ---- tasks --------------------------------------------------------------------------

def _task_created(task, frame) -> None:
    global _seq
    stack, path, line, own = _capture(frame)
    if not own:
        return
    try:
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", None) or task.get_name()
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        name = task.get_name()
    _seq += 1
    key = id(task)

    def gone(_r, key=key):
        # Freed: keep the record briefly, asyncio reports a destroyed pending task from
        # its finalizer, after a gc pass has already cleared the weak reference.
        rec = _tasks.pop(key, None)
        if rec is not None:
            _dead[key] = rec
            while len(_dead) > 256:
                _dead.popitem(last=False)

    rec = Started(weakref.ref(task, gone), name, stack, path, line, _seq)
    _tasks[key] = rec


def _record_of(task) -> Started | None:
    rec = _tasks.get(id(task))
    if rec is not None and rec.ref() is task:
        return rec
    return _dead.get(id(task))


def _owned(task, mine: tuple) -> bool:
    """Does anything but asyncio's own wake-up callbacks refer to the task?"""
    import asyncio.tasks as at

    # the tracer's own maps (held stacks and waits by task) are not an owner either
    skip = {id(_tasks), id(_dead), id(state.held), id(state.waiting), id(state.agent_of), *map(id, mine)}
    for name in ("_eager_tasks",):
        s = getattr(at, name, None)
        if s is not None:
            skip.add(id(s))
    frame = sys._getframe()
    for r in gc.get_referrers(task):
        if id(r) in skip or r is frame:
            continue
        if isinstance(r, (types.MethodType, types.BuiltinMethodType)) and getattr(r, "__self__", None) is task:
            continue
        if isinstance(r, types.FrameType) and is_own(r.f_code.co_filename):
            continue
        if isinstance(r, types.CoroutineType) and is_own(r.cr_code.co_filename):
            continue   # e.g. the tracer's contended-acquire coroutine of a waiting task
        if isinstance(r, weakref.ref):
            continue
        return True
    return False


def _cancel_requested(t) -> bool:
    # Its owner already asked it to stop: the cancellation just has not landed yet.
    try:
        if hasattr(t, "cancelling"):
            return t.cancelling() > 0
        w = getattr(t, "_fut_waiter", None)
        return bool(getattr(t, "_must_cancel", False)) or (w is not None and w.cancelled())
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return False


def loop_ending(loop, why: str) -> None:
    import asyncio

    pending = [t for t in asyncio.all_tasks(loop) if not t.done()][:100]
    for t in pending:
        rec = _record_of(t)
        if rec is None or rec.reported or _cancel_requested(t):
            continue
        if _owned(t, (pending,)):
            continue
        rec.reported = True
        _emit(_task_finding(rec, f"was still pending, with no reference kept to it, when {why}",
                            "loop end"), ("LW203", rec.path, rec.line))
    pending.clear()


def _task_finding(rec: Started, why: str, at: str) -> Finding:
    return Finding(
        code="LW203",
        kind="dangling-task",
        severity="warning",
        message=f"task {rec.name} {why}",
        path=rec.path,
        line=rec.line,
        related=[Location(rec.path, rec.line, 1, f"task {rec.name} created here")],
        stacks=[rec.stack],
        fingerprint=make_fingerprint("LW203", rec.path, rec.line, "runtime"),
        extra={"origin": "runtime", "pending_at": at},
    )


def _exception_context(context) -> None:
    msg = str(context.get("message", ""))
    if msg.startswith("Task was destroyed but it is pending"):
        task = context.get("task")
        rec = _record_of(task) if task is not None else None
        if rec is not None and not rec.reported:
            rec.reported = True
            _emit(_task_finding(rec, "was garbage-collected while still pending (nothing kept a reference "
                                     "to it): it stopped mid-flight", "destroyed pending"),
                  ("LW203", rec.path, rec.line))
    elif "exception was never retrieved" in msg:
        fut = context.get("future")
        rec = _record_of(fut) if fut is not None else None
        if rec is not None and not rec.reported:
            rec.reported = True
            exc = context.get("exception")
            what = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
            _emit(_task_finding(rec, f"failed and its exception was never retrieved{what}: nobody awaited it",
                                "exception never retrieved"), ("LW203", rec.path, rec.line))


def _unawaited(message: str, filename: str, lineno: int) -> None:
    head = message.splitlines()[0]
    frames = warning_frames(message)
    frames = [f for f in frames if not is_own(f[0]) and "runpy" not in f[0]]
    site = next((f for f in reversed(frames) if not _stdlib(f[0])), None)
    if site is None:
        if not frames and not _stdlib(filename) and not is_own(filename):
            site = (filename, lineno, "?")
        else:
            return
    if _third_party(site[0]):
        return
    path, line = disp(site[0]), site[1]
    stack = [f"{disp(fn)}:{num} in {func}" for fn, num, func in frames]
    _emit(Finding(
        code="LW204",
        kind="dangling-task",
        severity="warning",
        message=f"{head}: the coroutine was created here and dropped, so its body never ran",
        path=path,
        line=line,
        stacks=[stack] if stack else [],
        fingerprint=make_fingerprint("LW204", path, line, "runtime"),
        extra={"origin": "runtime"},
    ), ("LW204", path, line))


# ---- threads ------------------------------------------------------------------------

def mark() -> int:
    """A position: threads started after it belong to the scope that took it."""
    return _seq


def threads_alive(since: int = 0, grace: float = 0.5, scope: str = "the program ended") -> list[Finding]:
    """Report threads the program started (after ``since``) that are still alive, after
    waiting up to ``grace`` seconds for them to end on their own."""
    out = []
    me = threading.current_thread()
    deadline = time.monotonic() + max(0.0, grace)
    for r in _threads[:]:
        if r.seq <= since or r.reported:
            continue
        t = r.ref()
        if t is None or not t.is_alive() or t is me:
            continue
        if r.daemon and not r.executor and state.options.daemon_threads == "ignore":
            continue  # fire-and-forget by design unless configured otherwise (as statically)
        left = deadline - time.monotonic()
        if left > 0:
            try:
                threading.Thread.join(t, left)
            except Exception:  # noqa: BLE001, S110 - lockwatch must never disturb the program
                pass
        if not t.is_alive():
            continue
        r.reported = True
        what = "executor worker thread" if r.executor else ("daemon thread" if r.daemon else "thread")
        how = ("its executor was never shut down" if r.executor
               else "it was never joined")
        fd = Finding(
            code="LW211",
            kind="unjoined-thread",
            severity="warning",
            message=f"{what} {r.name!r} was still running {grace:g}s after {scope}: {how}",
            path=r.path,
            line=r.line,
            related=[Location(r.path, r.line, 1, f"{what} {r.name!r} started here")],
            stacks=[r.stack],
            fingerprint=make_fingerprint("LW211", r.path, r.line, "runtime"),
            extra={"origin": "runtime", "daemon": r.daemon},
        )
        out.append(fd)
        _emit(fd, ("LW211", r.path, r.line))
    _threads[:] = [r for r in _threads if not r.reported and r.ref() is not None]
    return out


def program_end(grace: float = 0.5) -> None:
    """At the end of the program's main code, before waiting for its threads: unreferenced
    coroutines and tasks are finalised now (their warnings would come after the report),
    then threads still alive are reported."""
    try:
        gc.collect()
        threads_alive(0, grace)
    except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
        state.internal_error("lifecycle-program-end", e)


def reset() -> None:
    _threads.clear()
    _tasks.clear()
    _dead.clear()
    _reported.clear()
