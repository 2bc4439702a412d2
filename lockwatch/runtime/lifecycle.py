"""What a program leaves behind: asyncio tasks and coroutines nobody owns (LW203
dangling-task, LW204 unawaited coroutine) and threads still running when the program, a
``watch()`` scope or a test ends (LW211 unjoined-thread), each with the stack that created it.

Hooks (installed with the tracer or by the pytest plugin, all pure-Python stdlib entry points):
``Thread.start`` and ``BaseEventLoop.create_task`` take the creation stack (rare next to lock
operations); tasks and threads are held through weak references only, so tracking never
keeps anything alive. ``asyncio.runners._cancel_all_tasks`` and ``BaseEventLoop.close`` see
the tasks still pending as their loop's run ends; ``BaseEventLoop.call_exception_handler``
sees asyncio's own "Task was destroyed but it is pending!" and "exception was never
retrieved"; ``warnings._showwarnmsg`` sees "coroutine ... was never awaited" at the line
the interpreter names (where the dropped coroutine was finalised: the line that dropped it).
Every wrapper calls the original unchanged and swallows its own errors.

Precision: a task still pending when its loop ends is reported only when it is dangling
(``dangling()``, the one decision for ``lockwatch run``, ``watch()`` and the pytest plugin):
nothing refers to it but asyncio's own bookkeeping, its own running code and lockwatch's
records (no set, attribute, gather, or awaiting coroutine), i.e. it was created and dropped.
Threads are reported only when the code that started them is the program's own (not the
stdlib or an installed package), after a grace period.

Per-test tracking (``attach()``, the pytest plugin): the same hooks and records, but every
start is recorded with the test and phase running at the time (``PerTest``), creation stacks
are read with the plugin's ``Sites`` (its runner frames left out), and this module reports
nothing itself: the plugin asks which threads and tasks a test left behind
(``PerTest.threads_left``, ``PerTest.tasks_left``: dangling tasks only, decided by
``dangling()`` as for the program) and words the findings per test. One set of
records is what keeps a leak from being reported twice when ``watch()`` runs inside a test.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.stacks import (
    disp,
    fmt_frame,
    frame_list,
    is_own,
    warning_frames,
)

# Coroutine origin tracking costs on every coroutine creation (measured: the mixed benchmark
# workload went from 2.4x to 4x CPU with depth 8), and is not needed for the common case: a
# coroutine dropped unawaited is finalised at once, so the interpreter's warning already
# points at the line that dropped it. Set > 0 to also get the creation stack.
ORIGIN_DEPTH = 0
STACK_LIMIT = 30


@dataclass
class Started:
    """A thread or task the traced code started."""

    ref: weakref.ref
    name: str
    stack: list[str]
    path: str
    line: int
    seq: int
    daemon: bool = False
    executor: bool = False
    own: bool = True            # started by the program's own code (not the stdlib, a package)
    tracker: PerTest | None = None  # per-test tracking: the tracker that recorded it,
    test: str | None = None         # the test running when it was started
    phase: str = ""                 # and its phase ("setup", "call", "teardown", "between", ...)
    done: bool = False          # tasks, per-test tracking: a done-callback ran
    pending_at: str = ""        # tasks, per-test tracking: "loop end" when dangling as its loop ended,
                                # "exception never retrieved" when freed failed, ...
    detail: str = ""            # tasks, per-test tracking: the failure nobody retrieved
    reported: bool = False


# ---- where a creation happened ------------------------------------------------------

def _stdlib_dirs() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple(os.path.join(p, "") for p in (paths.get(k) for k in ("stdlib", "platstdlib")) if p)


_STD = _stdlib_dirs()


def stdlib_file(fn: str) -> bool:
    return fn.startswith(_STD) and "site-packages" not in fn


def _third_party(fn: str) -> bool:
    return "site-packages" in fn or "dist-packages" in fn


@dataclass(frozen=True)
class Sites:
    """How a creation stack and site are read from frames.

    ``hidden``: files whose frames are left out of stacks and never a site; ``library``:
    files that are never the site (the site is the innermost frame outside them);
    ``any_site``: keep every creation (with no site outside ``library``, the innermost frame
    is the site), not only the program's own; ``launcher``: drop the launcher's leading
    frames (``lockwatch run``, runpy)."""

    hidden: Callable[[str], bool]
    library: Callable[[str], bool]
    any_site: bool = False
    launcher: bool = True


# The tracer's view: lockwatch's runtime frames hidden, ``<string>``-like code is no site,
# only the program's own creations count.
PROGRAM = Sites(hidden=is_own, library=lambda fn: stdlib_file(fn) or fn.startswith("<"))


def capture(frame, sites: Sites = PROGRAM) -> tuple[list[str], str, int, bool]:
    """(stack outermost first, site path, site line, program's own) of a creation at ``frame``."""
    frames = frame_list(frame, STACK_LIMIT, sites.hidden, sites.launcher)   # outermost first
    stack = [fmt_frame(x) for x in frames]
    site = next((x for x in reversed(frames) if not sites.library(x.f_code.co_filename)), None)
    if site is None and sites.any_site and frames:
        site = frames[-1]
    if site is None:
        return stack, "<unknown>", 0, False
    fn = site.f_code.co_filename
    return stack, disp(fn), site.f_lineno, not _third_party(fn) and not is_own(fn)


def unawaited_site(message: str, filename: str, lineno: int,
                   sites: Sites = PROGRAM) -> tuple[str, int, list[str]] | None:
    """(path, line, origin stack) of a "coroutine ... was never awaited" warning: the
    innermost origin frame (when the interpreter appended one) outside the library, else
    the line the warning names; None when that is not the program's own (``PROGRAM``)."""
    frames = [f for f in warning_frames(message)
              if not sites.hidden(f[0]) and not (sites.launcher and "runpy" in f[0])]
    site = next((f for f in reversed(frames) if not sites.library(f[0])), None)
    if site is None:
        if sites.any_site or (not frames and not sites.library(filename) and not sites.hidden(filename)):
            site = (filename, lineno, "?")
        else:
            return None
    if not sites.any_site and _third_party(site[0]):
        return None
    return disp(site[0]), site[1], [f"{disp(fn)}:{num} in {func}" for fn, num, func in frames]


# ---- records --------------------------------------------------------------------------

class PerTest:
    """Per-test tracking (``attach()``): the test and phase running now (set by the pytest
    plugin as tests run), how creation stacks are read, and what a test left behind."""

    def __init__(self, sites: Sites) -> None:
        self.sites = sites
        self.test: str | None = None
        self.phase = "session"

    def threads_left(self, test: str, grace: float, include_setup: bool = False,
                     join: Callable | None = None) -> list[Started]:
        """Threads started during ``test`` (call/teardown; setup too when asked) still alive
        after waiting up to ``grace`` seconds for them to end. Each is answered once."""
        mine = [r for r in list(_threads.values()) if r.tracker is self and not r.reported and r.test == test
                and (include_setup or r.phase != "setup")]
        alive = _outlived(mine, grace, join)
        for r in mine:
            r.reported = True   # alive: reported now; ended: nothing to report, ever
        _drop_threads(lambda r: r.reported)   # settled: the map stays short over a long session
        return alive

    def tasks_left(self, test: str, include_setup: bool = False) -> list[Started]:
        """Tasks created during ``test`` that were dangling as their loop ended, that are still
        pending now and dangling (``dangling``: nothing refers to them), that were destroyed
        while pending, or freed failed with their exception never retrieved (``pending_at``
        says which). A task still pending that something refers
        to is not the test's leak (the runtime's LW203 does not report it either); its record
        stays, so that the session's end still sees it destroyed while pending. Tasks created
        while setting the test up belong to fixtures, maybe of a wider scope: only checked
        when asked (at the end of the session). Each is answered once."""
        out = []
        alive: list[tuple[int, Started]] = []   # still pending now: decided together below
        for key, rec in list(_tasks.items()):
            if rec.tracker is not self:
                continue
            if rec.test is None and (rec.done or rec.ref() is None):
                _tasks.pop(key, None)   # outside any test and settled: nothing to keep
                continue
            if rec.test != test or (rec.phase == "setup" and not include_setup):
                continue
            t = rec.ref()
            if rec.pending_at:
                out.append(rec)
            elif t is None and not rec.done:
                rec.pending_at = "destroyed pending"
                out.append(rec)
            elif t is not None and not t.done():
                alive.append((key, rec))
                continue
            _tasks.pop(key, None)
        if alive:
            tasks = [t for t in (rec.ref() for _, rec in alive) if t is not None]
            left = {id(t) for t in dangling(tasks, (tasks,))}
            tasks.clear()
            for key, rec in alive:
                t = rec.ref()
                if t is None:
                    if not rec.done:   # freed meanwhile
                        rec.pending_at = "destroyed pending"
                        out.append(rec)
                elif id(t) in left:
                    rec.pending_at = "test end"
                    out.append(rec)
                elif not t.done() and not include_setup:
                    continue   # kept by something: settled when freed, or at the session's end
                _tasks.pop(key, None)
        return out

    def forget(self, test: str) -> None:
        """Drop ``test``'s records unchecked (its leak check is off): its tasks, and the
        threads it started itself (its fixtures' from setup are still checked at the end)."""
        for key, rec in list(_tasks.items()):
            if rec.tracker is self and rec.test == test:
                _tasks.pop(key, None)
        _drop_threads(lambda r: r.tracker is self and r.test == test and r.phase != "setup")

    def tests(self) -> tuple[set[str], set[str]]:
        """Tests with thread records, tests with task records, not yet answered."""
        return ({r.test for r in list(_threads.values()) if r.tracker is self and r.test and not r.reported},
                {r.test for r in list(_tasks.values()) if r.tracker is self and r.test})


_saved: list[tuple[object, str, object]] = []
_installs = 0
_threads: dict[int, Started] = {}        # seq -> record; leaves when settled
_tasks: dict[int, Started] = {}           # seq -> record, creation order; leaves when settled
_task_ids: dict[int, Started] = {}        # id(task) -> record of a live task
_dead: collections.OrderedDict = collections.OrderedDict()   # id -> Started, recently freed tasks
_seq = itertools.count(1)                 # one order for threads, tasks and marks
_reported: set = set()
_origin_saved: int | None = None
_per_test: list[PerTest] = []             # attached trackers, innermost last


def _drop_threads(settled: Callable[[Started], bool]) -> None:
    # key by key: a thread started meanwhile by another thread keeps its new record
    for key, r in list(_threads.items()):
        if settled(r):
            _threads.pop(key, None)


def _tracking() -> PerTest | None:
    try:
        return _per_test[-1]
    except IndexError:
        return None


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

def install() -> None:
    """Install the hooks (calls nest: the tracer and the pytest plugin both install)."""
    global _origin_saved, _installs
    _installs += 1
    if _installs > 1:
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
    """Undo one ``install()``; the last one restores the originals exactly."""
    global _origin_saved, _installs
    if _installs == 0:
        return
    _installs -= 1
    if _installs:
        return
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


def attach(sites: Sites) -> PerTest:
    """Per-test tracking from now on (installs the hooks): every thread and task started is
    recorded with the test and phase in the returned slot, and this module reports nothing
    itself until ``detach()`` (the caller reports per test, with the queries below)."""
    pt = PerTest(sites)
    _per_test.append(pt)
    install()
    return pt


def detach(pt: PerTest) -> None:
    """End per-test tracking: forget what it recorded, undo its ``install()``."""
    if pt not in _per_test:
        return
    _per_test.remove(pt)
    _drop_threads(lambda r: r.tracker is pt)
    for key, rec in list(_tasks.items()):
        if rec.tracker is pt:
            _tasks.pop(key, None)
    uninstall()


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
    pt = _tracking()
    stack, path, line, own = capture(frame, pt.sites if pt else PROGRAM)
    if not own and pt is None:
        return
    ex = "concurrent" in (getattr(getattr(thread, "_target", None), "__module__", "") or "")
    rec = Started(weakref.ref(thread), thread.name, stack, path, line, next(_seq),
                  daemon=thread.daemon, executor=ex, own=own,
                  tracker=pt, test=pt.test if pt else None, phase=pt.phase if pt else "")
    _threads[rec.seq] = rec


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
    pt = _tracking()
    stack, path, line, own = capture(frame, pt.sites if pt else PROGRAM)
    if not own and pt is None:
        return
    try:
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", None) or task.get_name()
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        name = task.get_name()
    key = id(task)

    def gone(_r, key=key):
        # Freed: keep the record briefly, asyncio reports a destroyed pending task from
        # its finalizer, after a gc pass has already cleared the weak reference.
        rec = _task_ids.pop(key, None)
        if rec is not None:
            _dead[key] = rec
            while len(_dead) > 256:
                _dead.popitem(last=False)
            if rec.test is None:
                _tasks.pop(rec.seq, None)   # a test's record waits for its test's check

    rec = Started(weakref.ref(task, gone), name, stack, path, line, next(_seq), own=own,
                  tracker=pt, test=pt.test if pt else None, phase=pt.phase if pt else "")
    _tasks[rec.seq] = rec
    _task_ids[key] = rec
    if pt is not None:
        # A freed task's record must tell "finished" from "destroyed while pending".
        def done(_t, rec=rec):
            rec.done = True

        task.add_done_callback(done)


def _record_of(task) -> Started | None:
    rec = _task_ids.get(id(task))
    if rec is not None and rec.ref() is task:
        return rec
    return _dead.get(id(task))


def _own_code(task) -> set[int]:
    """ids of the task's own running code: its coroutine, the coroutines and generators it
    awaits (``cr_await``/``gi_yieldfrom`` chain) and their frames. A task that refers to
    itself from there (``me = asyncio.current_task()``) does not keep itself."""
    out: set[int] = set()
    try:
        c = task.get_coro()
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return out
    for _ in range(1000):   # bounded: a chain is as deep as the awaits, never a loop
        if c is None:
            break
        out.add(id(c))
        f = getattr(c, "cr_frame", None) or getattr(c, "gi_frame", None) or getattr(c, "ag_frame", None)
        if f is not None:
            out.add(id(f))
        c = getattr(c, "cr_await", None) or getattr(c, "gi_yieldfrom", None) or getattr(c, "ag_await", None)
    return out


def _live_frames() -> list:
    # Frames running now, in every thread (the caller's down, not this one's: it ends here).
    # Python 3.11+ never shows a running frame's locals to the collector, 3.10 does: left out
    # on every version, so that the answer is the same (the code that is ending the loop drops
    # its locals with it). The caller holds the list while it compares ids, so that none of
    # them is reused meanwhile.
    me = threading.get_ident()
    out = []
    for ident, f in list(sys._current_frames().items()):
        f = sys._getframe(1) if ident == me else f
        while f is not None:
            out.append(f)
            f = f.f_back
    return out


def _asyncio_own_types() -> tuple:
    # Objects of asyncio's own that refer to a task they serve, never a user's way to keep one:
    # a timeout (``asyncio.timeout``, and ``wait_for`` on 3.12+) refers to the task it cancels,
    # a TaskGroup to its parent task (its children are in its own set: that one is an owner).
    import asyncio

    return tuple(c for c in (getattr(asyncio, "Timeout", None), getattr(asyncio, "TaskGroup", None))
                 if isinstance(c, type))


def _kept(tasks: list, mine: tuple) -> set[int]:
    """ids of those of ``tasks`` that something refers to (one pass over the heap for all).

    What does not count as referring to a task: asyncio's own machinery (the wake-up and
    step callbacks bound to the task, the loop's weak task set, the eager-task and
    current-task maps, a timeout or TaskGroup the task itself runs), the task's own running
    code (its coroutine and what it awaits), frames running now (see ``_live_frames``),
    weak references, and lockwatch's own records, frames and coroutines (``mine``: the
    caller's containers). Anything else does: a set, a list, a dict, an attribute, a
    closure, a gather, another task awaiting it, a suspended coroutine's local."""
    import asyncio.tasks as at

    want = {id(t): t for t in tasks}
    skip = {id(_tasks), id(_task_ids), id(_dead), id(state.held), id(state.waiting), id(state.agent_of),
            id(want), id(tasks), *map(id, mine)}
    for name in ("_eager_tasks", "_current_tasks"):
        s = getattr(at, name, None)
        if s is not None:
            skip.add(id(s))
    frames = _live_frames()
    skip.update(map(id, frames))
    skip.add(id(frames))
    own = {k: _own_code(t) for k, t in want.items()}
    served = _asyncio_own_types()
    kept: set[int] = set()
    # Garbage not yet collected still shows as a referrer: a young cycle that holds a
    # finished frame (loopwatch.sample's map of sys._current_frames() holds the sampler's own
    # frame, so the frames it saw outlive the sample) would keep a dropped task by chance,
    # depending on when the collector last ran.
    # The young generations are collected first: that garbage is young, and it costs ~0.01
    # ms where a full collection costs ~40 ms on a 400k-object heap (3x the referrer pass).
    # Older garbage still keeps a task: a miss, never a false alarm.
    gc.collect(1)
    refs = gc.get_referrers(*tasks)
    skip.add(id(refs))
    try:
        for r in refs:
            if id(r) in skip or isinstance(r, weakref.ref) or type(r).__name__ == "TaskStepMethWrapper":
                continue
            if isinstance(r, (types.MethodType, types.BuiltinMethodType)) and id(getattr(r, "__self__", None)) in want:
                continue   # the task's own __wakeup/__step, in a future's callbacks or a loop handle
            if isinstance(r, types.FrameType) and is_own(r.f_code.co_filename):
                continue
            if isinstance(r, types.CoroutineType) and is_own(r.cr_code.co_filename):
                continue   # e.g. the tracer's contended-acquire coroutine of a waiting task
            if served and isinstance(r, served):
                continue
            if isinstance(r, tuple) and len(r) == len(tasks) and all(a is b for a, b in zip(r, tasks)):
                continue   # the argument tuple of this very get_referrers call
            for x in gc.get_referents(r):
                k = id(x)
                if k in want and want[k] is x and id(r) not in own[k]:
                    kept.add(k)
    finally:
        refs.clear()
        frames.clear()
    return kept


def dangling(tasks, mine: tuple = ()) -> list:
    """The LW203 decision at the end of a task's scope (its loop's run, or a test), the one for
    ``lockwatch run``, ``watch()`` and the pytest plugin: those of ``tasks`` still pending,
    whose cancellation was not already requested, and that nothing refers to but asyncio's
    own bookkeeping and lockwatch's records (``_kept``). That task was created and dropped: it
    may be garbage-collected mid-flight ("Task was destroyed but it is pending!"). ``mine``:
    the caller's own containers that hold the tasks (not an owner)."""
    cands = [t for t in tasks if not t.done() and not _cancel_requested(t)]
    if not cands:
        return []
    try:
        kept = _kept(cands, mine)
        return [t for t in cands if id(t) not in kept]
    finally:
        cands.clear()


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
    """The tasks still pending as ``loop``'s run ends: the dangling ones (``dangling``) are
    reported, or, while a test is tracked, marked for the test's check."""
    import asyncio

    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    try:
        if _per_test:
            # any test's task not yet settled: its test's check reports it
            cands = [t for t in pending if (r := _record_of(t)) is not None and not r.done and not r.pending_at]
        else:
            cands = [t for t in pending if (r := _record_of(t)) is not None and not r.reported]
        if not cands:
            return
        for t in dangling(cands, (pending, cands)):
            rec = _record_of(t)
            if rec is None:
                continue
            if _per_test:
                rec.pending_at = "loop end"   # the test's check reports it
                continue
            rec.reported = True
            _emit(_task_finding(rec, f"was still pending, with no reference kept to it, when {why}",
                                "loop end"), ("LW203", rec.path, rec.line))
    finally:
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


def _failure(context) -> str:
    exc = context.get("exception")
    return f" ({type(exc).__name__}: {exc})" if exc is not None else ""


def _exception_context(context) -> None:
    msg = str(context.get("message", ""))
    if _per_test:
        # The test's check sees a destroyed task itself. A failure nobody retrieved is known
        # only here, when the task is freed (maybe after its test's check): the record goes
        # back to the checks, for its test or the session's end.
        if "exception was never retrieved" in msg:
            fut = context.get("future")
            rec = _record_of(fut) if fut is not None else None
            if rec is not None and rec.tracker in _per_test and rec.test and not rec.pending_at:
                rec.detail = _failure(context)
                rec.pending_at = "exception never retrieved"
                _tasks[rec.seq] = rec
        return
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
            what = _failure(context)
            _emit(_task_finding(rec, f"failed and its exception was never retrieved{what}: nobody awaited it",
                                "exception never retrieved"), ("LW203", rec.path, rec.line))


def _unawaited(message: str, filename: str, lineno: int) -> None:
    if _per_test:
        return   # pytest records the warning per test; the plugin reports it
    where = unawaited_site(message, filename, lineno)
    if where is None:
        return
    path, line, stack = where
    head = message.splitlines()[0]
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

def _outlived(recs: list[Started], grace: float, join=None) -> list[Started]:
    """Those of ``recs`` still alive after waiting up to ``grace`` seconds in all for them
    to end on their own; ``join`` is how to wait for one (default ``Thread.join``)."""
    alive = []
    me = threading.current_thread()
    deadline = time.monotonic() + max(0.0, grace)
    for r in recs:
        t = r.ref()
        if t is None or not t.is_alive() or t is me:
            continue
        left = deadline - time.monotonic()
        if left > 0:
            if join is None:
                try:
                    threading.Thread.join(t, left)
                except Exception:  # noqa: BLE001, S110 - lockwatch must never disturb the program
                    pass
            else:
                join(t, left)
        if t.is_alive():
            alive.append(r)
    return alive


def mark() -> int:
    """A position: threads started after it belong to the scope that took it."""
    return next(_seq)


def threads_alive(since: int = 0, grace: float = 0.5, scope: str = "the program ended") -> list[Finding]:
    """Report threads the program started (after ``since``) that are still alive, after
    waiting up to ``grace`` seconds for them to end on their own. Nothing while a test is
    tracked: its per-test check reports them (once)."""
    if _per_test:
        return []
    ignore_daemons = state.options.daemon_threads == "ignore"
    # fire-and-forget daemon threads are by design unless configured otherwise (as statically)
    recs = [r for r in list(_threads.values()) if r.seq > since and not r.reported and r.own
            and not (r.daemon and not r.executor and ignore_daemons)]
    alive = _outlived(recs, grace)
    out = []
    for r in alive:
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
    _drop_threads(lambda r: r.reported or r.ref() is None)
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
    _task_ids.clear()
    _dead.clear()
    _reported.clear()
