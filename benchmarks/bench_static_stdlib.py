"""Run the static engine over a directory (default: the CPython 3.12 stdlib, tests included)
and print stage timings, counts per rule, and a few findings of each rule.

    python benchmarks/bench_static_stdlib.py [DIR] [--examples N] [--json OUT]

Summaries come from the worker pool (no cache, so the parse cost is measured); link, graph
and checks run in this process and are timed separately.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config
from lockwatch.static.discover import discover
from lockwatch.static.engine import analyse_summaries

DEFAULT = "/root/.pyenv/versions/3.12.1/lib/python3.12"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=DEFAULT)
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--cache", help="cache directory (default: no cache, to measure parsing)")
    args = ap.parse_args()
    config = Config(no_cache=not args.cache, cache_dir=args.cache)
    t0 = time.perf_counter()
    files, errors = discover([args.dir], config)
    t1 = time.perf_counter()
    from lockwatch.static.pool import summarise_files

    def progress(done, total):
        if done % 200 == 0 or done == total:
            print(f"  summarised {done}/{total} ({time.perf_counter() - t1:.0f}s)", file=sys.stderr, flush=True)

    summaries, errs = summarise_files(files, config, progress)
    t2 = time.perf_counter()
    by_module = {}
    for sf in files:
        s = summaries.get(sf.path)
        if s is not None:
            by_module.setdefault(s.module, s)
    timings: dict = {}
    report = analyse_summaries(by_module, config, list(errors) + list(errs), timings)
    t3 = time.perf_counter()
    # Baseline measured in the same run: CPython's own parser over the same files, one
    # process. The machine may be shared; ratios against it are what to compare.
    import ast
    import warnings

    warnings.simplefilter("ignore")
    tb = time.perf_counter()
    for sf in files:
        try:
            with open(sf.abspath, "rb") as fh:
                ast.parse(fh.read())
        except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
            pass
    baseline = time.perf_counter() - tb
    counts = collections.Counter(f.code for f in report.findings)
    print(f"files: {len(files)}  summarised: {len(summaries)}  errors: {len(report.errors)}")
    print(f"discover {t1 - t0:.2f}s  summarise {t2 - t1:.2f}s  link {timings['link']:.2f}s  "
          f"graph {timings['graph']:.2f}s  checks {timings['checks']:.2f}s  (analysis total {t3 - t2:.2f}s)")
    analysis = timings["link"] + timings["graph"] + timings["checks"]
    print(f"baseline ast.parse of every file (1 process): {baseline:.2f}s; "
          f"link+graph+checks = {analysis / baseline:.2f}x baseline, summarise = {(t2 - t1) / baseline:.1f}x baseline")
    print("findings:", dict(sorted(counts.items())))
    by_code = collections.defaultdict(list)
    for f in report.findings:
        by_code[f.code].append(f)
    for code in sorted(by_code):
        for f in by_code[code][: args.examples]:
            print(f"\n{f.path}:{f.line}:{f.column}: {f.code} {f.message}")
            for r in f.related[:8]:
                print(f"    {r.path}:{r.line}:{r.column}  {r.note}")
    for e in report.errors[:10]:
        print("error:", e.path, e.message)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.to_dict(), fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
