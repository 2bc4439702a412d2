"""Linking across modules: import forms, inheritance, attribute types, properties, wrappers,
decorators, callables passed as arguments, Condition identity, try-locks. Each test looks
at the linked model (lock classes, edges) or at the findings of one rule, and most keep a
clean look-alike next to the positive case."""

from __future__ import annotations

import json
import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static.engine import build_model, module_name, scan_sources
from lockwatch.static.summarise import ParseError, summarise_module
from lockwatch.static.summary import ModuleSummary


def model_of(files: dict[str, str], config=None):
    sums = {}
    for path, src in files.items():
        mod, is_pkg = module_name(path)
        sums[mod] = summarise_module(textwrap.dedent(src), path, mod, is_pkg)
    return build_model(sums, config or Config())


def edges(m) -> set[tuple[str, str]]:
    return set(m.lock_graph.edges())


def codes(files, code, config=None):
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    rep = scan_sources(files, config or Config())
    return [f for f in rep.findings if f.code == code]


# --------------------------------------------------------------------------- import forms
def test_lock_factories_under_every_import_form():
    m = model_of({"a.py": """
        import threading as t
        from threading import RLock as R, Lock
        import _thread
        import multiprocessing
        import asyncio
        import b

        l1 = t.Lock()
        l2 = R()
        l3 = Lock()
        l4 = _thread.allocate_lock()
        l5 = multiprocessing.Lock()
        l6 = asyncio.Lock()
        l7 = b.make()
        l8 = t.Semaphore(5)
        not_a_lock = t.Event()

        def use():
            for x in (l1, l2, l3, l4, l5, l6, l7, l8, not_a_lock):
                pass
            with l1: pass
            with l2: pass
            with l3: pass
            with l4: pass
            with l5: pass
            with l7: pass
            with l8: pass
            with not_a_lock: pass
    """, "b.py": """
        import threading
        def make():
            return threading.Lock()
    """})
    sorts = {k: v.sort for k, v in m.locks.items()}
    assert sorts == {"a.l1": "lock", "a.l2": "rlock", "a.l3": "lock", "a.l4": "lock", "a.l5": "lock",
                     "a.l6": "async-lock", "a.l7": "lock", "a.l8": "semaphore"}
    assert m.locks["a.l8"].counting and not m.locks["a.l1"].counting
    assert m.locks["a.l2"].reentrant and not m.locks["a.l1"].reentrant
    assert m.locks["a.l1"].creation == "a.py:9"


def test_reexport_through_package_init_and_relative_imports():
    m = model_of({
        "pkg/__init__.py": "from .locks import GLOBAL as G\n",
        "pkg/locks.py": "import threading\nGLOBAL = threading.Lock()\nOTHER = threading.Lock()\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/user.py": """
            from .. import G
            from ..locks import OTHER as O
            import pkg.locks as L

            def f():
                with G:
                    with O:
                        pass

            def g():
                with L.OTHER:
                    with L.GLOBAL:
                        pass
        """,
    })
    assert edges(m) == {("pkg.locks.GLOBAL", "pkg.locks.OTHER"), ("pkg.locks.OTHER", "pkg.locks.GLOBAL")}


def test_star_import_and_shadowed_builtin_do_not_crash():
    m = model_of({
        "a.py": "import threading\nlock = threading.Lock()\n__all__ = ['lock']\n",
        "b.py": """
            from a import *
            def input(prompt):      # shadows the builtin: not a blocking call
                return prompt
            def f():
                with lock:
                    input("x")
        """,
    })
    assert "a.lock" in m.locks
    assert not m.blocking_sites


