"""Instrumented ``asyncio.Lock``: a subclass of the real class (so ``isinstance`` and the
repr are unchanged) whose uncontended ``async with`` does the base class's own fast path
inline (no extra coroutine layer) plus the held-stack bookkeeping per Task.

Contention registers the task's wait and walks the wait-for graph (tasks and threads share
it), so two tasks that wait on each other's locks get a DeadlockError in the task that
closes the cycle instead of a silent hang of both.

Below it: the waits of asyncio.Semaphore/BoundedSemaphore, Event and Queue in the same wait
map (``wait_patches``), with semaphore holders for the long-wait report.
"""

from __future__ import annotations

import abc
import asyncio
import asyncio.events
import asyncio.locks
import asyncio.tasks
import os
import sys
import weakref

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


# The current task (None outside one), through the per-thread loop cache before 3.12.
if _ct_get is None:

    def _task_now():
        try:
            return _current_task()
        except RuntimeError:  # no running loop: release() from plain code
            return None

else:

    def _task_now():
        tid = get_ident()
        loop = _loops_get(tid)
        try:
            if loop._thread_id != tid:
                loop = _this_loop(tid)
        except AttributeError:  # nothing cached (None) or a loop without _thread_id
            loop = _this_loop(tid)
        return _ct_get(loop) if loop is not None else None


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


class _ALockMeta(abc.ABCMeta):
    # Only asyncio.Lock itself also answers for locks made before install(): a user's
    # subclass of it must not claim every plain asyncio.Lock. Derived from ABCMeta so that a
    # user's `class L(asyncio.Lock, abc.ABC)` has no metaclass conflict under the tracer
    # (and its ABC registrations still count).
    def __instancecheck__(cls, obj):
        if cls is Lock:  # exactly the real class's answer (no ABC registry on asyncio.Lock)
            return type.__instancecheck__(OrigLock, obj)
        return abc.ABCMeta.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub):
        if cls is Lock:
            return type.__subclasscheck__(OrigLock, sub)
        return abc.ABCMeta.__subclasscheck__(cls, sub)


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
        hl = _held_get(_task_now())
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
        hl = _held_get(_task_now())
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


# ---------------------------------------------------------------- waits on other primitives
# asyncio.Semaphore/BoundedSemaphore, Event and Queue wait on futures of their own, not on
# an asyncio.Lock, so the tracer would not see a task blocked in them. Their waiting methods
# are replaced *on the stdlib classes themselves* (see wait_patches). Unlike a subclass, this
# keeps type(), isinstance, issubclass, the MRO and the metaclass exactly as they are (a
# subclass with a metaclass breaks ``class Q(asyncio.Queue, abc.ABC)``), and covers the
# stdlib's and the user's subclasses (PriorityQueue, LifoQueue) and objects made before
# install().
#
# Each replacement does the base method's own no-wait test first and then behaves as the
# base method (it *is* the base method past that test); only a call that really waits
# registers the task in ``state.waiting`` (kinds "semaphore", "event", "queue") and clears
# it when the wait ends however it ends. Event and queue waits are shown in reports, never
# reported by themselves. A semaphore also keeps its holders (tasks that acquired and did
# not release) so that a long wait on it can name them (watchdog, LW133).

_Wait = state.Wait
_monotonic = state.monotonic
_waiting = state.waiting  # never rebound (reset() and the fork handler clear it in place)
_ref = weakref.ref
_TaskKey = state.TaskKey

# Nothing here keeps a strong reference to a task, even indirectly: a pending task must stay
# collectable as it is without lockwatch, and the lifecycle detector (LW203) counts a pending
# task as kept by the program when anything but a lockwatch frame or a weak reference refers
# to it. So the wait map's key is a weak TaskKey, the Wait holds the primitive weakly (its
# waiter futures' callbacks refer to the task), and holder lists keep weak references.


def _forget(key) -> None:  # the task was freed while waiting
    _waiting.pop(key, None)


def _wait_begin(what: str, target, detail: str = ""):
    """Register the current task as waiting on ``target``: (TaskKey, Wait), or None. A
    task already registered (an instrumented wait inside another) keeps the outer wait."""
    try:
        task = _task_now()
        if task is None:
            return None
        key = _TaskKey(task, _forget)
        if key in _waiting:
            return None
        wt = _waiting[key] = _Wait(what, _ref(target), _monotonic(), 0, None, detail)
        return key, wt
    except Exception as e:
        state.internal_error("wait-begin", e)
        return None


def _wait_end(reg) -> None:
    key, wt = reg
    if _waiting.get(key) is wt:
        _waiting.pop(key, None)


