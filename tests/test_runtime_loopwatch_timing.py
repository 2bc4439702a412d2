"""How long loopwatch says an event loop was blocked (LW201): timed from the loop's own
post-select clock reading, so a block the watchdog samples only once, late, is still
reported; a loop with a clock of its own is timed from the first sample as before.

The watchdog thread is kept out (``loop_block=0`` when the loop registers); each program
calls ``loopwatch.sample()`` itself while its loop thread waits on an Event inside a step, so
nothing depends on how busy the machine is: the only waits are lower bounds."""

from __future__ import annotations

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

PY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)
ROUNDING = 0.0005   # findings keep seconds to 3 decimals

STAGE = """
    import asyncio, json, threading, time
    import lockwatch
    from lockwatch.runtime import loopwatch, state

    class VirtualClockLoop(asyncio.SelectorEventLoop):
        # A test loop with time of its own (starts at zero), like a fake-clock plugin's.
        def time(self):
            return 0.0

    def lw201():
        return [(round(f.extra["seconds"], 3), f.line) for f in state.findings if f.code == "LW201"]

    def stage(factory):
        started, release = threading.Event(), threading.Event()

        async def step():
            started.set()
            release.wait(30)  # BLOCK: the loop's thread waits inside a step, off its selector

        def body():
            loop = factory()
            try:
                loop.run_until_complete(step())
            finally:
                loop.close()

        t_start = state.monotonic()
        t = threading.Thread(target=body)
        t.start()
        assert started.wait(30)
        loopwatch.threshold = 0.1        # the loop has registered: still no watchdog thread
        time.sleep(0.15)                 # the step has now been blocked at least 0.15 s
        loopwatch.sample()               # the first sample to see it
        first = lw201()
        time.sleep(0.15)
        loopwatch.sample()
        second = lw201()
        bound = state.monotonic() - t_start   # no block can have lasted longer than this
        release.set()
        t.join(30)
        loopwatch.threshold = 0.0
        loopwatch.reset()
        del state.findings[:]
        return first, second, bound

    with lockwatch.watch(loop_block=0):
        for name, factory in (("real", asyncio.SelectorEventLoop), ("virtual", VirtualClockLoop)):
            first, second, bound = stage(factory)
            print(json.dumps([name, first, second, bound]))
"""


def _results(p) -> dict:
    import json

    return {name: (first, second, bound)
            for name, first, second, bound in map(json.loads, p.stdout.splitlines())}


def _line_of(marker: str) -> int:
    import textwrap

    return next(i for i, ln in enumerate(textwrap.dedent(STAGE).splitlines(), 1) if marker in ln)


@PY
def test_one_late_sample_reports_a_block_timed_from_the_loops_own_clock(tmp_path, python):
    p = rh.run_plain(tmp_path, STAGE, python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    res = _results(p)
    first, second, bound = res["real"]
    # Timed from when the step's tick left its selector, the single sample already sees a
    # block past the threshold (timed from that sample, as before, it saw 0 s).
    assert len(first) == 1, res
    seconds, line = first[0]
    assert line == _line_of("# BLOCK")
    assert 0.15 <= seconds <= bound + ROUNDING
    # The second sample lengthens the same finding, never a second one.
    assert len(second) == 1 and 0.3 <= second[0][0] <= bound + ROUNDING, res


@PY
def test_a_loop_with_its_own_clock_is_timed_from_the_first_sample(tmp_path, python):
    p = rh.run_plain(tmp_path, STAGE, python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    first, second, bound = _results(p)["virtual"]
    # Its end_time (0.0 + resolution) is no monotonic reading: taken at face value the block
    # would have lasted since boot. It is not used: the first sample only starts the clock.
    assert first == []
    assert len(second) == 1, second
    assert 0.15 <= second[0][0] <= bound + ROUNDING
