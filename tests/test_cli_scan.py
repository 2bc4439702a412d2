"""The command line with a stand-in engine: options reach the Config, exit statuses,
formats, baseline, hook mode, rule listing, run dispatch and visible internal errors."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import types

import pytest

import lockwatch.rules as rules_mod
from lockwatch import cli
from lockwatch.findings import Finding, InputError, Location, Report
from lockwatch.rules import Example, Rule


def finding(path="pkg/a.py", line=3, code="LW101", related=(), fp=None):
    return Finding(code, "lock-order-cycle", "error", f"cycle in {path}", path, line, 5,
                   locks=["pkg.a.A", "pkg.b.B"], related=list(related), fingerprint=fp or f"fp-{path}-{code}")


class FakeEngine:
    def __init__(self, findings=(), errors=()):
        self.findings = list(findings)
        self.errors = list(errors)
        self.calls = []

    def __call__(self, paths, config):
        self.calls.append((list(paths), config))
        return Report("static", list(self.findings), list(self.errors))


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import threading\n", encoding="utf-8")
    (tmp_path / "pkg" / "b.py").write_text("import threading\n", encoding="utf-8")
    (tmp_path / "pkg" / "c.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def use_engine(monkeypatch, engine):
    monkeypatch.setattr(cli, "_engine_scan", engine)
    return engine


def test_exit_status_follows_findings(project, monkeypatch, capsys):
    use_engine(monkeypatch, FakeEngine())
    assert cli.main(["scan"]) == 0
    assert capsys.readouterr().out == "No findings.\n"
    use_engine(monkeypatch, FakeEngine([finding()]))
    assert cli.main(["scan", "pkg"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("pkg/a.py:3:5: LW101 lock-order-cycle: cycle in pkg/a.py\n")
    assert out.endswith("Found 1 finding (1 error) in 1 file.\n")
    assert cli.main(["scan", "pkg", "--exit-zero"]) == 0


def test_input_errors_are_shown_but_do_not_fail(project, monkeypatch, capsys):
    use_engine(monkeypatch, FakeEngine(errors=[InputError("pkg/c.py", "syntax error at line 1: x")]))
    assert cli.main(["scan"]) == 0
    assert "pkg/c.py: error: syntax error at line 1: x" in capsys.readouterr().out


def test_default_path_and_options_reach_the_config(project, monkeypatch):
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.lockwatch]
        select = ["LW1"]
        ignore = ["LW102"]
        jobs = 4
    """), encoding="utf-8")
    eng = use_engine(monkeypatch, FakeEngine())
    assert cli.main(["scan"]) == 0
    paths, cfg = eng.calls[-1]
    assert paths == ["."] and cfg.select == ["LW1"] and cfg.jobs == 4 and cfg.root == str(project)
    assert cli.main(["scan", "pkg", "--select", "LW101,lock-order-cycle", "--ignore", "LW111",
                     "--ignore", "LW121", "-j", "1", "--no-cache", "--cache-dir", "cc",
                     "--exclude", "gen/*"]) == 0
    paths, cfg = eng.calls[-1]
    assert paths == ["pkg"]
    assert cfg.select == ["LW101", "lock-order-cycle"]
    assert cfg.ignore == ["LW102", "LW111", "LW121"]
    assert cfg.jobs == 1 and cfg.no_cache and cfg.cache_dir == str(project / "cc")
    assert cfg.exclude == ["gen/*"]