def _released_by_other(sem) -> None:
    # A permit given back by a task that does not hold one: the semaphore is a signal or
    # its permits travel between tasks, so nobody can be named as holding it. Stop
    # tracking holders (its waits stay in the map, but LW133 skips it, as for a lock
    # released by another thread).
    sem._lw_holders = None
    c = sem._lw_cls
    if c is not None:
        c.handoff = True


def holders(sem) -> tuple[list, int]:
    """The distinct tasks holding a permit of ``sem`` (acquired, not released), oldest
    first, and how many permits are held by tasks that are gone (ended without releasing,
    then freed). ([], 0) when unknown: made before install(), or permits passed between
    tasks."""
    h = getattr(sem, "_lw_holders", None)
    out: list = []
    gone = 0
    for r in list(h or ()):
        if r is None:
            continue
        t = r()
        if t is None:
            gone += 1
        elif not any(t is o for o in out):
            out.append(t)
    return out, gone


def wait_patches() -> list[tuple[type, str, object]]:
    """(class, attribute, replacement) for install(): the current stdlib methods wrapped.
    Also class defaults for the per-semaphore fields, so semaphores made before install()
    take the fast path untracked."""
    import asyncio.queues
    import functools

    Sem = asyncio.locks.Semaphore
    Event = asyncio.locks.Event
    Queue = asyncio.queues.Queue
    sem_init, sem_acquire, sem_release = Sem.__init__, Sem.acquire, Sem.release
    bounded_init = getattr(asyncio.locks.BoundedSemaphore.__init__, "__code__", None)
    ev_wait, q_get, q_put = Event.wait, Queue.get, Queue.put

    def __init__(self, *args, **kwargs):
        sem_init(self, *args, **kwargs)
        f = sys._getframe(1)
        if f.f_code is bounded_init:  # BoundedSemaphore(): named by its caller's line
            f = f.f_back
        self._lw_cls = _new_class(f, "async-semaphore")
        self._lw_holders = []

    async def waited(self):
        reg = _wait_begin("semaphore", self)
        try:
            await sem_acquire(self)
        finally:
            if reg is not None:
                _wait_end(reg)

    # Semaphore.acquire of 3.10-3.13: ``if not self.locked(): self._value -= 1; return True``
    # is the whole no-wait path; anything else is the base method, registered as a wait.
    async def acquire(self):
        if not self.locked():
            self._value -= 1
            h = self._lw_holders
        else:
            await waited(self)
            h = getattr(self, "_lw_holders", None)
        if h is not None:
            t = _task_now()
            h.append(_ref(t) if t is not None else None)
        return True

    # ``async with`` (the mixin's ``await self.acquire(); return None``) with this acquire
    # inline: one coroutine less, which pays for the holder bookkeeping. A subclass with an
    # acquire of its own gets it called, as before.
    async def __aenter__(self):
        if type(self).acquire is not acquire:
            await self.acquire()
            return None
        if not self.locked():
            self._value -= 1
            h = self._lw_holders
        else:
            await waited(self)
            h = getattr(self, "_lw_holders", None)
        if h is not None:
            t = _task_now()
            h.append(_ref(t) if t is not None else None)
        return None

    # BoundedSemaphore.release checks its bound and then calls this one.
    def release(self):
        sem_release(self)
        h = self._lw_holders
        if h is not None:
            t = _task_now()
            try:
                h.remove(_ref(t) if t is not None else None)
            except ValueError:
                _released_by_other(self)

    async def wait(self):
        if self._value:
            return True
        reg = _wait_begin("event", self)
        try:
            return await ev_wait(self)
        finally:
            if reg is not None:
                _wait_end(reg)

    async def get(self):
        if not self.empty():
            return self.get_nowait()
        reg = _wait_begin("queue", self, "get")
        try:
            return await q_get(self)
        finally:
            if reg is not None:
                _wait_end(reg)

    async def put(self, item):
        if not self.full():
            return self.put_nowait(item)
        reg = _wait_begin("queue", self, "put")
        try:
            return await q_put(self, item)
        finally:
            if reg is not None:
                _wait_end(reg)

    out: list[tuple[type, str, object]] = []
    for cls, name, new, orig in (
        (Sem, "__init__", __init__, sem_init),
        (Sem, "acquire", acquire, sem_acquire),
        (Sem, "__aenter__", __aenter__, Sem.__aenter__),
        (Sem, "release", release, sem_release),
        (Event, "wait", wait, ev_wait),
        (Queue, "get", get, q_get),
        (Queue, "put", put, q_put),
    ):
        functools.update_wrapper(new, orig)
        out.append((cls, name, new))
    out += [(Sem, "_lw_cls", None), (Sem, "_lw_holders", None)]
    return out
