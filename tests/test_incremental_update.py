"""Analysis.update must give the report Analysis.full gives on the same summaries (JSON, order
included), whichever path it takes. The programs here are built so that the edit changes the
report, and so that a naive re-link of the edited function alone would get it wrong; the
ones an incremental update can take must take it (``stats["mode"]``)."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static.engine import module_name
from lockwatch.static.incremental import Analysis
from lockwatch.static.summarise import summarise_module

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def summaries(files: dict[str, str]) -> dict:
    out = {}
    for path, src in sorted(files.items()):
        mod, is_pkg = module_name(path)
        out[mod] = summarise_module(textwrap.dedent(src), path, mod, is_pkg)
    return out


def as_json(a: Analysis) -> str:
    return json.dumps(a.report.to_dict())


def lock_sites(a: Analysis) -> dict:
    """The model's lock classes (their order is the order of first evaluation, not compared)."""
    return {lid: (lc.path, lc.line, lc.col, lc.sort, lc.value, lc.container, lc.wrapper, lc.inner)
            for lid, lc in a.model.locks.items()}


def check(base: dict[str, str], edited: dict[str, str], mode: str | None, changes: bool = True) -> Analysis:
    """update(base -> edited) equals full(edited), its lock classes too; and back again
    equals full(base)."""
    cfg = Config()
    s0, s1 = summaries(base), summaries(edited)
    a = Analysis.full(s0, cfg)
    f0 = as_json(a)
    full1 = Analysis.full(s1, cfg)
    f1 = as_json(full1)
    if changes:
        assert f0 != f1, "the edit should change the report (else the test proves nothing)"
    u = a.update(s1)
    assert as_json(u) == f1, u.stats
    assert lock_sites(u) == lock_sites(full1), u.stats
    assert "incremental update failed" not in u.stats.get("reason", ""), u.stats
    if mode is not None:
        assert u.stats["mode"] == mode, u.stats
    back = u.update(s0)
    assert as_json(back) == f0, back.stats
    return u


LOCKS = """
    import threading
    L1 = threading.Lock()
    L2 = threading.Lock()
"""


# ---------------------------------------------------------------- edits that must fall back
def test_self_attribute_type_used_by_another_module():
    a = LOCKS + """
    class A:
        def __init__(self):
            self.lk = threading.Lock()

        def run(self):
            with self.lk:
                with L1:
                    pass

    class B:
        def run(self):
            pass

    class Holder:
        def __init__(self):
            self.x = A()
    """
    b = """
    from a import Holder, L1

    def go(h: Holder):
        with L1:
            h.x.run()
    """
    u = check({"a.py": a, "b.py": b}, {"a.py": a.replace("self.x = A()", "self.x = B()"), "b.py": b}, "full")
    assert "interface" in u.stats["reason"]


def test_new_method_becomes_an_override():
    a = LOCKS + """
    class Base:
        def step(self):
            pass

        def work(self):
            with L1:
                self.step()

    class Sub(Base):
        def other(self):
            pass

    def back():
        with L2:
            with L1:
                pass
    """
    edited = a.replace("""        def other(self):
            pass
""", """        def other(self):
            pass

        def step(self):
            with L2:
                pass
""")
    check({"a.py": a}, {"a.py": edited}, "full")


def test_new_global_shadows_an_import_of_a_star_importer():
    locks = LOCKS
    m1 = """
    import threading
    from locks import L1
    """
    m2 = """
    from m1 import *
    from locks import L2

    def f():
        with L1:
            with L2:
                pass

    def g():
        with L2:
            with L1:
                pass
    """
    edited = m1 + "\nL1 = threading.Lock()\n"
    check({"locks.py": locks, "m1.py": m1, "m2.py": m2},
          {"locks.py": locks, "m1.py": textwrap.dedent(m1) + "L1 = threading.Lock()\n", "m2.py": m2}, "full")
    del edited


def test_new_function_a_star_importer_calls():
    m1 = LOCKS + """
    def other():
        pass
    """
    m2 = """
    from m1 import *

    def f():
        with L1:
            helper()
    """
    edited = textwrap.dedent(m1) + "\n\ndef helper():\n    with L2:\n        with L1:\n            pass\n"
    u = check({"m1.py": m1, "m2.py": m2}, {"m1.py": edited, "m2.py": m2}, "full")
    assert "star" in u.stats["reason"]


def test_changed_return_value_used_in_another_module():
    a = LOCKS + """
    def get_lock():
        return L1
    """
    b = """
    from a import get_lock, L2

    def f():
        with get_lock():
            with L2:
                pass

    def g():
        with L2:
            with get_lock():
                pass
    """
    check({"a.py": a, "b.py": b}, {"a.py": a.replace("return L1", "return L2"), "b.py": b}, "full")