# --------------------------------------------------------------------------- classes
def test_inheritance_across_modules_and_super():
    m = model_of({
        "base.py": """
            import threading
            class Base:
                def __init__(self):
                    self._lock = threading.Lock()
                def locked(self):
                    with self._lock:
                        pass
        """,
        "child.py": """
            import threading
            from base import Base
            _g = threading.Lock()
            class Child(Base):
                def __init__(self):
                    super().__init__()
                def locked(self):
                    with _g:
                        super().locked()
                def other(self):
                    with self._lock:
                        with _g:
                            pass
        """,
    })
    assert edges(m) == {("child._g", "base.Base._lock"), ("base.Base._lock", "child._g")}


def test_attribute_types_from_init_annotations_and_parameters():
    files = {
        "conn.py": """
            import threading
            class Conn:
                def __init__(self):
                    self._lock = threading.Lock()
                def reset(self):
                    with self._lock:
                        pass
        """,
        "user.py": """
            import threading
            from conn import Conn
            _a = threading.Lock()
            _b = threading.Lock()
            _c = threading.Lock()
            class Holder:
                conn2: Conn
                def setup(self):
                    self.conn = Conn()
                def one(self):
                    with _a:
                        self.conn.reset()
                def two(self):
                    with _b:
                        self.conn2.reset()
            def three(c: "Conn"):
                with _c:
                    c.reset()
            def untyped(c):
                with _c:
                    c.reset()      # unknown type: nothing is assumed
        """,
    }
    m = model_of(files)
    assert edges(m) == {("user._a", "conn.Conn._lock"), ("user._b", "conn.Conn._lock"),
                        ("user._c", "conn.Conn._lock")}


def test_inheritance_cycle_does_not_hang():
    m = model_of({"a.py": """
        import threading
        class A(B):
            pass
        class B(A):
            def f(self):
                self.g()
        L = threading.Lock()
        def h():
            with L:
                A().f()
    """})
    assert "a.L" in m.locks


def test_instances_of_same_class_are_not_the_same_lock():
    files = {"n.py": """
        import threading
        class Node:
            def __init__(self, parent: "Node"):
                self._lock = threading.Lock()
                self.parent = parent
            def a(self):
                with self._lock:
                    self.b()              # same instance: self-deadlock
            def b(self):
                with self._lock:
                    pass
            def c(self):
                with self._lock:
                    self.parent.b()       # another instance: not LW111
    """}
    found = codes(files, "LW111")
    assert [f.line for f in found] == [9]


# --------------------------------------------------------------------------- properties, wrappers
def test_property_getter_runs_on_read():
    files = {"p.py": """
        import threading
        class Acc:
            def __init__(self):
                self._lock = threading.Lock()
            @property
            def value(self):
                with self._lock:
                    return 1
            def plain(self):
                return 2
            def bad(self):
                with self._lock:
                    return self.value
            def good(self):
                with self._lock:
                    return self.plain()
    """}
    assert [f.line for f in codes(files, "LW111")] == [14]


def test_with_wrapper_object_holds_lock_its_enter_leaves_held():
    m = model_of({"w.py": """
        import threading
        class Locked:
            def __init__(self):
                self._lock = threading.Lock()
            def __enter__(self):
                self._lock.acquire()
                return self
            def __exit__(self, *a):
                self._lock.release()
        class Plain:
            def __enter__(self):
                return self
            def __exit__(self, *a):
                pass
        other = threading.Lock()
        w = Locked()
        p = Plain()
        def f():
            with w:
                with other:
                    pass
        def g():
            with p:
                with other:
                    pass
    """})
    # a lock wrapper is named where the wrapper is stored (the global ``w``), see
    # tests/test_static_wrappers.py
    assert edges(m) == {("w.w", "w.other")}


def test_contextmanager_holds_what_it_holds_at_yield():
    m = model_of({"c.py": """
        import contextlib
        import threading
        a = threading.Lock()
        b = threading.Lock()
        @contextlib.contextmanager
        def holding_a():
            with a:
                yield
        def f():
            with holding_a():
                with b:
                    pass
    """})
    assert edges(m) == {("c.a", "c.b")}


