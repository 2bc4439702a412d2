"""LW111 self-deadlock: a non-reentrant lock acquired (blocking) on a path that already
holds the same instance: directly, through a callee, a property or a decorator.

"Same instance" is decided from instance paths (see ``lockwatch.static.model``): the same
receiver chain (``self._lock`` held, ``self.helper()`` takes ``self._lock``), a module- or
class-level lock, or the same local. Two instances of one class are LW102, never this.
The primary location is where, in the function holding the lock, the second acquisition
happens: the inner ``with``/``acquire`` itself, or the call that leads to it.
"""

from __future__ import annotations

from lockwatch.rules import Example, Rule
from lockwatch.static.checks import (
    acquire_status,
    finding,
    function_short,
    local_lock_escapes,
    lock_label,
)
from lockwatch.static.graph import PROBED, VIRTUAL
from lockwatch.static.model import short_name


def check(model, config):
    seen = set()
    for se in model.self_edges:
        lc = model.locks.get(se.lock)
        if lc is None or lc.reentrant or lc.counting or not se.blocking:
            continue
        if se.outer_path != se.inner_path or se.outer_path.startswith("?") or se.inner_path.startswith("?"):
            continue
        if local_lock_escapes(model, se.lock):
            continue
        if any(loc.note.endswith(VIRTUAL) for loc in se.witness):
            continue   # only through a subclass override: a possible path, not a certain one
        probed = PROBED.format(short_name(se.lock))
        if any(probed in loc.note for loc in se.witness[1:]):
            continue   # only after a try-acquire of this lock succeeded: not while it is held
        if (se.outer is not None and se.outer.mode in ("acquire", "try") and not se.outer.via
                and acquire_status(model, se.fid, se.outer.loc) == "missing"):
            continue   # taken and never released here: a lock used as a signal, not a mutex
        key = (se.fid, se.lock, se.primary.path, se.primary.line)
        if key in seen:
            continue
        seen.add(key)
        fname = function_short(model, se.fid)
        direct = len(se.witness) == 2
        how = "again" if direct else "again through a call"
        msg = (f"{lock_label(model, se.lock)} is acquired {how} while {fname} already holds it: "
               f"a non-reentrant lock blocks forever")
        yield finding(RULE, msg, se.primary, se.witness, [se.lock],
                      (se.lock, se.fid, tuple(loc.note for loc in se.witness)))


RULE = Rule(
    code="LW111",
    name="self-deadlock",
    kind="self-deadlock",
    severity="error",
    summary="Do not re-acquire a non-reentrant lock the thread already holds",
    what="""
Finds a `threading.Lock` (or `_thread` lock, `asyncio.Lock`, trio/anyio lock, a semaphore of
value 1, or a `Condition` built on a `Lock`) acquired, blocking, on a path that already
holds the same instance: a nested `with`, a method that takes `self._lock` calling another
method that takes `self._lock`, a property getter that takes the lock read under it, or a
`@synchronized`-style decorator on both. The whole chain is shown. Locks reached through
another object of the same class are not "the same instance" (see LW102).
""",
    why="""
A non-reentrant lock does not know who holds it: the second `acquire` waits for a release
that can only come from the waiting thread itself. The thread hangs forever, and so does
everything that later needs the lock.
""",
    example="""
class Cache:
    def get(self, key):
        with self._lock:
            if key not in self._data:
                self.refresh()       # takes self._lock again: hangs
            return self._data[key]

    def refresh(self):
        with self._lock:
            self._data = load()
""",
    use_instead="""
class Cache:
    def get(self, key):
        with self._lock:
            if key not in self._data:
                self._refresh_locked()   # expects the caller to hold the lock
            return self._data[key]

    def _refresh_locked(self):
        self._data = load()
""",
    runtime=True,
    invalid=(
        Example.single('''
import threading


class Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._data = {}

    def get(self, key):
        with self._lock:
            if key not in self._data:
                self.refresh()  # expect
            return self._data[key]

    def refresh(self):
        with self._lock:
            self._data = {}
'''),
        Example.single('''
import threading

_lock = threading.Lock()


def outer():
    _lock.acquire()
    try:
        with _lock:  # expect
            pass
    finally:
        _lock.release()
'''),
        Example.single('''
import threading


class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self._balance = 0

    @property
    def balance(self):
        with self._lock:
            return self._balance

    def deposit(self, n):
        with self._lock:
            if self.balance + n < 0:  # expect
                raise ValueError(n)
            self._balance += n
'''),
        Example({
            "app/__init__.py": "",
            "app/sync.py": '''
import threading
import functools

_big = threading.Lock()


def synchronized(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _big:
            return fn(*args, **kwargs)
    return wrapper
''',
            "app/jobs.py": '''
from app.sync import synchronized as locked


@locked
def step():
    return 1


@locked
def run():
    return step()  # expect
''',
        }),
    ),
    valid=(
        Example.single('''
import asyncio
import threading


def handshake():
    # locks used as signals between threads: released by the other thread
    started = threading.Lock()
    started.acquire()

    def body():
        started.release()

    threading.Thread(target=body).start()
    started.acquire()


async def cancelled_waiter():
    lock = asyncio.Lock()
    await lock.acquire()
    task = asyncio.create_task(lock.acquire())   # a coroutine, not an acquisition here
    task.cancel()
    lock.release()
'''),
        Example.single('''
import threading


class Cache:
    def __init__(self):
        self._lock = threading.RLock()

    def get(self, key):
        with self._lock:
            self.refresh()

    def refresh(self):
        with self._lock:
            pass
'''),
        Example.single('''
import threading


class Node:
    def __init__(self, parent=None):
        self._lock = threading.Lock()
        self.parent: "Node" = parent

    def touch(self):
        with self._lock:
            pass

    def touch_up(self):
        with self._lock:
            # another instance of the same class: not a self-deadlock
            self.parent.touch()
'''),
        Example.single('''
import threading

_lock = threading.Lock()


def poll():
    with _lock:
        # a try-lock does not wait for itself
        if _lock.acquire(blocking=False):
            _lock.release()
'''),
        Example.single('''
import threading


class Cache:
    def __init__(self):
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            value = 1
        self.refresh()
        return value

    def refresh(self):
        with self._lock:
            pass
'''),
    ),
    check=check,
)
