"""The plugin's join, two defects from the runtime cross-check on real suites (docs/real-world.md,
"Runtime cross-check", repros r1 and r2), each in a fresh pytest subprocess (pytester):

- ``missed_by_static`` lists only orders between locks the project's own code created: not a
  thread pool's internal locks (keyed by the project line that built the executor), not a
  lock sited at "<frozen importlib._bootstrap>" (made while a stdlib module was imported);
- a loop block seen by both halves is one confirmed hazard although the tracer places it at
  the helper's blocking line and the static LW201 at the coroutine's call: when the runtime
  place is on the static witness and the runtime stack runs through one of the finding's
  coroutine calls. The joined record says which location matched (``confirmed_at``).
"""

from __future__ import annotations

import json
import os

import pytest

from lockwatch.findings import Finding, Location
from lockwatch.plugin.join import join
from lockwatch.plugin.xdist import OrderGraph

pytest_plugins = ["pytester"]

TIMEOUT = 90


@pytest.fixture(scope="module")
def scan_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("lockwatch-cache")


def _run(pytester, cache, name: str, text: str) -> dict:
    (pytester.path / "lockwatch.toml").write_text(f'cache-dir = "{cache}"\njobs = 1\n')
    pytester.makepyfile(**{name: text})
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch",
                                      "--lockwatch-report=r.json", timeout=TIMEOUT)
    r.assert_outcomes(passed=1)
    return json.loads((pytester.path / "r.json").read_text())


def _lw201(rep: dict, origin: str) -> dict:
    (f,) = [f for f in rep["findings"] if f["code"] == "LW201" and f["origin"] == origin]
    return f


# ---------------------------------------------------------------- r1: missed_by_static

POOL_ONLY = '''
from concurrent.futures import ThreadPoolExecutor


def square(x):
    return x * x


def test_pool_maps():
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(square, range(4))) == [0, 1, 4, 9]
'''

# the project's own order, hidden from the static graph (the inner lock comes out of a
# dict), taken on an executor thread next to the executor's internal locks
POOL_AND_PROJECT_ORDER = '''
import threading
from concurrent.futures import ThreadPoolExecutor

LOCKS = {
    "a": threading.Lock(),
    "b": threading.Lock(),
}


def nested(outer, inner):
    with LOCKS[outer]:
        with LOCKS[inner]:
            return True


def test_nested_in_worker():
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(nested, "a", "b").result()
'''

# a Condition the project makes (its inner RLock is created inside threading.py, keyed
# "test_cond.py:N (threading.py:M)"), known to the static side, nested with a plain lock
# through a call the static side cannot follow
CONDITION_ORDER = '''
import threading


class Box:
    def __init__(self):
        self.cond = threading.Condition()
        self.lock = threading.Lock()

    def inner(self):
        with self.lock:
            return True

    def outer(self, how):
        with self.cond:
            return getattr(self, how)()


def test_cond_then_lock():
    assert Box().outer("inner")
'''


def test_executor_internal_locks_are_not_missed_by_static(pytester, scan_cache):
    rep = _run(pytester, scan_cache, "test_pool", POOL_ONLY)
    # before: 4 entries, the executor's shutdown locks and its worker-start Event's lock,
    # two of them at "<frozen importlib._bootstrap>:241"
    assert rep["missed_by_static"] == []


def test_project_order_on_an_executor_thread_stays_and_alone(pytester, scan_cache):
    rep = _run(pytester, scan_cache, "test_proj", POOL_AND_PROJECT_ORDER)
    missed = [(m["from"], m["to"]) for m in rep["missed_by_static"]]
    # before: the same entry and the executor's 4 next to it
    assert missed == [("test_proj.py:5", "test_proj.py:6")]


def test_project_order_stays_listed(pytester, scan_cache):
    # twin of the above: the project's own entry is there with or without the change
    rep = _run(pytester, scan_cache, "test_proj", POOL_AND_PROJECT_ORDER)
    (m,) = [m for m in rep["missed_by_static"] if m["from"] == "test_proj.py:5"]
    assert m["to"] == "test_proj.py:6"
    assert m["reason"].startswith("lock not known to the static analyser")
    assert m["tests"] == ["test_proj.py::test_nested_in_worker"]


def test_condition_the_project_made_stays_listed(pytester, scan_cache):
    # twin: a lock made by a stdlib wrapper (Condition's RLock) on the project's line, that
    # the static side knows there, is the project's
    rep = _run(pytester, scan_cache, "test_cond", CONDITION_ORDER)
    (m,) = rep["missed_by_static"]
    assert m["from"].startswith("test_cond.py:6 (threading.py:") and m["to"] == "test_cond.py:7"
    assert m["reason"] == "edge not in the static lock graph"


def test_frozen_pseudo_path_is_not_a_project_file(tmp_path, monkeypatch):
    # a lock sited at an import-time pseudo-path with no stdlib tail (not what the tracer
    # makes today, but nothing may read "<frozen ...>" as a file under the root)
    from lockwatch.findings import Report
    from lockwatch.plugin.join import StaticSide

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.py").write_text("import threading\na = threading.Lock()\n")
    g = OrderGraph()
    for a, b in (("p.py:2", "<frozen importlib._bootstrap>:241"),
                 ("<frozen importlib._bootstrap>:241", "p.py:2")):
        g.add({"from": a, "to": b, "path": "p.py", "line": 2, "tests": ["t"]})
    rep = join(StaticSide(report=Report("static")), [], g, None)
    assert rep.extra["missed_by_static"] == []


