"""The contention profile: does it name the hot lock, and what does it cost?

    python benchmarks/bench_contention.py [--reps 101] [--n 4000] [--json FILE]

1. Runs ``benchmarks/hot_lock_demo.py`` under ``lockwatch run`` and prints the top of the
   report's ``contention`` section; checks that the hot lock (``METRICS_LOCK``) is first.
2. Uncontended ``with lock:`` (nothing held), ns per acquire+release, three ways in the
   same run, interleaved: bare ``_thread`` lock; the tracer with the profile; the tracer
   with the profile's hook taken out (the slow path calls ``detect.contended`` directly).
   Ratios are medians of per-pair ratios (back-to-back runs, order alternating).
3. Contended: two threads taking one lock in turn, the tracer with and without the
   profile (what the profile costs where it does work), same interleaving.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
clock = time.perf_counter


def demo() -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.run([sys.executable, "-m", "lockwatch", "run", "--format", "json", "--output", out,
                            os.path.join(ROOT, "benchmarks", "hot_lock_demo.py")],
                           env=env, cwd=d, capture_output=True, text=True)
        if p.returncode not in (0, 1):
            raise SystemExit(f"demo failed ({p.returncode}): {p.stderr[-2000:]}")
        with open(out) as fh:
            return json.load(fh)["contention"]


def _with_loop(lock, n):
    t = clock()
    for _ in range(n):
        with lock:
            pass
    return (clock() - t) / n * 1e9


def _contended_loop(lock, n):
    """Two threads alternating on one lock; ns per acquisition (wall)."""
    def run():
        for _ in range(n):
            with lock:
                x = 0
                for _ in range(20):  # hold it a little so the other thread queues up
                    x += 1
    ts = [threading.Thread(target=run) for _ in range(2)]
    t = clock()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return (clock() - t) / (2 * n) * 1e9


def micro(reps: int, n: int) -> dict:
    import _thread

    import lockwatch
    from lockwatch.runtime import detect, primitives

    raw_lock = _thread.allocate_lock
    with_profile = primitives._contended

    def no_profile(w, timeout):
        return detect.contended(w, timeout)

    def traced(profile: bool, fn, *args):
        primitives._contended = with_profile if profile else no_profile
        try:
            return fn(*args)
        finally:
            primitives._contended = with_profile

    lockwatch.install(long_hold=0, long_wait=0, starvation_passes=0, races=False)
    res: dict[str, list[float]] = {}
    try:
        tl = threading.Lock
        for rep in range(reps):
            order = [("bare", lambda: _with_loop(raw_lock(), n)),
                     ("profile", lambda: traced(True, _with_loop, tl(), n)),
                     ("no profile", lambda: traced(False, _with_loop, tl(), n))]
            if rep % 2:
                order.reverse()
            got = {k: f() for k, f in order}
            for k, v in got.items():
                res.setdefault(f"uncontended {k}", []).append(v)
            res.setdefault("ratio profile/bare", []).append(got["profile"] / got["bare"])
            res.setdefault("ratio profile/no profile", []).append(got["profile"] / got["no profile"])
            res.setdefault("ratio no profile/bare", []).append(got["no profile"] / got["bare"])
        creps = max(3, reps // 10)
        cn = max(500, n // 4)
        for rep in range(creps):
            order = [("profile", lambda: traced(True, _contended_loop, tl(), cn)),
                     ("no profile", lambda: traced(False, _contended_loop, tl(), cn))]
            if rep % 2:
                order.reverse()
            got = {k: f() for k, f in order}
            for k, v in got.items():
                res.setdefault(f"contended {k}", []).append(v)
            res.setdefault("ratio contended profile/no profile", []).append(got["profile"] / got["no profile"])
    finally:
        lockwatch.uninstall()
    out = {k: statistics.median(v) for k, v in res.items()}

    # 10th percentiles of each side: the intrinsic cost, which a loaded machine inflates less
    def p10(k):
        v = sorted(res[k])
        return v[len(v) // 10]

    out["p10 ratio profile/bare"] = p10("uncontended profile") / p10("uncontended bare")
    out["p10 ratio profile/no profile"] = p10("uncontended profile") / p10("uncontended no profile")
    out["p10 ratio no profile/bare"] = p10("uncontended no profile") / p10("uncontended bare")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=101)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--json", help="also write the numbers to this file")
    a = ap.parse_args(argv)
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} cores")
    prof = demo()
    from lockwatch.runtime.contention import format_text

    print(format_text(prof, limit=5))
    top = prof["locks"][0]["lock"] if prof["locks"] else None
    ok = top == "METRICS_LOCK"
    print(f"  hot lock named first: {'yes' if ok else 'NO (got %r)' % top}")
    m = micro(a.reps, a.n)
    for k, v in m.items():
        unit = "x" if "ratio" in k else " ns"
        print(f"  {k:40s} {v:8.2f}{unit}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"profile_top": prof["locks"][:5], "micro": m, "hot_first": ok}, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
