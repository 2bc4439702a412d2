"""The floor under a cold scan: the work no cold scan can skip, timed bare, against ruff in
the same rounds.

    python benchmarks/bench_floor.py [--tree DIR] [--repeat N] [--jobs N] [--json OUT]

Issue #4 asks for a cold scan of the CPython 3.12 stdlib (tests removed) in at most 20x the
time of ``ruff check --no-cache --select ASYNC,RUF006,PLW2101``. This script measures how much
of that budget the pipeline's own unavoidable stages take when nothing else runs: no pool
bookkeeping, no cache, no JSON, no reading of the results, no interpreter start-up.

Per round, in this order:

* ``ruff``: the issue's command (the baseline);
* ``parse``: CPython's parser alone (``compile(..., PyCF_ONLY_AST)``, what the worker's guard
  runs) over every file, in ``--jobs`` forked processes with the files dealt by size
  (largest first, each to the least-loaded process), each timing its own share: the stage's
  time is the slowest share's (process start-up and the hand-over left out);
* ``summarise``: the same, each process reading, parsing and summarising its files
  (``summarise_module``); the summaries are handed back after the clock stops;
* ``analyse``: link, graph and rules (``engine.analyse_summaries``) on those summaries in
  this process: the whole-program stage, one core;
* ``scan``: the real thing, ``lockwatch scan`` with an empty cache directory, as a user runs
  it (for how close the pipeline is to its floor).

Derived: ``floor = summarise + analyse`` (today's architecture with zero overhead), and
``ideal = summarise + analyse / jobs`` (as if the linker, which is whole-program and serial
today, split perfectly over the cores too). Printed as medians, ratios of the medians to
ruff's, and the median of each round's ratio.

The findings of ``analyse`` and of ``scan`` are compared (same count and codes), so the
floor is measured on the same work.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

from bench_scan import RUFF, make_tree  # noqa: E402  (same tree, same ruff, same command)

RUFF_ARGS = ["check", "--no-cache", "--select", "ASYNC,RUF006,PLW2101", "--exit-zero", "-q", "."]

# Set in the parent before the pool forks: the children inherit them.
_TREE = ""
_BINS: list[list[str]] = []


def deal(tree: str, jobs: int) -> list[list[str]]:
    """Every .py file, dealt largest first to the least-loaded of ``jobs`` bins."""
    sized = []
    for d, dirs, fs in os.walk(tree):
        dirs.sort()
        for f in sorted(fs):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                sized.append((os.path.getsize(p), p))
    sized.sort(reverse=True)
    bins: list[list[str]] = [[] for _ in range(jobs)]
    load = [0] * jobs
    for size, p in sized:
        i = load.index(min(load))
        bins[i].append(p)
        load[i] += size
    return bins


def _work(args: tuple[int, str]) -> tuple[float, bytes]:
    which, mode = args
    # The child inherits the parent's heap (earlier rounds' summaries): freeze it, or every
    # collection here would traverse it. Collect after each file, as the real worker does.
    gc.disable()
    gc.freeze()
    from lockwatch.static.engine import module_name
    from lockwatch.static.summarise import summarise_module

    out = {}
    t = time.perf_counter()
    for p in _BINS[which]:
        with open(p, encoding="utf-8", errors="surrogateescape") as f:
            src = f.read()
        try:
            if mode == "parse":
                compile(src, p, "exec", 0x400, dont_inherit=True)  # ast.PyCF_ONLY_AST
            else:
                rel = os.path.relpath(p, _TREE)
                mod, pkg = module_name(rel)
                out[mod] = summarise_module(src, rel, mod, pkg)
        except Exception:  # noqa: BLE001  (the scan reports these files as errors; here they cost nothing)
            pass
        gc.collect()
        gc.freeze()
    took = time.perf_counter() - t  # before the hand-over: the floor leaves transport out
    return took, pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL) if mode == "summarise" else b""


def _timed_pool(ctx, jobs: int, mode: str) -> tuple[float, list[dict]]:
    """The slowest process's own time for its share (the processes run at once, so that is
    the stage's wall time on ``jobs`` cores), and what they made."""
    with ctx.Pool(jobs) as pool:
        res = pool.map(_work, [(i, mode) for i in range(jobs)])
    return max(took for took, _ in res), [pickle.loads(b) for _, b in res if b]


