"""Every report format renders the same findings: SPEC's text and JSON layouts exactly,
SARIF 2.1.0 structure, GitHub workflow commands with the runner's escaping."""

from __future__ import annotations

import io
import json

import pytest

from lockwatch import __version__
from lockwatch import report as rep
from lockwatch.findings import Finding, InputError, Location, Report
from lockwatch.report.github import escape_data, escape_property
from lockwatch.report.sarif import sarif_log
from lockwatch.report.text import render_text

CYCLE = Finding(
    code="LW101",
    kind="lock-order-cycle",
    severity="error",
    message="Pool._lock and Conn._lock are taken in opposite orders",
    path="pkg/pool.py",
    line=40,
    column=9,
    locks=["pkg.pool.Pool._lock", "pkg.conn.Conn._lock"],
    related=[
        Location("pkg/pool.py", 40, 9, "Pool.checkout holds Pool._lock"),
        Location("pkg/pool.py", 44, 13, "... calls Conn.reset"),
        Location("pkg/conn.py", 52, 9, "... which takes Conn._lock"),
        Location("pkg/conn.py", 17, 13, "Conn.close holds Conn._lock"),
        Location("pkg/conn.py", 21, 13, "... calls Pool.release"),
        Location("pkg/pool.py", 61, 9, "... which takes Pool._lock"),
    ],
    fingerprint="abc123",
)

SLEEP = Finding(
    code="LW131", kind="blocking-under-lock", severity="warning",
    message="time.sleep() while holding Cache._lock", path="pkg/cache.py", line=12, column=5,
    locks=["pkg.cache.Cache._lock"], fingerprint="def456",
)

RUNTIME = Finding(
    code="LW103", kind="deadlock", severity="error", message="threads wait on each other",
    path="app.py", line=7, column=1, fingerprint="f00",
    stacks=[["app.py:7 in worker_a", "app.py:20 in run"], ["app.py:9 in worker_b"]],
)


def make_report(*findings, errors=()):
    return Report(source="static", findings=list(findings), errors=list(errors))


# ---- text ----------------------------------------------------------------------------

SPEC_TEXT = """\
pkg/pool.py:40:9: LW101 lock-order-cycle: Pool._lock and Conn._lock are taken in opposite orders
    pkg/pool.py:40:9     Pool.checkout holds Pool._lock
    pkg/pool.py:44:13    ... calls Conn.reset
    pkg/conn.py:52:9     ... which takes Conn._lock
    pkg/conn.py:17:13    Conn.close holds Conn._lock
    pkg/conn.py:21:13    ... calls Pool.release
    pkg/pool.py:61:9     ... which takes Pool._lock
"""


def test_text_matches_spec_example_exactly():
    out = render_text(make_report(CYCLE), quiet=True)
    assert out == SPEC_TEXT


def test_text_summary_errors_and_ordering():
    bad = InputError("pkg/broken.py", "syntax error at line 3: unexpected indent")
    out = render_text(make_report(SLEEP, CYCLE, errors=[bad]))
    lines = out.splitlines()
    # errors (severity) first, then warnings; input errors after findings; summary last.
    assert lines[0].startswith("pkg/pool.py:40:9: LW101 ")
    assert lines[7] == "pkg/cache.py:12:5: LW131 blocking-under-lock: time.sleep() while holding Cache._lock"
    assert lines[8] == "pkg/broken.py: error: syntax error at line 3: unexpected indent"
    assert lines[-1] == (
        "Found 2 findings (1 error, 1 warning) in 2 files. 1 input could not be analysed (listed above)."
    )
    assert "\x1b[" not in out


def test_text_no_findings():
    assert render_text(make_report()) == "No findings.\n"
    assert render_text(make_report(), quiet=True) == ""


def test_text_stacks_are_indented_beneath():
    lines = render_text(make_report(RUNTIME), quiet=True).splitlines()
    assert lines == [
        "app.py:7:1: LW103 deadlock: threads wait on each other",
        "    stack 1 of 2:",
        "        app.py:7 in worker_a",
        "        app.py:20 in run",
        "    stack 2 of 2:",
        "        app.py:9 in worker_b",
    ]


