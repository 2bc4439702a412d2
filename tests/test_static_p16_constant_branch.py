"""P16: a callee's blocking branch ruled out by a constant argument.

sentry-sdk's vendored queue: ``put_nowait(item)`` is ``put(item, block=False)``, and ``put``
waits on ``not_full`` only in the ``else`` of ``if not block:``. The summary records, per
event inside such a branch, which constants rule it out (``pg``); the composition of
effects over calls drops those events at a call passing such a constant. Every case is
checked with both summarisers (the ast walk and the libcst walk) and both must agree."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static import summarise_cst
from lockwatch.static.engine import analyse_summaries, module_name
from lockwatch.static.summarise_ast import summarise_tree

QUEUE = """
import threading


class Full(Exception):
    pass


class Queue:
    def __init__(self, maxsize):
        self.maxsize = maxsize
        self.items = []
        self.mutex = threading.Lock()
        self.not_full = threading.Condition(self.mutex)

    def put(self, item, block=True):
        with self.not_full:
            if not block:
                if len(self.items) >= self.maxsize:
                    raise Full()
            else:
                while len(self.items) >= self.maxsize:
                    self.not_full.wait()
            self.items.append(item)

    def put_nowait(self, item):
        return self.put(item, block=False)


class Worker:
    def __init__(self):
        self._lock = threading.Lock()
        self._queue = Queue(10)

    def kill(self):
        with self._lock:
            try:
                CALL
            except Full:
                pass
