"""LW302 check-then-act: an ``if`` tests shared state and its branch changes that state,
with no lock held across the test and the change (lazy initialisation, ``if key not in
self._cache: self._cache[key] = ...``), in a class used from several threads (it takes a
lock, is declared thread-safe, or hands its methods to threads or executors).

Double-checked locking (an unlocked fast-path test, then the same test again under the
lock around the write) is clean. The primary location is the test; the witness is the act.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static import races
from lockwatch.static.checks import finding, where


def _holding(model, c) -> str:
    """What the change holds: "(taken after the test)" only for a lock acquired on a line
    after the test's (between test and change); any other lock is named plainly."""
    if not c.act.locks:
        return " without a lock"
    after = races.locks_taken_after(model, c.check, c.act)
    parts = []
    if after:
        parts.append(f"{races.lock_names(after)} (taken after the test)")
    if c.act.locks - after:
        parts.append(races.lock_names(c.act.locks - after))
    return " holding " + " and ".join(parts)


def check(model, config):
    for c in races.check_then_act(model, config):
        m = races.method_short(model, c.check.fid)
        reset = races.reset_value(model, c.act)
        if reset is not None:
            # test a flag, act, reset it: what is lost is a value another thread stores
            # between the test and the reset (circuits' _cache_needs_refresh)
            verb = f"resets it to {reset}"
            msg = (f"{m} tests self.{c.attr} and then {verb} ({where(c.act.loc)}) with no lock held "
                   f"across both: a value another thread stores in self.{c.attr} after the test is "
                   f"lost, overwritten by the reset (and two threads can both pass the test)")
            said = f"... then resets self.{c.attr} to {reset}"
        else:
            verb = "changes" if c.act.container else "assigns"
            msg = (f"{m} tests self.{c.attr} and then {verb} it ({where(c.act.loc)}) with no lock held "
                   f"across both: two threads can both pass the test")
            said = f"... then {verb} self.{c.attr}"
        act = Location(c.act.loc.path, c.act.loc.line, c.act.loc.column, said + _holding(model, c))
        yield finding(RULE, msg, c.check.loc, [act], races.real_locks(c.act.locks), (c.cid, c.attr, c.check.fid))
    for g in races.global_check_then_act(model, config):
        m = races.method_short(model, g.fid)
        msg = (f"{m} tests the module global {g.name} and then assigns it ({where(g.act)}) with no "
               f"lock held across both, in a module that takes a lock elsewhere: two threads can both "
               f"pass the test")
        act = Location(g.act.path, g.act.line, g.act.column, f"... then assigns {g.name}")
        yield finding(RULE, msg, g.check, [act], [], (g.module, g.name, g.fid))


