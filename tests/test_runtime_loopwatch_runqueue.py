"""LW201 at runtime does not count the time a loop thread waits for a CPU (Linux run-queue
time): a step starved by other processes is the machine's doing, not a synchronous call on the
loop. A sleep under the same starvation is still reported, and so is a CPU-bound step whose
own CPU time passes the threshold."""

from __future__ import annotations

import json
import sys

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

PY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="run-queue time is read from /proc")

# The watchdog thread is kept out (loop_block=0 when the loop registers); the program samples
# itself and feeds a counter of its own in place of /proc, so the waits are exact.
STAGED = """
    import asyncio, json, threading, time
    import lockwatch
    from lockwatch.runtime import loopwatch, state

    fake = {"rq": 0.0}
    loopwatch._schedstat_ok = True
    loopwatch.runqueue_seconds = lambda path: fake["rq"]

    def seen():
        return [round(f.extra["seconds"], 3) for f in state.findings if f.code == "LW201"]

    def stage(starved):
        started, release = threading.Event(), threading.Event()

        async def step():
            started.set()
            release.wait(30)

        t_start = state.monotonic()
        t = threading.Thread(target=lambda: asyncio.run(step()))
        t.start()
        assert started.wait(30)
        loopwatch.threshold = 0.1
        loopwatch.sample()                 # the spell's start: the counter's baseline
        if starved:
            fake["rq"] += 0.12             # the thread waited 0.12 s for a CPU
        time.sleep(0.15)
        loopwatch.sample()
        first = seen()
        time.sleep(0.15)
        loopwatch.sample()
        second = seen()
        bound = state.monotonic() - t_start
        release.set()
        t.join(30)
        loopwatch.threshold = 0.0
        loopwatch.reset()
        del state.findings[:]
        return first, second, bound

    with lockwatch.watch(loop_block=0):
        for starved in (True, False):
            print(json.dumps([starved, *stage(starved)]))
"""


@PY
def test_time_waiting_for_a_cpu_is_not_counted(tmp_path, python):
    p = rh.run_plain(tmp_path, STAGED, python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    res = {starved: (first, second, bound) for starved, first, second, bound in map(json.loads, p.stdout.splitlines())}
    first, second, bound = res[True]
    # 0.15 s of wall time, 0.12 s of it on the run queue: not a block of 0.1 s.
    assert first == [], res
    # The thread then stays off the run queue for 0.15 s more: a block, counted without the
    # 0.12 s (less than the wall time since the spell began).
    assert len(second) == 1, res
    assert 0.15 <= second[0] <= bound - 0.12 + 0.0005, res
    # The same spell without run-queue time is reported at the first look, as before.
    first, second, bound = res[False]
    assert len(first) == 1 and first[0] >= 0.15, res


# Real starvation: the process and two busy processes pinned to one CPU.
PINNED = """
    import asyncio, json, os, subprocess, sys, time
    import lockwatch
    from lockwatch.runtime import state

    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})           # this thread, and the threads it starts
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    walls = {}
    try:
        time.sleep(0.5)                       # the hogs are running

        async def cpu_step():
            t0, c0 = time.monotonic(), time.thread_time()
            while time.thread_time() - c0 < 0.04:   # CPU_STEP: 40 ms of the thread's own CPU
                pass
            walls["cpu"] = time.monotonic() - t0

        async def sleep_step():
            t0 = time.monotonic()
            time.sleep(0.3)                           # SLEEP_STEP
            walls["sleep"] = time.monotonic() - t0

        with lockwatch.watch(loop_block=0.1):
            asyncio.run(cpu_step())
            asyncio.run(sleep_step())
            lines = sorted({f.line for f in state.findings if f.code == "LW201"})
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    print(json.dumps({"walls": walls, "lines": lines}))
"""


def _line_of(marker: str) -> int:
    import textwrap

    return next(i for i, ln in enumerate(textwrap.dedent(PINNED).splitlines(), 1) if marker in ln)


@PY
def test_a_starved_cpu_step_is_not_reported_and_a_sleep_still_is(tmp_path, python):
    p = rh.run_plain(tmp_path, PINNED, python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.splitlines()[-1])
    if out["walls"]["cpu"] < 0.1:
        pytest.skip(f"the 40 ms step was not starved past the threshold ({out['walls']})")
    # 40 ms of CPU took more than 0.1 s of wall time, the rest waiting for the CPU: not a
    # block by the program. The 0.3 s sleep, under the same starvation, is one.
    assert out["lines"] == [_line_of("# SLEEP_STEP")], out