def test_changed_decorator():
    a = LOCKS + """
    import contextlib

    @contextlib.contextmanager
    def held():
        with L1:
            yield
    """
    b = """
    from a import held, L1, L2

    def f():
        with held():
            with L2:
                pass

    def g():
        with L2:
            with L1:
                pass
    """
    edited = a.replace("@contextlib.contextmanager", "@staticmethod")
    check({"a.py": a, "b.py": b}, {"a.py": edited, "b.py": b}, "full")


def test_class_base_changed():
    a = LOCKS + """
    class Locked:
        def run(self):
            with L1:
                pass

    class Plain:
        def run(self):
            pass

    class Job(Locked):
        pass
    """
    b = """
    from a import Job, L2

    def f():
        with L2:
            Job().run()

    def g():
        from a import L1
        with L1:
            with L2:
                pass
    """
    check({"a.py": a, "b.py": b}, {"a.py": a.replace("class Job(Locked)", "class Job(Plain)"), "b.py": b}, "full")


def test_removed_module():
    a = LOCKS
    b = """
    from a import L1, L2

    def f():
        with L1:
            with L2:
                pass

    def g():
        with L2:
            with L1:
                pass
    """
    cfg = Config()
    s0 = summaries({"a.py": a, "b.py": b})
    s1 = {k: v for k, v in s0.items() if k != "b"}
    u = Analysis.full(s0, cfg).update(s1)
    assert as_json(u) == as_json(Analysis.full(s1, cfg))
    assert u.stats["mode"] == "full" and "removed" in u.stats["reason"]


# ---------------------------------------------------------------- edits taken incrementally
def test_appended_function_closes_a_cycle():
    a = LOCKS + """
    def f():
        with L1:
            with L2:
                pass
    """
    b = """
    import a

    def user():
        a.f()
    """
    edited = textwrap.dedent(a) + "\n\ndef g():\n    with L2:\n        with L1:\n            pass\n"
    u = check({"a.py": a, "b.py": b}, {"a.py": edited, "b.py": b}, "incremental")
    assert u.stats["added"] == 1


def test_body_wrapped_in_a_lock():
    a = LOCKS + """
    class Box:
        def __init__(self):
            self._lock = threading.Lock()

        def first(self):
            with L1:
                self.put()

        def put(self):
            return 1
    """
    edited = a.replace("""        def put(self):
            return 1""", """        def put(self):
            with self._lock:
                with L1:
                    return 1""")
    b = """
    from a import Box, L1

    def g(box: Box):
        with box._lock:
            pass
    """
    u = check({"a.py": a, "b.py": b}, {"a.py": edited, "b.py": b}, "incremental")
    assert u.stats["relinked"] == 1


def test_relinked_function_hands_on_a_stored_callback():
    # ``client.attach(cb)`` stores cb in self._listener; ``self._listener()`` then calls it
    # under the client's lock: the stored-callback pass runs again for the edited caller
    a = LOCKS + """
    class Client:
        def __init__(self):
            self._lock = threading.Lock()
            self._listener = None

        def attach(self, listener):
            self._listener = listener

        def fire(self):
            with L1:
                self._listener()

    def on_event():
        with L2:
            pass

    def back():
        with L2:
            with L1:
                pass
    """
    b = """
    from a import Client, on_event

    def setup(c: Client):
        c.attach(on_event)
        return c
    """
    edited_b = b.replace("c.attach(on_event)\n", "pass\n")
    check({"a.py": a, "b.py": b}, {"a.py": a, "b.py": edited_b}, "incremental")


def test_deleted_unreferenced_function():
    a = LOCKS + """
    def f():
        with L1:
            with L2:
                pass

    def g():
        with L2:
            with L1:
                pass
    """
    edited = a[:a.index("    def g():")]
    u = check({"a.py": a}, {"a.py": edited}, "incremental")
    assert u.stats["removed"] == 1


def test_new_module_importing_the_edited_one():
    a = LOCKS + """
    def f():
        with L1:
            with L2:
                pass
    """
    new = """
    import a

    def g():
        with a.L2:
            with a.L1:
                pass
    """
    u = check({"a.py": a}, {"a.py": a, "newmod.py": new}, "incremental")
    assert u.stats["added"] >= 1


def test_comment_at_the_end_changes_nothing():
    a = LOCKS + """
    def f():
        with L1:
            with L2:
                pass

    def g():
        with L2:
            with L1:
                pass
    """
    u = check({"a.py": a}, {"a.py": textwrap.dedent(a) + "# a comment\n"}, "incremental", changes=False)
    assert u.stats["relinked"] == 0


