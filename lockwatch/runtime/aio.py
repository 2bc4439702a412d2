"""Instrumented ``asyncio.Lock``: a subclass of the real class (so ``isinstance`` and the
repr are unchanged) whose uncontended ``async with`` does the base class's own fast path
inline (no extra coroutine layer) plus the held-stack bookkeeping per Task.

Contention registers the task's wait and walks the wait-for graph (tasks and threads share
it), so two tasks that wait on each other's locks get a DeadlockError in the task that
closes the cycle instead of a silent hang of both.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import asyncio.locks
import asyncio.tasks
import os
import sys

from lockwatch.runtime import detect, state
from lockwatch.runtime.primitives import _new_class, release_other

_current_task = asyncio.current_task
_held_get = state.held.get
if sys.version_info < (3, 12):
    # current_task is a Python function there; read the C-maintained map directly. The
    # running loop is cached per thread: before 3.12 ``_get_running_loop()`` calls getpid()
    # (a system call) every time, which was a third of the tracer's cost per ``async with``
    # (measured on 3.11: 468 ns of a 1190 ns acquire+release; with the cache, 324 ns). A
    # cached loop is used only while its ``_thread_id`` says it runs in this very thread,
    # which is true of exactly one loop at a time; anything else asks asyncio again.
    _ct_get = asyncio.tasks._current_tasks.get
    _running_loop = asyncio.events._get_running_loop
    _loops: dict = {}
    _loops_get = _loops.get
    os.register_at_fork(after_in_child=_loops.clear)
else:
    _ct_get = None
    _running_loop = None
    _loops = {}
get_ident = state.get_ident
OrigLock = asyncio.locks.Lock


def _this_loop(tid):
    """The loop running in thread ``tid`` (slow path of the per-thread cache)."""
    loop = _running_loop()
    if loop is not None and getattr(loop, "_thread_id", None) == tid:
        _loops[tid] = loop
    return loop


def task_held(task) -> state.Held:
    hl = state.held.get(task)
    if hl is None:
        if task is None:
            agent = ("loop", state.get_ident())
            hl = state.held.get(agent) or state.new_held(agent)
            return hl
        hl = state.new_held(task)
        try:
            task.add_done_callback(_task_done)
        except Exception as e:
            state.internal_error("task", e)
    return hl


def _task_done(task) -> None:
    try:
        detect.agent_ended(task)
    except Exception as e:
        state.internal_error("task-end", e)


class _ALockMeta(type):
    def __instancecheck__(cls, obj):
        return type.__instancecheck__(cls, obj) or type.__instancecheck__(OrigLock, obj)

    def __subclasscheck__(cls, sub):
        return type.__subclasscheck__(cls, sub) or type.__subclasscheck__(OrigLock, sub)


class Lock(OrigLock, metaclass=_ALockMeta):
    _reentrant = False

    def __init__(self, *args, **kwargs):
        OrigLock.__init__(self, *args, **kwargs)
        self._hl = None
        self._n = 0
        self._cls = c = _new_class(sys._getframe(1), "async-lock")
        self._succ = c.succ

    # The base class's own fast path, inline (one coroutine layer less than calling it),
    # then the held stack of the current task. ``not self._waiters`` is the base class's
    # ``self._waiters is None or all(...)`` without making a generator for an empty deque.
    async def acquire(self):
        if not self._locked and (not self._waiters or all(w.cancelled() for w in self._waiters)):
            self._locked = True
        else:
            await _contended(self)
        if _ct_get is None:
            hl = _held_get(_current_task())
        else:
            tid = get_ident()
            loop = _loops_get(tid)
            try:
                if loop._thread_id != tid:
                    loop = _this_loop(tid)
            except AttributeError:  # nothing cached (None) or a loop without _thread_id
                loop = _this_loop(tid)
            hl = _held_get(_ct_get(loop))
        if hl is None:
            hl = task_held(_current_task())
        elif hl and self._cls not in hl[-1]._succ:
            detect.new_edge(hl, self)
        hl.append(self)
        self._hl = hl
        self._n += 1
        return True

    async def __aenter__(self):
        if not self._locked and (not self._waiters or all(w.cancelled() for w in self._waiters)):
            self._locked = True
        else:
            await _contended(self)
        if _ct_get is None:
            hl = _held_get(_current_task())
        else:
            tid = get_ident()
            loop = _loops_get(tid)
            try:
                if loop._thread_id != tid:
                    loop = _this_loop(tid)
            except AttributeError:  # nothing cached (None) or a loop without _thread_id
                loop = _this_loop(tid)
            hl = _held_get(_ct_get(loop))
        if hl is None:
            hl = task_held(_current_task())
        elif hl and self._cls not in hl[-1]._succ:
            detect.new_edge(hl, self)
        hl.append(self)
        self._hl = hl
        self._n += 1

    # Lock.release of 3.10-3.13, inline.
    def release(self):
        if self._locked:
            self._locked = False
            if self._waiters:  # _wake_up_first's own first test, without its call
                self._wake_up_first()
        else:
            raise RuntimeError("Lock is not acquired.")
        hl = self._hl
        try:
            x = hl.pop()
        except (IndexError, AttributeError):
            release_other(self)
            return
        if x is not self:
            hl.append(x)
            release_other(self)

    async def __aexit__(self, exc_type, exc, tb):
        if self._locked:
            self._locked = False
            if self._waiters:  # _wake_up_first's own first test, without its call
                self._wake_up_first()
        else:
            raise RuntimeError("Lock is not acquired.")
        hl = self._hl
        try:
            x = hl.pop()
        except (IndexError, AttributeError):
            release_other(self)
            return
        if x is not self:
            hl.append(x)
            release_other(self)


Lock.__module__ = OrigLock.__module__
Lock.__qualname__ = OrigLock.__qualname__
Lock.__name__ = OrigLock.__name__
Lock.__doc__ = OrigLock.__doc__


async def _contended(w) -> None:
    task = _current_task()
    hl = task_held(task)
    opts = state.options
    if not w._cls.handoff and w._hl is hl and detect._holds(hl, w):
        # asyncio locks have no owner either: wait a grace period for another task.
        try:
            await asyncio.wait_for(OrigLock.acquire(w), opts.self_deadlock_grace)
            w._cls.handoff = True
            return
        except (asyncio.TimeoutError, TimeoutError):
            pass
        if w._hl is hl and detect._holds(hl, w):
            f = detect._report_self_deadlock(w, sys._getframe(1))
            if opts.break_deadlocks:
                raise detect._deadlock_error(f)
    if hl and w._cls not in hl[-1]._succ:
        detect.new_edge(hl, w)  # recorded at the attempt, as lockdep does
    agent = task if task is not None else state.agent_of_held(hl)
    state.waiting[agent] = state.Wait("lock", w, state.monotonic(), w._n)
    try:
        cyc = None
        try:
            cyc = detect.walk(agent)
        except Exception as e:
            state.internal_error("walk", e)
        if cyc:
            try:
                await asyncio.wait_for(OrigLock.acquire(w), opts.deadlock_confirm)
                return
            except (asyncio.TimeoutError, TimeoutError):
                pass
            with state.mutex:
                cyc = detect.walk(agent)
                f = detect.report_wait_cycle(cyc, sys._getframe(1)) if cyc else None
                if f is not None and opts.break_deadlocks:
                    state.waiting.pop(agent, None)
                    raise detect._deadlock_error(f)
        await OrigLock.acquire(w)
    finally:
        state.waiting.pop(agent, None)
