"""Queue backlogs at runtime (LW401, lockwatch.runtime.backlog): reported when an unbounded
queue passes the threshold and keeps rising while drained, with both stacks; not for a
queue filled first and drained later, not for a bounded queue; classes restored after."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.runtime_helpers import env, run

SLOW_CONSUMER = """
import queue, threading, time
jobs = queue.Queue()

def consume():
    while True:
        item = jobs.get()
        if item is None:
            return
        time.sleep(0.001)             # slow work per item

t = threading.Thread(target=consume, name="consumer")
t.start()
time.sleep(0.05)
for i in range(600):
    jobs.put(i)                       # fed in a burst
    if i % 100 == 0:
        time.sleep(0.005)             # let the consumer take a few
with jobs.mutex:
    jobs.queue.clear()
jobs.put(None)
t.join()
"""


def test_backlog_rising_while_drained_is_reported_with_both_stacks(tmp_path):
    res = run(tmp_path, SLOW_CONSUMER, "--backlog-threshold", "200")
    found = res.of("LW401")
    assert len(found) == 1, res.explain()
    f = found[0]
    assert f["kind"] == "unbounded-backlog"
    assert (f["path"], f["line"]) == ("prog.py", 3)   # where the queue is created
    notes = {r["note"].split(" (")[0]: r["line"] for r in f["related"]}
    assert notes == {"fed here": 16, "drained here": 7}
    producer, consumer = f["stacks"]
    assert producer[-1].startswith("prog.py:16 in <module>")
    assert any("in consume" in fr for fr in consumer)
    assert f["backlog"]["threshold"] == 200 and f["backlog"]["size"] >= 250
    section = res.report["backlog"]
    assert section["queues"][0]["created"] == "prog.py:3"
    assert section["queues"][0]["high_water"] >= 250


def test_default_threshold_is_not_reached_by_a_small_backlog(tmp_path):
    res = run(tmp_path, SLOW_CONSUMER)
    assert res.of("LW401") == [], res.explain()
    assert res.report["backlog"] == {"threshold": 5000, "queues": []}


def test_filled_first_drained_later_and_bounded_queues_are_clean(tmp_path):
    src = """
    import asyncio, queue, threading

    results = queue.Queue()
    def produce():
        for i in range(1000):
            results.put(i)            # nothing drains while it fills: collected for later
    t = threading.Thread(target=produce); t.start(); t.join()
    total = 0
    while not results.empty():
        total += results.get()

    bounded = queue.Queue(maxsize=2000)
    for i in range(1500):
        bounded.put(i)
    bounded.get()
    for i in range(400):
        bounded.put(i)

    async def main():
        q = asyncio.Queue()
        for i in range(1000):
            q.put_nowait(i)
        while not q.empty():
            q.get_nowait()
    asyncio.run(main())
    """
    res = run(tmp_path, src, "--backlog-threshold", "200")
    assert res.of("LW401") == [], res.explain()
    created = [q["created"] for q in res.report["backlog"]["queues"]]
    assert "prog.py:13" not in created     # bounded: never instrumented


def test_asyncio_queue_fed_faster_than_drained(tmp_path):
    src = """
    import asyncio

    async def main():
        q = asyncio.Queue()

        async def consume():
            while True:
                await q.get()
                await asyncio.sleep(0.001)

        c = asyncio.create_task(consume())
        for i in range(800):
            q.put_nowait(i)
            if i % 50 == 0:
                await asyncio.sleep(0)
        c.cancel()

    asyncio.run(main())
    """
    res = run(tmp_path, src, "--backlog-threshold", "200")
    found = res.of("LW401")
    assert len(found) == 1, res.explain()
    assert (found[0]["path"], found[0]["line"]) == ("prog.py", 5)
    assert "asyncio.Queue" in found[0]["message"]
    assert any("in consume" in fr for fr in found[0]["stacks"][1])


def test_install_and_uninstall_restore_the_queue_classes():
    code = textwrap.dedent("""
        import asyncio, queue
        before = {c: dict(vars(c)) for c in (queue.Queue, queue.PriorityQueue, queue.LifoQueue,
                                             asyncio.Queue, asyncio.PriorityQueue, asyncio.LifoQueue)}
        import lockwatch
        lockwatch.install()
        assert queue.Queue._put is not before[queue.Queue]["_put"]
        q = queue.PriorityQueue()
        q.put((2, "b")); q.put((1, "a"))
        assert q.get() == (1, "a")          # behaviour unchanged
        lockwatch.uninstall()
        for c, d in before.items():
            assert dict(vars(c)) == d, c
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_bad_threshold_is_a_usage_error(tmp_path):
    res = run(tmp_path, "pass\n", "--backlog-threshold", "0")
    assert res.returncode == 2, res.explain()


def test_consumer_that_died_on_an_error_is_reported_as_stopped(tmp_path):
    src = """
    import queue, threading

    jobs = queue.Queue()

    def consume():
        while True:
            item = jobs.get()
            if item == 5:
                raise ValueError("bad item")   # the consumer dies, nothing drains any more

    t = threading.Thread(target=consume)
    t.start()
    for i in range(10):
        jobs.put(i)
    t.join()
    for i in range(600):
        jobs.put(i)
    """
    res = run(tmp_path, src, "--backlog-threshold", "200")
    found = res.of("LW401")
    assert len(found) == 1, res.explain()
    f = found[0]
    assert "nothing has taken an item" in f["message"] and "ended" in f["message"]
    assert f["stacks"][1] == ["prog.py:8 in (last seen taking an item)"]