@pytest.mark.parametrize("argv, message", [
    (["scan", "--select", "bogus"], "unknown rule selector 'bogus'"),
    (["scan", "missing_dir"], "no such file or directory: missing_dir"),
    (["scan", "--config", "nope.toml"], "configuration file not found"),
    (["scan", "--jobs", "-3"], "--jobs"),
    (["scan", "--format", "xml"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_and_config_errors_exit_2(project, monkeypatch, capsys, argv, message):
    eng = use_engine(monkeypatch, FakeEngine([finding()]))
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert eng.calls == []


def test_bad_config_file_exit_2_names_file_and_key(project, monkeypatch, capsys):
    (project / "pyproject.toml").write_text('[tool.lockwatch]\nselcet = ["LW1"]\n', encoding="utf-8")
    use_engine(monkeypatch, FakeEngine())
    assert cli.main(["scan"]) == 2
    err = capsys.readouterr().err
    assert "selcet" in err and str(project / "pyproject.toml") in err


def test_internal_error_is_visible_and_exits_2(project, monkeypatch, capsys):
    def boom(paths, config):
        raise RuntimeError("kaboom in the linker")

    use_engine(monkeypatch, boom)
    assert cli.main(["scan"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "kaboom in the linker" in err
    assert "internal error" in err and "bug in lockwatch" in err


def test_formats_and_output_file(project, monkeypatch, capsys):
    use_engine(monkeypatch, FakeEngine([finding()]))
    assert cli.main(["scan", "--format", "json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["source"] == "static" and d["findings"][0]["code"] == "LW101"
    assert cli.main(["scan", "--format", "sarif", "--output", "out/r.sarif"]) == 1
    assert capsys.readouterr().out == ""
    log = json.loads((project / "out" / "r.sarif").read_text(encoding="utf-8"))
    assert log["runs"][0]["results"][0]["ruleId"] == "LW101"
    assert cli.main(["scan", "--format", "github"]) == 1
    assert capsys.readouterr().out.startswith("::error file=pkg/a.py,line=3,col=5,title=LW101 lock-order-cycle::")


def test_unwritable_output_is_a_usage_error(project, monkeypatch, capsys):
    use_engine(monkeypatch, FakeEngine([finding()]))
    (project / "adir").mkdir()
    assert cli.main(["scan", "--output", "adir"]) == 2
    assert "cannot write report to adir" in capsys.readouterr().err
    assert cli.main(["scan", "--write-baseline", "adir"]) == 2
    assert "cannot write baseline adir" in capsys.readouterr().err


def test_quiet_drops_the_summary(project, monkeypatch, capsys):
    use_engine(monkeypatch, FakeEngine())
    assert cli.main(["scan", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_baseline_cycle(project, monkeypatch, capsys):
    eng = use_engine(monkeypatch, FakeEngine([finding("pkg/a.py"), finding("pkg/b.py")]))
    assert cli.main(["scan", "--write-baseline", "lw-baseline.json"]) == 0
    assert "wrote 2 findings" in capsys.readouterr().err
    assert cli.main(["scan", "--baseline", "lw-baseline.json"]) == 0
    assert capsys.readouterr().out == "No findings.\n"
    # The same hazards on other lines stay hidden; a new one (and a second copy) shows.
    eng.findings = [finding("pkg/a.py", line=90), finding("pkg/b.py", line=7),
                    finding("pkg/b.py", line=70), finding("pkg/c.py")]
    assert cli.main(["scan", "--baseline", "lw-baseline.json", "--format", "json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert sorted((f["path"], f["line"]) for f in d["findings"]) == [("pkg/b.py", 70), ("pkg/c.py", 3)]


def test_corrupt_baseline_exit_2_before_scanning(project, monkeypatch, capsys):
    (project / "b.json").write_text("{oops", encoding="utf-8")
    eng = use_engine(monkeypatch, FakeEngine([finding()]))
    assert cli.main(["scan", "--baseline", "b.json"]) == 2
    assert "b.json" in capsys.readouterr().err
    assert eng.calls == []


def test_hook_mode_analyses_project_and_reports_touching_findings(project, monkeypatch, capsys):
    sub = project / "pkg"
    via_related = finding("pkg/a.py", code="LW101",
                          related=[Location("pkg/a.py", 3, 5, "holds A"), Location("pkg/b.py", 9, 1, "takes B")])
    only_a = finding("pkg/a.py", code="LW111")
    only_c = finding("pkg/c.py", code="LW121")
    eng = use_engine(monkeypatch, FakeEngine([via_related, only_a, only_c],
                                             errors=[InputError("pkg/c.py", "bad"), InputError("pkg/b.py", "worse")]))
    assert cli.main(["scan", "--hook", "--format", "json", "pkg/b.py"]) == 1
    paths, _ = eng.calls[-1]
    assert paths == ["."]  # the whole project, not just the changed file
    d = json.loads(capsys.readouterr().out)
    assert [(f["code"], f["path"]) for f in d["findings"]] == [("LW101", "pkg/a.py")]
    assert d["errors"] == [{"path": "pkg/b.py", "message": "worse"}]
    # A file touched by no finding: clean.
    monkeypatch.chdir(sub)
    assert cli.main(["scan", "--hook", "--format", "json", "other.py"]) == 0  # no such file: nothing to check
    (sub / "other.py").write_text("", encoding="utf-8")
    assert cli.main(["scan", "--hook", "other.py"]) == 0
    assert len(eng.calls[-1][0]) == 1 and os.path.samefile(eng.calls[-1][0][0], project)


def test_hook_mode_without_files_does_nothing(project, monkeypatch):
    eng = use_engine(monkeypatch, FakeEngine([finding()]))
    assert cli.main(["scan", "--hook"]) == 0
    assert eng.calls == []


def test_hook_roots_nested_projects_collapse(project):
    (project / "pkg" / "pyproject.toml").write_text("", encoding="utf-8")
    (project / "top.py").write_text("", encoding="utf-8")
    assert cli._hook_roots(["pkg/a.py"]) == [str(project / "pkg")]
    assert cli._hook_roots(["pkg/a.py", "top.py"]) == [str(project)]


# ---- rules / rule / run / version ------------------------------------------------------------

FAKE_RULE = Rule(
    code="LW901", name="demo-rule", kind="deadlock", severity="warning", summary="Do not demo",
    what="Finds demos.", why="Demos hang.", example="demo()", use_instead="pass", runtime=True,
    valid=(Example.single("x = 1\n"),),
)


@pytest.fixture
def fake_registry(monkeypatch):
    monkeypatch.setattr(rules_mod, "_REGISTRY", {FAKE_RULE.code: FAKE_RULE})


def test_rules_table_and_json(fake_registry, capsys):
    assert cli.main(["rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "KIND", "FOUND", "BY", "SUMMARY"]
    assert lines[1].split(None, 4) == ["LW901", "demo-rule", "deadlock", "static+runtime", "Do not demo"]
    assert cli.main(["rules", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{
        "code": "LW901", "name": "demo-rule", "kind": "deadlock", "severity": "warning",
        "static": True, "runtime": True, "summary": "Do not demo",
    }]


def test_rule_doc_by_code_or_name(fake_registry, capsys):
    assert cli.main(["rule", "lw901"]) == 0
    assert capsys.readouterr().out == FAKE_RULE.doc()
    assert cli.main(["rule", "demo-rule"]) == 0
    assert capsys.readouterr().out.startswith("# demo-rule (LW901)")
    assert cli.main(["rule", "LW000"]) == 2
    assert "unknown rule 'LW000'" in capsys.readouterr().err


def test_run_is_dispatched_with_everything_after_it(monkeypatch):
    seen = []
    fake = types.ModuleType("lockwatch.runtime.run")
    fake.main = lambda argv: seen.append(argv) or 7
    monkeypatch.setitem(sys.modules, "lockwatch.runtime.run", fake)
    import lockwatch.runtime as rt

    monkeypatch.setattr(rt, "run", fake, raising=False)
    assert cli.main(["run", "--format", "json", "-m", "app", "--scan", "x"]) == 7
    assert seen == [["--format", "json", "-m", "app", "--scan", "x"]]


def test_version_and_no_command(capsys):
    assert cli.main(["--version"]) == 0
    from lockwatch import __version__

    assert capsys.readouterr().out.strip() == f"lockwatch {__version__}"
    assert cli.main([]) == 2


def test_python_dash_m_entry_point(project):
    import subprocess

    r = subprocess.run([sys.executable, "-m", "lockwatch", "--version"], check=False, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(cli.__file__))})
    assert r.returncode == 0 and r.stdout.startswith("lockwatch ")
