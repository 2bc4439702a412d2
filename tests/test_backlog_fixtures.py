"""The backlog fixture corpus (fixtures/backlog/): both halves must match each case's
expectations exactly as the rest of the corpus does (tests/fixture_support.py).

The expectations live in ``expected.backlog.json`` until the shared harness lists the
``backlog`` area (then they become ``expected.json`` and test_fixtures_*.py take over)."""

from __future__ import annotations

import json

import pytest

from tests import fixture_support as fs

ROOT = fs.FIXTURES / "backlog"


def _cases() -> list[fs.Case]:
    out = []
    for exp in sorted(ROOT.glob("*/expected*.json")):
        with open(exp, encoding="utf-8") as fh:
            out.append(fs.Case("backlog", exp.parent.name, exp.parent, json.load(fh)))
    return out


CASES = _cases()


def test_corpus_has_positives_and_clean_twins():
    pos = [c for c in CASES if not c.is_clean]
    clean = [c for c in CASES if c.is_clean]
    assert len(pos) >= 2 and len(clean) >= 3
    ids = {c.id for c in CASES}
    for c in clean:
        assert c.expected.get("lookalike_of") in ids, c.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_is_well_formed(case):
    problems = [p for p in fs.validate_case(case) if p != "unknown area 'backlog'"]
    assert problems == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_static_findings_match_expected(case):
    report = fs.run_static(case)
    assert not report.errors, report.errors
    res = fs.compare_static(case.static, report.findings)
    assert res.ok, fs.format_static_diff(case, res)


@pytest.mark.parametrize("case", [c for c in CASES if c.driver], ids=[c.id for c in CASES if c.driver])
def test_runtime_findings_match_expected(case):
    run = fs.run_runtime(case)
    assert not run.timed_out and run.report is not None, f"{case.id}: {run.stderr[-2000:]}"
    strict = fs.STRICT_RUNTIME_KINDS | {"unbounded-backlog"}
    res = fs.compare_runtime(case.runtime or [], run.findings, strict)
    assert res.ok, fs.format_runtime_diff(case, res, run)
