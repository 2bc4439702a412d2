"""The fixture corpus against the runtime half.

1. Every driver runs under plain python, exits 0 and never hangs: proves the drivers make
   each hazard possible without firing it (passes whatever state lockwatch is in).
2. Under ``python -m lockwatch run --format json --output FILE driver.py`` the expected
   runtime codes/kinds are reported and no other finding of the deterministic lock kinds
   (lock-order-cycle, deadlock, self-deadlock, acquire-without-release) appears.
"""

from __future__ import annotations

import pytest

try:
    from tests import fixture_support as fs
except ImportError:
    import fixture_support as fs

DRIVEN = fs.cases_with_driver()


@pytest.mark.parametrize("case", DRIVEN, ids=[c.id for c in DRIVEN])
def test_driver_runs_cleanly_without_lockwatch(case):
    p = fs.run_plain(case)
    want = 3 if case.really_deadlocks else 0
    assert p.returncode == want, (
        f"{case.id}: driver exited {p.returncode} (want {want})\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}"
    )


@pytest.mark.parametrize("case", DRIVEN, ids=[c.id for c in DRIVEN])
def test_runtime_findings_match_expected(case):
    if not fs.runtime_cli_available():
        pytest.skip("`python -m lockwatch run` has not landed yet")
    run = fs.run_runtime(case)
    assert not run.timed_out, f"{case.id}: `lockwatch run` hung ({fs.RUNTIME_TIMEOUT}s)\n{run.stderr[-2000:]}"
    assert run.report is not None, (
        f"{case.id}: no JSON report written (exit {run.returncode})\n{run.stderr[-2000:]}"
    )
    assert run.report.get("source") == "runtime"
    res = fs.compare_runtime(case.runtime or [], run.findings, case.strict_runtime_kinds)
    assert res.ok, fs.format_runtime_diff(case, res, run)


def test_runtime_compare_semantics():
    found = [{"code": "LW131", "kind": "blocking-under-lock", "path": "a.py", "line": 1, "message": ""},
             {"code": "LW101", "kind": "lock-order-cycle", "path": "a.py", "line": 2, "message": ""},
             {"code": "LW101", "kind": "lock-order-cycle", "path": "a.py", "line": 3, "message": ""}]
    res = fs.compare_runtime([{"code": "LW101"}, {"kind": "blocking-under-lock"}], found)
    assert res.ok
    res = fs.compare_runtime([{"code": "LW13"}], found)
    assert res.missing == [] and len(res.extra) == 2
    res = fs.compare_runtime([], found[:1])
    assert res.ok and len(res.noted) == 1   # timing kinds are noted, not failed
    res = fs.compare_runtime([{"code": "LW111"}], [])
    assert not res.ok and res.missing == [{"code": "LW111"}]
