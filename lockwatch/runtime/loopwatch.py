"""The event loop's own hazards at runtime: a loop blocked longer than a threshold (LW201
blocking-in-async) and a task that suspends while its thread holds a ``threading`` lock
(LW202 await-under-thread-lock).

One hook serves both: ``BaseEventLoop._run_once`` (pure Python in every supported version,
unlike the C ``Task.__step``) is wrapped to bump a per-thread tick counter, odd while a tick
runs. A raw ``_thread`` watchdog samples ``sys._current_frames()`` of each loop thread; a
loop seen busy (odd tick, not waiting in the selector) in the same tick for longer than the
threshold is reported with the stack captured *while* it blocks. Nothing is timed on the
loop's path: the cost is the wrapper call per tick, not per callback. The busy spell is timed
from the clock reading the loop itself takes right after its selector returns (``end_time``
in ``_run_once``), read off the loop's frame when a sample first sees the tick busy; without
it (another Python, a loop with its own clock), from that first sighting, up to one sampling
period late.

A task's step runs inside a tick; if the thread's held-lock stack is deeper when the tick
ends than when it began, a lock taken in the tick outlived it, i.e. some task suspended at
an ``await`` holding it. That check is one ``len`` per tick; the search for the culprit task
runs only when it happens.
"""

from __future__ import annotations

import _thread
import linecache
import sys

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.stacks import disp, fmt_frame, frame_list, is_own, is_wrapper

_get_ident = _thread.get_ident
_held_get = state.held.get

threshold = 0.1                # seconds; options.loop_block (None/0 = off)
# How many times slower a line tracer that the instrumentation itself runs (the pytest
# plugin's own coverage collector on a line-tracing core) makes the loop thread's code;
# 1.0 = none. LW201 reports how long the *program* blocks the loop. The tracer costs CPU on
# the loop's thread: the CPU time the thread used in a busy spell (its thread CPU clock, read
# at each look) counts 1/slowdown of itself; the rest of the spell (off CPU: a sleep, I/O, a
# lock or selector wait, the synchronous calls LW201 is about, which no tracer stretches)
# counts in full. Without a thread CPU clock (not POSIX), a span counts 1/slowdown when the
# look finds the thread running bytecode rather than on a call: a cruder guess, as the
# watchdog tends to get the GIL while the loop thread is in a call that releases it.
slowdown = 1.0
# A loop thread that is ready to run but waits for a CPU (other processes, or other threads of
# this one, have the cores) is not blocked by the program: a 0.03 s step on a machine at load 8
# took 0.12 s of wall time and was reported (a CI flake, session 7). On Linux the kernel counts
# each thread's time on a run queue (/proc/self/task/<tid>/schedstat, second field, ns): the
# part of a busy spell spent there is not counted. A sleep, I/O or lock wait (what LW201 is
# about) is off the run queue and still counts in full; so does a wait for the GIL (a condition
# variable wait), which is the program's own doing.
_loops: dict[int, list] = {}   # thread ident -> [tick, busy since, tick seen busy, finding, last look,
#                                 seconds of that tick put down to the tracer's stretch,
#                                 the thread's CPU clock id, its reading at the last look,
#                                 its schedstat path (None: not known), its run-queue seconds at
#                                 the last look, run-queue seconds of that tick]
_tick_code = None              # code of the original _run_once: finds its frame on a loop's stack
_saved: list[tuple[object, str, object]] = []
_stop = None
_running = False
_blocked: dict[tuple, Finding] = {}   # blocking site -> its finding (duration kept at max)
_lw202: set = set()                   # (lock class key, site) reported
_msg_parts: dict[int, tuple] = {}     # id(finding) -> (function, detail) to rebuild its message


def _set(owner, name: str, value) -> None:
    _saved.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


def install(block_threshold: float | None = 0.1) -> None:
    global threshold, _tick_code
    threshold = block_threshold or 0.0
    try:
        import asyncio.base_events as be
    except Exception as e:  # noqa: BLE001  # pragma: no cover - never disturb the program
        state.internal_error("loopwatch-install", e)
        return
    orig = be.BaseEventLoop._run_once
    _tick_code = getattr(orig, "__code__", None)

    def _run_once(self):
        ident = _get_ident()
        rec = _loops.get(ident)
        if rec is None:
            rec = _register(ident)
        rec[0] += 1
        hl = _held_get(ident)
        n0 = len(hl) if hl else 0
        try:
            return orig(self)
        finally:
            rec[0] += 1
            hl = _held_get(ident)
            if hl and len(hl) > n0:
                _lock_outlived_tick(self, hl, n0)

    _run_once.__doc__ = orig.__doc__
    _set(be.BaseEventLoop, "_run_once", _run_once)


