"""Release analysis (LW121) and dead branches, in both summarisers, from false alarms read on
real packages (docs/real-world.md P17, P18, P22), each next to the twin that must stay
reported. Each case checks the acquire site's status in the ast *and* the libcst walk, and
what the scan reports."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.static import engine, summarise_cst
from lockwatch.static.summarise_ast import summarise_tree


def statuses(source: str) -> tuple[list, list]:
    source = textwrap.dedent(source)
    tree = compile(source, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    a = summarise_tree(tree, source, "m.py", "m", False)
    c = summarise_cst.summarise_module(source, "m.py", "m", False)

    def sites(s):
        return [(site["status"], site["at"]) for f in s.functions.values() for site in f.acquire_sites]

    return sites(a), sites(c)


def codes(source: str) -> list[tuple[str, int]]:
    report = engine.scan_sources({"m.py": textwrap.dedent(source)})
    return [(f.code, f.line) for f in report.findings]


HEAD = """
import threading

class Q:
    def __init__(self):
        self._lock = threading.Lock()
        self._items = []
        self._closed = False
"""

# P18 (watchdog DelayedQueue.get): the closed branch releases and returns, the rest releases
RELEASE_THEN_RETURN = HEAD + """
    def get(self):
        self._lock.acquire()
        if self._closed:
            self._lock.release()
            return None
        head = self._items
        self._lock.release()
        return head
"""


@pytest.mark.parametrize("source, expected, found", [
    (RELEASE_THEN_RETURN, ("ok", None), []),
    # twin: the branch returns holding it
    (RELEASE_THEN_RETURN.replace("            self._lock.release()\n            return None",
                                 "            return None"), ("early-exit", 13), [("LW121", 11)]),
    # twin: the rest never releases: only the branch does
    (RELEASE_THEN_RETURN.replace("        head = self._items\n        self._lock.release()",
                                 "        head = self._items"), ("partial", 12), [("LW121", 11)]),
    # a call before the release in the branch: an exception there leaves it held
    (RELEASE_THEN_RETURN.replace("            self._lock.release()\n            return None",
                                 "            print('closed')\n            self._lock.release()\n            return None"),
     ("no-finally", None), [("LW121", 11)]),
    # an elif that releases and raises, an else that falls through holding it
    (RELEASE_THEN_RETURN.replace("        if self._closed:\n            self._lock.release()\n            return None",
                                 "        if self._closed:\n            self._lock.release()\n            return None\n"
                                 "        elif self._items is None:\n            self._lock.release()\n            raise ValueError\n"
                                 "        else:\n            pass"), ("ok", None), []),
])
def test_a_branch_that_releases_and_leaves_closes_its_path(source, expected, found):
    a, c = statuses(source)
    assert a == c == [expected]
    assert codes(source) == found


# P22 (redis-py ConnectionPool._checkpid): a timed acquire's result tested before the try
TIMED = HEAD + """
    def reset(self):
        ok = self._lock.acquire(timeout=5)
        if not ok:
            raise RuntimeError("child deadlocked")
        try:
            self._items = []
        finally:
            self._lock.release()
"""


@pytest.mark.parametrize("source, expected, found", [
    (TIMED, ("ok", None), []),
    (TIMED.replace("if not ok:", "if ok is False:"), ("ok", None), []),
    # twin: the test is of something else: the raise leaves with the lock held
    (TIMED.replace("if not ok:", "if not self._items:"), ("early-exit", 13), [("LW121", 11)]),
    # twin: raising when it *was* acquired
    (TIMED.replace("if not ok:", "if ok:"), ("early-exit", 13), [("LW121", 11)]),
])
def test_the_path_where_a_timed_acquire_failed_holds_nothing(source, expected, found):
    a, c = statuses(source)
    assert a == c == [expected]
    assert codes(source) == found


# P17 (psycopg-pool's generated async pool): `if False:` code never runs
DEAD = """
import asyncio

async def agather(*tasks):
    await asyncio.gather(*tasks)

class Pool:
    def __init__(self):
        self._workers = []

    if False:
        def __del__(self):
            agather(*self._workers)

    def close(self):
        if 0:
            agather(*self._workers)
        else:
            pass
"""


def test_code_under_if_false_is_not_analysed():
    assert codes(DEAD) == []
    live = DEAD.replace("    if False:\n        def __del__", "    if True:\n        def __del__")
    assert codes(live) == [("LW204", 13)]
    live2 = DEAD.replace("        if 0:\n", "        if self._workers:\n")
    assert codes(live2) == [("LW204", 17)]
