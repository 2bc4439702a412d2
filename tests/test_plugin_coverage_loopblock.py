"""The plugin's own coverage collector must not make LW201 report loop blocks the program does
not cause (repro r4): a line-tracing core stretches the loop thread's Python code ~3x, so a
70 ms step was reported as a 0.2 s block. The collector now runs on coverage.py's
``sys.monitoring`` core where there is one (3.12+); on a line-tracing core the watchdog counts
the CPU time the loop thread used in a busy spell at 1/slowdown, and time off CPU (a sleep, a
wait: the blocks LW201 is about) in full.

The unit tests keep the watchdog thread out (``loop_block=0``) and call
``loopwatch.sample(now=...)`` with chosen clock readings (and a scripted thread CPU clock) on a
loop with a clock of its own (timed from the first sample), so the durations are exact and
nothing depends on machine load."""

from __future__ import annotations

import json
import sys

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

pytest_plugins = ["pytester"]
TIMEOUT = 90
PY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)

STAGE = """
    import asyncio, json, threading
    import lockwatch
    from lockwatch.runtime import loopwatch, state

    class VirtualClockLoop(asyncio.SelectorEventLoop):
        def time(self):
            return 0.0

    # The clock readings are chosen, so the run queue is kept out too: a spinning loop thread
    # on a loaded machine does wait for a CPU, and that time is not counted (the durations
    # came out 0.27-0.29 s instead of 0.3 at load 5).
    loopwatch._schedstat_ok = False

    def scripted_cpu(delta):
        # The loop thread's CPU clock: 100 s at the first look, 100 + delta at the second;
        # None = no thread CPU clock (the opcode fallback).
        looks = []

        def cpu(rec):
            looks.append(1)
            return None if delta is None else 100.0 + delta * (len(looks) - 1)
        return cpu

    def stage(mode, slowdown, delta):
        started, release, box = threading.Event(), threading.Event(), []

        async def step():
            started.set()
            if mode == "spin":
                while not box:   # running bytecode the whole time
                    pass
            else:
                release.wait(30)  # inside a call to C (a lock wait) the whole time

        def body():
            loop = VirtualClockLoop()
            try:
                loop.run_until_complete(step())
            finally:
                loop.close()

        t = threading.Thread(target=body)
        t.start()
        assert started.wait(30)
        loopwatch.threshold = 0.1
        loopwatch.slowdown = slowdown
        real_cpu, loopwatch.cpu_seconds = loopwatch.cpu_seconds, scripted_cpu(delta)
        now = state.monotonic() + 1.0
        loopwatch.sample(now)          # first sighting: the clock starts here
        loopwatch.sample(now + 0.3)    # 0.3 s later, still in the same step
        loopwatch.cpu_seconds = real_cpu
        found = [(f.extra["seconds"], f.message) for f in state.findings if f.code == "LW201"]
        box.append(1)
        release.set()
        t.join(30)
        loopwatch.threshold, loopwatch.slowdown = 0.0, 1.0
        loopwatch.reset()
        del state.findings[:]
        return found

    CASES = [("spin", 1.0, 0.3), ("wait", 1.0, 0.0), ("spin", 4.0, 0.3), ("wait", 4.0, 0.0),
             ("wait", 4.0, 0.1), ("spin", 4.0, None), ("wait", 4.0, None)]
    with lockwatch.watch(loop_block=0):
        for mode, slowdown, delta in CASES:
            print(json.dumps([mode, slowdown, delta, stage(mode, slowdown, delta)]))
"""


