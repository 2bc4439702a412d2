"""Message texts seen wrong on real packages (docs/real-world.md, third batch, "Message defects
seen"): the finding was right, the names in its text were not. Each test scans a small program
in the package's shape and checks the old text is gone and the right one is there; each keeps
a clean look-alike (same names, nothing to report, or the old name where it is the right one).
"""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources
from tests.test_static_link import model_of


def scan(files: dict[str, str], config: Config | None = None):
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    return scan_sources(files, config or Config()).findings


def of(findings, code):
    return [f for f in findings if f.code == code]


# --------------------------------------------------------------------------- 1. lock factories

# pymongo/lock.py, as shipped in pymongo 4.20: a fresh lock per call, kept in a WeakSet so that
# a fork can reset it
PYMONGO_LOCK = """
import os
import threading
import weakref

_HAS_REGISTER_AT_FORK = hasattr(os, "register_at_fork")
_forkable_locks = weakref.WeakSet()


def _create_lock():
    lock = threading.Lock()
    if _HAS_REGISTER_AT_FORK:
        _forkable_locks.add(lock)
    return lock
"""

TOPOLOGY = """
import threading
from pkg.lock import _create_lock


class Topology:
    def __init__(self):
        self._lock = _create_lock()
        self._thread = threading.Thread(target=self.run)

    def open(self):
        with self._lock:
            self._thread.join()

    def run(self):
        pass


class MongoClient:
    def __init__(self):
        self._lock = _create_lock()
        self._topology = Topology()

    def _get_topology(self):
        with self._lock:
            self._topology.open()
"""


def pymongo_files(topology: str = TOPOLOGY) -> dict[str, str]:
    return {"pkg/__init__.py": "", "pkg/lock.py": PYMONGO_LOCK, "pkg/topology.py": topology}


def test_factory_lock_is_named_by_the_definition_that_stores_it():
    found = of(scan(pymongo_files()), "LW131")
    msgs = sorted(f.message for f in found)
    assert len(found) == 2, msgs
    assert all("_create_lock" not in m for m in msgs), msgs
    assert any("Topology.open calls threading.Thread.join while holding Topology._lock" in m for m in msgs), msgs
    assert any("while holding MongoClient._lock" in m for m in msgs), msgs
    assert {tuple(f.locks) for f in found} == {("pkg.topology.Topology._lock",),
                                              ("pkg.topology.MongoClient._lock",)}


def test_factory_locks_stay_two_lock_classes_in_one_order():
    # MongoClient._lock -> Topology._lock only: two classes, one order, no finding about them
    files = pymongo_files()
    assert not [f for f in scan(files) if f.code in ("LW101", "LW102", "LW111")]
    m = model_of(files)
    assert ("pkg.topology.MongoClient._lock", "pkg.topology.Topology._lock") in set(m.lock_graph.edges())
    assert "pkg.lock._create_lock.lock" not in m.lock_graph


def test_factory_locks_in_opposite_orders_are_a_cycle_between_their_definitions():
    src = """
    from pkg.lock import _create_lock


    class Topology:
        def __init__(self):
            self._lock = _create_lock()
            self._other = _create_lock()

        def a(self):
            with self._lock:
                with self._other:
                    pass

        def b(self):
            with self._other:
                with self._lock:
                    pass
    """
    found = scan(pymongo_files(src))
    assert [f.code for f in found] == ["LW101"], [(f.code, f.message) for f in found]
    assert "Topology._lock -> Topology._other" in found[0].message
    assert "_create_lock" not in found[0].message
    # the clean twin: the same two locks nested one way only
    clean = src.replace("""        with self._other:
                with self._lock:""", """        with self._lock:
                with self._other:""")
    assert scan(pymongo_files(clean)) == []


