"""Overhead of the runtime race checker (lockwatch.runtime.lockset) on watched classes,
as ratios against the same class unwatched, measured in the same run.

    python benchmarks/bench_lockset.py [--n 200000] [--repeat 5] [--json OUT]

One operation is a method call that reads two attributes and writes one (``self.n =
self.n + self.step``), under the object's lock in the "locked" variants. Cases:

- ``plain``: no tracer at all (baseline of baselines);
- ``unwatched``: tracer installed, class not watched (what every other class pays: nothing);
- ``watched, 1 thread``: watched, accessed by one thread (Eraser's exclusive state);
- ``watched, 2 threads``: watched, two threads alternating on one object under its lock
  (shared state: lockset intersection on every access), compared with the same two-thread
  run unwatched.

Cases run interleaved for ``--repeat`` rounds; each keeps its best round (the least
disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_class():
    class Account:
        def __init__(self):
            self._lock = threading.Lock()
            self.n = 0
            self.step = 1

        def bump(self):
            self.n = self.n + self.step

        def bump_locked(self):
            with self._lock:
                self.n = self.n + self.step

    return Account


def one_thread(obj, meth: str, n: int) -> float:
    f = getattr(obj, meth)
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return time.perf_counter() - t0


def two_threads(obj, n: int) -> float:
    f = obj.bump_locked
    gate = threading.Barrier(2)

    def work():
        gate.wait()
        for i in range(n // 2):
            f()
            if i % 64 == 0:
                time.sleep(0)   # make the threads alternate on the object

    ts = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    n, rep = args.n, args.repeat

    Plain = make_class()
    p = Plain()
    from lockwatch.runtime import api, lockset

    # Cases run interleaved, round after round, and each keeps its best round: a burst of
    # load elsewhere on the machine then hits every case alike instead of one of them.
    cases: dict[str, object] = {}
    cases["plain, 1 thread"] = lambda: one_thread(p, "bump", n)
    cases["plain, 1 thread, locked"] = lambda: one_thread(p, "bump_locked", n)
    rows = {k: float("inf") for k in cases}
    for _ in range(rep):
        for k, fn in cases.items():
            rows[k] = min(rows[k], fn())

    api.install(long_hold=0, long_wait=0, races=True)
    try:
        Unwatched = make_class()
        Watched = make_class()
        lockset.watch_class(Watched)
        u, w = Unwatched(), Watched()
        traced = {
            "unwatched, 1 thread": lambda: one_thread(u, "bump", n),
            "watched, 1 thread": lambda: one_thread(w, "bump", n),
            "unwatched, 1 thread, locked": lambda: one_thread(u, "bump_locked", n),
            "watched, 1 thread, locked": lambda: one_thread(w, "bump_locked", n),
            "unwatched, 2 threads, locked": lambda: two_threads(Unwatched(), n),
            "watched, 2 threads, locked": lambda: two_threads(Watched(), n),
        }
        rows.update({k: float("inf") for k in traced})
        for _ in range(rep):
            for k, fn in traced.items():
                rows[k] = min(rows[k], fn())
        found = [f for f in lockset.findings() if f.code.startswith("LW30")]
    finally:
        api.uninstall()

    def ratio(a, b):
        return rows[a] / rows[b]

    ratios = {
        "unwatched vs plain (1 thread)": ratio("unwatched, 1 thread", "plain, 1 thread"),
        "watched vs unwatched (1 thread)": ratio("watched, 1 thread", "unwatched, 1 thread"),
        "watched vs unwatched (1 thread, locked)": ratio("watched, 1 thread, locked", "unwatched, 1 thread, locked"),
        "watched vs unwatched (2 threads, locked)": ratio("watched, 2 threads, locked", "unwatched, 2 threads, locked"),
    }
    print(f"lockset overhead, {n} operations (3 attribute accesses each), best of {rep}, "
          f"Python {sys.version.split()[0]}")
    for k, v in rows.items():
        print(f"  {k:32s} {v * 1e9 / n:9.0f} ns/op")
    for k, v in ratios.items():
        print(f"  {k:42s} {v:6.2f}x")
    print(f"  race findings on the consistently locked class: {len(found)} (must be 0)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"n": n, "ns_per_op": {k: v * 1e9 / n for k, v in rows.items()},
                       "ratios": ratios, "findings": len(found)}, fh, indent=1)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