def test_text_shows_the_other_waiting_agents_a_runtime_report_carries():
    from dataclasses import replace

    waiting = {"Task-3 (consumer)": {"waits_for": "asyncio.Queue (jobs, app.py:3)", "kind": "queue",
                                     "seconds": 2.5, "stack": ["app.py:30 in consumer"]}}
    f = replace(RUNTIME, extra={"waiting": waiting})
    lines = render_text(make_report(f), quiet=True).splitlines()
    assert lines[-2:] == [
        "    also waiting: Task-3 (consumer) waits for asyncio.Queue (jobs, app.py:3) for 2.5 s",
        "        app.py:30 in consumer",
    ]
    assert "also waiting" not in render_text(make_report(RUNTIME), quiet=True)


def test_text_long_locations_still_separated_from_note():
    f = Finding("LW111", "self-deadlock", "error", "m", "a.py", 1, 1, fingerprint="x",
                related=[Location("some/very/long/path/module.py", 1234, 56, "takes L")])
    line = render_text(make_report(f), quiet=True).splitlines()[1]
    assert line == "    some/very/long/path/module.py:1234:56 takes L"


def test_colour_only_when_asked():
    assert "\x1b[" in render_text(make_report(CYCLE), color=True)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_use_color_respects_tty_and_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert rep.use_color(_Tty()) is True
    assert rep.use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert rep.use_color(_Tty()) is False


# ---- json ----------------------------------------------------------------------------

def test_json_is_spec_layout():
    r = make_report(SLEEP, CYCLE, errors=[InputError("pkg/broken.py", "syntax error at line 3: x")])
    out = rep.render(r, "json")
    assert out.endswith("}\n") and out.startswith("{\n  ")
    d = json.loads(out)
    assert list(d) == ["lockwatch", "source", "findings", "errors"]
    assert d["lockwatch"] == __version__ and d["source"] == "static"
    assert [f["code"] for f in d["findings"]] == ["LW101", "LW131"]
    f = d["findings"][0]
    assert list(f) == ["code", "kind", "severity", "message", "path", "line", "column", "locks",
                       "related", "fingerprint"]
    assert f["related"][1] == {"path": "pkg/pool.py", "line": 44, "column": 13, "note": "... calls Conn.reset"}
    assert d["errors"] == [{"path": "pkg/broken.py", "message": "syntax error at line 3: x"}]
    # Round trip through the one finding model.
    assert Report.from_dict(d).to_dict() == d


def test_json_runtime_stacks_present():
    d = json.loads(rep.render(Report("runtime", [RUNTIME]), "json"))
    assert d["findings"][0]["stacks"] == RUNTIME.stacks


# ---- sarif ---------------------------------------------------------------------------

