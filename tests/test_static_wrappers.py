"""Lock wrapper classes (httpcore ``_synchronization.Lock``, ``ThreadLock``, ...): a project
class whose ``__enter__``/``acquire`` takes a lock held in its own attribute is named, as a
lock, by where the *wrapper* is stored (``Conn._init_lock``), not by its inner lock
(``Lock._lock``). docs/real-world.md P7. Each positive case keeps its clean twin, and the
equivalence tests run one program twice, once with ``threading.Lock()`` fields and once with
wrapper fields, and want the same lock graph and the same findings."""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources
from tests.test_static_link import model_of

WRAPPER = """
import threading
from collections import defaultdict


class Lock:
    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *a):
        self._lock.release()

    def locked(self):
        return self._lock.locked()
"""
# line of ``self._lock.acquire()`` in WRAPPER, as the witness step must show it
ACQUIRE_LINE = 11


def program(body: str) -> str:
    return WRAPPER + textwrap.dedent(body)


def findings(src: str, code: str | None = None):
    rep = scan_sources({"w.py": src}, Config())
    return [f for f in rep.findings if code is None or f.code == code]


# --------------------------------------------------------------------------- the P7 shape
P7 = """
class Conn:
    def __init__(self):
        self._init_lock = Lock()
        self._write_lock = Lock()

    def request(self):
        with self._init_lock:
            self._write()

    def _write(self):
        with self._write_lock:
            pass
"""


def test_two_wrapper_fields_in_one_order_are_two_lock_classes():
    src = program(P7)
    m = model_of({"w.py": src})
    assert set(m.lock_graph.edges()) == {("w.Conn._init_lock", "w.Conn._write_lock")}
    lc = m.locks["w.Conn._init_lock"]
    assert (lc.sort, lc.wrapper, lc.container) == ("lock", "w.Lock", False)
    # the inner lock's creation site is the one the runtime tracer records
    assert lc.inner == "w.Lock._lock" and m.locks[lc.inner].line == 8
    assert lc.line == src.splitlines().index("        self._init_lock = Lock()") + 1
    assert "w.Lock._lock" in m.locks          # the inner lock is still listed
    assert findings(src) == []


def test_same_field_of_two_objects_nested_is_lw102_named_by_the_field():
    src = program(P7 + """

def both(a: Conn, b: Conn):
    with a._init_lock:
        with b._init_lock:  # here
            pass
""")
    fs = findings(src, "LW102")
    assert len(fs) == 1
    assert fs[0].line == next(i for i, t in enumerate(src.splitlines(), 1) if t.endswith("# here"))
    assert "Conn._init_lock" in fs[0].message and "Lock._lock" not in fs[0].message
    # the witness goes into the wrapper, to the real acquire() line
    assert any(loc.line == ACQUIRE_LINE and "Lock.__enter__" in loc.note for loc in fs[0].related)


def test_inversion_between_two_wrapper_fields_is_lw101():
    src = program(P7.rstrip() + """

    def flush(self):
        with self._write_lock:
            with self._init_lock:
                pass
""")
    fs = findings(src)
    assert [f.code for f in fs] == ["LW101"]
    assert "Conn._init_lock -> Conn._write_lock" in fs[0].message
    assert "Conn._write_lock -> Conn._init_lock" in fs[0].message


def test_blocking_under_a_wrapper_names_the_field():
    src = program("""
import time


class Conn:
    def __init__(self):
        self._state_lock = Lock()

    def close(self):
        with self._state_lock:
            time.sleep(1)
""")
    (f,) = findings(src, "LW131")
    assert "holding Conn._state_lock" in f.message


def test_same_wrapper_field_taken_twice_is_a_self_deadlock():
    src = program(P7.rstrip() + """

    def twice(self):
        with self._init_lock:
            with self._init_lock:  # here
                pass
""")
    (f,) = findings(src, "LW111")
    assert f.line == next(i for i, t in enumerate(src.splitlines(), 1) if t.endswith("# here"))
    assert "Conn._init_lock" in f.message


# ------------------------------------------------------------------ wrapper kinds
def test_kind_comes_from_the_inner_lock_reentrant_async_counting():
    m = model_of({"k.py": """
        import asyncio
        import threading

        class RW:
            def __init__(self):
                self._lock = threading.RLock()
            def acquire(self):
                self._lock.acquire()
            def release(self):
                self._lock.release()
            def __enter__(self):
                self.acquire()
            def __exit__(self, *a):
                self.release()

        class AW:
            def __init__(self):
                self._lock = asyncio.Lock()
            async def __aenter__(self):
                await self._lock.acquire()
            async def __aexit__(self, *a):
                self._lock.release()

        class Sem:                          # httpcore._synchronization.Semaphore
            def __init__(self, bound):
                self._semaphore = threading.Semaphore(value=bound)
            def acquire(self):
                self._semaphore.acquire()
            def release(self):
                self._semaphore.release()

        class Conn:
            def __init__(self, n):
                self._r = RW()
                self._a = AW()
                self._s = Sem(n)
            def reent(self):
                with self._r:
                    with self._r:
                        pass
            async def go(self):
                async with self._a:
                    pass
            def sem(self):
                self._s.acquire()
                try:
                    self._s.acquire()
                finally:
                    self._s.release()
    """})
    assert m.locks["k.Conn._r"].sort == "rlock" and m.locks["k.Conn._r"].reentrant
    assert m.locks["k.Conn._a"].is_async
    # a counting semaphore is no deadlock candidate, wrapped or not: nothing to name
    assert "k.Conn._s" not in m.locks and "k.Sem._semaphore" in m.locks
    assert {e.lock for e in m.self_edges} == {"k.Conn._r"}   # re-entry; the semaphore counts