@PY
def test_cpu_time_under_a_line_tracer_counts_at_one_over_slowdown(tmp_path, python):
    p = rh.run_plain(tmp_path, STAGE, python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    res = {(mode, slowdown, delta): found
           for mode, slowdown, delta, found in map(json.loads, p.stdout.splitlines())}
    # No tracer: 0.3 s of a busy step is a block, on CPU or not.
    (spin,) = res[("spin", 1.0, 0.3)]
    (wait,) = res[("wait", 1.0, 0.0)]
    assert spin[0] == wait[0] == 0.3
    assert "coverage" not in spin[1]
    # Under a 4x line tracer, 0.3 s all on CPU counts 0.3 / 4 = 0.075 s: under the threshold.
    assert res[("spin", 4.0, 0.3)] == []
    # Off CPU (a wait) no tracer stretches it: still 0.3 s, and the message says how the time
    # was counted.
    (wait4,) = res[("wait", 4.0, 0.0)]
    assert wait4[0] == 0.3
    assert "CPU time on the loop's thread counted at 1/4" in wait4[1]
    # 0.1 s of CPU in it: 0.2 + 0.1 / 4.
    (mixed,) = res[("wait", 4.0, 0.1)]
    assert mixed[0] == 0.225
    # No thread CPU clock: what the look sees decides: bytecode counts 1/4, a call in full.
    assert res[("spin", 4.0, None)] == []
    (wait_nc,) = res[("wait", 4.0, None)]
    assert wait_nc[0] == 0.3


CLOCK = """
    import asyncio, json, sys, threading, time
    import lockwatch
    from lockwatch.runtime import loopwatch

    def cpu_of(mode):
        started, release, box = threading.Event(), threading.Event(), []

        async def step():
            started.set()
            if mode == "spin":
                while not box:
                    pass
            else:
                release.wait(30)

        t = threading.Thread(target=lambda: asyncio.run(step()))
        t.start()
        assert started.wait(30)
        rec = loopwatch._loops[t.ident]
        c0 = loopwatch.cpu_seconds(rec)
        grew = False
        for _ in range(100 if mode == "spin" else 20):   # up to 10 s for the spinner to get CPU
            time.sleep(0.1)
            if loopwatch.cpu_seconds(rec) - c0 > 0.01:
                grew = True
                break
        box.append(1)
        release.set()
        t.join(30)
        # The watchdog's next look would drop the gone thread; the next one may get its ident.
        loopwatch._loops.pop(t.ident, None)
        return grew

    if not hasattr(time, "pthread_getcpuclockid"):
        print(json.dumps("no clock"))
        sys.exit(0)
    with lockwatch.watch(loop_block=0):
        print(json.dumps({m: cpu_of(m) for m in ("spin", "wait")}))
"""


@PY
def test_the_loop_threads_cpu_clock_runs_while_it_computes_not_while_it_waits(tmp_path, python):
    p = rh.run_plain(tmp_path, CLOCK, python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    got = json.loads(p.stdout)
    if got == "no clock":  # pragma: no cover - not POSIX
        return
    # A spinning loop thread uses CPU; one waiting 2 s on a lock uses (far) less than 0.01 s.
    assert got == {"spin": True, "wait": False}


INVERSION = '''
import threading

A = threading.Lock()
B = threading.Lock()


def a_then_b():
    with A:
        with B:
            pass


def b_then_a():
    with B:
        with A:
            pass
'''

PROBE = INVERSION + '''

def test_probe():
    import json
    from lockwatch.runtime import loopwatch
    with open("probe.json", "w") as fh:
        json.dump({"slowdown": getattr(loopwatch, "slowdown", None)}, fh)
'''


def _run(pytester: pytest.Pytester, *args: str):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=TIMEOUT)


def test_the_plugin_tells_the_watchdog_what_its_own_collector_costs(pytester):
    # The test file holds static acquisition lines: the plugin's own collector measures it.
    pytester.makepyfile(test_probe=PROBE)
    r = _run(pytester, "--lockwatch")
    assert r.ret == 0, r.stdout.str()
    got = json.loads((pytester.path / "probe.json").read_text())["slowdown"]
    from lockwatch.plugin.coverage_join import LINE_TRACER_SLOWDOWN

    try:
        import coverage  # noqa: F401
    except ImportError:  # pragma: no cover - no collector, nothing slowed
        assert got == 1.0
        return
    # 3.12+: the sys.monitoring core, which stops tracing a line once seen: no slowdown.
    assert got == (1.0 if sys.version_info >= (3, 12) else LINE_TRACER_SLOWDOWN)
    r = _run(pytester, "--lockwatch", "--lockwatch-no-coverage")
    assert r.ret == 0, r.stdout.str()
    assert json.loads((pytester.path / "probe.json").read_text())["slowdown"] == 1.0


PROBE_CORE = PROBE + '''

def test_core():
    import json
    import coverage
    with open("core.json", "w") as fh:
        json.dump(coverage.Coverage.current()._collector.tracer_name(), fh)
'''


def test_a_collector_of_the_users_own_gets_the_same_discount(pytester, monkeypatch):
    # ``coverage run -m pytest`` (as pytest-cov does, a collector is active before the
    # plugin starts): with a line-tracing core the watchdog is told the same slowdown as
    # under the plugin's own collector; with the sys.monitoring core, none.
    pytest.importorskip("coverage")
    from lockwatch.plugin.coverage_join import LINE_TRACER_SLOWDOWN

    pytester.makepyfile(test_probe=PROBE_CORE)
    for core in ("ctrace", "sysmon") if sys.version_info >= (3, 12) else ("ctrace",):
        monkeypatch.setenv("COVERAGE_CORE", core)
        r = pytester.run(sys.executable, "-m", "coverage", "run", "--data-file=.cov", "-m",
                         "pytest", "-p", "no:cacheprovider", "--lockwatch", timeout=TIMEOUT)
        assert r.ret == 0, r.stdout.str() + r.stderr.str()
        tracer = json.loads((pytester.path / "core.json").read_text())
        got = json.loads((pytester.path / "probe.json").read_text())["slowdown"]
        assert tracer == {"ctrace": "CTracer", "sysmon": "SysMonitor"}[core]
        assert got == (LINE_TRACER_SLOWDOWN if core == "ctrace" else 1.0), (core, tracer)


LOOP_TESTS = INVERSION + '''

import asyncio
import time


async def sleeper():
    time.sleep(0.3)  # REAL: a real block, as long with or without a tracer


def test_sleep():
    asyncio.run(sleeper())
'''


def test_a_real_block_in_a_measured_file_stays_reported(pytester):
    # Twin of r4: the collector measures this file; the 0.3 s sleep is a call to C, counted
    # in full whatever the core.
    pytester.makepyfile(test_loop=LOOP_TESTS)
    r = _run(pytester, "--lockwatch", "--lockwatch-report=r.json")
    rep = json.loads((pytester.path / "r.json").read_text())
    runtime = [f for f in rep["findings"] if f["code"] == "LW201" and f["origin"] == "runtime"]
    written = (pytester.path / "test_loop.py").read_text().splitlines()
    real = next(i for i, ln in enumerate(written, 1) if "# REAL" in ln)
    assert [f["line"] for f in runtime] == [real], (r.stdout.str(), runtime)
    assert "blocked for at least" in runtime[0]["message"]
