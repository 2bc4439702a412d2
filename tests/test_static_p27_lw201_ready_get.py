"""P27 (third real-world batch, docs/real-world.md), LW201's half: ``queue.Queue.get()`` right
after a coroutine's ``while q.empty(): ... await ...`` loop does not block the loop.

On the loop thread, between the loop's last emptiness test and the ``get()`` no other task
runs (no await in between), so the item the test saw is still there (Dask's
``as_completed._anext``, through its sync helper ``_get_and_raise``). The summary marks the
call made right after the loop (events' ``ne``, see test_static_p27_summary_mark.py);
``asyncflow`` does not take a marked ``get()`` of that queue for blocking, in the coroutine
itself or as the first call of a sync method it calls on the same ``self``. The twins stay
reported: an await in between, another queue, a loop that may stop with the queue empty, a
helper whose get is not its first call, a multiprocessing queue, and the thread code (Dask's
``clear()``, LW131). Every case runs through both summarisers."""

from __future__ import annotations

import textwrap

import pytest
from walks import findings

HEAD = """
import asyncio
import multiprocessing
import queue
import threading


class AsCompleted:
    def __init__(self):
        self.queue = queue.Queue()
        self.other = queue.Queue()
        self.procs = multiprocessing.Queue()
        self.condition = asyncio.Condition()
        self.lock = threading.Lock()
        self.futures = set()

    def _get_and_raise(self):
        res = self.queue.get()
        if res.exception() is not None:
            raise res.exception()
        return res

    def _log_and_get(self):
        self.log_taken()
        return self.queue.get()

    def log_taken(self):
        pass
"""

DIRECT = """
async def anext(self):
    while self.queue.empty():
        if not self.futures:
            raise StopAsyncIteration
        async with self.condition:
            await self.condition.wait()
    return self.queue.get()
"""

HELPER = DIRECT.replace("return self.queue.get()", "return self._get_and_raise()")


def _codes(body: str, walk: str) -> list:
    src = textwrap.dedent(HEAD) + textwrap.indent(textwrap.dedent(body), "    ")
    lines = src.splitlines()
    return sorted((f.code, lines[f.location.line - 1].strip()) for f in findings({"m.py": src}, walk))


def _both(body: str) -> list:
    a = _codes(body, "ast")
    assert a == _codes(body, "cst")
    return a


@pytest.mark.parametrize("body", [
    DIRECT,
    HELPER,
    DIRECT.replace("while self.queue.empty():", "while not self.queue.qsize():"),
    # reads only between the loop and the get
    DIRECT.replace("    return self.queue.get()", "    q = self.queue\n    item = q.get()\n    return item"),
], ids=["direct", "helper", "qsize", "alias"])
def test_get_after_the_emptiness_loop_is_not_reported(body):
    assert _both(body) == []


@pytest.mark.parametrize("body, line", [
    # another task may run at the await and take the item
    (DIRECT.replace("    return self.queue.get()", "    await asyncio.sleep(0)\n    return self.queue.get()"),
     "return self.queue.get()"),
    (HELPER.replace("    return self._get_and_raise()", "    await asyncio.sleep(0)\n    return self._get_and_raise()"),
     "return self._get_and_raise()"),
    # the loop tested another queue
    (DIRECT.replace("return self.queue.get()", "return self.other.get()"), "return self.other.get()"),
    # the loop may stop with the queue empty
    (DIRECT.replace("while self.queue.empty():", "while self.queue.empty() and self.futures:"),
     "return self.queue.get()"),
    (DIRECT.replace("            raise StopAsyncIteration", "            break"), "return self.queue.get()"),
    # the helper calls something else first
    (DIRECT.replace("return self.queue.get()", "return self._log_and_get()"), "return self._log_and_get()"),
    # a second get in the coroutine
    (DIRECT.replace("    return self.queue.get()", "    first = self.queue.get()\n    return first, self.queue.get()"),
     "return first, self.queue.get()"),
    # a multiprocessing queue: other processes consume it too
    (DIRECT.replace("self.queue.", "self.procs."), "return self.procs.get()"),
], ids=["await-between", "await-before-helper", "other-queue", "and-test", "break", "helper-calls-first",
        "second-get", "multiprocessing"])
def test_twins_stay_reported(body, line):
    assert _both(body) == [("LW201", line)]


def test_thread_drain_under_a_lock_stays_reported():
    # Dask's clear(): run by threads; a consumer in another thread may take the item between
    # the test and the get (LW131, benign in docs/real-world.md C6, kept)
    body = """
    def clear(self):
        with self.lock:
            self.futures.clear()
            while not self.queue.empty():
                self.queue.get()
    """
    assert _both(body) == [("LW131", "self.queue.get()")]
