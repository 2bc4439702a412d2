"""Opt-in race rules (LW301/LW302), eighth batch's P49 (docs/real-world.md) and LW302's
"(taken after the test)" text, through both walks.

P49 (peewee 4.5.3 playhouse/pool.py:157): a method decorated with a project decorator whose
wrapper calls it only inside ``with self._pool_lock:`` (peewee's ``locked``) runs its whole
body holding that lock: its test and its change are one critical section. The decorator
is resolved by the linker (same module, imported by name or through its module, a factory
taking the lock, ``functools.wraps`` or not); a module-level lock held by the decorator
counts too, also for a module function's global check-then-act. Twins that keep LW302:
the method undecorated; a decorator with a fast path that calls the method without the
lock; one that takes self's lock but calls the method on another object.

The text: LW302's second location said "holding X (taken after the test)" whenever the
change held a lock; it now says so only for a lock the function takes after the test
(``if key not in self._cache: ... with self._lock: self._cache[key] = v``), and names any
other lock plainly (the partly-locking decorator's).
"""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, summaries

from lockwatch.config import Config
from lockwatch.static.engine import analyse_summaries


def findings(files: dict[str, str], walk: str) -> list:
    report = analyse_summaries(summaries(files, walk), Config(select=["LW301", "LW302"]))
    return [f for f in report.findings if f.code in ("LW301", "LW302")]


def codes(files: dict[str, str], walk: str) -> list:
    return sorted((f.code, f.path, f.line) for f in findings(files, walk))


def line_of(src: str, marker: str) -> int:
    for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1):
        if marker in ln:
            return i
    raise AssertionError(marker)


WRAPS = """
import functools


def locked(fn):
    @functools.wraps(fn)
    def inner(self, *args, **kwargs):
        with self._pool_lock:
            return fn(self, *args, **kwargs)
    return inner
"""

PLAIN = """
def locked(fn):
    def inner(self, *args, **kwargs):
        with self._pool_lock:
            return fn(self, *args, **kwargs)
    return inner
"""

# a fast path that runs the method without the lock: not held for certain
FAST_PATH = """
def locked(fn):
    def inner(self, *args, **kwargs):
        if self._single_threaded:
            return fn(self, *args, **kwargs)
        with self._pool_lock:
            return fn(self, *args, **kwargs)
    return inner
"""

# self's lock, but the method is run on another object
OTHER_OBJECT = """
def locked(fn):
    def inner(self, *args, **kwargs):
        with self._pool_lock:
            return fn(self._delegate, *args, **kwargs)
    return inner
"""

# an async wrapper for coroutine functions (no lock) beside the locked one for plain ones
ASYNC_TWIN = """
import asyncio


def locked(fn):
    if asyncio.iscoroutinefunction(fn):
        async def ainner(self, *args, **kwargs):
            return await fn(self, *args, **kwargs)
        return ainner

    def inner(self, *args, **kwargs):
        with self._pool_lock:
            return fn(self, *args, **kwargs)
    return inner
"""

POOL = """
import threading
IMPORT


class Pool:
    def __init__(self):
        self._pool_lock = threading.RLock()
        self._pool_available = threading.Condition(self._pool_lock)
        self._in_use = {}
        self._single_threaded = False
        self._delegate = None

    def wait_for_checkin(self):
        with self._pool_available:
            self._pool_available.wait(timeout=0.01)

    DECORATOR
    def checkin(self, key, close_conn=False):
        if close_conn:
            self._in_use.pop(key, None)
        elif key not in self._in_use:  # test
            return
        else:
            self._in_use.pop(key)
        NOTIFY
"""

LOCKED_NOTIFY = "self._pool_available.notify()"
# undecorated: the notify needs the condition's lock
OWN_NOTIFY = "with self._pool_available:\n            self._pool_available.notify()"


def pool(decorator: str = "@locked", imp: str = "", notify: str = LOCKED_NOTIFY) -> str:
    return (textwrap.dedent(POOL).replace("IMPORT", imp).replace("DECORATOR", decorator)
            .replace("NOTIFY", notify))


def one_module(deco_src: str, decorator: str = "@locked", notify: str = LOCKED_NOTIFY) -> dict:
    return {"m.py": textwrap.dedent(deco_src) + pool(decorator, notify=notify)}


def where_tested(files: dict) -> tuple:
    path = next(p for p, s in files.items() if "# test" in s)
    return ("LW302", path, line_of(files[path], "# test"))


# ---------------------------------------------------------------------------- clean