def uninstall() -> None:
    global _running, slowdown
    slowdown = 1.0
    while _saved:
        owner, name, value = _saved.pop()
        try:
            setattr(owner, name, value)
        except Exception as e:  # noqa: BLE001  # pragma: no cover - never disturb the program
            state.internal_error("loopwatch-uninstall", e)
    if _running and _stop is not None:
        _running = False
        try:
            _stop.release()
        except RuntimeError:
            pass
    _loops.clear()


def _register(ident: int) -> list:
    global _stop, _running
    # Registered at the start of the loop's first tick: no busy spell of it began earlier.
    rec = [0, None, -1, None, state.monotonic(), 0.0, _cpu_clock(ident), None, _schedstat_path(), None, 0.0]
    _loops[ident] = rec
    if threshold and not _running:
        _stop = state.RAW_ALLOCATE()
        _stop.acquire()
        _running = True
        _thread.start_new_thread(_watch, (_stop,))
    return rec


def _after_fork() -> None:
    # The watchdog thread did not survive the fork: the child starts its own with its
    # first loop tick. Loop threads of the parent are gone too.
    global _running
    _running = False
    _loops.clear()


if hasattr(__import__("os"), "register_at_fork"):
    __import__("os").register_at_fork(after_in_child=_after_fork)


def interval() -> float:
    return max(0.005, min(0.05, threshold / 10))


def _watch(stop_lock) -> None:
    while not stop_lock.acquire(True, interval()):
        try:
            sample()
        except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
            state.internal_error("loopwatch", e)


def _busy_since(f, prev: float, now: float) -> float:
    """When the tick the loop thread is in (top frame ``f``) left its selector: the loop's
    own ``end_time`` (``self.time()`` + clock resolution, taken right after ``select``
    returns and its events are queued) if it can be read and is plausible, else ``now``.

    Plausible: after ``prev`` (this loop's previous look, which saw another tick, this one
    idle, or came before the loop's first tick: the busy spell began after it) and not after
    ``now``. With the monotonic clock that is always so, and ``end_time`` is not earlier than
    the spell's start: the duration stays a lower bound. A loop with its own clock (virtual
    time in a test loop) almost never lands in that window and is timed from ``now`` as
    before; if it does, it is early by less than the time since ``prev``.
    """
    code = _tick_code
    g = f
    while g is not None and g.f_code is not code:
        g = g.f_back
    if g is None:
        return now
    try:
        # One dict of _run_once's few locals (a read-only proxy on 3.13+); only on the
        # first sighting of a busy tick.
        t = g.f_locals.get("end_time")
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return now
    if type(t) is float and prev < t <= now:
        return t
    return now


def _idle(f) -> bool:
    # Waiting for I/O or the next timer: the loop is free, however long it lasts.
    c = f.f_code
    return c.co_name == "select" and c.co_filename.endswith("selectors.py")


def _calls():
    # Opcodes a frame sits on while the function it calls runs; a C function has no frame
    # of its own, so the caller's is the top one for as long as it runs (3.10: CALL_FUNCTION,
    # CALL_METHOD...; 3.11: PRECALL/CALL; 3.12+: CALL, CALL_KW, CALL_FUNCTION_EX...).
    import dis

    return frozenset(op for name, op in dis.opmap.items()
                     if name.startswith("CALL") or name in ("PRECALL", "BEFORE_WITH", "SETUP_WITH"))


_CALLS = _calls()


def _in_bytecode(f) -> bool:
    """Is the thread whose top frame is ``f`` running Python bytecode (which a line tracer
    slows down) rather than waiting in a call to C? Unsure counts as a call: in full."""
    try:
        i = f.f_lasti
        return i >= 0 and f.f_code.co_code[i] not in _CALLS
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return False


try:
    from time import clock_gettime as _clock_gettime
    from time import pthread_getcpuclockid as _cpu_clock_id
except ImportError:  # pragma: no cover - not POSIX
    _clock_gettime = _cpu_clock_id = None


def _cpu_clock(ident: int):
    if _cpu_clock_id is None:
        return None  # pragma: no cover
    try:
        return _cpu_clock_id(ident)
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return None


