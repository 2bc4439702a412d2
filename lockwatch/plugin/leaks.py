"""What a test leaves running: threads still alive (``unjoined-thread``) and asyncio tasks
still pending when their loop or the test ended (``dangling-task``), each pinned on the test
that started it, with the creation stack.

The runtime tracer watches locks, not thread starts or task creation, so the plugin tracks
these itself: ``Thread.start`` and ``BaseEventLoop.create_task`` are wrapped (a stack is
taken once per start/creation, which is rare next to lock operations), objects are held
through weak references only, so tracking never keeps a thread or task alive or changes
when a pending task is destroyed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field

from lockwatch.findings import Finding, Location, make_fingerprint

# Frames of the test runner itself are noise in a creation stack.
_RUNNER_PARTS = (
    os.sep + "_pytest" + os.sep,
    os.sep + "pluggy" + os.sep,
    os.sep + "pytest" + os.sep + "__main__.py",
    os.sep + "xdist" + os.sep,
    os.sep + "execnet" + os.sep,
    os.sep + "lockwatch" + os.sep + "plugin" + os.sep,
)


def _is_runner(filename: str) -> bool:
    return any(p in filename for p in _RUNNER_PARTS) or filename.startswith("<frozen")


def _stdlib_dirs() -> tuple[str, ...]:
    import sysconfig

    out = []
    for k in ("stdlib", "platstdlib"):
        p = sysconfig.get_paths().get(k)
        if p:
            out.append(os.path.join(p, ""))
    return tuple(out)


_STDLIB = _stdlib_dirs()


def _is_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) and "site-packages" not in filename


def capture(frame, limit: int = 30) -> tuple[list[str], str, int]:
    """(stack outermost first as 'path:line in func', user path, user line) from ``frame``:
    runner frames dropped, the primary site is the innermost frame outside the stdlib."""
    from lockwatch.runtime.stacks import disp

    frames = []
    f = frame
    while f is not None:
        if not _is_runner(f.f_code.co_filename):
            frames.append(f)
        f = f.f_back
    frames = frames[:limit]
    site = next((x for x in frames if not _is_stdlib(x.f_code.co_filename)), frames[0] if frames else None)
    stack = [f"{disp(x.f_code.co_filename)}:{x.f_lineno} in {x.f_code.co_name}" for x in reversed(frames)]
    if site is None:
        return stack, "<unknown>", 0
    return stack, disp(site.f_code.co_filename), site.f_lineno


@dataclass
class Started:
    """A thread or task the tracked code created."""

    ref: weakref.ref
    name: str
    stack: list[str]
    path: str
    line: int
    test: str | None
    phase: str
    daemon: bool = False
    done: bool = False          # tasks: a done-callback ran
    pending_at: str = ""        # tasks: "loop end" when it was still pending as its loop ended
    reported: bool = False
    extra: dict = field(default_factory=dict)


class Tracker:
    """Patches ``threading.Thread.start`` and ``asyncio.BaseEventLoop.create_task`` while
    installed; ``current``/``phase`` name the test running now (set by the plugin)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.phase = "session"
        self.threads: list[Started] = []
        self.tasks: dict[int, Started] = {}
        self._seq = 0
        self._saved: list[tuple[object, str, object]] = []

    # ---- install ------------------------------------------------------------------
    def install(self) -> None:
        tracker = self
        orig_start = threading.Thread.start

        def start(thread, *a, **kw):
            try:
                stack, path, line = capture(sys._getframe(1))
                tracker.threads.append(
                    Started(weakref.ref(thread), thread.name, stack, path, line, tracker.current,
                            tracker.phase, daemon=thread.daemon)
                )
            except Exception:  # noqa: BLE001, S110 - never disturb the program under test
                pass
            return orig_start(thread, *a, **kw)

        start.__doc__ = orig_start.__doc__
        self._set(threading.Thread, "start", start)

        import asyncio
        import asyncio.base_events as be
        from asyncio import runners

        orig_create = be.BaseEventLoop.create_task

        def create_task(loop, coro, *a, **kw):
            task = orig_create(loop, coro, *a, **kw)
            try:
                tracker._task_created(task, sys._getframe(1))
            except Exception:  # noqa: BLE001, S110 - never disturb the program under test
                pass
            return task

        create_task.__doc__ = orig_create.__doc__
        self._set(be.BaseEventLoop, "create_task", create_task)

        orig_cancel_all = getattr(runners, "_cancel_all_tasks", None)
        if orig_cancel_all is not None:
            def _cancel_all_tasks(loop):
                # asyncio.run() is about to cancel whatever is still pending: that task
                # outlived its loop's run, the scope it was created in.
                try:
                    tracker._loop_ending(loop)
                except Exception:  # noqa: BLE001, S110 - never disturb the program under test
                    pass
                return orig_cancel_all(loop)

            self._set(runners, "_cancel_all_tasks", _cancel_all_tasks)

        orig_close = be.BaseEventLoop.close

        def close(loop):
            try:
                if not loop.is_running():
                    tracker._loop_ending(loop)
            except Exception:  # noqa: BLE001, S110 - never disturb the program under test
                pass
            return orig_close(loop)

        close.__doc__ = orig_close.__doc__
        self._set(be.BaseEventLoop, "close", close)
        del asyncio

    def _set(self, owner, name, value) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def uninstall(self) -> None:
        while self._saved:
            owner, name, value = self._saved.pop()
            setattr(owner, name, value)

    # ---- tasks ----------------------------------------------------------------------
    def _task_created(self, task, frame) -> None:
        stack, path, line = capture(frame)
        try:
            coro = task.get_coro()
            name = getattr(coro, "__qualname__", None) or task.get_name()
        except Exception:  # noqa: BLE001 - a task we cannot name keeps its task name
            name = task.get_name()
        # A counter, not id(task): a freed task's id is soon reused by the next one.
        self._seq += 1
        key = self._seq
        rec = Started(weakref.ref(task), name, stack, path, line, self.current, self.phase)
        self.tasks[key] = rec

        def done(_t, rec=rec):
            rec.done = True

        task.add_done_callback(done)

    def _loop_ending(self, loop) -> None:
        for rec in self.tasks.values():
            t = rec.ref()
            if t is None or rec.done or rec.pending_at:
                continue
            try:
                if t.get_loop() is loop and not t.done():
                    rec.pending_at = "loop end"
            except Exception:  # noqa: BLE001, S112 - a task from a closed loop: skip it
                continue

    # ---- checks -----------------------------------------------------------------------
    def leaked_threads(self, test: str, grace: float, include_setup: bool = False) -> list[Started]:
        """Threads started during ``test`` (call/teardown; setup too when asked) still alive
        after waiting up to ``grace`` seconds for them to end."""
        mine = [
            r for r in self.threads
            if not r.reported and r.test == test and (include_setup or r.phase != "setup")
        ]
        deadline = time.monotonic() + max(0.0, grace)
        out = []
        for r in mine:
            t = r.ref()
            if t is None or not t.is_alive():
                r.reported = True  # finished: nothing to report, ever
                continue
            left = deadline - time.monotonic()
            if left > 0:
                t.join(left)
            if t.is_alive():
                out.append(r)
                r.reported = True
        # drop what is settled so the list stays short over a long session
        self.threads = [r for r in self.threads if not r.reported]
        return out

    def dangling_tasks(self, test: str, include_setup: bool = False) -> list[Started]:
        """Tasks created during ``test`` that were pending when their loop ended, that are
        still pending now, or that were destroyed while pending. Tasks created while setting
        the test up belong to fixtures, maybe of a wider scope: only checked when asked
        (at the end of the session)."""
        out = []
        for key, rec in list(self.tasks.items()):
            if rec.test is None and (rec.done or rec.ref() is None):
                del self.tasks[key]   # outside any test and settled: nothing to keep
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
                rec.pending_at = "test end"
                out.append(rec)
            del self.tasks[key]
        return out

    def forget(self, test: str) -> None:
        for key, rec in list(self.tasks.items()):
            if rec.test == test:
                del self.tasks[key]