def test_local_alias_and_exitstack():
    m = model_of({"x.py": """
        import contextlib
        import threading
        class C:
            def __init__(self):
                self._lock = threading.Lock()
                self._other = threading.Lock()
            def f(self):
                lk = self._lock
                with lk:
                    with self._other:
                        pass
            def g(self):
                with contextlib.ExitStack() as st:
                    st.enter_context(self._other)
                    with self._lock:
                        pass
    """})
    assert edges(m) == {("x.C._lock", "x.C._other"), ("x.C._other", "x.C._lock")}


# --------------------------------------------------------------------------- decorators, callables
def test_decorator_forms():
    files = {"d.py": """
        import functools
        import threading
        _lock = threading.Lock()
        def synchronized(lock):
            def deco(fn):
                @functools.wraps(fn)
                def wrapper(*a, **k):
                    with lock:
                        return fn(*a, **k)
                return wrapper
            return deco
        def method_locked(fn):
            def wrapper(self, *a):
                with self._lock:
                    return fn(self, *a)
            return wrapper
        def args0_locked(fn):
            def wrapper(*args):
                with args[0]._lock:
                    return fn(*args)
            return wrapper

        @synchronized(_lock)
        def inner():
            pass

        @synchronized(_lock)
        def outer():
            inner()                       # LW111 through the factory decorator

        class C:
            def __init__(self):
                self._lock = threading.Lock()
            @method_locked
            def a(self):
                self.b()                  # LW111: both wrappers take self._lock
            @args0_locked
            def b(self):
                pass
            def c(self):
                self.b()                  # fine: nothing held
    """}
    assert sorted(f.line for f in codes(files, "LW111")) == [30, 37]


def test_callable_passed_as_argument():
    files = {"cb.py": """
        import threading
        L = threading.Lock()
        def run_locked(fn):
            with L:
                fn()
        def run_free(fn):
            fn()
        class C:
            def _cb(self):
                with L:
                    pass
            def go(self):
                run_locked(self._cb)      # LW111: _cb runs under L
            def fine(self):
                run_free(self._cb)
    """}
    assert [f.line for f in codes(files, "LW111")] == [14]


def test_condition_shares_its_lock_identity_and_rlock_default():
    m = model_of({"cv.py": """
        import threading
        class Q:
            def __init__(self):
                self._lock = threading.Lock()
                self._cv = threading.Condition(self._lock)
                self._own = threading.Condition()
                self._other = threading.Lock()
            def f(self):
                with self._cv:
                    with self._other:
                        pass
            def g(self):
                with self._other:
                    with self._lock:
                        pass
    """})
    assert edges(m) == {("cv.Q._lock", "cv.Q._other"), ("cv.Q._other", "cv.Q._lock")}
    assert m.locks["cv.Q._own"].reentrant


def test_containers_dataclass_fields_and_defaultdict():
    m = model_of({"k.py": """
        import collections
        import threading
        from dataclasses import dataclass, field
        @dataclass
        class S:
            lock: threading.Lock = field(default_factory=threading.Lock)
        class Reg:
            def __init__(self):
                self._locks = collections.defaultdict(threading.Lock)
                self._list = [threading.Lock() for _ in range(3)]
                self._g = threading.Lock()
            def f(self, k, s: S):
                with self._locks[k]:
                    with self._g:
                        with s.lock:
                            pass
    """})
    assert m.locks["k.Reg._locks"].container and m.locks["k.Reg._list"].container
    assert not m.locks["k.S.lock"].container
    assert edges(m) == {("k.Reg._locks", "k.Reg._g"), ("k.Reg._g", "k.S.lock"), ("k.Reg._locks", "k.S.lock")}


def test_try_lock_is_held_but_adds_no_edge_into_it():
    m = model_of({"t.py": """
        import threading
        a = threading.Lock()
        b = threading.Lock()
        def f():
            with b:
                if a.acquire(timeout=1):
                    try:
                        pass
                    finally:
                        a.release()
        def g():
            if not a.acquire(blocking=False):
                return
            try:
                with b:
                    pass
            finally:
                a.release()
    """})
    assert edges(m) == {("t.a", "t.b")}