def test_factory_returning_the_lock_directly_and_dataclass_fields():
    src = """
    import dataclasses
    import threading
    import time


    def make_lock():
        return threading.Lock()


    def _create_lock():
        lock = threading.Lock()
        return lock


    @dataclasses.dataclass
    class Cache:
        lock: threading.Lock = dataclasses.field(default_factory=_create_lock)

        def refresh(self):
            with self.lock:
                time.sleep(1)


    class Pool:
        def __init__(self):
            self.lock = make_lock()

        def fill(self):
            with self.lock:
                time.sleep(1)
    """
    msgs = sorted(f.message for f in of(scan({"m.py": src}), "LW131"))
    assert len(msgs) == 2, msgs
    assert "holding Cache.lock" in msgs[0] and "holding Pool.lock" in msgs[1], msgs


def test_factory_lock_keeps_its_creation_site_for_the_runtime_join():
    m = model_of(pymongo_files())
    lc = m.locks["pkg.topology.Topology._lock"]
    assert (lc.path, lc.line) == ("pkg/topology.py", 8)
    origin = m.locks[lc.inner]
    # the tracer sees the lock made at ``lock = threading.Lock()`` in the factory
    assert (origin.id, origin.path, origin.line) == ("pkg.lock._create_lock.lock", "pkg/lock.py", 11)


def test_lock_registry_stays_one_lock_class():
    # a factory that may hand back a lock it keeps is no fresh-lock factory: every caller
    # may get the same lock, so its name stays the registry's (the clean look-alike)
    src = """
    import threading
    import time

    _locks = {}


    def get_lock(key):
        lock = _locks.get(key)
        if lock is None:
            lock = threading.Lock()
            _locks[key] = lock
        return lock


    class Registry:
        def __init__(self):
            self._locks = {}

        def get(self, key):
            lock = threading.Lock()
            self._locks[key] = lock
            return lock


    class User:
        def __init__(self):
            self._a = get_lock("a")
            self._b = Registry().get("b")

        def run(self):
            with self._a:
                time.sleep(1)
            with self._b:
                time.sleep(1)
    """
    msgs = sorted(f.message for f in of(scan({"m.py": src}), "LW131"))
    assert len(msgs) == 2, msgs
    assert "holding get.lock" in msgs[0] and "holding get_lock.lock" in msgs[1], msgs
    assert not any("User._a" in m or "User._b" in m for m in msgs), msgs


# --------------------------------------------------------------------------- 4. offload advice

# hypercorn/trio/run.py's shape: a trio worker reading a file on the loop
TRIO_WORKER = """
import sys

import trio


async def worker_serve(config):
    with open(config.path) as f:
        config.text = f.read()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 1)
"""


def lw201_messages(src: str, path: str = "m.py") -> list[str]:
    return [f.message for f in of(scan({path: src}), "LW201")]


def test_trio_module_is_advised_trio_offload():
    msgs = lw201_messages(TRIO_WORKER)
    assert len(msgs) == 2, msgs
    assert all("offload it with trio.to_thread.run_sync or use an async API" in m for m in msgs), msgs
    assert not any("asyncio.to_thread" in m for m in msgs), msgs


def test_anyio_module_is_advised_anyio_offload():
    src = TRIO_WORKER.replace("import trio\n", "import anyio\nimport trio\n")
    msgs = lw201_messages(src)
    assert msgs and all("offload it with anyio.to_thread.run_sync" in m for m in msgs), msgs
    src = TRIO_WORKER.replace("import trio\n", "from anyio import to_thread\nimport asyncio\n")
    msgs = lw201_messages(src)
    assert msgs and all("offload it with anyio.to_thread.run_sync" in m for m in msgs), msgs


def test_asyncio_advice_stays_where_the_module_uses_asyncio():
    # imports trio and asyncio (or neither): asyncio.to_thread, as before
    for src in (TRIO_WORKER.replace("import trio\n", "import asyncio\nimport trio\n"),
                TRIO_WORKER.replace("import trio\n", "")):
        msgs = lw201_messages(src)
        assert msgs and all("offload it with asyncio.to_thread or use an async API" in m for m in msgs), msgs
        assert not any("trio.to_thread" in m for m in msgs), msgs
