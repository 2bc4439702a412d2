"""Noise classes the race rules silence on real code (each VALID look-alike next to the
INVALID variant that must still fire), and the model-wide index that keeps the analysis
linear (same answers as the per-class scans it replaced)."""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources


def scan(src: str):
    r = scan_sources({"m.py": textwrap.dedent(src)}, Config(select=["LW3"]))
    assert not r.errors
    return sorted((f.code, f.line) for f in r.findings)


CONTAINER = """
import threading

class Container:
    def __init__(self):
        self.lock = threading.RLock()
        self._d = {}
    def clear(self):
        with self.lock:
            self._d.clear()
    def __setitem__(self, k, v):
        with self.lock:
            self._d[k] = v
"""


def test_mutating_a_self_locking_project_object_is_not_unprotected():
    # urllib3 PoolManager.clear: self.pools.clear() on a RecentlyUsedContainer (own lock)
    assert scan(CONTAINER + """
class Manager:
    def __init__(self):
        self.pools = Container()
    def add(self, k, v):
        with self.pools.lock:
            self.pools[k] = v
    def clear(self):
        self.pools.clear()
""") == []


def test_mutating_a_plain_dict_next_to_a_locked_write_still_fires():
    src = CONTAINER + """
class Manager:
    def __init__(self):
        self._lock = threading.Lock()
        self.pools = {}
    def add(self, k, v):
        with self._lock:
            self.pools[k] = v
    def clear(self):
        self.pools.clear()
"""
    assert scan(src) == [("LW301", src.count("\n", 0, src.index("self.pools.clear()")) + 1)]


def test_rebinding_a_self_locking_attribute_still_counts():
    # the object guards its own state, not the attribute that holds it
    src = CONTAINER + """
class Manager:
    def __init__(self):
        self._lock = threading.Lock()
        self.pools = Container()
    def swap(self):
        with self._lock:
            self.pools = Container()
    def reset(self):
        self.pools = Container()
"""
    assert [c for c, _ in scan(src)] == ["LW301"]


BASE = """
import threading

class Base:
    def __init__(self):
        self._lock = threading.Lock()
        self._metric_init()
    def _metric_init(self):
        pass

class Info(Base):
    def _metric_init(self):
        self._value = {}
    def info(self, v):
        with self._lock:
            self._value = dict(v)
"""


def test_helper_called_only_from_a_base_constructor_is_construction():
    # prometheus_client Info._metric_init, called by MetricWrapperBase.__init__
    assert scan(BASE) == []


def test_same_helper_also_reached_from_an_unlocked_public_method_still_fires():
    src = BASE + """
    def reset(self):
        self._metric_init()
"""
    assert [c for c, _ in scan(src)] == ["LW301"]


CACHE = """
import threading

class Topics:
    def __init__(self):
        self._lock = threading.Lock()
        self._cache = {}
    def get(self, name):
        if arn := self._cache.get(name):
            return arn
        with self._lock:
            if arn := self._cache.get(name):
                return arn
            self._cache[name] = arn = object()
            return arn
"""


def test_early_return_fast_path_rechecked_under_the_lock_is_clean():
    # kombu SNS._get_or_create_topic: double-checked locking written with an early return
    assert scan(CACHE) == []


def test_early_return_fast_path_without_the_locked_recheck_still_fires():
    src = CACHE.replace("""            if arn := self._cache.get(name):
                return arn
            self._cache""", "            self._cache")
    assert [c for c, _ in scan(src)] == ["LW301"]


GUARDED = """
import contextlib
import threading

class Conn:
    def __init__(self):
        self._cleanup_mutex = threading.Lock()
        self._pending = []
    @contextlib.contextmanager
    def _dispatching(self):
        yield True
    def close(self):
        with self._cleanup_mutex:
            self._closed = True
    def request(self, n):
        self._pending.append(n)
    def dispatch(self):
        with self._dispatching():
            self._pending.clear()
"""


def test_an_unresolved_context_manager_is_no_evidence_against_other_methods():
    # pika BlockingConnection: a reentrancy guard, not a lock, around the locked-looking write
    assert scan(GUARDED) == []


def test_the_same_write_under_a_real_lock_still_makes_the_unlocked_one_a_race():
    src = GUARDED.replace("with self._dispatching():", "with self._cleanup_mutex:")
    assert [c for c, _ in scan(src)] == ["LW301"]


def test_an_unlocked_test_after_the_locked_recheck_is_not_a_fast_path():
    # multiprocessing Server.decref: tests the dict again after its locked part
    src = CACHE + """
    def drop(self, name):
        if name not in self._cache:
            return
        with self._lock:
            if name in self._cache:
                self._cache.pop(name)
        if name not in self._cache:
            print(name)
"""
    assert scan(src) == [("LW301", src.count("\n", 0, src.rindex("if name not in self._cache")) + 1)]
