"""Scan a fixed list of real PyPI packages with `lockwatch scan` and count what it says.

Downloads pinned pure-Python *wheels* (py3-none-any) with pip into a work directory and
unzips them.  Wheels, not sdists: `pip download` of an sdist prepares its metadata by running
the package's build backend (setup.py), i.e. it executes the code we are about to scan; a
pure-Python wheel holds the same library sources and is only unzipped.  A few distributions
publish only CPython platform wheels (PLATFORM_WHEELS): those are fetched for cp311 and, like
the others, only unzipped; their .py files are scanned.  Only the importable package
directory is scanned (no tests, docs or examples; EXCLUDES skips test suites shipped inside
it), so counts are about library code.

Usage:
    python benchmarks/real_world_scan.py [--workdir DIR] [--no-cache] [--only NAME ...]
                                         [--json-dir DIR] [--select ALL]

To measure a given commit rather than the working tree, put a clean export first on the
path: `git archive <rev> lockwatch | tar -x -C /tmp/lw-rev` then `PYTHONPATH=/tmp/lw-rev`.

Prints, per package: version, files, wall time, findings per code, errors; then totals per
code.  Nothing is written to the repository; the workdir defaults to a fresh temp dir.
Each scan runs with `--jobs 1`, one package at a time (the review machine is shared).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

# (distribution==version, directories inside the wheel to scan).  Chosen because each really
# uses threads, locks or asyncio; pinned so that a rerun reads the same code.
PACKAGES: list[tuple[str, list[str]]] = [
    ("urllib3==2.2.3", ["urllib3"]),
    ("requests==2.32.3", ["requests"]),
    ("APScheduler==3.10.4", ["apscheduler"]),
    ("pika==1.3.2", ["pika"]),
    ("kombu==5.4.2", ["kombu"]),
    ("prometheus_client==0.21.0", ["prometheus_client"]),
    ("tqdm==4.66.5", ["tqdm"]),
    ("cachetools==5.5.0", ["cachetools"]),
    ("filelock==3.16.1", ["filelock"]),
    ("janus==1.0.0", ["janus"]),
    ("schedule==1.2.2", ["schedule"]),
    ("Pebble==5.0.7", ["pebble"]),
    ("httpcore==1.0.6", ["httpcore"]),
    ("anyio==4.6.2.post1", ["anyio"]),
    ("rq==1.16.2", ["rq"]),
    # Second batch (docs/real-world.md, "Second batch").  watchdog's only py3-none wheel is
    # tagged manylinux but holds no compiled code (inotify through ctypes).
    ("watchdog==5.0.3", ["watchdog"]),
    ("paho-mqtt==2.1.0", ["paho"]),
    ("dramatiq==1.17.1", ["dramatiq"]),
    ("cheroot==10.0.1", ["cheroot"]),
    ("waitress==3.0.1", ["waitress"]),
    ("gunicorn==23.0.0", ["gunicorn"]),
    ("sentry-sdk==2.18.0", ["sentry_sdk"]),
    ("opentelemetry-sdk==1.28.2", ["opentelemetry/sdk"]),
    ("kazoo==2.10.0", ["kazoo"]),
    ("redis==5.2.0", ["redis"]),
    ("psycopg-pool==3.2.4", ["psycopg_pool"]),
    ("trio==0.27.0", ["trio"]),
    ("fsspec==2024.10.0", ["fsspec"]),
    ("diskcache==5.6.3", ["diskcache"]),
    ("uvicorn==0.32.0", ["uvicorn"]),
    # Third batch (docs/real-world.md, "Third batch"): the versions current on PyPI at the
    # review.  tornado and pymongo ship only platform wheels (PLATFORM_WHEELS): their compiled
    # parts (speedups, BSON/message codecs) hold no concurrency code; the .py files are scanned.
    ("huey==3.5.4", ["huey"]),
    ("celery==5.7.0", ["celery"]),
    ("hypercorn==0.18.0", ["hypercorn"]),
    ("asyncssh==2.24.1", ["asyncssh"]),
    ("s3transfer==0.19.3", ["s3transfer"]),
    ("kafka-python==3.0.12", ["kafka"]),
    ("paramiko==5.1.0", ["paramiko"]),
    ("locust==2.47.0", ["locust"]),
    ("python-engineio==4.15.1", ["engineio"]),
    ("python-socketio==5.18.1", ["socketio"]),
    ("distributed==2026.8.0", ["distributed"]),
    ("httpx==0.28.1", ["httpx"]),
    ("tenacity==9.2.1", ["tenacity"]),
    ("tornado==6.6.1", ["tornado"]),
    ("pymongo==4.20.0", ["pymongo", "gridfs"]),
]

# Distributions with no py3-none wheel: fetched as the CPython 3.11 platform wheel (still only
# unzipped, never built or imported).
PLATFORM_WHEELS = {"tornado==6.6.1", "pymongo==4.20.0"}

# Test suites some wheels ship inside the package directory (globs relative to the unpacked
# wheel root, passed as --extend-exclude): library code only, as for the other packages.
EXCLUDES: dict[str, list[str]] = {
    "cheroot==10.0.1": ["cheroot/test/**"],
    "kazoo==2.10.0": ["kazoo/tests/**"],
    "trio==0.27.0": ["trio/_tests/**", "trio/_core/_tests/**"],
    "fsspec==2024.10.0": ["fsspec/tests/**"],
    "huey==3.5.4": ["huey/tests/**"],
    "tornado==6.6.1": ["tornado/test/**"],
}

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


def lockwatch_cmd() -> list[str]:
    exe = VENV_BIN / "lockwatch"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "lockwatch.cli"]


def fetch(spec: str, workdir: Path) -> Path:
    """Download and unzip one pinned wheel; return its unpacked root (reused when present)."""
    name = spec.split("==")[0]
    dest = workdir / "src" / spec.replace("==", "-")
    if dest.is_dir():
        return dest
    wheels = workdir / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if spec in PLATFORM_WHEELS:
        tags = ["--implementation", "cp", "--abi", "cp311"]
    else:
        tags = ["--implementation", "py"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--python-version",
            "3.11",
            *tags,
            "-d",
            str(wheels),
            spec,
        ],
        check=True,
    )
    norm = name.lower().replace("-", "_")
    version = spec.split("==")[1]
    found = [
        w
        for w in wheels.glob("*.whl")
        if w.name.lower().startswith(f"{norm}-{version}-")
    ]
    if not found:
        raise RuntimeError(f"no wheel for {spec} in {wheels}")
    with zipfile.ZipFile(found[0]) as zf:
        zf.extractall(dest)
    return dest


def scan(
    root: Path,
    dirs: list[str],
    no_cache: bool,
    cache_dir: Path,
    excludes: list[str] | None = None,
    select: str | None = None,
) -> tuple[dict, float]:
    cmd = lockwatch_cmd() + ["scan", "--format", "json", "--exit-zero", "--jobs", "1"]
    cmd += ["--no-cache"] if no_cache else ["--cache-dir", str(cache_dir)]
    for glob in excludes or []:
        cmd += ["--extend-exclude", glob]
    if select:
        cmd += ["--select", select]
    cmd += dirs
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"lockwatch exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), wall


def lockwatch_origin() -> Path | None:
    """The lockwatch package the scans will import (PYTHONPATH may point at an exported tree)."""
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, lockwatch; print(os.path.dirname(lockwatch.__file__))",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out.stdout.strip()).resolve()


def analyser_revision() -> str:
    """The lockwatch commit being measured: the analyser changes daily, counts go with it."""
    origin = lockwatch_origin()
    if origin is not None and origin != (HERE.parent / "lockwatch").resolve():
        # e.g. PYTHONPATH=<git archive of a commit>: this checkout's HEAD says nothing about it.
        return f"lockwatch imported from {origin} (not this checkout)"
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE.parent), "log", "-1", "--format=%h %cI"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "lockwatch"],
            check=False,
            capture_output=True,
            text=True,
        ).stdout
        return out.stdout.strip() + (
            " (lockwatch/ has uncommitted changes)" if dirty else ""
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--workdir", type=Path, help="download/unpack here (reused across runs)"
    )
    ap.add_argument("--no-cache", action="store_true", help="time cold scans")
    ap.add_argument("--only", nargs="*", help="distribution names to run")
    ap.add_argument(
        "--json-dir", type=Path, help="also save each package's JSON report here"
    )
    ap.add_argument(
        "--select",
        help="passed to lockwatch scan --select (default: the default rule set), "
        "e.g. ALL to add the opt-in rules",
    )
    args = ap.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lw-realworld-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
    only = {o.lower() for o in args.only} if args.only else None

    print(f"lockwatch revision: {analyser_revision()}", flush=True)
    totals: collections.Counter[str] = collections.Counter()
    rows = []
    for spec, dirs in PACKAGES:
        name = spec.split("==")[0]
        if only and name.lower() not in only:
            continue
        root = fetch(spec, workdir)
        excludes = EXCLUDES.get(spec, [])
        # Every EXCLUDES glob is "DIR/**": count files the way the scan will skip them.
        skip = tuple(g.removesuffix("**") for g in excludes)
        files = [
            f
            for d in dirs
            for f in (root / d).rglob("*.py")
            if not f.relative_to(root).as_posix().startswith(skip)
        ]
        nfiles = len(files)
        nlines = sum(f.read_bytes().count(b"\n") for f in files)
        report, wall = scan(
            root, dirs, args.no_cache, workdir / "cache", excludes, args.select
        )
        if args.json_dir:
            (args.json_dir / f"{name}.json").write_text(json.dumps(report, indent=1))
        codes = collections.Counter(f["code"] for f in report["findings"])
        totals.update(codes)
        rows.append((spec, nfiles, wall, codes, report.get("errors", [])))
        per = " ".join(f"{c}={n}" for c, n in sorted(codes.items())) or "-"
        print(
            f"{spec:28} files={nfiles:3} lines={nlines:6} wall={wall:6.2f}s"
            f" findings={sum(codes.values()):3}"
            f"  {per}",
            flush=True,
        )
        for err in report.get("errors", []):
            print(f"    error: {err.get('path')}: {err.get('message')}", flush=True)

    print()
    print("totals per code:")
    for code, n in sorted(totals.items()):
        print(f"  {code}: {n}")
    print(
        f"  all: {sum(totals.values())} findings in {len(rows)} packages, "
        f"{sum(r[1] for r in rows)} files, {sum(r[2] for r in rows):.1f}s wall"
    )
    print(f"workdir: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
