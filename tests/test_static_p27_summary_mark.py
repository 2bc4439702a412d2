"""P27 (third real-world batch, docs/real-world.md), the summary's half: a call right after an
``async def``'s ``while q.empty(): ... await ...`` loop carries ``ne`` (the queue ref that
loop left non-empty).

In a coroutine, between the loop's last test and the next call nothing else runs on the
loop: a ``q.get()`` there (Dask's ``as_completed._anext``, directly or through the sync
helper ``_get_and_raise``) finds the item. The mark goes on the first call after the loop
only, when nothing but reads comes between (no await, write, lock operation), in the same
loop depth, and the call is a statement's own (returned, assigned, discarded); the loop has
no ``break`` (it may stop with the queue empty) nor ``else``; the function is an ``async
def``. Every case checks that the ast walk and the libcst walk give the same summary."""

from __future__ import annotations

import textwrap

import pytest
from walks import same_summary

HEAD = """
import asyncio
import queue


class AsCompleted:
    def __init__(self):
        self.queue = queue.Queue()
        self.other = queue.Queue()
        self.condition = asyncio.Condition()
        self.futures = set()
"""


def _calls(body: str, func: str = "AsCompleted.get") -> list:
    src = textwrap.dedent(HEAD) + textwrap.indent(textwrap.dedent(body), "    ")
    s = same_summary(src)
    return [(ev["f"], ev.get("ne")) for ev in s["functions"][func]["events"] if ev["e"] == "call"]


def _marked(body: str, func: str = "AsCompleted.get") -> list:
    return [(f, ne) for f, ne in _calls(body, func) if ne is not None]


DASK = """
async def get(self):
    while self.queue.empty():
        if not self.futures:
            raise StopAsyncIteration
        async with self.condition:
            await self.condition.wait()
    return self.queue.get()
"""


def test_get_right_after_the_loop_is_marked():
    assert _marked(DASK) == [("@self.queue.get", ["@self.queue"])]


def test_helper_call_right_after_the_loop_is_marked():
    # distributed's shape: the get is in the sync helper the coroutine returns through
    body = DASK.replace("return self.queue.get()", "return self._get_and_raise()")
    assert _marked(body) == [("@self._get_and_raise", ["@self.queue"])]


def test_qsize_test_and_a_local_queue():
    body = """
    async def get(self, q):
        while not q.qsize():
            await asyncio.sleep(0.1)
        item = q.get()
        return item
    """
    assert _marked(body) == [("q.get", ["q"])]


def test_reads_between_are_fine():
    body = DASK.replace("    return self.queue.get()", "    q = self.queue\n    return q.get()")
    assert _marked(body) == [("@self.queue.get", ["@self.queue"])]


@pytest.mark.parametrize("body", [
    # a plain def run by threads: another consumer may take the item in between
    DASK.replace("async def get", "def get").replace("async with", "with").replace("await ", ""),
    # an await between the loop and the get: another task may take the item
    DASK.replace("    return self.queue.get()", "    await asyncio.sleep(0)\n    return self.queue.get()"),
    # the loop may stop with the queue empty
    DASK.replace("            raise StopAsyncIteration", "            break"),
    # an else clause runs between
    DASK.replace("    return self.queue.get()", "    else:\n        self.ready = True\n    return self.queue.get()"),
    # the test is not the emptiness test alone
    DASK.replace("while self.queue.empty():", "while self.queue.empty() and self.futures:"),
    # a queue reached through a call may be another object at the get
    DASK.replace("self.queue.empty()", "self.current().empty()"),
    # the attribute rebound between the loop and the get
    DASK.replace("    return self.queue.get()", "    self.queue = self.other\n    return self.queue.get()"),
    # the get in a loop after: the second round may find the queue empty
    DASK.replace("    return self.queue.get()", "    while True:\n        item = self.queue.get()"),
    # the get as an argument, or after another call
    DASK.replace("return self.queue.get()", "return self.handle(self.queue.get())"),
], ids=["plain-def", "await-between", "break", "else", "and-test", "called-ref", "rebound",
        "get-in-loop", "argument"])
def test_no_mark_on_the_get(body):
    assert not [f for f, ne in _marked(body) if f == "@self.queue.get"]


def test_only_the_first_call_takes_the_mark():
    body = DASK.replace("    return self.queue.get()", "    self.log()\n    return self.queue.get()")
    assert _marked(body) == [("@self.log", ["@self.queue"])]
    body = DASK.replace("    return self.queue.get()",
                        "    first = self.queue.get()\n    second = self.queue.get()\n    return first, second")
    assert _marked(body) == [("@self.queue.get", ["@self.queue"])]
    assert _calls(body)[-1] == ("@self.queue.get", None)


def test_the_mark_ends_with_the_block():
    # the loop ran only when the branch did: after the ``if`` the queue may be empty
    body = """
    async def get(self, wait):
        if wait:
            while self.queue.empty():
                await asyncio.sleep(0.1)
        return self.queue.get()
    """
    assert _marked(body) == []


def test_another_queue_keeps_the_loops_ref():
    # the mark names the queue the loop tested; the rule compares it with the call's
    body = DASK.replace("return self.queue.get()", "return self.other.get()")
    assert _marked(body) == [("@self.other.get", ["@self.queue"])]