def cpu_seconds(rec: list) -> float | None:
    """CPU time the loop thread of ``rec`` has used (user + system), None if unknown."""
    clk = rec[6]
    if clk is None:
        return None
    try:
        return _clock_gettime(clk)
    except Exception:  # noqa: BLE001 - the thread is gone, or no such clock
        return None


def _schedstat_path() -> str | None:
    """The run-queue counter of the calling thread (a loop thread registering), if the
    kernel keeps one."""
    if not _schedstat_ok:
        return None
    try:
        path = f"/proc/self/task/{_thread.get_native_id()}/schedstat"
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return None
    return path if runqueue_seconds(path) is not None else None


_schedstat_ok = sys.platform.startswith("linux")


def runqueue_seconds(path: str | None) -> float | None:
    """Seconds the thread of ``path`` has waited on a run queue (ready, not running), or
    None when unknown (not Linux, a kernel without schedstats, the thread gone)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return None


def sample(now: float | None = None) -> None:
    now = state.monotonic() if now is None else now
    frames = sys._current_frames()
    # ``frames`` holds this very frame (the sampling thread's), and this frame holds
    # ``frames``: a cycle that would keep every sampled frame and its locals (a task it
    # dropped, say) alive until the next collection. Broken on the way out.
    try:
        for ident, rec in list(_loops.items()):
            f = frames.get(ident)
            if f is None:
                _loops.pop(ident, None)
                continue
            tick = rec[0]
            prev, rec[4] = rec[4], now
            cpu0 = rec[7]
            if slowdown > 1.0:
                rec[7] = cpu_seconds(rec)
            rq0 = rec[9]
            rec[9] = runqueue_seconds(rec[8])
            if not tick & 1 or _idle(f):
                rec[1] = None
                continue
            if rec[1] is None or rec[2] != tick:
                # First sighting of this tick busy. Timing it from here under-counts by up to a
                # sampling period, and under load (a late first sample, a watchdog waiting for
                # the GIL) that is most of a short block: a 0.12 s step first seen 0.03 s in
                # was never reported at threshold 0.1. The loop's own post-select clock
                # reading is exact; from it, even this one sample can report the block.
                rec[1], rec[2], rec[3] = _busy_since(f, prev, now), tick, None
                rec[5] = rec[10] = 0.0
                prev = rec[1]
            dur = now - rec[1]
            if rq0 is not None and rec[9] is not None:
                # Waiting for a CPU since the last look, capped at the span as the CPU time
                # is below (errs towards discounting, by less than a sampling period).
                rec[10] += max(0.0, min(rec[9] - rq0, now - prev))
                dur -= rec[10]
            if slowdown > 1.0:
                span = now - prev
                if cpu0 is not None and rec[7] is not None:
                    # CPU since the last look, which may have been up to a period before the
                    # spell began: capped at the span (errs towards discounting, by < a period)
                    rec[5] += max(0.0, min(rec[7] - cpu0, span))
                elif _in_bytecode(f):
                    rec[5] += span
                dur -= rec[5] * (1.0 - 1.0 / slowdown)
            if dur < threshold:
                continue
            if rec[3] is not None:
                _update(rec[3], dur)
                continue
            rec[3] = _report_block(ident, f, dur)
    finally:
        frames = f = None


def _blocking_frame(f):
    """Innermost frame that is the program's own (not lockwatch, not a stdlib wrapper)."""
    first = None
    g = f
    while g is not None:
        fn = g.f_code.co_filename
        if not is_own(fn):
            if first is None:
                first = g
            if not is_wrapper(fn) and not _stdlib(fn):
                return g
        g = g.f_back
    return first


def _report_block(ident: int, f, dur: float) -> Finding | None:
    site = _blocking_frame(f)
    if site is None:
        return None
    path, line = disp(site.f_code.co_filename), site.f_lineno
    key = (path, line)
    old = _blocked.get(key)
    if old is not None:
        old.extra["occurrences"] = old.extra.get("occurrences", 1) + 1
        _update(old, dur)
        return old
    stack = [fmt_frame(x) for x in frame_list(f)]
    inner = fmt_frame(f)
    what = f" (in {inner})" if stack and stack[-1] != fmt_frame(site) else ""
    fd = Finding(
        code="LW201",
        kind="blocking-in-async",
        severity="warning",
        message=_block_msg(site.f_code.co_name, what, dur),
        path=path,
        line=line,
        stacks=[stack],
        fingerprint=make_fingerprint("LW201", path, line, "runtime"),
        extra={"seconds": round(dur, 3), "threshold": threshold, "origin": "runtime", "occurrences": 1},
    )
    if slowdown > 1.0:
        fd.extra["tracer_slowdown"] = slowdown
    _blocked[key] = fd
    _msg_parts[id(fd)] = (site.f_code.co_name, what)
    with state.mutex:
        state.findings.append(fd)
    return fd


