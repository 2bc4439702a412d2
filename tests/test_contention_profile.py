"""The contention profile (lockwatch.runtime.contention): only contended acquisitions are
timed, rows are lock classes sorted by total wait, holds of waited-for acquisitions timed.
Each scenario runs under ``lockwatch run`` in a subprocess (tracer installed for real)."""

from __future__ import annotations

import os
import sys

from tests.runtime_helpers import ROOT, run

# Thread A holds `hot` while B is made to wait for it (an Event orders them, so B's
# acquisition is contended on every run); `cold` is only ever taken uncontended.
HOT_AND_COLD = """
import threading, time
hot = threading.Lock()
cold = threading.Lock()
held = threading.Event()

def a():
    with hot:
        held.set()
        time.sleep(0.3)   # long enough for b() to be waiting even on a loaded machine

def b():
    held.wait()
    with hot:              # waits for a() to release
        time.sleep(0.02)   # this hold is timed: it had to wait

for _ in range(200):
    with cold:
        pass
ta, tb = threading.Thread(target=a), threading.Thread(target=b)
ta.start(); tb.start(); ta.join(); tb.join()
"""


def _rows(res):
    assert res.report is not None, res.explain()
    prof = res.report["contention"]
    return prof, {r["created"].rsplit("/", 1)[-1]: r for r in prof["locks"]}


def test_contended_lock_is_profiled_and_the_uncontended_one_is_not(tmp_path):
    res = run(tmp_path, HOT_AND_COLD)
    prof, rows = _rows(res)
    assert prof["sorted_by"] == "total wait"
    # `cold` (line 4) never waits. The Event's own lock (line 5) may: a()'s set() and b()'s
    # wait() take it at about the same moment on some runs (seen on 3.12), a real, tiny wait.
    assert list(rows)[0] == "prog.py:3" and "prog.py:4" not in rows, res.explain()
    assert set(rows) <= {"prog.py:3", "prog.py:5"}, res.explain()
    hot = rows["prog.py:3"]
    assert hot["lock"] == "hot"
    assert hot["contended"] == 1 and hot["timed_out"] == 0
    assert hot["wait"]["count"] == 1
    # b() waited for the rest of a()'s 300 ms hold and then held it itself for 20 ms:
    # lower bounds guaranteed by the sleeps (no upper bounds: the machine may be slow)
    assert hot["wait"]["max_ms"] > 5
    assert hot["hold"]["count"] == 1 and hot["hold"]["max_ms"] >= 15
    assert hot["acquisitions"] >= 1


def test_rows_are_sorted_by_total_wait(tmp_path):
    src = """
    import threading, time
    small = threading.Lock()
    big = threading.Lock()

    def hold(lock, secs, ev):
        with lock:
            ev.set()
            time.sleep(secs)

    def contend(lock, secs):
        ev = threading.Event()
        t = threading.Thread(target=hold, args=(lock, secs, ev))
        t.start()
        ev.wait()
        with lock:
            pass
        t.join()

    contend(small, 0.1)
    contend(big, 0.6)
    contend(small, 0.1)
    """
    res = run(tmp_path, src)
    prof, rows = _rows(res)
    # (the Events' internal condition locks may show up too: they are contended as well)
    names = [r["lock"] for r in prof["locks"] if r["lock"] in ("big", "small")]
    assert names == ["big", "small"], res.explain()
    assert rows["prog.py:3"]["contended"] == 2


def test_rlock_hold_is_timed_once_for_nested_entries_and_timeouts_are_counted(tmp_path):
    src = """
    import threading, time
    r = threading.RLock()
    ev = threading.Event()

    def holder():
        with r:
            ev.set()
            time.sleep(0.3)

    t = threading.Thread(target=holder)
    t.start()
    ev.wait()
    assert not r.acquire(timeout=0.001)   # times out: counted, not an acquisition
    with r:                               # waits, then re-enters twice
        with r:
            with r:
                time.sleep(0.01)
    t.join()
    """
    res = run(tmp_path, src)
    prof, rows = _rows(res)
    row = rows["prog.py:3"]
    assert row["timed_out"] == 1, res.explain()
    assert row["contended"] == 1
    assert row["hold"]["count"] == 1 and row["hold"]["max_ms"] >= 8
    assert row["acquisitions"] == 1   # the nested re-entries are one hold


def test_program_without_contention_gets_an_empty_profile(tmp_path):
    res = run(tmp_path, """
    import threading
    a = threading.Lock()
    for _ in range(1000):
        with a:
            pass
    """)
    prof, rows = _rows(res)
    assert prof["locks"] == [] and prof["contended_classes"] == 0


def test_demo_names_the_hot_lock_first(tmp_path):
    demo = os.path.join(ROOT, "benchmarks", "hot_lock_demo.py")
    src = open(demo, encoding="utf-8").read()
    res = run(tmp_path, src, args=("--threads", "3", "--requests", "80"), name="hot_lock_demo.py")
    prof, rows = _rows(res)
    assert prof["locks"], res.explain()
    assert prof["locks"][0]["lock"] == "METRICS_LOCK", prof["locks"]


def test_profile_text_table_lists_the_top_lock():
    sys.path.insert(0, ROOT)
    from lockwatch.runtime.contention import format_text

    prof = {"locks": [{"lock": "HOT", "class": "a.py:3", "created": "pkg/a.py:3", "acquisitions": 10,
                       "contended": 4, "wait": {"total_ms": 12.5, "median_ms": 3.0, "p99_ms": 4.0, "max_ms": 4.0},
                       "hold": {"median_ms": 1.0, "p99_ms": 2.0, "max_ms": 2.0}}]}
    text = format_text(prof)
    assert "HOT (a.py:3)" in text and "12.5ms" in text
    assert format_text({"locks": []}) == "contention: no lock was contended"


def test_asyncio_lock_waits_are_profiled(tmp_path):
    src = """
    import asyncio

    async def main():
        lock = asyncio.Lock()

        async def holder(ready):
            async with lock:
                ready.set()
                await asyncio.sleep(0.05)

        ready = asyncio.Event()
        t = asyncio.create_task(holder(ready))
        await ready.wait()
        async with lock:       # waits for holder()
            pass
        await t

    asyncio.run(main())
    """
    res = run(tmp_path, src)
    prof, rows = _rows(res)
    row = rows.get("prog.py:5")
    assert row is not None, res.explain()
    assert row["kind"] == "async-lock" and row["contended"] == 1
    assert row["wait"]["max_ms"] > 5 and row["hold"]["count"] == 0
