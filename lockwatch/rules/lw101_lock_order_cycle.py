"""LW101 lock-order-cycle: two or more locks taken in inconsistent orders (any cycle length).

Static check: cycles in the lock-acquisition graph (``lockwatch.static.graph``). One finding
per cycle of distinct lock classes. The primary location is the *outer* acquisition of the
first edge of the cycle, the cycle being rotated so that it starts at its smallest lock id
(so the same cycle is always reported at the same place); ``related`` is every witness of
every edge, in cycle order. The fingerprint is the rule plus the sorted lock ids.
"""

from __future__ import annotations

from lockwatch.rules import Example, Rule
from lockwatch.static.checks import finding, where
from lockwatch.static.graph import find_cycles
from lockwatch.static.model import short_name


def check(model, config):
    g = model.lock_graph
    if g is None or g.number_of_edges() == 0:
        return
    for cycle in find_cycles(g):
        edges = list(zip(cycle, cycle[1:] + cycle[:1]))
        witnesses = [g.edges[a, b]["witnesses"][0] for a, b in edges]
        parts = [f"{short_name(a)} -> {short_name(b)} ({where(w[0])})" for (a, b), w in zip(edges, witnesses)]
        if len(cycle) == 2:
            msg = f"locks acquired in opposite orders: {parts[0]} and {parts[1]}"
        else:
            msg = "locks acquired in a cycle of inconsistent orders: " + ", ".join(parts)
        related = [loc for w in witnesses for loc in w]
        primary = witnesses[0][0]
        yield finding(RULE, msg, primary, related, list(cycle), tuple(sorted(cycle)))


RULE = Rule(
    code="LW101",
    name="lock-order-cycle",
    kind="lock-order-cycle",
    severity="error",
    summary="Take locks in one global order",
    what="""
Finds locks that can be acquired in inconsistent orders: one code path takes `A` and then,
while still holding it, `B` (directly, or in any function it calls, across modules), while
another path takes `B` and then `A`. Cycles of any length are found (`A -> B -> C -> A`).
Locks are named by their definition (`pkg.pool.Pool._lock`), as Linux lockdep names lock
classes, so two instances of one class count as one lock here. An instance of a project
class that wraps a lock (its `__enter__` or `acquire` takes a lock kept in its own
attribute) is named by where it is stored: `self._init_lock = Lock()` is `Conn._init_lock`.
The report shows both (all) witness chains: where the outer lock is held, each call on the
way, and where the inner lock is taken. A non-blocking or timed `acquire` (a try-lock) adds no edge into the lock it
tries, and semaphores that admit more than one holder are left out.
""",
    why="""
If two threads run the two paths at the same time, each can end up holding the lock the
other waits for: both hang forever. Such deadlocks show up rarely, under load, and are
very hard to reproduce; the inconsistent order is visible in the code long before.
""",
    example="""
class Pool:
    def checkout(self):
        with self._lock:
            self.conn.reset()        # takes Conn._lock

class Conn:
    def close(self):
        with self._lock:
            self.pool.release(self)  # takes Pool._lock: opposite order
""",
    use_instead="""
class Conn:
    def close(self):
        with self._lock:
            self.closed = True
        self.pool.release(self)      # outside Conn._lock: one order, Pool then Conn
""",
    runtime=True,
    invalid=(
        Example.single('''
import threading

a = threading.Lock()
b = threading.Lock()


def one():
    with a:  # expect
        with b:
            pass


def two():
    with b:
        with a:
            pass
'''),
        Example({
            "pkg/__init__.py": "",
            "pkg/pool.py": '''
import threading
from .conn import Conn


class Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self.conn = Conn(self)

    def checkout(self):
        with self._lock:
            self.conn.reset()

    def release(self, conn):
        with self._lock:
            self.free = conn
''',
            "pkg/conn.py": '''
import threading


class Conn:
    def __init__(self, pool):
        self._lock = threading.Lock()
        self.pool: "Pool" = pool

    def reset(self):
        with self._lock:
            self.state = 0

    def close(self):
        with self._lock:  # expect
            self.pool.release(self)


from pkg.pool import Pool
''',
        }),
        Example.single('''
import threading

la = threading.Lock()
lb = threading.RLock()
lc = threading.Lock()


def take_b():
    lb.acquire()
    try:
        pass
    finally:
        lb.release()


def ab():
    with la:  # expect
        take_b()


def bc():
    with lb:
        with lc:
            pass


def ca():
    with lc:
        with la:
            pass
'''),
        Example.single('''
import threading


class Lock:
    # a lock wrapper (httpcore's _synchronization.Lock): named by the field holding it
    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *a):
        self._lock.release()


class Conn:
    def __init__(self):
        self._init_lock = Lock()
        self._write_lock = Lock()

    def request(self):
        with self._init_lock:  # expect
            self._write()

    def _write(self):
        with self._write_lock:
            pass

    def flush(self):
        with self._write_lock:
            with self._init_lock:
                pass
'''),
    ),
    valid=(
        Example.single('''
import threading


def test_handoff():
    # "started"/"finish" are signals: acquired here, released by the worker thread
    started = threading.Lock()
    finish = threading.Lock()
    started.acquire()
    finish.acquire()

    def worker():
        started.release()
        finish.acquire()

    threading.Thread(target=worker).start()
    started.acquire()
    finish.release()
'''),
        Example.single('''
import threading

a = threading.Lock()
b = threading.Lock()


def one():
    with a:
        with b:
            pass


def two():
    with a:
        with b:
            pass
'''),
        Example.single('''
import threading

a = threading.Lock()
b = threading.Lock()


def one():
    with a:
        with b:
            pass


def two():
    with b:
        # a try-lock cannot deadlock: it gives up instead of waiting
        if a.acquire(blocking=False):
            try:
                pass
            finally:
                a.release()
'''),
        Example.single('''
import threading

pool = threading.Semaphore(4)
b = threading.Lock()


def one():
    with pool:
        with b:
            pass


def two():
    with b:
        with pool:
            pass
'''),
        Example.single('''
import threading

a = threading.Lock()
b = threading.Lock()


def one():
    with a:
        pass
    with b:
        pass


def two():
    with b:
        x = 1
    with a:
        x = 2
'''),
    ),
    check=check,
)
