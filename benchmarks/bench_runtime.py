"""Runtime tracer overhead, as ratios against bare primitives measured in the same run.

    python benchmarks/bench_runtime.py [--reps 9] [--n 200000] [--json FILE]

1. Per uncontended acquire+release (``with lock:``), ns and ratio to a bare lock:
   threading.Lock with nothing held, with one other lock held, RLock, asyncio.Lock.
   Bare and instrumented runs are interleaved, each figure is the median of --reps.
2. A lock-heavy mixed workload (Lock, RLock, Queue, Condition, asyncio.Lock/Queue) as a
   whole process: ``python workload.py`` vs ``python -m lockwatch.runtime workload.py``,
   interleaved, median wall time.

Targets (brief H4): Lock <= 2.5x (nothing held), <= 4.5x (one held), asyncio.Lock <= 1.6x,
mixed workload <= 3x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _with_loop(lock, n, outer=None):
    t = time.perf_counter()
    if outer is not None:
        outer.acquire()
    for _ in range(n):
        with lock:
            pass
    if outer is not None:
        outer.release()
    return (time.perf_counter() - t) / n * 1e9


def _acq_rel_loop(lock, n):
    a = lock.acquire
    r = lock.release
    t = time.perf_counter()
    for _ in range(n):
        a()
        r()
    return (time.perf_counter() - t) / n * 1e9


def _async_loop(lock, n):
    async def body():
        t = time.perf_counter()
        for _ in range(n):
            async with lock:
                pass
        return (time.perf_counter() - t) / n * 1e9

    return asyncio.run(body())


def micro(reps: int, n: int) -> dict:
    import _thread
    import threading

    import lockwatch
    from lockwatch.runtime import aio

    raw_lock = _thread.allocate_lock
    raw_rlock = _thread.RLock
    bare_alock = aio.OrigLock
    lockwatch.install(long_hold=0, long_wait=0, starvation_passes=0)
    try:
        res: dict[str, list[float]] = {}

        def add(k, v):
            res.setdefault(k, []).append(v)

        for _ in range(reps):
            add("bare Lock with", _with_loop(raw_lock(), n))
            add("lockwatch Lock with", _with_loop(threading.Lock(), n))
            add("bare Lock with, 1 held", _with_loop(raw_lock(), n, raw_lock()))
            add("lockwatch Lock with, 1 held", _with_loop(threading.Lock(), n, threading.Lock()))
            add("bare Lock acquire/release", _acq_rel_loop(raw_lock(), n))
            add("lockwatch Lock acquire/release", _acq_rel_loop(threading.Lock(), n))
            add("bare RLock with", _with_loop(raw_rlock(), n))
            add("lockwatch RLock with", _with_loop(threading.RLock(), n))
            add("bare asyncio.Lock", _async_loop(bare_alock(), n // 4))
            add("lockwatch asyncio.Lock", _async_loop(asyncio.Lock(), n // 4))
    finally:
        lockwatch.uninstall()
    med = {k: statistics.median(v) for k, v in res.items()}
    ratios = {
        "Lock (nothing held)": med["lockwatch Lock with"] / med["bare Lock with"],
        "Lock (one held)": med["lockwatch Lock with, 1 held"] / med["bare Lock with, 1 held"],
        "Lock acquire()/release()": med["lockwatch Lock acquire/release"] / med["bare Lock acquire/release"],
        "RLock": med["lockwatch RLock with"] / med["bare RLock with"],
        "asyncio.Lock": med["lockwatch asyncio.Lock"] / med["bare asyncio.Lock"],
    }
    return {"ns": med, "ratio": ratios}


WORKLOAD = textwrap.dedent(
    """
    import asyncio, queue, threading

    N = int(__import__("sys").argv[1])
    a, b = threading.Lock(), threading.RLock()
    cond = threading.Condition()
    q = queue.Queue()
    total = [0]

    def producer():
        for i in range(N):
            with a:
                with b:
                    with b:
                        total[0] += 1
            q.put(i)
        q.put(None)

    def consumer():
        while True:
            item = q.get()
            if item is None:
                break
            with cond:
                total[0] += 1
                cond.notify_all()

    def locker():
        for _ in range(N * 4):
            with a:
                pass
            with b:
                pass

    async def amain():
        lk = asyncio.Lock()
        aq = asyncio.Queue()
        async def worker():
            for i in range(N):
                async with lk:
                    await aq.put(i)
        async def drain():
            for _ in range(2 * N):
                await aq.get()
        await asyncio.gather(worker(), worker(), drain())

    ts = [threading.Thread(target=f) for f in (producer, consumer, locker)]
    for t in ts:
        t.start()
    asyncio.run(amain())
    for t in ts:
        t.join()
    """
)


def mixed(reps: int, n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "workload.py")
        with open(script, "w") as fh:
            fh.write(WORKLOAD)
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        plain = [sys.executable, script, str(n)]
        traced = [sys.executable, "-m", "lockwatch.runtime", "--output", os.path.join(d, "r.json"),
                  "--format", "json", script, str(n)]
        tp, tt = [], []
        for _ in range(reps):
            for cmd, acc in ((plain, tp), (traced, tt)):
                t = time.perf_counter()
                p = subprocess.run(cmd, env=env, cwd=d, capture_output=True, text=True)
                acc.append(time.perf_counter() - t)
                if p.returncode not in (0, 1):  # 1 = findings (a long wait on a loaded machine)
                    raise SystemExit(f"workload failed ({p.returncode}): {p.stderr[-2000:]}")
        return {"plain_s": statistics.median(tp), "traced_s": statistics.median(tt),
                "ratio": statistics.median(tt) / statistics.median(tp)}


TARGETS = {"Lock (nothing held)": 2.5, "Lock (one held)": 4.5, "asyncio.Lock": 1.6, "mixed workload": 3.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--mixed-reps", type=int, default=5)
    ap.add_argument("--mixed-n", type=int, default=20_000)
    ap.add_argument("--json", help="also write the numbers to this file")
    a = ap.parse_args(argv)
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} cores")
    m = micro(a.reps, a.n)
    for k, v in m["ns"].items():
        print(f"  {k:38s} {v:8.0f} ns")
    mx = mixed(a.mixed_reps, a.mixed_n)
    print(f"  mixed workload plain {mx['plain_s']:.3f}s, under lockwatch {mx['traced_s']:.3f}s")
    ratios = dict(m["ratio"], **{"mixed workload": mx["ratio"]})
    ok = True
    for k, r in ratios.items():
        tgt = TARGETS.get(k)
        flag = "" if tgt is None else (" ok" if r <= tgt else f" OVER target {tgt}x")
        ok &= tgt is None or r <= tgt
        print(f"  ratio {k:28s} {r:5.2f}x{'' if tgt is None else f' (target <= {tgt}x)'}{flag}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"python": sys.version.split()[0], "micro": m, "mixed": mx}, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
