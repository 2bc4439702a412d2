"""A small service where one lock dominates: every request updates a shared metrics
registry under one global lock and formats a line while holding it, while the rest of the
locks (per-session locks, a config lock read now and then) are barely contended.

    python benchmarks/hot_lock_demo.py [--threads 4] [--requests 400]
    python -m lockwatch run --format json --output r.json benchmarks/hot_lock_demo.py

Under ``lockwatch run`` the report's ``contention`` section should name
``METRICS_LOCK`` (this file, the line that creates it) first.
"""

from __future__ import annotations

import argparse
import threading
import time

METRICS_LOCK = threading.Lock()            # the hot lock: every request, held ~0.2 ms
CONFIG_LOCK = threading.RLock()            # read by every 10th request, held briefly
metrics: dict[str, int] = {}
config = {"greeting": "hello"}


class Session:
    def __init__(self, sid: int):
        self.sid = sid
        self.lock = threading.Lock()       # one per session: only its own thread uses it
        self.hits = 0


def record(name: str) -> str:
    with METRICS_LOCK:
        metrics[name] = metrics.get(name, 0) + 1
        # formatting and a little bookkeeping under the lock: the usual mistake
        line = f"{name}={metrics[name]}"
        deadline = time.perf_counter() + 0.0002
        while time.perf_counter() < deadline:
            pass
        return line


def handle(session: Session, i: int) -> None:
    with session.lock:
        session.hits += 1
    if i % 10 == 0:
        with CONFIG_LOCK:
            _ = config["greeting"]
    record("requests")
    # work outside any lock
    deadline = time.perf_counter() + 0.0002
    while time.perf_counter() < deadline:
        pass


def worker(sid: int, n: int) -> None:
    s = Session(sid)
    for i in range(n):
        handle(s, i)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--requests", type=int, default=400)
    a = ap.parse_args(argv)
    ts = [threading.Thread(target=worker, args=(i, a.requests)) for i in range(a.threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"{metrics['requests']} requests in {time.perf_counter() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