def test_reentrant_wrapper_reentered_is_clean_plain_one_is_not():
    body = """
        import threading

        class W:
            def __init__(self):
                self._lock = threading.{kind}()
            def __enter__(self):
                self._lock.acquire()
            def __exit__(self, *a):
                self._lock.release()

        class Conn:
            def __init__(self):
                self._w = W()
            def again(self):
                with self._w:
                    self.inner()
            def inner(self):
                with self._w:
                    pass
    """
    assert findings(textwrap.dedent(body.format(kind="RLock"))) == []
    assert [f.code for f in findings(textwrap.dedent(body.format(kind="Lock")))] == ["LW111"]


def test_async_wrapper_fields_inverted_is_lw101():
    body = """
        import asyncio

        class ALock:
            def __init__(self):
                self._lock = asyncio.Lock()
            async def __aenter__(self):
                await self._lock.acquire()
            async def __aexit__(self, *a):
                self._lock.release()

        class Conn:
            def __init__(self):
                self._x = ALock()
                self._y = ALock()
            async def one(self):
                async with self._x:
                    async with self._y:
                        pass
            async def two(self):
                async with self._{first}:
                    async with self._{second}:
                        pass
    """
    assert findings(textwrap.dedent(body.format(first="x", second="y"))) == []
    fs = findings(textwrap.dedent(body.format(first="y", second="x")))
    assert [f.code for f in fs] == ["LW101"] and "Conn._x" in fs[0].message


def test_acquire_release_methods_wrapper_release_is_seen():
    # LW121 "never released": the release goes through the wrapper's release(), which
    # releases the wrapper's lock class, not only the inner one
    src = textwrap.dedent("""
        import threading

        class Gate:
            def __init__(self):
                self._lock = threading.Lock()
            def acquire(self):
                self._lock.acquire()
            def release(self):
                self._lock.release()

        class Conn:
            def __init__(self):
                self._gate = Gate()
            def open_gate(self):
                self._gate.release()
            def work(self):
                self._gate.acquire()
                self.n = 1
    """)
    m = model_of({"g.py": src})
    assert "g.Conn._gate" in m.functions["g.Conn.open_gate"].released
    assert findings(src, "LW121") == []


# ------------------------------------------------------------------ what is not a wrapper
def test_class_level_inner_lock_is_shared_so_not_renamed():
    # one lock for every instance: two "fields" are the same lock, nesting them deadlocks
    src = textwrap.dedent("""
        import threading

        class Shared:
            _lock = threading.Lock()
            def __enter__(self):
                self._lock.acquire()
            def __exit__(self, *a):
                self._lock.release()

        class Conn:
            def __init__(self):
                self._s = Shared()
                self._t = Shared()
            def both(self):
                with self._s:
                    with self._t:
                        pass
    """)
    m = model_of({"s.py": src})
    assert "s.Conn._s" not in m.locks
    assert [f.code for f in findings(src)] == ["LW111"]


def test_class_taking_its_lock_in_other_methods_is_not_a_wrapper():
    # renaming only the __enter__ path would split one lock in two and lose this deadlock
    src = textwrap.dedent("""
        import threading

        class Conn:
            def __init__(self):
                self._lock = threading.Lock()
            def __enter__(self):
                self._lock.acquire()
            def __exit__(self, *a):
                self._lock.release()
            def send(self):
                with self._lock:
                    pass

        class Pool:
            def __init__(self):
                self._conn = Conn()
            def use(self):
                with self._conn:
                    self._conn.send()
    """)
    m = model_of({"c.py": src})
    assert "c.Pool._conn" not in m.locks
    assert [f.code for f in findings(src)] == ["LW111"]


def test_inner_lock_inside_the_wrapper_stays_the_inner_class():
    m = model_of({"w.py": program("""
class Conn:
    def __init__(self):
        self._a = Lock()
""")})
    enter = m.functions["w.Lock.__enter__"]
    assert {a.lock for acqs in enter.acqs.values() for a in acqs} == {"w.Lock._lock"}


