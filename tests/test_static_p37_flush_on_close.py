"""P37 (fifth real-world batch, docs/real-world.md): a close-time flush loop is not the
queue's consumer (LW401).

aio-pika's ``QueueIterator`` feeds an unbounded ``asyncio.Queue`` from the broker's consumer
callback; its consumer is ``__anext__`` (one delivery per step of the caller's ``async
for``: unknown to the rule, so not reported). LW401 took ``_on_close``'s "nack what is left"
loop, which runs after ``cancel()`` has stopped the feed, for a slow consumer; with that
loop set aside, ``RobustQueueIterator.__anext__``'s ``while True`` retry loop, which returns
the one delivery it took, was the next false consumer. A loop that ends once the queue is
empty in a close path, or that returns the item it took, is not a consumer now; a steady
consumer loop next to such a flush is still reported. Every case runs through both
summarisers."""

from __future__ import annotations

import pytest
from walks import WALKS, findings


def _lw401(files: dict[str, str], walk: str) -> list:
    # keyed by module name here: "pkg.mod" is the file pkg/mod.py
    by_path = {m.replace(".", "/") + ".py": src for m, src in files.items()}
    return sorted((f.location.path, f.location.line, tuple(r.note for r in f.related))
                  for f in findings(by_path, walk) if f.code == "LW401")


def _both(files: dict[str, str]) -> list:
    a = _lw401(files, "ast")
    assert a == _lw401(files, "cst")
    return a


# the callback feed shared by every case: the broker calls on_message once per delivery
HEAD = """
import asyncio
import collections
import queue


class It:
    def __init__(self, amqp_queue, handler):
        self._amqp_queue = amqp_queue
        self._handler = handler
        self._queue = asyncio.Queue()
        self._ready = asyncio.Event()

    async def start(self):
        self._tag = await self._amqp_queue.consume(self.on_message)

    async def on_message(self, message):
        await self._queue.put(message)
        self._ready.set()
"""

FLUSH_IN_CLOSE = """
    async def _on_close(self, _q, _exc):
        await self._amqp_queue.cancel(self._tag)
        while not self._queue.empty():
            msg = self._queue.get_nowait()
            await msg.nack(requeue=True)
"""

# not named like a close path: the cancel() before the loop says the feed has ended
FLUSH_AFTER_CANCEL = """
    async def reject_pending(self):
        await self._amqp_queue.cancel(self._tag)
        while self._queue.qsize():
            msg = self._queue.get_nowait()
            await msg.nack(requeue=True)
"""

FLUSH_EMPTY_BREAK = """
    async def __aexit__(self, *exc):
        while True:
            try:
                msg = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            await msg.nack(requeue=True)
"""

ANEXT_RETRY = """
    async def __anext__(self):
        while True:
            await self._ready.wait()
            if not self._queue.empty():
                msg = self._queue.get_nowait()
                if self._queue.empty():
                    self._ready.clear()
                return msg
            await asyncio.sleep(0.5)
"""

CONSUMER = """
    async def run(self):
        while True:
            msg = await self._queue.get()
            await self._handler(msg)
            await msg.ack()
"""

# the same until-empty loop, but nothing says the feed has ended: a batch consumer
BATCH_CONSUMER = """
    async def send_batch(self):
        while not self._queue.empty():
            msg = self._queue.get_nowait()
            await self._handler(msg)
"""

# a loop that returns only on a stop signal processes every other item itself
SENTINEL_CONSUMER = """
    async def run(self):
        while True:
            msg = await self._queue.get()
            if msg is None:
                return None
            await self._handler(msg)
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("drains", [
    [FLUSH_IN_CLOSE],
    [FLUSH_AFTER_CANCEL],
    [FLUSH_EMPTY_BREAK],
    [ANEXT_RETRY],
    [FLUSH_IN_CLOSE, ANEXT_RETRY],
], ids=["close", "after_cancel", "empty_break", "anext_retry", "close_and_anext"])
def test_flush_and_one_item_per_call_are_not_consumers(walk, drains):
    assert _lw401({"m": HEAD + "".join(drains)}, walk) == []


@pytest.mark.parametrize("drains,consumer", [
    ([FLUSH_IN_CLOSE, CONSUMER], "It.run"),
    ([CONSUMER, FLUSH_IN_CLOSE], "It.run"),
    ([ANEXT_RETRY, CONSUMER], "It.run"),
    ([BATCH_CONSUMER], "It.send_batch"),
    ([SENTINEL_CONSUMER], "It.run"),
], ids=["flush_then_consumer", "consumer_then_flush", "anext_then_consumer", "batch", "sentinel"])
def test_a_steady_consumer_next_to_them_is_still_reported(drains, consumer):
    got = _both({"m": HEAD + "".join(drains)})
    assert len(got) == 1, got
    path, line, notes = got[0]
    assert (path, line) == ("m.py", 11)
    # the witness is the consumer's loop, never the flush
    assert f"{consumer} drains it" in notes, notes
    assert not any(n.startswith(("It._on_close", "It.__anext__")) for n in notes), notes


DEQUE_HEAD = """
import collections
import socket


class Conn:
    def __init__(self, addr):
        self._sock = socket.create_connection(addr)
        self._out = collections.deque()

    def data_received(self, data):
        self._out.append(data)
"""

DEQUE_CLOSE = """
    def close(self):
        while self._out:
            self._sock.sendall(self._out.popleft())
        self._sock.close()
"""

DEQUE_WRITER = """
    def write_ready(self):
        while self._out:
            self._sock.sendall(self._out.popleft())
"""


def test_deque_flushed_at_close_is_clean_and_its_writer_loop_is_not():
    assert _both({"m": DEQUE_HEAD + DEQUE_CLOSE}) == []
    got = _both({"m": DEQUE_HEAD + DEQUE_CLOSE + DEQUE_WRITER})
    assert [(p, ln) for p, ln, _ in got] == [("m.py", 9)]
    assert "Conn.write_ready drains it" in got[0][2]
