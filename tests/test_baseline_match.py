"""Baselines: fingerprints not lines, count-aware matching, clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from lockwatch.baseline import (
    BaselineError,
    apply_baseline,
    load_baseline,
    write_baseline,
)
from lockwatch.config import ConfigError
from lockwatch.findings import Finding


def f(code, fp, line=1, path="a.py"):
    return Finding(code, "lock-order-cycle", "error", f"msg {fp}", path, line, 1, fingerprint=fp)


def test_round_trip_and_layout(tmp_path):
    p = tmp_path / "lockwatch-baseline.json"
    n = write_baseline(str(p), [f("LW101", "aaa", 10), f("LW131", "bbb", 20)])
    assert n == 2
    data = json.loads(p.read_text(encoding="utf-8"))
    assert data["lockwatch_baseline"] == 1
    assert data["findings"][0] == {"code": "LW101", "fingerprint": "aaa", "path": "a.py", "message": "msg aaa"}
    assert "line" not in data["findings"][0]
    assert load_baseline(str(p)) == {("LW101", "aaa"): 1, ("LW131", "bbb"): 1}


def test_moved_findings_stay_hidden_new_ones_show(tmp_path):
    p = tmp_path / "b.json"
    write_baseline(str(p), [f("LW101", "aaa", 10)])
    accepted = load_baseline(str(p))
    # Same hazard, other line (unrelated edit above it): still hidden.
    assert apply_baseline([f("LW101", "aaa", 99)], accepted) == []
    # Same fingerprint under another code is a different finding.
    new = [f("LW111", "aaa", 10), f("LW101", "ccc", 10)]
    assert apply_baseline(new, accepted) == sorted(new, key=Finding.sort_key)


def test_count_aware(tmp_path):
    p = tmp_path / "b.json"
    write_baseline(str(p), [f("LW101", "aaa", 10)])
    kept = apply_baseline([f("LW101", "aaa", 10), f("LW101", "aaa", 30)], load_baseline(str(p)))
    assert len(kept) == 1 and kept[0].line == 30
    write_baseline(str(p), [f("LW101", "aaa", 10), f("LW101", "aaa", 30)])
    assert load_baseline(str(p)) == {("LW101", "aaa"): 2}
    assert apply_baseline([f("LW101", "aaa", 5), f("LW101", "aaa", 6)], load_baseline(str(p))) == []


@pytest.mark.parametrize(
    "content, match",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "not a lockwatch baseline"),
        (b'{"findings": []}', "not a lockwatch baseline"),
        (b'{"lockwatch_baseline": 99, "findings": []}', "version 99"),
        (b'{"lockwatch_baseline": 1, "findings": {}}', "must be a list"),
        (b'{"lockwatch_baseline": 1, "findings": [{"code": "LW101"}]}', "entry 0"),
        (b'{"lockwatch_baseline": 1, "findings": [{"code": "LW101", "fingerprint": 3}]}', "entry 0"),
    ],
)
def test_corrupt_baseline_is_a_clear_error(tmp_path, content, match):
    p = tmp_path / "b.json"
    p.write_bytes(content)
    with pytest.raises(BaselineError, match=match) as exc:
        load_baseline(str(p))
    assert str(p) in str(exc.value)
    assert isinstance(exc.value, ConfigError)  # the CLI maps it to exit 2


def test_missing_baseline(tmp_path):
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(str(tmp_path / "nope.json"))


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "b.json"
    write_baseline(str(p), [])
    assert [x.name for x in tmp_path.iterdir()] == ["b.json"]
    assert load_baseline(str(p)) == {}