def test_the_old_analysis_falls_back_once_updated():
    a = LOCKS + """
    def f():
        with L1:
            with L2:
                pass
    """
    cfg = Config()
    s0 = summaries({"a.py": a})
    s1 = summaries({"a.py": textwrap.dedent(a) + "\n\ndef g():\n    with L2:\n        with L1:\n            pass\n"})
    a0 = Analysis.full(s0, cfg)
    a1 = a0.update(s1)
    assert a1.stats["mode"] == "incremental"
    again = a0.update(s1)   # a0's linker state moved on to a1
    assert again.stats["mode"] == "full"
    assert as_json(again) == as_json(a1)


# ---------------------------------------------------------------- fixtures/
def _fixture_program():
    from lockwatch.static.engine import summarise_paths

    cwd = os.getcwd()
    os.chdir(FIXTURES)
    try:
        cfg = Config()
        cfg.no_cache = True
        return summarise_paths(["."], cfg)
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def fixture_program():
    return _fixture_program()


def test_fixtures_appended_function_per_module(fixture_program):
    """On fixtures/ (one program): for modules with a module lock (up to 12), a function
    appended that takes it, and a comment line inserted at the top (every position moves);
    update equals full, and undoing the edit gives the original report again."""
    sums, errors = fixture_program
    cfg = Config()
    a = Analysis.full(sums, cfg, errors)
    base = as_json(a)
    n = inc = moved_inc = 0
    for mod in sorted(sums):
        ms = sums[mod]
        lock = next((g for g, v in sorted(ms.globals.items())
                     if ((v.get("v") or {}).get("call") or "").rsplit(".", 1)[-1] in ("Lock", "RLock")), None)
        if lock is None:
            continue
        with open(os.path.join(FIXTURES, ms.path), encoding="utf-8") as f:
            src = f.read()
        appended = src + f"\n\ndef _lw_test_edit(q):\n    with {lock}:\n        q.run()\n"
        moved = "# a comment line: every position below moves\n" + src
        for text in (appended, moved):
            new = dict(sums)
            new[mod] = summarise_module(text, ms.path, mod, ms.is_package)
            u = a.update(new, errors)
            assert as_json(u) == as_json(Analysis.full(new, cfg, errors)), (mod, u.stats)
            assert "incremental update failed" not in u.stats.get("reason", ""), u.stats
            if text is appended:
                inc += u.stats["mode"] == "incremental"
            else:
                moved_inc += u.stats["mode"] == "incremental"
            a = u.update(sums, errors)
            assert as_json(a) == base, (mod, a.stats)
        n += 1
        if n >= 12:
            break
    assert n >= 5 and inc == n and moved_inc >= n // 2


# ---------------------------------------------------------------- code that only moves
MOVING = textwrap.dedent(LOCKS) + """
class Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)

    def get(self):
        with self._lock:
            with L1:
                return 1

    def put(self):
        with L1:
            with self._lock:
                return 2

def helper():
    lk = threading.Lock()
    with lk:
        with L2:
            pass

def other():
    with L2:
        with L1:
            pass
"""


def test_comment_line_shifts_every_position_after_it():
    # every lock class, acquisition and finding below the comment moves one line down:
    # the lock classes' sites (Pool._lock, L2) move with them
    src = textwrap.dedent(MOVING)
    edited = src.replace("L2 = threading.Lock()\n", "# a comment\nL2 = threading.Lock()\n", 1)
    u = check({"a.py": src, "b.py": "import a\n"}, {"a.py": edited, "b.py": "import a\n"}, "incremental")
    assert u.stats["relinked"] >= 5


def test_body_wrapped_above_other_functions():
    src = textwrap.dedent(MOVING)
    edited = src.replace("""def helper():
    lk = threading.Lock()
    with lk:
        with L2:
            pass
""", """def helper():
    with L1:
        lk = threading.Lock()
        with lk:
            with L2:
                pass
""")
    assert edited != src
    check({"a.py": src}, {"a.py": edited}, "incremental")


def test_moved_context_manager_falls_back():
    # a @contextmanager's acquisitions are read by its callers' links, positions included
    a = LOCKS + """
    import contextlib

    def first():
        pass

    @contextlib.contextmanager
    def held():
        with L1:
            yield
    """
    b = """
    from a import held, L1, L2

    def f():
        with held():
            with L2:
                pass

    def g():
        with L2:
            with L1:
                pass
    """
    edited = a.replace("""    def first():
        pass
""", """    def first():
        print(1)
        print(2)
""")
    u = check({"a.py": a, "b.py": b}, {"a.py": edited, "b.py": b}, "full")
    assert "read whole" in u.stats["reason"]
