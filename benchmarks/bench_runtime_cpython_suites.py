"""CPython's own thread/queue/asyncio-lock test suites, run unchanged under the tracer.

    python benchmarks/bench_runtime_cpython_suites.py [PYTHON ...]

Default interpreters: this one and /root/.pyenv/versions/3.12.1/bin/python3 (whichever
exist and ship the ``test`` package). Each run is
``PYTHON -m lockwatch run --format json --output FILE -m test TESTS...`` with PYTHONPATH
pointing at this checkout; it prints regrtest's ``Result:`` line, the exit status and the
findings per code. The exit status is 1 when regrtest succeeded but lockwatch has findings
(the suites deliberately leave locks held at thread/task end: LW122).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = ["test_threading", "test_queue", "test_thread", "test_asyncio.test_locks",
         "test_asyncio.test_queues", "test_asyncio.test_taskgroups"]


def run(python: str) -> bool:
    env = dict(os.environ, PYTHONPATH=ROOT)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "report.json")
        t = time.perf_counter()
        p = subprocess.run([python, "-m", "lockwatch", "run", "--format", "json", "--output", out,
                            "-m", "test", *TESTS], env=env, cwd=d, capture_output=True, text=True)
        dt = time.perf_counter() - t
        result = [ln for ln in p.stdout.splitlines() if ln.startswith("Result:")]
        rep = json.load(open(out)) if os.path.exists(out) else {}
    codes = collections.Counter(f["code"] for f in rep.get("findings", []))
    print(f"{python}: {result[-1] if result else 'no Result line'} (exit {p.returncode}, {dt:.0f}s), "
          f"findings {dict(codes)}, tracer errors {len(rep.get('errors', []))}")
    if not result:
        print(p.stdout[-3000:], p.stderr[-3000:])
    return bool(result) and result[-1].strip() == "Result: SUCCESS"


def main(argv: list[str]) -> int:
    pythons = argv or [sys.executable, "/root/.pyenv/versions/3.12.1/bin/python3"]
    ok = True
    for py in pythons:
        if os.path.exists(py):
            ok &= run(py)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