def thread_finding(r: Started, test: str, grace: float) -> Finding:
    kind = "daemon thread" if r.daemon else "thread"
    return Finding(
        code="LW211",
        kind="unjoined-thread",
        severity="warning",
        message=f"{kind} {r.name!r} started by the test is still alive {grace:g}s after it ended",
        path=r.path,
        line=r.line,
        related=[Location(r.path, r.line, 1, f"{kind} {r.name!r} started here")],
        stacks=[r.stack],
        fingerprint=make_fingerprint("LW211", r.path, r.line, test),
        extra={"tests": [test], "origin": "runtime", "daemon": r.daemon},
    )


def task_finding(r: Started, test: str) -> Finding:
    why = {
        "loop end": "was still pending when its event loop finished (cancelled at shutdown)",
        "test end": "is still pending after the test ended",
        "destroyed pending": "was destroyed while still pending",
    }.get(r.pending_at, "was left pending")
    return Finding(
        code="LW203",
        kind="dangling-task",
        severity="warning",
        message=f"task {r.name} created by the test {why}",
        path=r.path,
        line=r.line,
        related=[Location(r.path, r.line, 1, f"task {r.name} created here")],
        stacks=[r.stack],
        fingerprint=make_fingerprint("LW203", r.path, r.line, test),
        extra={"tests": [test], "origin": "runtime", "pending_at": r.pending_at},
    )


def unawaited_finding(message: str, filename: str, lineno: int, test: str) -> Finding | None:
    """A 'coroutine ... was never awaited' RuntimeWarning -> LW204 at the creation site
    (from the origin the interpreter attaches when origin tracking is on)."""
    from lockwatch.runtime.stacks import disp, warning_frames

    if "was never awaited" not in message:
        return None
    head = message.splitlines()[0]
    frames = warning_frames(message)
    site = next((f for f in reversed(frames) if not _is_stdlib(f[0]) and not _is_runner(f[0])), None)
    path, line = (disp(site[0]), site[1]) if site else (disp(filename), lineno)
    stack = [f"{disp(fn)}:{num} in {func}" for fn, num, func in frames if not _is_runner(fn)]
    return Finding(
        code="LW204",
        kind="dangling-task",
        severity="warning",
        message=f"{head} (created during the test)",
        path=path,
        line=line,
        related=[],
        stacks=[stack] if stack else None,
        fingerprint=make_fingerprint("LW204", path, line, head),
        extra={"tests": [test], "origin": "runtime"},
    )