def _check_sarif_structure(log):
    """The key requirements of the SARIF 2.1.0 schema, by hand (no schema file offline)."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lockwatch" and isinstance(driver["version"], str)
    assert driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    for r in driver["rules"]:
        assert set(r) >= {"id", "shortDescription", "defaultConfiguration"}
        assert isinstance(r["shortDescription"]["text"], str)
        assert r["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")

    def check_location(loc):
        phys = loc["physicalLocation"]
        assert isinstance(phys["artifactLocation"]["uri"], str)
        if "region" in phys:
            assert phys["region"]["startLine"] >= 1
            assert phys["region"].get("startColumn", 1) >= 1

    assert isinstance(run["results"], list)
    for res in run["results"]:
        assert res["level"] in ("none", "note", "warning", "error")
        assert isinstance(res["message"]["text"], str) and res["message"]["text"]
        assert ids[res["ruleIndex"]] == res["ruleId"]
        for loc in res["locations"]:
            check_location(loc)
        rel_ids = []
        for loc in res.get("relatedLocations", []):
            check_location(loc)
            assert isinstance(loc["id"], int) and loc["id"] >= 0
            rel_ids.append(loc["id"])
        assert len(rel_ids) == len(set(rel_ids))
        for flow in res.get("codeFlows", []):
            assert flow["threadFlows"], "a codeFlow needs at least one threadFlow"
            for tf in flow["threadFlows"]:
                assert tf["locations"], "a threadFlow needs at least one location"
                for tfl in tf["locations"]:
                    check_location(tfl["location"])
        for k, v in res.get("partialFingerprints", {}).items():
            assert isinstance(k, str) and isinstance(v, str)
    for inv in run.get("invocations", []):
        assert isinstance(inv["executionSuccessful"], bool)
        for n in inv.get("toolExecutionNotifications", []):
            assert isinstance(n["message"]["text"], str)
            assert n["level"] in ("none", "note", "warning", "error")
    for base in run.get("originalUriBaseIds", {}).values():
        assert base["uri"].endswith("/")


def test_sarif_structure_and_witness():
    bad = InputError("pkg/broken.py", "syntax error at line 3: x")
    log = json.loads(rep.render(make_report(CYCLE, SLEEP, errors=[bad]), "sarif"))
    _check_sarif_structure(log)
    run = log["runs"][0]
    res = run["results"][0]
    assert res["ruleId"] == "LW101" and res["level"] == "error"
    assert res["partialFingerprints"] == {"lockwatch/v1": "abc123"}
    assert res["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "pkg/pool.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 40, "startColumn": 9},
    }
    rel = res["relatedLocations"]
    assert [r["id"] for r in rel] == [1, 2, 3, 4, 5, 6]
    assert [r["message"]["text"] for r in rel] == [loc.note for loc in CYCLE.related]
    flow = res["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [(x["location"]["physicalLocation"]["region"]["startLine"]) for x in flow] == [40, 44, 52, 17, 21, 61]
    assert run["results"][1]["level"] == "warning"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["message"]["text"] == "syntax error at line 3: x"
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/broken.py"


def test_sarif_rules_come_from_the_registry_with_docs():
    from lockwatch.rules import all_rules

    log = sarif_log(make_report())
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in all_rules()]
    for desc, rule in zip(rules, all_rules()):
        assert desc["name"] == rule.name
        assert desc["help"]["markdown"] == rule.doc()


def test_sarif_unknown_code_gets_a_descriptor_and_absolute_paths_are_file_uris(tmp_path):
    p = str(tmp_path / "dir with space" / "m.py")
    f = Finding("LW999", "deadlock", "info", "m", p, 3, 1, fingerprint="z")
    log = sarif_log(make_report(f))
    _check_sarif_structure(log)
    res = log["runs"][0]["results"][0]
    assert res["level"] == "note"
    uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file:///") and "dir%20with%20space" in uri


# ---- github --------------------------------------------------------------------------

def test_github_lines():
    out = rep.render(make_report(SLEEP, CYCLE), "github").splitlines()
    assert out[0].startswith(
        "::error file=pkg/pool.py,line=40,col=9,title=LW101 lock-order-cycle::"
        "Pool._lock and Conn._lock are taken in opposite orders%0Apkg/pool.py:40:9 Pool.checkout holds Pool._lock%0A"
    )
    assert out[1] == (
        "::warning file=pkg/cache.py,line=12,col=5,title=LW131 blocking-under-lock::"
        "time.sleep() while holding Cache._lock"
    )


def test_github_escaping():
    assert escape_data("100% a\r\nb") == "100%25 a%0D%0Ab"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    f = Finding("LW121", "acquire-without-release", "info", "50% of paths: skip", "we,ird:name.py", 1, 2,
                fingerprint="q")
    line = rep.render(make_report(f), "github").strip()
    assert line == ("::notice file=we%2Cird%3Aname.py,line=1,col=2,title=LW121 acquire-without-release::"
                    "50%25 of paths: skip")
    assert "\n" not in line


def test_github_input_errors():
    out = rep.render(make_report(errors=[InputError("a,b.py", "syntax error: x")]), "github")
    assert out == "::error file=a%2Cb.py,title=lockwatch%3A input not analysed::syntax error: x\n"


# ---- write ---------------------------------------------------------------------------

def test_write_to_file_and_unknown_format(tmp_path):
    out = tmp_path / "sub" / "r.json"
    rep.write(make_report(CYCLE), "json", str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["findings"][0]["code"] == "LW101"
    with pytest.raises(ValueError):
        rep.render(make_report(), "xml")