def test_async_function_effects_only_when_awaited():
    m = model_of({"aw.py": """
        import asyncio
        import threading
        a = threading.Lock()
        al = asyncio.Lock()
        async def takes():
            async with al:
                pass
        async def f():
            with a:
                await takes()
        def g():
            with a:
                asyncio.run(takes())     # runs elsewhere (a new loop), not in this frame
                takes()                  # only creates a coroutine
    """})
    assert edges(m) == {("aw.a", "aw.al")}
    assert [w[0].line for w in m.lock_graph.edges["aw.a", "aw.al"]["witnesses"]] == [10]


# --------------------------------------------------------------------------- summaries
def test_summary_round_trips_through_json():
    src = "import threading\nL = threading.Lock()\nclass C:\n    def f(self):\n        with L:\n            self.x = 1  # lockwatch: ignore[LW101]\n"
    s = summarise_module(src, "m.py", "m")
    d = json.loads(json.dumps(s.to_dict()))
    assert ModuleSummary.from_dict(d).to_dict() == s.to_dict()
    assert s.suppression_map() == {6: frozenset({"LW101"})}
    ev = [e["e"] for e in s.functions["C.f"].events]
    assert ev == ["acq", "wr"]


def test_summary_records_await_calls_and_result_use():
    s = summarise_module(textwrap.dedent("""
        import asyncio
        async def f(loop):
            t = asyncio.create_task(g())
            asyncio.ensure_future(g())
            await asyncio.sleep(1)
            async for x in it():
                pass
            return h()
    """), "a.py", "a")
    fs = s.functions["f"]
    assert fs.is_async
    uses = {(e["f"], e["u"]) for e in fs.events if e["e"] == "call"}
    assert ("asyncio.create_task", "local") in uses and ("asyncio.ensure_future", "discard") in uses
    assert ("g", "arg") in uses and ("asyncio.sleep", "await") in uses and ("h", "return") in uses
    assert sum(1 for e in fs.events if e["e"] == "await") == 2


def test_parse_error_message():
    with pytest.raises(ParseError, match=r"syntax error at line 2"):
        summarise_module("x = 1\ndef (:\n", "bad.py", "bad")


def test_deep_and_weird_valid_code_does_not_crash():
    deep = "x = " + "(" * 150 + "1" + ")" * 150 + "\n"
    many = "\n".join(f"def f{i}():\n    return f{i + 1}()" for i in range(300)) + "\n"
    rec = "def f(n):\n    return f(n - 1) if n else g()\ndef g():\n    return f(3)\n"
    rep = scan_sources({"deep.py": deep, "many.py": many, "rec.py": rec})
    assert rep.errors == [] or all("nesting" in e.message for e in rep.errors)


def test_config_lock_factories_and_blocking_calls():
    files = {
        "mylib/__init__.py": "",
        "mylib/sync.py": """
            import ctypes
            def named_lock(name):
                return ctypes.something(name)     # opaque to the analyser
            def fetch(url):
                return url
        """,
        "app.py": """
            import mylib.sync as s
            import vendor
            A = s.named_lock("a")
            B = vendor.make_lock()
            def f():
                with A:
                    with B:
                        s.fetch("x")
            def g():
                with B:
                    with A:
                        pass
        """,
    }
    plain = codes(files, "LW101")
    assert plain == []
    cfg = Config(lock_factories={"mylib.sync.named_lock": "lock", "vendor.make_lock": "rlock"},
                 blocking_calls=["mylib.sync.fetch"])
    assert len(codes(files, "LW101", cfg)) == 1
    assert [f.line for f in codes(files, "LW131", cfg)] == [9]