# ---------------------------------------------------------------- r2: LW201 in both halves

THROUGH_HELPER = '''
import asyncio
import threading
import time


def wait_for_worker():
    t = threading.Thread(target=time.sleep, args=(0.3,))
    t.start()
    t.join()


async def main():
    wait_for_worker()


def test_blocks_loop():
    asyncio.run(main())
'''

# the static finding is at the first coroutine's call (never run), the one the test runs is
# among its related locations ("second also calls ...")
OTHER_COROUTINE_LISTED = '''
import asyncio
import threading
import time


def wait_for_worker():
    t = threading.Thread(target=time.sleep, args=(0.3,))
    t.start()
    t.join()


async def first():
    wait_for_worker()


async def second():
    wait_for_worker()


def test_blocks_loop():
    asyncio.run(second())
'''

# twin: the static LW201 is in a coroutine no test runs; the block comes from a coroutine
# the static side does not see reach the helper (through an attribute), down the same
# helper chain (outer -> wait_for_worker)
UNSEEN_COROUTINE = '''
import asyncio
import threading
import time


def wait_for_worker():
    t = threading.Thread(target=time.sleep, args=(0.3,))
    t.start()
    t.join()


def outer():
    wait_for_worker()


async def never_run():
    outer()


class Box:
    pass


async def main():
    box = Box()
    box.fn = outer
    box.fn()


def test_blocks_loop():
    asyncio.run(main())
'''

# twin: the block is written in the coroutine, both halves at the same line (joined before)
IN_COROUTINE = '''
import asyncio
import time


async def main():
    time.sleep(0.3)


def test_blocks_loop():
    asyncio.run(main())
'''


def test_loop_block_through_a_helper_is_confirmed_in_both_halves(pytester, scan_cache):
    rep = _run(pytester, scan_cache, "test_r2", THROUGH_HELPER)
    st, rt = _lw201(rep, "static"), _lw201(rep, "runtime")
    assert (st["line"], rt["line"]) == (13, 9)
    assert st["confirmed"] is True and rt["confirmed"] is True
    want = {"path": "test_r2.py", "line": 9, "witness": "related",
            "note": "... which calls threading.Thread.join"}
    assert st["confirmed_at"] == want and rt["confirmed_at"] == want
    assert st["tests"] == ["test_r2.py::test_blocks_loop"]


def test_loop_block_from_another_listed_coroutine_is_confirmed(pytester, scan_cache):
    rep = _run(pytester, scan_cache, "test_r2b", OTHER_COROUTINE_LISTED)
    st, rt = _lw201(rep, "static"), _lw201(rep, "runtime")
    assert st["line"] == 13 and (17, "second also calls") in {
        (l["line"], l["note"][:17]) for l in st["related"]}
    assert rt["line"] == 9
    assert st["confirmed"] is True and rt["confirmed"] is True
    assert rt["confirmed_at"]["witness"] == "related" and rt["confirmed_at"]["line"] == 9


def test_loop_block_from_a_coroutine_the_finding_does_not_name_stays_unconfirmed(pytester, scan_cache):
    rep = _run(pytester, scan_cache, "test_r2t", UNSEEN_COROUTINE)
    st, rt = _lw201(rep, "static"), _lw201(rep, "runtime")
    # the runtime place (the join) and a frame (outer's call) are on the static witness,
    # but no coroutine call of the finding is on the runtime stack
    assert st["line"] == 17 and rt["line"] == 9
    assert {9, 13} <= {l["line"] for l in st["related"]}
    assert st["executed"] is False
    assert st["confirmed"] is False and rt["confirmed"] is False
    assert "confirmed_at" not in st and "confirmed_at" not in rt


def test_loop_block_in_the_coroutine_stays_confirmed(pytester, scan_cache):
    rep = _run(pytester, scan_cache, "test_r2c", IN_COROUTINE)
    st, rt = _lw201(rep, "static"), _lw201(rep, "runtime")
    assert st["line"] == rt["line"] == 6
    assert st["confirmed"] is True and rt["confirmed"] is True


def test_loop_block_join_unit_needs_the_stack(tmp_path, monkeypatch):
    # the same two findings without a runtime stack: the place alone does not join them
    from lockwatch.findings import Report
    from lockwatch.plugin.join import StaticSide

    monkeypatch.chdir(tmp_path)
    st = Finding(code="LW201", kind="blocking-in-async", severity="warning", message="s",
                 path="m.py", line=14, related=[Location("m.py", 14, 5, "main calls h"),
                                                Location("m.py", 10, 5, "... which calls x")])
    rt = Finding(code="LW201", kind="blocking-in-async", severity="warning", message="r",
                 path="m.py", line=10, stacks=[["m.py:10 in h"]])
    side = StaticSide(report=Report("static", findings=[st]), coroutine_calls={
        os.path.abspath("m.py") + ":14"})
    join(side, [rt], OrderGraph(), None)
    assert st.confirmed is False and rt.confirmed is False
    rt.stacks = [["m.py:14 in main", "m.py:10 in h"]]
    join(side, [rt], OrderGraph(), None)
    assert st.confirmed is True and rt.confirmed is True
