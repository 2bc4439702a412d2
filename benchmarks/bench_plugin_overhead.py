"""Overhead of ``pytest --lockwatch`` on a real third-party test suite, measured in one run.

    python benchmarks/bench_plugin_overhead.py [--package cachetools] [--reps 5]

The package's sdist is fetched with ``pip download`` into a temporary directory (never
committed), and its test suite is run in fresh pytest processes, interleaved so that load
changes on the machine hit every variant alike:

* ``plain``:        pytest without lockwatch (``-p no:lockwatch``), the baseline;
* ``runtime``:      ``--lockwatch --lockwatch-no-static`` (tracer, attribution, leak checks);
* ``full``:         ``--lockwatch`` (plus the static scan from a warm cache, coverage of the
                    acquisition lines, the join and the JSON report).

Prints the median wall time of each and its ratio to the baseline, and what lockwatch
reported. The numbers are ratios within this run, never absolute promises.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

# Offline-runnable suites that use locks and threads; the first is the default.
KNOWN = {
    "cachetools": {"tests": "tests", "pythonpath": "src"},
}


def fetch(package: str, dest: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         package, "-d", dest],
        check=True,
    )
    (sdist,) = glob.glob(os.path.join(dest, "*.tar.gz"))
    with tarfile.open(sdist) as tf:
        tf.extractall(dest, filter="data") if sys.version_info >= (3, 12) else tf.extractall(dest)
    (root,) = [p for p in glob.glob(os.path.join(dest, "*")) if os.path.isdir(p)]
    return root


def run_suite(root: str, info: dict, extra: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, PYTHONPATH=os.path.join(root, info["pythonpath"]), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", info["tests"], *extra]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, check=False, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - t0, p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="cachetools", choices=sorted(KNOWN))
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    info = KNOWN[args.package]
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        root = fetch(args.package, tmp)
        report = os.path.join(tmp, "r.json")
        cache = os.path.join(tmp, "lwcache")
        with open(os.path.join(root, "lockwatch.toml"), "w") as fh:
            fh.write(f'cache-dir = "{cache}"\n')
        variants = {
            "plain": ["-p", "no:lockwatch"],
            "runtime": ["--lockwatch", "--lockwatch-no-static"],
            "full": ["--lockwatch", f"--lockwatch-report={report}"],
        }
        # Warm-up: imports, .pyc of the interpreter's own modules, the static cache.
        for name, extra in variants.items():
            _, p = run_suite(root, info, extra)
            print(f"warm-up {name}: {p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr[-300:]}")
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.reps):
            for name, extra in variants.items():
                dt, p = run_suite(root, info, extra)
                times[name].append(dt)
        base = statistics.median(times["plain"])
        print(f"\n{args.package} ({os.path.basename(root)}), {args.reps} interleaved repetitions, "
              f"Python {sys.version.split()[0]}")
        print(f"{'variant':10} {'median s':>9} {'ratio':>7}   all runs")
        for name, ts in times.items():
            m = statistics.median(ts)
            print(f"{name:10} {m:9.2f} {m / base:7.2f}x   " + " ".join(f"{t:.2f}" for t in ts))
        with open(report, encoding="utf-8") as fh:
            rep = json.load(fh)
        by = {}
        for f in rep["findings"]:
            key = (f.get("origin"), f["code"])
            by[key] = by.get(key, 0) + 1
        print("\nreport:", ", ".join(f"{o} {c}: {n}" for (o, c), n in sorted(by.items())) or "no findings",
              f"| errors: {len(rep['errors'])} | runtime edges the static graph lacks: "
              f"{len(rep.get('missed_by_static', []))} | plugin: {rep.get('plugin')}")
        for f in rep["findings"]:
            print(f"  {f['path']}:{f['line']}: {f['code']} {f['kind']} ({f.get('origin')}) {f['message'][:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