def test_wrapper_of_a_wrapper_is_named_by_the_outer_field():
    src = textwrap.dedent("""
        import threading

        class Inner:
            def __init__(self):
                self._lock = threading.Lock()
            def acquire(self):
                self._lock.acquire()
            def release(self):
                self._lock.release()

        class Outer:
            def __init__(self):
                self._inner = Inner()
            def __enter__(self):
                self._inner.acquire()
            def __exit__(self, *a):
                self._inner.release()

        class Conn:
            def __init__(self):
                self._x = Outer()
                self._y = Outer()
            def xy(self):
                with self._x:
                    with self._y:
                        pass
    """)
    m = model_of({"n.py": src})
    assert set(m.lock_graph.edges()) == {("n.Conn._x", "n.Conn._y")}
    assert m.locks["n.Conn._x"].wrapper == "n.Outer"
    assert findings(src) == []


# ------------------------------------------------------------------ plain-lock equivalence
# Each program, once with ``threading.Lock()`` and once with the wrapper ``Lock()`` in every
# place marked {L}: the same lock classes on the same edges, the same findings (code, line).
EQUIVALENT = {
    "p7": P7.replace("Lock()", "{L}()"),
    "subclass": """
class Sub(Lock):
    pass


class Conn:
    def __init__(self):
        self._a = {S}()
        self._b = {S}()

    def ab(self):
        with self._a:
            with self._b:
                pass

    def ba(self):
        with self._b:
            with self._a:
                pass
""",
    "factory": """
def make():
    return {L}()


def make_named():
    lk = {L}()
    return lk


class Conn:
    def __init__(self):
        self._a = make()
        self._b = make()
        self._c = make_named()

    def ab(self):
        with self._a:
            with self._b:
                pass

    def ca(self, other: "Conn"):
        with self._c:
            with other._c:
                pass
""",
    "globals": """
G1 = {L}()
G2 = {L}()


def one():
    with G1:
        with G2:
            pass


def two():
    with G2:
        with G1:
            pass


def local():
    lk = {L}()
    with lk:
        with G1:
            pass
""",
    "class_attr": """
class Registry:
    _lock = {L}()
    _other = {L}()

    def a(self):
        with self._lock:
            with Registry._other:
                pass

    def b(self):
        with self._other:
            with self._lock:
                pass
""",
    "containers": """
class Pool:
    def __init__(self):
        self._locks = {{}}
        self._dd = defaultdict({L})
        self._all = {{k: {L}() for k in range(4)}}

    def add(self, k):
        self._locks[k] = {L}()

    def pair(self, k1, k2):
        with self._locks[k1]:
            with self._locks[k2]:
                pass
        with self._dd[k1]:
            with self._dd[k2]:
                pass
        with self._all[k1]:
            with self._dd[k2]:
                pass

    def other(self, k):
        with self._dd[k]:
            with self._all[k]:
                pass
""",
    "exitstack": """
import contextlib


class Ports:
    def __init__(self):
        self._locks = {{p: {L}() for p in range(8000, 8100)}}

    def claim(self, ports):
        with contextlib.ExitStack() as stack:
            for port in ports:
                stack.enter_context(self._locks[port])
            return list(ports)

    def claim_sorted(self, ports):
        with contextlib.ExitStack() as stack:
            for port in sorted(ports):
                stack.enter_context(self._locks[port])
""",
    "dataclass": """
from dataclasses import dataclass, field


@dataclass
class Job:
    state_lock: object = field(default_factory={L})
    io_lock: object = field(default_factory={L})

    def run(self):
        with self.state_lock:
            with self.io_lock:
                pass

    def flush(self):
        with self.io_lock:
            with self.state_lock:
                pass
""",
    "same_field": """
class Account:
    def __init__(self):
        self._lock = {L}()

    def transfer(self, other: "Account"):
        with self._lock:
            with other._lock:
                pass

    def ordered(self, other: "Account"):
        first, second = sorted((self, other), key=id)
        with first._lock:
            with second._lock:
                pass
""",
}


@pytest.mark.parametrize("name", sorted(EQUIVALENT))
def test_wrapper_fields_behave_as_plain_lock_fields(name):
    body = EQUIVALENT[name]
    plain = program(body.format(L="threading.Lock", S="threading.Lock"))
    wrapped = program(body.format(L="Lock", S="Sub"))
    mp, mw = model_of({"w.py": plain}), model_of({"w.py": wrapped})
    assert set(mw.lock_graph.edges()) == set(mp.lock_graph.edges())
    assert mw.lock_graph.number_of_edges() or name in ("same_field", "exitstack")
    for lid, lc in mp.locks.items():
        if lid.startswith("w.Lock."):
            continue
        w = mw.locks.get(lid)
        assert w is not None, lid
        assert (w.sort, w.container, w.line) == (lc.sort, lc.container, lc.line), lid
        assert w.wrapper in ("w.Lock", "w.Sub"), lid
    fp = sorted((f.code, f.line) for f in findings(plain))
    fw = sorted((f.code, f.line) for f in findings(wrapped))
    assert fw == fp
    if name in ("same_field", "exitstack", "containers"):
        assert fp, "the plain program must have findings for the comparison to mean something"