"""


def _summaries(files: dict[str, str], walk: str) -> dict:
    out = {}
    for path, src in files.items():
        src = textwrap.dedent(src)
        mod, is_pkg = module_name(path)
        if walk == "ast":
            tree = compile(src, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            out[mod] = summarise_tree(tree, src, path, mod, is_pkg)
        else:
            out[mod] = summarise_cst.summarise_module(src, path, mod, is_pkg)
    return out


def _findings(files: dict[str, str], walk: str, code: str = "LW131") -> list:
    rep = analyse_summaries(_summaries(files, walk), Config())
    return [(f.code, f.location.line) for f in rep.findings if f.code == code]


def _both(files: dict[str, str], code: str = "LW131") -> list:
    a = _findings(files, "ast", code)
    c = _findings(files, "cst", code)
    assert a == c
    return a


def _queue_with(call: str) -> dict[str, str]:
    return {"q.py": QUEUE.replace("CALL", call)}


def _line(src: str, text: str) -> int:
    """The line of ``text`` in ``src`` (what the findings are placed on)."""
    return next(i for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1) if text in ln)


CALL_LINE = _line(QUEUE, "CALL")


WALKS = ["ast", "cst"]


# ---------------------------------------------------------------------- the repro and its twin
@pytest.mark.parametrize("walk", WALKS)
def test_put_nowait_under_lock_is_not_reported(walk):
    assert _findings(_queue_with("self._queue.put_nowait(None)"), walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_blocking_put_under_lock_still_reported(walk):
    # block omitted: its default is True, and defaults are not summarised anyway
    assert _findings(_queue_with("self._queue.put(None)"), walk) == [("LW131", CALL_LINE)]


@pytest.mark.parametrize("call, reported", [
    ("self._queue.put(None, block=False)", False),
    ("self._queue.put(None, False)", False),      # by position, on a known receiver
    ("self._queue.put(None, block=True)", True),
    ("self._queue.put(None, True)", True),
    ("self._queue.put(None, block=None)", False),  # None is falsy: ``not block`` is true
    ("self._queue.put(None, block=0)", True),      # only True/False/None are taken as constants
    ("self._queue.put(None, block=flag)", True),   # not a constant
])
def test_direct_call_under_lock(call, reported):
    files = _queue_with(call.replace("flag", "self._flag"))
    assert bool(_both(files)) is reported


def test_positional_argument_after_star_args_is_not_mapped():
    # ``put(*items, False)``: with ``items`` empty, False is the item and block stays True
    assert _both(_queue_with("self._queue.put(*self._pending, False)")) == [("LW131", CALL_LINE)]


def test_positional_argument_caught_by_callee_star_args():
    # ``def put(self, item, *rest, block=True)``: put(x, False) puts False in rest; it waits
    files = {"q.py": QUEUE.replace("def put(self, item, block=True):",
                                   "def put(self, item, *rest, block=True):")
             .replace("CALL", "self._queue.put(None, False)")
             .replace("return self.put(item, block=False)", "return self.put(item, block=False)")}
    assert _both(files) == [("LW131", CALL_LINE)]
    files["q.py"] = files["q.py"].replace("self._queue.put(None, False)", "self._queue.put(None, block=False)")
    assert _both(files) == []


def test_rebound_parameter_rules_nothing_out():
    # a strict queue always blocks: ``block`` is reassigned before the test
    src = QUEUE.replace("""        with self.not_full:
            if not block:""", """        if self.strict:
            block = True
        with self.not_full:
            if not block:""").replace("CALL", "self._queue.put_nowait(None)")
    assert _both({"q.py": src}) == [("LW131", CALL_LINE + 2)]


def test_parameter_rebound_by_nested_function_rules_nothing_out():
    src = QUEUE.replace("""        with self.not_full:
            if not block:""", """        def force():
            nonlocal block
            block = True
        force()
        with self.not_full:
            if not block:""").replace("CALL", "self._queue.put_nowait(None)")
    assert _both({"q.py": src}) == [("LW131", CALL_LINE + 4)]


def test_and_test_rules_out_the_body():
    src = """
        import threading
        import time

        class Conn:
            def __init__(self):
                self._lock = threading.Lock()

            def close(self, wait=True, timeout=None):
                if wait and timeout is None:
                    time.sleep(1)

            def shutdown(self):
                with self._lock:
                    self.close(wait=False)

            def shutdown_timed(self):
                with self._lock:
                    self.close(timeout=5.0)

            def shutdown_now(self):
                with self._lock:
                    self.close(timeout=None)
    """
    # wait=False: the body needs wait true; timeout=5.0 is no constant of the three;
    # timeout=None leaves the body possible
    assert _both({"c.py": src}) == [("LW131", 19), ("LW131", 23)]


def test_is_none_test_rules_out_by_the_other_constants():
    src = """
        import threading
        import time

        class Poller:
            def __init__(self):
                self._lock = threading.Lock()

            def poll(self, timeout=None):
                if timeout is None:
                    time.sleep(1)

            def a(self):
                with self._lock:
                    self.poll(timeout=False)

            def b(self):
                with self._lock:
                    self.poll(None)
    """
    assert _both({"p.py": src}) == [("LW131", 19)]


def test_lock_taken_in_ruled_out_branch_makes_no_order_edge():
    src = """
        import threading

        A = threading.Lock()
        B = threading.Lock()

        def flush(sync):
            if sync:
                with B:
                    pass

        def one():
            with A:
                flush(SYNC)

        def two():
            with B:
                with A:
                    pass
    """
    assert _both({"m.py": src.replace("SYNC", "False")}, "LW101") == []
    assert _both({"m.py": src.replace("SYNC", "True")}, "LW101") != []


def test_unsure_receiver_binding_uses_keywords_only():
    # ``Queue.put(q, None, False)``: the receiver is passed explicitly; by keyword it is sure
    src = QUEUE.replace("CALL", "Queue.put(self._queue, None, False)")
    assert _both({"q.py": src}) == [("LW131", CALL_LINE)]
    src = QUEUE.replace("CALL", "Queue.put(self._queue, None, block=False)")
    assert _both({"q.py": src}) == []


def test_recursive_callee_with_constant_argument_terminates():
    src = """
        import threading
        import time

        L = threading.Lock()

        def drain(block, n):
            if block:
                time.sleep(1)
            if n:
                drain(False, n - 1)

        def f():
            with L:
                drain(False, 3)

        def g():
            with L:
                drain(True, 3)
    """
    assert _both({"r.py": src}) == [("LW131", 19)]


# ---------------------------------------------------------------------- the summary
def _events(src: str, fn: str, walk: str = "ast") -> list:
    ms = _summaries({"m.py": src}, walk)["m"]
    return ms.functions[fn].events


GUARDS = """
def f(block, timeout=None, *args, **kw):
    if block:
        a()
    else:
        b()
    if not block:
        c()
    if block is False:
        d()
    elif timeout is not None:
        e()
    if block and timeout == None:
        g()
    if block or timeout:
        h()
    else:
        i()
    if self_ish(block):
        j()
    if args:
        k()
    if block is 0:
        m()
    if block is None is timeout:
        n()