RULE = Rule(
    code="LW302",
    name="check-then-act",
    kind="unprotected-shared-state",
    default=False,
    severity="warning",
    summary="Hold one lock across a test of shared state and the change it guards",
    what="""
Finds an `if` whose test reads an attribute and whose branch writes the same attribute (or
an element of it) while no single lock is held from the test to the write: lazy
initialisation (`if self._x is None: self._x = make()`) and cache fills
(`if key not in self._cache: self._cache[key] = load(key)`). Only classes used from several
threads are examined: they take a lock, are declared thread-safe, or pass their methods to
`threading.Thread`/`Timer` or an executor. Module-level lazy initialisation
(`global _x; if _x is None: _x = make()`) is reported in modules that take a module-level
lock elsewhere. Double-checked locking (the test repeated under the lock) is clean.

A lock a project decorator holds around the whole method counts as held from its first
line to its return (peewee's `@locked`: the wrapper calls the method only inside
`with self._pool_lock:`; the decorator resolved by the linker, in the same module or
imported, a factory taking the lock, `functools.wraps` or not; a module-level lock held
this way counts too, for a module function's global as for a method's attribute): the test
and the change are one critical section. A decorator with a path that runs the method
without the lock (a fast path), or that takes `self`'s lock but runs the method on another
object, holds nothing for certain: the method is examined as without it. The change's
location says "(taken after the test)" of a lock the method takes after the test, and
names any other lock it holds plainly.

A lock taken by a hand-off API counts as held: a method that acquires it and returns holding
it (`self._do_lock()`), then, in the same caller, a later call of a method that releases a
lock it did not take (`self._do_unlock()`): everything run between the two, in that caller
and in the methods called only there, holds it. Attributes holding thread-safe objects
(events, queues, locks), known from the constructor call, a local bound to one, or the
attribute's annotation (`Optional[asyncio.Event]`), are not state whose change needs a lock;
so is one built as the default of `param or threading.Semaphore(n)`.

A call named like a container mutator (`clear`, `update`, `add`, ...) on an attribute whose
every assignment stores `None` or an instance of one project class (a constructor call, also
`param or Cls(...)`) is a call of that object's own method, not a change of the attribute:
no act, when the class reaches a thread-safe type (billiard's `LaxBoundedSemaphore`, a
`threading.Semaphore` subclass) or is a plain class (no external base, no `__len__`/
`__contains__`/`__getitem__`/`__iter__`/`__bool__`). A `list`/`dict` subclass, an attribute
of unknown or mixed type, and rebinding the attribute itself stay acts.

Code that runs in one thread per object cannot race itself: the target of the one `Thread`
made in `__init__`, or made in another method (`start()`, `__enter__`) and bound at once to
an attribute of `self` that otherwise only ever holds `None` (one handle: a second start
while the first thread runs would orphan it), with the target handed to no other thread,
the Thread not made in a loop, the making method not itself run by threads. Such a target,
and the private helpers only it calls, are not examined when they are the only code that
touches the attribute.
""",
    why="""
Between the test and the act another thread can pass the same test: the object is built
twice (two connections, two caches, one lost), an entry is overwritten, a counter is
incremented from a stale value.

When the branch rebinds what it tested to `None`, `False` or `0` (a flag cleared, a slot
emptied, a counter restarted: `if self._dirty: self._flush(); self._dirty = False`), the
message names the reset: a value another thread stores after the test (`self._dirty = True`
from a writer that takes no lock) is overwritten by the reset and lost, e.g. a cache that
stays stale. The summary records what the branch stores, not what the test compares with;
a branch storing the very value its test asked for would change nothing, so working code
that stores the "off" value is taken to be a reset.
""",
    example="""
def get(self, key):
    if key not in self._cache:
        self._cache[key] = self._load(key)
    return self._cache[key]
""",
    use_instead="""
def get(self, key):
    with self._lock:
        if key not in self._cache:
            self._cache[key] = self._load(key)
        return self._cache[key]
""",
    invalid=(
        Example.single('''
import threading


class Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self._conn = None
        self._cache = {}

    def conn(self):
        if self._conn is None:  # expect
            self._conn = object()
        return self._conn

    def get(self, key):
        if key not in self._cache:  # expect
            value = key * 2
            with self._lock:
                self._cache[key] = value
        return self._cache[key]
'''),
        Example.single('''
import threading


class Worker:
    def __init__(self):
        self.seen = set()
        self.count = 0

    def start(self):
        threading.Thread(target=self.run).start()
        threading.Thread(target=self.run).start()

    def run(self):
        for i in range(10):
            if i not in self.seen:  # expect
                self.seen.add(i)
'''),
        Example.single('''
import threading

_lock = threading.Lock()
_registry = {}
_client = None


def register(name, fn):
    with _lock:
        _registry[name] = fn


def client():
    global _client
    if _client is None:  # expect
        _client = object()
    return _client
'''),
        Example.single('''
import threading


class FileHandler:
    def __init__(self, path):
        self.path = path
        self._thread_lock = threading.RLock()
        self.stream = None

    def _do_lock(self):
        self._thread_lock.acquire()

    def _do_unlock(self):
        self._thread_lock.release()

    def emit(self, msg):
        self._do_lock()
        try:
            self.do_write(msg)
        finally:
            self._do_unlock()

    def write_unlocked(self, msg):
        self.do_write(msg)           # no _do_lock() on this path

    def do_write(self, msg):
        if self.stream is None:  # expect
            self.stream = open(self.path, "a")
        self.stream.write(msg)
'''),
        Example.single('''
import threading


class Dispatcher:
    """register() marks the handler cache stale from any thread; dispatch() clears the
    cache and resets the flag: a register() between the test and the reset is lost."""

    def __init__(self):
        self._lock = threading.Lock()
        self._handlers = []
        self._cache = {}
        self._needs_refresh = False

    def register(self, handler):
        with self._lock:
            self._handlers.append(handler)
        self._needs_refresh = True

    def dispatch(self, name):
        if self._needs_refresh:  # expect
            self._cache.clear()
            self._needs_refresh = False
        return self._cache.get(name)
'''),
        Example.single('''
import threading


def find_available_port():
    return 5432


class Proxy:
    """A new thread on every start(), no handle kept: two starts, two threads that can
    both pass the test."""

    def __init__(self, listening_port=None):
        self.listening_port = listening_port

    def start(self):
        threading.Thread(target=self._start_thread).start()

    def _start_thread(self):
        if self.listening_port is None:  # expect
            self.listening_port = find_available_port()
'''),
    ),
    valid=(
        Example.single('''
import functools
import threading


def locked(fn):
    @functools.wraps(fn)
    def inner(self, *args, **kwargs):
        with self._pool_lock:
            return fn(self, *args, **kwargs)
    return inner


class Pool:
    """peewee's pool: release() runs holding _pool_lock from its first line (@locked)."""

    def __init__(self):
        self._pool_lock = threading.RLock()
        self._pool_available = threading.Condition(self._pool_lock)
        self._in_use = {}

    def wait(self):
        with self._pool_available:
            self._pool_available.wait(0.01)

    @locked
    def release(self, key):
        if key in self._in_use:
            self._in_use.pop(key)
        self._pool_available.notify()
'''),
        Example.single('''
import threading


class Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self._conn = None
        self._cache = {}

    def conn(self):
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    self._conn = object()
        return self._conn

    def get(self, key):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = key * 2
            return self._cache[key]
'''),
        Example.single('''
import threading


class Dispatcher:
    """The flag is set and tested-and-reset under one lock: no set is lost."""

    def __init__(self):
        self._lock = threading.Lock()
        self._handlers = []
        self._cache = {}
        self._needs_refresh = False

    def register(self, handler):
        with self._lock:
            self._handlers.append(handler)
            self._needs_refresh = True

    def dispatch(self, name):
        with self._lock:
            if self._needs_refresh:
                self._cache.clear()
                self._needs_refresh = False
            return self._cache.get(name)
'''),
        Example.single('''
import threading

_lock = threading.Lock()
_client = None
_config = None


def client():
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = object()
    return _client


def config():
    global _config
    with _lock:
        if _config is None:
            _config = {}
        return _config
'''),
        Example.single('''
_cache = None


def cache():
    """No lock anywhere in the module: not meant for threads, not examined."""
    global _cache
    if _cache is None:
        _cache = {}
    return _cache
'''),
        Example.single('''
class Local:
    """Never shared between threads: no lock, no thread hand-off."""

    def __init__(self):
        self._x = None

    def x(self):
        if self._x is None:
            self._x = object()
        return self._x
'''),
        Example.single('''
import threading


class FileHandler:
    """_do_lock() returns holding the lock, _do_unlock() releases it: do_write only runs
    between the two."""

    def __init__(self, path):
        self.path = path
        self._thread_lock = threading.RLock()
        self.stream = None

    def _do_lock(self):
        self._thread_lock.acquire()

    def _do_unlock(self):
        self._thread_lock.release()

    def emit(self, msg):
        self._do_lock()
        try:
            self.do_write(msg)
        finally:
            self._do_unlock()

    def do_write(self, msg):
        if self.stream is None:
            self.stream = open(self.path, "a")
        self.stream.write(msg)
'''),
        Example.single('''
import threading


class LaxBoundedSemaphore(threading.Semaphore):
    def __init__(self, value=1):
        threading.Semaphore.__init__(self, value)
        self._initial_value = value

    def clear(self):
        while self._value < self._initial_value:
            threading.Semaphore.release(self)


class Pool:
    """billiard's Pool.close: clear() is the semaphore's own method, not a change of the
    attribute, and the semaphore is thread-safe."""

    def __init__(self, processes=4, semaphore=None):
        self._lock = threading.Lock()
        self._cache = {}
        self._putlock = semaphore or LaxBoundedSemaphore(processes)

    def apply_async(self, job, fn):
        with self._lock:
            self._cache[job] = fn

    def close(self):
        if self._putlock:
            self._putlock.clear()
'''),
        Example.single('''
import threading


def find_available_port():
    return 5432


class FuzzingProxy:
    """asyncpg's proxy: start() keeps its one worker thread in self.thread; only that
    thread tests and sets listening_port."""

    def __init__(self, listening_port=None):
        self.listening_port = listening_port
        self.thread = None

    def start(self):
        started = threading.Event()
        self.thread = threading.Thread(target=self._start_thread, args=(started,))
        self.thread.start()
        started.wait()

    def stop(self):
        self.thread.join()

    def _start_thread(self, started):
        if self.listening_port is None:
            self.listening_port = find_available_port()
        started.set()
'''),
        Example.single('''
import threading
from typing import Optional

try:
    import asyncio
except ImportError:   # optional dependency
    asyncio = None


class Session:
    def __init__(self):
        self._lock = threading.Lock()
        self._started: Optional[asyncio.Event] = None

    def run(self):
        started = asyncio.Event()
        with self._lock:
            self._started = started

    def fail(self, loop):
        return asyncio.run_coroutine_threadsafe(self._on_error(), loop).result()

    async def _on_error(self):
        if self._started is not None:
            self._started.clear()    # resets the event; the attribute is unchanged
'''),
    ),
    check=check,
)
