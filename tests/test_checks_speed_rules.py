"""Shortcuts in single checks (S8C), each compared with the plain computation, on every
fixtures/ file as one model and on small programs:

* LW211 asks the model's call index for the calls of a Thread or Process subclass's own
  ``__init__`` only, not of every project ``__init__``;
* LW121 and LW102 skip the functions with no acquisition the linker resolved;
* LW112 collects the locks ordinary code takes from the functions with an effect of their
  own, not from every function;
* LW204 asks the call index about the calls of coroutine functions only.
"""

from __future__ import annotations

import pytest
from test_checks_speed_s8 import _model, fixtures_program

from lockwatch.config import Config
from lockwatch.rules import lw102_unordered_instance_nesting as lw102
from lockwatch.rules import lw112_lock_in_interrupting_callback as lw112
from lockwatch.rules import lw121_acquire_without_release as lw121
from lockwatch.rules import lw204_unawaited_coroutine as lw204
from lockwatch.rules import lw211_unjoined_thread as lw211


@pytest.fixture(scope="module")
def fixtures_model():
    return fixtures_program()

SRC_THREADS = """
    import threading
    import multiprocessing

    class Worker(threading.Thread):
        def run(self):
            pass

    class SubWorker(Worker):
        def __init__(self):
            super().__init__()

    class Proc(multiprocessing.Process):
        pass

    class NotAThread:
        def __init__(self):
            self.t = None

        def start(self):
            pass

    def starts_all():
        Worker().start()
        SubWorker().start()
        p = Proc()
        p.start()
        n = NotAThread()
        n.start()
        t = threading.Thread(target=print)
        t.start()

    class Owner:
        def __init__(self):
            self._w = SubWorker()
            self._n = NotAThread()

        def go(self):
            self._w.start()
            self._n.start()
"""

def test_lw211_thread_subclass_calls_are_all_init_calls(fixtures_model, monkeypatch):
    def findings(m):
        return [f.to_dict() for f in lw211.check(m, Config(daemon_threads="report"))]

    small = _model({"app.py": SRC_THREADS})
    for m in (fixtures_model, small):
        fast = findings(m)

        # the plain candidates: the calls of every project ``__init__``
        def every_init(model, fid, memo):
            g = model.functions.get(fid)
            return g is not None and g.summary.name == "__init__"

        monkeypatch.setattr(lw211, "_thread_subclass_init", every_init)
        assert findings(m) == fast
        monkeypatch.undo()
    # SubWorker (its own __init__: found through it) thrown away and kept; a plain Thread
    assert {f["line"] for f in fast} == {25, 30, 35}, fast


SRC_LOCKS = """
    import signal
    import threading

    L = threading.Lock()
    M = threading.Lock()

    def leaks():
        L.acquire()
        if L.locked():
            return
        L.release()

    def never_released():
        M.acquire()

    def unresolved(x):
        x.acquire()   # a lock the linker cannot name: no acquisition, nothing to report
        return 1

    def handler(signum, frame):
        with L:
            pass

    def main():
        signal.signal(signal.SIGINT, handler)
        with L:
            pass
"""


class _Truthy(dict):
    """An empty acquisition table that reads as non-empty: the function is not skipped."""

    def __bool__(self):
        return True


def test_lw121_and_lw112_shortcuts_are_the_plain_checks(fixtures_model, monkeypatch):
    def findings(rule, m):
        return [f.to_dict() for f in rule.check(m, Config())]

    small = _model({"app.py": SRC_LOCKS})
    for m in (fixtures_model, small):
        fast = {rule: findings(rule, m) for rule in (lw102, lw112, lw121)}
        monkeypatch.setattr(type(m), "effect_fids", lambda self: set(self.functions))
        m.__dict__.pop("_acquiring_functions", None)
        empty = [fi for fi in m.functions.values() if not fi.acqs]
        for fi in empty:
            fi.acqs = _Truthy()
        try:
            assert len(m.acquiring_functions()) == len(m.functions)   # every function visited
            for rule in (lw102, lw112, lw121):
                assert findings(rule, m) == fast[rule], rule
        finally:
            for fi in empty:
                fi.acqs = {}
            m.__dict__.pop("_acquiring_functions", None)
            monkeypatch.undo()
        fast121, fast112 = fast[lw121], fast[lw112]
    assert {f["line"] for f in fast121} == {9, 15}, fast121
    assert [f["line"] for f in fast112] == [22], fast112


SRC_CORO = """
    import asyncio

    async def work():
        await asyncio.sleep(0)

    async def agen():
        yield 1

    def plain():
        return 1

    async def main():
        work()          # never awaited: LW204
        agen()
        plain()
        await work()
"""


def test_lw204_coroutine_callees_are_every_callee(fixtures_model, monkeypatch):
    def findings(m):
        return [f.to_dict() for f in lw204.check(m, Config())]

    small = _model({"app.py": SRC_CORO})
    for m in (fixtures_model, small):
        fast = findings(m)
        # every function taken for a coroutine function: is_plain alone decides
        monkeypatch.setattr(type(m), "async_functions", lambda self: self.sorted_functions())
        assert findings(m) == fast
        monkeypatch.undo()
    assert [f["line"] for f in fast] == [14], fast