"""


@pytest.mark.parametrize("walk", WALKS)
def test_summary_records_which_constants_rule_a_branch_out(walk):
    calls = {ev["f"]: ev.get("pg") for ev in _events(GUARDS, "f", walk) if ev["e"] == "call"}
    assert calls["a"] == [["block", [False, None]]]
    assert calls["b"] == [["block", [True]]]
    assert calls["c"] == [["block", [True]]]
    assert calls["d"] == [["block", [True, None]]]
    assert calls["e"] == [["block", [False]], ["timeout", [None]]]
    assert calls["g"] == [["block", [False, None]], ["timeout", [True, False]]]
    assert calls["h"] is None      # either may make it true
    assert calls["i"] == [["block", [True]], ["timeout", [True]]]
    assert calls["j"] is None and calls["self_ish"] is None
    assert calls["k"] is None      # *args is no parameter a constant is passed for
    assert calls["m"] is None and calls["n"] is None
    fs = _summaries({"m.py": GUARDS}, walk)["m"].functions["f"]
    assert fs.guard_params == ["block", "timeout"]


def test_summary_guards_same_in_both_walks():
    a = _summaries({"m.py": GUARDS}, "ast")["m"].to_dict()
    c = _summaries({"m.py": GUARDS}, "cst")["m"].to_dict()
    assert a == c


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("rebind", [
    "block = 1",
    "block += 1",
    "for block in x: pass",
    "with x as block: pass",
    "import block",
    "(block := x)",
    "block = other",
    "try:\n        pass\n    except E as block:\n        pass",
])
def test_summary_drops_guard_on_rebound_parameter(walk, rebind):
    src = f"def f(block, other: int, x):\n    if other:\n        a()\n    if block:\n        b()\n    {rebind}\n"
    calls = {ev["f"]: ev.get("pg") for ev in _events(src, "f", walk) if ev["e"] == "call"}
    assert calls["b"] is None
    assert calls["a"] == [["other", [False, None]]]   # annotated, never rebound: kept
    assert _summaries({"m.py": src}, walk)["m"].functions["f"].guard_params == ["other"]


@pytest.mark.parametrize("walk", WALKS)
def test_summary_guard_is_per_function(walk):
    src = """
def outer(block):
    if block:
        def inner(x):
            wait()
        inner(1)
    def later(block):
        if block:
            pass
        go()
"""
    inner = [ev for ev in _events(src, "outer.<locals>.inner", walk) if ev["e"] == "call"]
    assert inner[0].get("pg") is None   # a nested function's events are not the branch's
    outer = {ev["f"]: ev.get("pg") for ev in _events(src, "outer", walk) if ev["e"] == "call"}
    assert outer["inner"] == [["block", [False, None]]]
    later = {ev["f"]: ev.get("pg") for ev in _events(src, "outer.<locals>.later", walk) if ev["e"] == "call"}
    assert later["go"] is None


@pytest.mark.parametrize("walk", WALKS)
def test_summary_marks_star_args_calls(walk):
    src = "def f(a, kw):\n    g(*a, 1)\n    g(1, **kw)\n    g(1, *a, k=2)\n"
    sa = [ev.get("sa") for ev in _events(src, "f", walk) if ev["e"] == "call"]
    assert sa == [1, None, 1]


def test_mutual_recursion_with_constant_arguments():
    src = """
        import threading
        import time

        L = threading.Lock()

        def pump(block, n):
            if block:
                time.sleep(1)
            if n:
                relay(n - 1)

        def relay(n):
            pump(False, n)

        def f():
            with L:
                relay(3)

        def g():
            with L:
                pump(True, 3)

        def h():
            with L:
                pump(False, 3)
    """
    assert _both({"r.py": src}) == [("LW131", _line(src, "pump(True, 3)"))]