def test_closure_in_method_sees_self_and_its_locks():
    files = {"cl.py": """
        import threading
        import weakref
        class Pool:
            def __init__(self):
                self._lock = threading.Lock()
            def get(self):
                def helper():
                    with self._lock:
                        pass
                with self._lock:
                    helper()              # LW111 through a closure over self
            def other(self):
                def helper(self):         # rebinds self: not the method's receiver
                    with self._lock:
                        pass
                with self._lock:
                    helper(object())
    """}
    assert [f.line for f in codes(files, "LW111")] == [12]


def test_loop_variable_over_a_container_of_threads_is_typed():
    files = {"w.py": """
        import threading
        class Runner:
            def __init__(self, n):
                self._lock = threading.Lock()
                self._threads = [threading.Thread(target=print) for _ in range(n)]
                self._names = ["a", "b"]
            def stop(self):
                with self._lock:
                    for t in self._threads:
                        t.join()                 # Thread.join under the lock
                    for s in self._names:
                        s.join([])              # str.join: not blocking
                    self._threads[0].join()     # element of the container
    """}
    assert [f.line for f in codes(files, "LW131")] == [11, 14]


# --------------------------------------------------------------------------- abstract dispatch
_ABSTRACT_BASE = """
    import abc
    import threading


    class Handler(abc.ABC):
        @abc.abstractmethod
        def handle(self, item):
            ...
    """
_ABSTRACT_BUS = """
    import threading
    from base import Handler


    class Bus:
        def __init__(self):
            self.lock = threading.Lock()

        def dispatch(self, handler: Handler, item):
            with self.lock:
                handler.handle(item)
    """


def test_call_of_abstract_method_on_typed_receiver_reaches_the_overrides():
    m = model_of({"base.py": _ABSTRACT_BASE, "bus.py": _ABSTRACT_BUS, "audit.py": """
        import threading
        from base import Handler

        audit_lock = threading.Lock()


        class AuditHandler(Handler):
            def handle(self, item):
                with audit_lock:
                    print(item)
        """})
    assert ("bus.Bus.lock", "audit.audit_lock") in edges(m)


def test_concrete_base_method_is_not_dispatched_to_overrides():
    base = _ABSTRACT_BASE.replace("        @abc.abstractmethod\n", "")
    m = model_of({"base.py": base, "bus.py": _ABSTRACT_BUS, "audit.py": """
        import threading
        from base import Handler

        audit_lock = threading.Lock()


        class AuditHandler(Handler):
            def handle(self, item):
                with audit_lock:
                    print(item)
        """})
    assert ("bus.Bus.lock", "audit.audit_lock") not in edges(m)


# --------------------------------------------------------------------------- stored callbacks
_STREAM = """
    import threading


    class Stream:
        def __init__(self):
            self._lock = threading.Lock()
            self._listener = None
            self._other = None

        def attach(self, listener):
            self._listener = listener

        def request(self):
            with self._lock:
                self._listener()
                self._other()
    """


def test_callable_stored_by_a_method_is_what_the_attribute_call_runs():
    m = model_of({"stream.py": _STREAM, "peer.py": """
        import threading
        from stream import Stream

        peer_lock = threading.Lock()


        def on_request():
            with peer_lock:
                pass


        def open_pair():
            s, t = Stream(), Stream()
            s.attach(on_request)
            return s, t
        """})
    assert ("stream.Stream._lock", "peer.peer_lock") in edges(m)


def test_stored_callable_is_not_bound_to_other_attributes_or_after_a_swap():
    m = model_of({"stream.py": _STREAM.replace("self._listener()\n", "pass\n"), "peer.py": """
        import threading
        from stream import Stream

        peer_lock = threading.Lock()


        def on_request():
            with peer_lock:
                pass


        def open_pair(a, b):
            s, t = b, Stream()
            s.attach(on_request)
            a, b = b, a
            return s, t
        """})
    assert ("stream.Stream._lock", "peer.peer_lock") not in edges(m)