CLEAN = {
    "wraps, same module": lambda: one_module(WRAPS),
    "no wraps, same module": lambda: one_module(PLAIN),
    "imported by name": lambda: {"pkg/__init__.py": "", "pkg/util.py": textwrap.dedent(WRAPS),
                                 "pkg/pool.py": pool(imp="from pkg.util import locked")},
    "imported module": lambda: {"pkg/__init__.py": "", "pkg/util.py": textwrap.dedent(PLAIN),
                                "pkg/pool.py": pool("@util.locked", imp="from pkg import util")},
    "async twin of the wrapper": lambda: one_module(ASYNC_TWIN),
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("case", sorted(CLEAN))
def test_p49_decorated_method_holds_the_lock(case, walk):
    assert codes(CLEAN[case](), walk) == []


GLOBAL_LOCK = """
import functools
import threading

GLOBAL_LOCK = threading.Lock()
_client = None
_registry = {}


def synchronized(fn):
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with GLOBAL_LOCK:
            return fn(*args, **kwargs)
    return inner


def guarded_by(lock):
    def deco(fn):
        def inner(*args, **kwargs):
            with lock:
                return fn(*args, **kwargs)
        return inner
    return deco


def register(name, fn):
    with GLOBAL_LOCK:
        _registry[name] = fn


DECORATOR
def client():
    global _client
    if _client is None:  # test
        _client = object()
    return _client


class Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._data = {}

    def put(self, key, value):
        with self._lock:
            self._data[key] = value

    DECORATOR
    def fill(self, key):
        if key not in self._data:  # method test
            self._data[key] = key * 2
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("decorator", ["@synchronized", "@guarded_by(GLOBAL_LOCK)"])
def test_p49_module_lock_decorator(decorator, walk):
    """Another object's lock (one module-level instance) held across the whole body: the
    test and the change are still one critical section, for a method (LW302 on self) and a
    module function (LW302 on a global). The method's accesses hold a lock (not LW301's
    unprotected ones)."""
    src = GLOBAL_LOCK.replace("DECORATOR", decorator)
    assert codes({"m.py": src}, walk) == []
    undecorated = GLOBAL_LOCK.replace("DECORATOR", "")
    assert codes({"m.py": undecorated}, walk) == [
        ("LW302", "m.py", line_of(undecorated, "# test")),
        ("LW302", "m.py", line_of(undecorated, "# method test")),
    ]


# ---------------------------------------------------------------------------- twins

@pytest.mark.parametrize("walk", WALKS)
def test_p49_twin_undecorated_keeps_lw302(walk):
    files = one_module(WRAPS, decorator="", notify=OWN_NOTIFY)
    got = findings(files, walk)
    assert sorted((f.code, f.path, f.line) for f in got) == [where_tested(files)]
    assert got[0].related[0].note.endswith("without a lock")


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("deco", [FAST_PATH, OTHER_OBJECT], ids=["fast path", "other object"])
def test_p49_decorator_not_always_holding_keeps_lw302(deco, walk):
    """The lock is not held for the whole body on every call: still reported, and the lock
    the change may hold is named plainly (the decorator took it before the test, when it
    took it at all)."""
    files = one_module(deco)
    got = findings(files, walk)
    assert sorted((f.code, f.path, f.line) for f in got) == [where_tested(files)]
    note = got[0].related[0].note
    assert note.endswith("holding Pool._pool_lock"), note
    assert "taken after the test" not in note


# ---------------------------------------------------------------------------- the text

TAKEN_AFTER = """
import threading


class Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self._cache = {}
        self._conn = None

    def get(self, key):
        if key not in self._cache:  # test
            value = key * 2
            with self._lock:
                self._cache[key] = value
        return self._cache[key]

    def conn(self):
        if self._conn is None: self._lock.acquire(); self._conn = object(); self._lock.release()  # one line
"""


@pytest.mark.parametrize("walk", WALKS)
def test_taken_after_the_test_when_it_is(walk):
    """A lock the method takes after the test, on a later line or later on the test's own
    line, keeps "(taken after the test)"."""
    got = sorted(findings({"m.py": TAKEN_AFTER}, walk), key=lambda f: f.line)
    assert [(f.code, f.line) for f in got] == [
        ("LW302", line_of(TAKEN_AFTER, "# test")), ("LW302", line_of(TAKEN_AFTER, "# one line"))]
    for f in got:
        assert f.related[0].note.endswith("holding Pool._lock (taken after the test)"), f.related[0].note