def main() -> int:
    global _TREE, _BINS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", help="a prepared stdlib tree (default: copy the 3.12 stdlib)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", help="write the rounds and medians here")
    a = ap.parse_args()

    from lockwatch import config as lwconfig
    from lockwatch.static import engine

    tmp = tempfile.mkdtemp(prefix="lw-floor-")
    try:
        _TREE = os.path.abspath(a.tree) if a.tree else make_tree(tmp)
        _BINS = deal(_TREE, a.jobs)
        cfg = lwconfig.load(_TREE)
        ctx = get_context("fork")
        lockwatch = [sys.executable, "-m", "lockwatch"]
        engine._import_analysis()  # a scan imports the analysis while its workers parse
        rounds = []
        for r in range(a.repeat):
            t = time.perf_counter()
            subprocess.run([RUFF, *RUFF_ARGS], cwd=_TREE, stdout=subprocess.DEVNULL, check=False)
            ruff = time.perf_counter() - t
            parse, _ = _timed_pool(ctx, a.jobs, "parse")
            summarise, parts = _timed_pool(ctx, a.jobs, "summarise")
            sums = {}
            for p in parts:
                sums.update(p)
            with engine.gc_paused():
                t = time.perf_counter()
                report = engine.analyse_summaries(sums, cfg, [])
                analyse = time.perf_counter() - t
            del sums, parts
            cache = os.path.join(tmp, f"cache{r}")
            # from the scratch directory: ``-m`` puts the working directory on sys.path, and
            # the stdlib tree would shadow the standard library
            t = time.perf_counter()
            out = subprocess.run([*lockwatch, "scan", "--format", "json", "--exit-zero", "--cache-dir", cache, _TREE],
                                 cwd=tmp, capture_output=True, text=True, check=False)
            scan = time.perf_counter() - t
            shutil.rmtree(cache, ignore_errors=True)
            scanned = sorted(f["code"] for f in json.loads(out.stdout)["findings"])
            floor_codes = sorted(f.code for f in report.findings)
            row = {"ruff": ruff, "parse": parse, "summarise": summarise, "analyse": analyse,
                   "floor": summarise + analyse, "ideal": summarise + analyse / a.jobs, "scan": scan,
                   "same_findings": scanned == floor_codes, "findings": len(scanned)}
            rounds.append(row)
            print(f"round {r + 1}: " + "  ".join(
                f"{k} {v:.2f}s ({v / ruff:.1f}x)" for k, v in row.items() if isinstance(v, float) and k != "ruff")
                + f"  ruff {ruff:.2f}s  findings {len(scanned)} same={row['same_findings']}", flush=True)
        keys = ["ruff", "parse", "summarise", "analyse", "floor", "ideal", "scan"]
        med = {k: statistics.median(r[k] for r in rounds) for k in keys}
        ratio = {k: statistics.median(r[k] / r["ruff"] for r in rounds) for k in keys if k != "ruff"}
        print(f"\nmedians over {a.repeat} rounds, {a.jobs} processes, load {os.getloadavg()[0]:.2f}:")
        for k in keys:
            extra = "" if k == "ruff" else f"  = {med[k] / med['ruff']:.1f}x ruff (median of round ratios {ratio[k]:.1f}x)"
            print(f"  {k:<10} {med[k]:6.2f} s{extra}")
        print(f"  20x ruff = {20 * med['ruff']:.2f} s; same findings floor vs scan: "
              f"{all(r['same_findings'] for r in rounds)}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"rounds": rounds, "median": med, "median_ratio": ratio, "jobs": a.jobs}, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
