"""Every static rule's VALID and INVALID examples, run through the whole static pipeline
(``engine.scan_sources``: summarise -> link -> graph -> checks).

INVALID: the rule's primary locations must be exactly the lines marked ``# expect`` (or
``# expect: LWxxx`` naming this rule). VALID: no finding of the rule at all.
"""

from __future__ import annotations

import re

import pytest

from lockwatch.config import Config
from lockwatch.rules import all_rules
from lockwatch.static.engine import scan_sources

_EXPECT = re.compile(r"#\s*expect(?::\s*(?P<codes>[A-Z0-9, ]+))?\s*$")


def _static_rules():
    return [r for r in all_rules() if r.static and r.check is not None]


def _expected(rule, example) -> set[tuple[str, int]]:
    out = set()
    for path, src in example.files.items():
        for i, line in enumerate(src.splitlines(), 1):
            m = _EXPECT.search(line)
            if not m:
                continue
            codes = m.group("codes")
            if codes is None or rule.code in {c.strip() for c in codes.split(",")}:
                out.add((path, i))
    return out


def _cases(kind):
    for rule in _static_rules():
        for n, ex in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, ex, id=f"{rule.code}-{kind}-{n}")


def _run(rule, example):
    report = scan_sources(dict(example.files), Config(select=[rule.code]))
    assert not report.errors, report.errors
    return [f for f in report.findings if f.code == rule.code]


@pytest.mark.parametrize("rule,example", list(_cases("invalid")))
def test_invalid_example_reports_exactly_the_marked_lines(rule, example):
    found = _run(rule, example)
    got = {(f.path, f.line) for f in found}
    want = _expected(rule, example)
    assert want, "an INVALID example must mark at least one line with '# expect'"
    assert got == want, "\n".join(f"{f.path}:{f.line}: {f.message}" for f in found)


@pytest.mark.parametrize("rule,example", list(_cases("valid")))
def test_valid_example_reports_nothing(rule, example):
    found = _run(rule, example)
    assert not found, "\n".join(f"{f.path}:{f.line}: {f.message}" for f in found)


def test_every_static_rule_of_mine_has_examples():
    codes = {r.code for r in _static_rules()}
    for code in ("LW101", "LW102", "LW111", "LW112", "LW121", "LW131"):
        if code in codes:
            rule = next(r for r in _static_rules() if r.code == code)
            assert rule.valid and rule.invalid, code


def test_findings_carry_witnesses_and_stable_fingerprints():
    rule = next(r for r in _static_rules() if r.code == "LW101")
    ex = rule.invalid[1]
    a = _run(rule, ex)
    # an unrelated edit above the code moves every line but keeps the fingerprint
    shifted = {p: ("# comment\n\n" + s if s else s) for p, s in ex.files.items()}
    b = _run(rule, type(ex)(shifted))
    assert len(a) == len(b) == 1
    assert a[0].fingerprint == b[0].fingerprint
    assert a[0].line + 2 == b[0].line
    notes = [r.note for r in a[0].related]
    assert any("holds" in n for n in notes) and any("calls" in n for n in notes)
    assert sorted(a[0].locks) == ["pkg.conn.Conn._lock", "pkg.pool.Pool._lock"]
