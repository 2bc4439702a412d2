"""The C fast path of threading.Lock (``_fastpath.c``) and the Python methods it replaces
behave the same: the behaviour suite of test_runtime_primitives runs under both, and the
tracer's detections that start on the fast path (a new edge, contention, an out-of-order or
foreign release, an interrupted acquisition) still fire."""

from __future__ import annotations

import importlib.util
import os

import pytest

try:
    from tests import runtime_helpers as rh
    from tests.test_runtime_primitives import BEHAVIOUR
except ImportError:  # pragma: no cover
    import runtime_helpers as rh
    from test_runtime_primitives import BEHAVIOUR

BUILT = importlib.util.find_spec("lockwatch.runtime._fastpath") is not None
MODES = pytest.mark.parametrize("pure", [False, True], ids=["fastpath", "pure-python"])


def _env(monkeypatch, pure: bool) -> None:
    if pure:
        monkeypatch.setenv("LOCKWATCH_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("LOCKWATCH_PURE_PYTHON", raising=False)


def test_fast_path_is_in_use_when_built():
    if not BUILT:
        pytest.skip("the C fast path is not built here (no compiler at install time)")
    import lockwatch.runtime.primitives as p

    if os.environ.get("LOCKWATCH_PURE_PYTHON"):
        assert p._fastpath is None
    else:
        assert p.Lock.__dict__["__enter__"] is p._fastpath.enter
        assert p.Lock.__dict__["__exit__"] is p._fastpath.exit
        assert p.RLock.__dict__["__enter__"] is p._fastpath.rlock_enter
        assert p.RLock.__dict__["__exit__"] is p._fastpath.rlock_exit


@MODES
def test_behaviour_is_the_same_both_ways(tmp_path, monkeypatch, pure):
    _env(monkeypatch, pure)
    p = rh.run_plain(tmp_path, BEHAVIOUR, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "OK", p.stdout + p.stderr


DETECTIONS = r"""
import threading, time, sys
import lockwatch
from lockwatch.runtime import primitives, state
lockwatch.install(long_hold=0, long_wait=0, starvation_passes=0)
print("fast", primitives._fastpath is not None)
A, B = threading.Lock(), threading.Lock()
with A:
    with B:
        pass
def ba():
    with B:
        with A:
            pass
t = threading.Thread(target=ba); t.start(); t.join()
# out-of-order release through __exit__ of an outer with: the stack stays right
C = threading.Lock()
C.acquire()
with A:
    C.release()
assert state.held.get(threading.get_ident()) in ([], None), state.held
# a lock taken with `with` in one thread and released by another (a signal)
S = threading.Lock()
S.__enter__()
threading.Thread(target=S.__exit__, args=(None, None, None)).start()
time.sleep(0.2)
assert not S.locked()
# contention goes to the slow path and still works
H = threading.Lock()
got = []
def hold():
    with H:
        time.sleep(0.2)
h = threading.Thread(target=hold); h.start(); time.sleep(0.05)
with H:
    got.append(1)
h.join()
assert got == [1]
# releasing an unlocked lock raises like the raw one
try:
    with A:
        A.release()
except RuntimeError as e:
    print("raw error", "release unlocked lock" in str(e))
from lockwatch.runtime import api
# RLock: re-entry counts, the stack holds it once, an inversion with a Lock is an edge
R = threading.RLock()
with R:
    with R:
        with R:
            assert R._cnt == 3 and state.held[threading.get_ident()].count(R) == 1
    assert R._cnt == 1
assert R._cnt == 0 and not R._is_owned() and state.held[threading.get_ident()] == []
try:
    R.__exit__(None, None, None)
except RuntimeError as e:
    print("rlock error", "un" in str(e))
# a Condition over the RLock: wait() gives it up and takes it back at its depth
cv = threading.Condition(R)
def notify():
    with cv:
        cv.notify()
with cv:
    with R:
        threading.Thread(target=notify).start()
        assert cv.wait(5)
        assert R._cnt == 2
assert R._cnt == 0
D = threading.Lock()
with D:
    with R:
        pass
def rd():
    with R:
        with D:
            pass
t = threading.Thread(target=rd); t.start(); t.join()
codes = sorted(f.code for f in api.collect())
print("codes", codes)
"""


@MODES
def test_detections_start_on_the_fast_path(tmp_path, monkeypatch, pure):
    _env(monkeypatch, pure)
    p = rh.run_plain(tmp_path, DETECTIONS, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert ("fast True" in p.stdout) == (BUILT and not pure), p.stdout
    assert "raw error True" in p.stdout, p.stdout
    assert "rlock error True" in p.stdout, p.stdout
    assert "codes ['LW101', 'LW101']" in p.stdout, p.stdout + p.stderr
