"""Run the whole CPython stdlib, tests included, through discover + the worker pool and list
every file that ends in ``errors``, with its reason. The run must finish: CPython's test
suite holds deliberately broken files (``test/badsyntax_*.py``, ``bad_coding*.py``, lib2to3's
Python 2 data) and nothing may crash the scan.

    python benchmarks/stdlib_errors.py [DIR] [--timeout S]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config  # noqa: E402
from lockwatch.static.discover import discover  # noqa: E402
from lockwatch.static.pool import summarise_files  # noqa: E402

DEFAULT = "/root/.pyenv/versions/3.12.1/lib/python3.12"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=DEFAULT)
    ap.add_argument("--timeout", type=float, default=None)
    ap.add_argument("--jobs", type=int, default=0)
    args = ap.parse_args()
    cfg = Config(root=args.dir, no_cache=True, jobs=args.jobs,
                 exclude=["site-packages"])
    t0 = time.perf_counter()
    files, derrors = discover([args.dir], cfg)
    done = [0]

    def progress(d: int, total: int) -> None:
        if d - done[0] >= 200 or d == total:
            done[0] = d
            print(f"  {d}/{total} files, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    summaries, perrors = summarise_files(files, cfg, progress, timeout=args.timeout)
    t1 = time.perf_counter()
    errors = list(derrors) + list(perrors)
    print(f"files: {len(files)}  summarised: {len(summaries)}  errors: {len(errors)}  "
          f"time: {t1 - t0:.1f} s")
    kinds = collections.Counter(e.message.split(":")[0].split(" (")[0] for e in errors)
    print("by reason:", dict(kinds.most_common()))
    for e in errors:
        print(f"  {e.path}: {e.message}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
