"""LW202 await-under-thread-lock: an ``await`` (or ``async with``/``async for``) while a
``threading``/``multiprocessing`` lock is held.

The held set of every event comes from the summary (``with``, ``acquire()``, locks held by
a wrapper's ``__enter__``, a ``@contextmanager`` at its ``yield``, or a decorator); asyncio,
trio and anyio locks are meant to be held across ``await`` and are not reported.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static import asyncflow
from lockwatch.static.checks import finding, function_short, lock_label
from lockwatch.static.model import short_name

# The lock to use instead, by the async library that runs the coroutine
# (asyncflow.async_libraries): a trio or anyio program has no use for an asyncio.Lock.
ASYNC_LOCK = {"asyncio": "an asyncio.Lock", "trio": "a trio.Lock", "anyio": "an anyio.Lock"}


def _thread_locks(model, fi, held):
    out = []
    for a in fi.held_acqs(held):
        lc = model.locks.get(a.lock)
        if lc is None or lc.is_async or lc.counting:
            continue
        out.append(a)
    return out


def check(model, config):
    for fid, fi in model.async_functions():
        events = fi.summary.events
        counts: dict = {}
        for ev in events:
            if ev["e"] == "await":
                what = "awaits"
            elif ev["e"] == "acq" and ev.get("m") == "awith":
                what = "enters an async with"
            else:
                continue
            held = _thread_locks(model, fi, ev["h"])
            if not held:
                continue
            locks = sorted({a.lock for a in held})
            a = held[0]
            note = f"{fi.short} holds {short_name(a.lock)}"
            related = [Location(a.loc[0], a.loc[1], a.loc[2], note)]
            related += [Location(s[0], s[1], s[2], s[3]) for s in a.via]
            related.append(Location(fi.path, ev["l"], ev["c"], f"... and {what} with it held"))
            names = ", ".join(lock_label(model, lk) for lk in locks)
            use = asyncflow.loop_advice(asyncflow.async_libraries(model, fi), ASYNC_LOCK)
            msg = (f"async {function_short(model, fid)} {what} while holding {names}: the task "
                   f"suspends with a thread lock held, so any other task or thread taking it "
                   f"blocks the loop or deadlocks against it (use {use})")
            n = counts[tuple(locks)] = counts.get(tuple(locks), 0) + 1
            yield finding(RULE, msg, Location(fi.path, ev["l"], ev["c"]), related, locks,
                          (fid, *locks, what, n))


RULE = Rule(
    code="LW202",
    name="await-under-thread-lock",
    kind="await-under-thread-lock",
    severity="error",
    runtime=True,  # also reported by `lockwatch run` (lockwatch/runtime/loopwatch.py, lifecycle.py)
    summary="Do not `await` while holding a `threading` lock",
    what="""
Finds `await`, `async with` and `async for` inside an `async def` while a `threading` or
`multiprocessing` lock (Lock, RLock, Condition, a binary Semaphore) is held: taken with
`with`, `acquire()`, a wrapper object's `__enter__`, a `@contextmanager`, or a decorator.
`asyncio`/`trio`/`anyio` locks are made to be held across `await` and are fine.
""",
    why="""
While the task is suspended at the `await`, the event loop runs other tasks on the same
thread. If one of them takes the same lock it blocks the whole loop, and the holder can
never resume to release it: a deadlock with a single thread. A worker thread that needs
the lock waits for as long as the awaited operation takes.
""",
    example="""
with self._lock:                 # threading.Lock
    data = await self._fetch()   # the loop runs other tasks while the lock is held
    self._cache = data
""",
    use_instead="""
async with self._alock:          # asyncio.Lock
    data = await self._fetch()
    self._cache = data
""",
    invalid=(
        Example.single('''
import asyncio
import threading


class Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._data = {}

    async def refresh(self, key, fetch):
        with self._lock:
            value = await fetch(key)  # expect
            self._data[key] = value

    async def drain(self, queue):
        self._lock.acquire()
        try:
            async for item in queue:  # expect
                self._data[item] = None
        finally:
            self._lock.release()
'''),
    ),
    valid=(
        Example.single('''
import asyncio
import threading


class Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        self._data = {}

    async def refresh(self, key, fetch):
        async with self._alock:
            value = await fetch(key)
        with self._lock:
            self._data[key] = value
'''),
    ),
    check=check,
)