def _block_msg(func: str, what: str, dur: float) -> str:
    tracer = (f" (CPU time on the loop's thread counted at 1/{slowdown:g}: the plugin's coverage "
              "line tracer slows running code, not waits)") if slowdown > 1.0 else ""
    return (f"the event loop was blocked for at least {dur:.2f}s (threshold {threshold:g}s) "
            f"in {func}{what}: a synchronous call on the loop's thread{tracer}")


def _update(fd: Finding, dur: float) -> None:
    if dur > fd.extra.get("seconds", 0):
        fd.extra["seconds"] = round(dur, 3)
        func, what = _msg_parts.get(id(fd), ("?", ""))
        fd.message = _block_msg(func, what, dur)


_STD = None


def _stdlib(fn: str) -> bool:
    global _STD
    if _STD is None:
        import sysconfig

        _STD = tuple(p for p in (sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib")) if p)
    return fn.startswith(_STD) and "site-packages" not in fn or fn.startswith("<frozen")


# ---- LW202 ---------------------------------------------------------------------------

def _lock_outlived_tick(loop, hl, n0: int) -> None:
    try:
        for w in list(hl[n0:]):
            c = getattr(w, "_cls", None)
            if c is None or c.handoff or c.kind == "async-lock":
                continue
            _report_await_under_lock(loop, w, c)
    except Exception as e:  # noqa: BLE001 - lockwatch must never disturb the program
        state.internal_error("loopwatch-lw202", e)


def _task_frames(task) -> list:
    """The frames of a suspended task, outermost first, following ``await`` inward."""
    out = []
    try:
        obj = task.get_coro()
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        return out
    seen = 0
    while obj is not None and seen < 50:
        seen += 1
        fr = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if fr is None:
            break
        out.append(fr)
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    return out


def _mentions(fr, attr: str) -> bool:
    # Does the frame's function, up to where it is suspended, take the lock by that name?
    code = fr.f_code
    for ln in range(code.co_firstlineno, (fr.f_lineno or code.co_firstlineno) + 1):
        text = linecache.getline(code.co_filename, ln)
        if attr in text and ("with " in text or ".acquire(" in text):
            return True
    return False


def _report_await_under_lock(loop, w, c) -> None:
    import asyncio

    label = c.name()
    attr = label.rsplit(".", 1)[-1] if label and ":" not in label else ""
    site = None
    try:
        tasks = asyncio.all_tasks(loop)
    except Exception:  # noqa: BLE001 - lockwatch must never disturb the program
        tasks = set()
    for t in tasks:
        frames = [x for x in _task_frames(t) if not is_own(x.f_code.co_filename)]
        if not frames:
            continue
        holder = next((x for x in frames if attr and _mentions(x, attr)), None)
        if holder is None:
            continue
        # The frame that took the lock is suspended at the await: that await is the hazard.
        site = holder
        stack = [fmt_frame(x) for x in frames]
        break
    if site is None:
        return  # no task we can pin it on: precision first
    path, line = disp(site.f_code.co_filename), site.f_lineno
    key = (c.key, path, line)
    if key in _lw202:
        return
    _lw202.add(key)
    fd = Finding(
        code="LW202",
        kind="await-under-thread-lock",
        severity="error",
        message=(f"a task suspended at an await in {site.f_code.co_name} while its thread held "
                 f"{c.name()}: another task that takes it "
                 "blocks the event loop thread, and the holder can never resume to release it"),
        path=path,
        line=line,
        locks=[c.key],
        related=[Location(c.path, c.line, 1, f"{c.name()} created here")],
        stacks=[stack],
        fingerprint=make_fingerprint("LW202", c.key, path, line),
        extra={"origin": "runtime"},
    )
    with state.mutex:
        state.findings.append(fd)


def reset() -> None:
    _blocked.clear()
    _lw202.clear()
