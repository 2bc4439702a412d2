"""The daemon's parts in process: the client's reading of ``scan`` arguments (kept in step
with cli.py's parser), its root finding (= config.find_project_root), the fallback without
Unix sockets, and ``state.Project`` (the in-memory scan) against ``engine.scan``."""

from __future__ import annotations

import os
import textwrap

import pytest

from lockwatch import cli
from lockwatch.config import Config, load
from lockwatch.daemon import client
from lockwatch.daemon.state import Project
from lockwatch.static import engine


def _scan_actions():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices["scan"]._actions


def test_client_knows_every_scan_option():
    values, flags = set(), set()
    for a in _scan_actions():
        if not a.option_strings:
            continue
        (values if a.nargs != 0 else flags).update(a.option_strings)
    assert values == set(client.VALUE_OPTIONS)
    assert flags == set(client.FLAG_OPTIONS)


@pytest.mark.parametrize("argv, paths, hook", [
    (["scan"], [], False),
    (["scan", "a.py", "b.py"], ["a.py", "b.py"], False),
    (["scan", "--hook", "--daemon", "a.py"], ["a.py"], True),
    (["scan", "--ho", "a.py"], ["a.py"], True),                      # abbreviation
    (["scan", "--format", "json", "--config", "x/pyproject.toml", "a.py"], ["a.py"], False),
    (["scan", "--form=json", "-o", "out.json", "-j2", "src"], ["src"], False),
    (["scan", "-oout.json", "--select", "LW1", "--", "--weird.py"], ["--weird.py"], False),
    (["scan", "--hook", "--output", "report.json", "m.py"], ["m.py"], True),
])
def test_split_scan_argv(argv, paths, hook):
    assert client.split_scan_argv(argv) == (paths, hook)


def test_strip_daemon_flag():
    assert client.strip_daemon_flag(["scan", "--daemon", "--hook", "x.py"]) == ["scan", "--hook", "x.py"]
    assert client.strip_daemon_flag(["scan", "--daem", "x.py"]) == ["scan", "x.py"]
    assert client.strip_daemon_flag(["scan", "--", "--daemon"]) == ["scan", "--", "--daemon"]


def test_without_unix_sockets_the_client_says_so_and_scans(monkeypatch, capsys, tmp_path):
    (tmp_path / "x.py").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(client, "unix_sockets", lambda: False)
    seen = []
    rc = client.scan(["scan", "--daemon", "--hook", "x.py"], lambda argv: seen.append(argv) or 7)
    assert rc == 7 and seen == [["scan", "--hook", "x.py"]]
    err = capsys.readouterr().err
    assert err == ("lockwatch: daemon unavailable: this platform has no Unix domain sockets; "
                   "running a plain scan\n")


def test_hook_without_files_needs_no_daemon(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(client, "request_scan", lambda argv: pytest.fail("asked a daemon"))
    assert client.scan(["scan", "--hook", "--daemon", "gone.py"], lambda argv: 0) == 0


SRC = {
    "pkg/__init__.py": "",
    "pkg/a.py": textwrap.dedent('''\
        import threading

        A = threading.Lock()
        B = threading.Lock()


        def ab():
            with A:
                with B:
                    pass
    '''),
    "pkg/b.py": textwrap.dedent('''\
        from pkg import a


        def ba():
            with a.B:
                with a.A:
                    pass
    '''),
    "pkg/bad.py": "def f(:\n",
    "zz/pkg/__init__.py": "",   # a second root with the same module name: the first wins
    "zz/pkg/a.py": "X = 1\n",
}


def _write(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_project_scan_equals_engine_scan_through_edits(tmp_path, monkeypatch):
    _write(tmp_path, SRC)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    project = Project()
    paths = [".", "zz"]

    def both():
        cfg = load(start=".")
        cfg.no_cache = True
        mine = project.scan(paths, cfg).to_dict()
        cfg2 = load(start=".")
        cfg2.no_cache = True
        assert mine == engine.scan(paths, cfg2).to_dict()
        return mine

    first = both()
    assert {f["code"] for f in first["findings"]} == {"LW101"} and first["errors"]
    assert project.analyses == 1
    # nothing changed: the same analysis answers
    both()
    assert project.analyses == 1
    # an edit that removes the cycle, a new file, a deleted file, a fixed syntax error
    (tmp_path / "pkg" / "b.py").write_text(SRC["pkg/b.py"].replace("a.B:\n        with a.A", "a.A:\n        with a.B"))
    (tmp_path / "pkg" / "c.py").write_text("import threading\nL = threading.Lock()\n")
    (tmp_path / "pkg" / "bad.py").unlink()
    r = both()
    assert r["findings"] == [] and r["errors"] == []
    assert project.analyses == 2
    # touching a file without changing it: no new summary, no new analysis
    summarised = project.summarised
    os.utime(tmp_path / "pkg" / "a.py", ns=(1, 1))
    both()
    assert project.summarised == summarised and project.analyses == 2
    # another configuration is another scan, with the same files' summaries
    cfg = Config(root=str(tmp_path), select=["LW2"], no_cache=True)
    assert project.scan(paths, cfg).findings == []
    assert project.summarised == summarised and project.analyses == 3


def test_same_size_rewrite_with_the_old_mtime_is_seen(tmp_path, monkeypatch):
    """An edit keeping size and mtime (a coarse clock, or a tool resetting the mtime) is
    still seen (the signature has the ctime, and a recent file is hashed again anyway)."""
    text = "import threading\nL = threading.Lock()\n\n\ndef f():\n    L.acquire()\n"
    _write(tmp_path, {"m.py": text})
    monkeypatch.chdir(tmp_path)
    project = Project()
    cfg = Config(root=str(tmp_path), no_cache=True)

    def codes(report):
        return [f.code for f in report.findings]

    before = codes(project.scan(["m.py"], cfg))
    assert before and before == codes(engine.scan(["m.py"], Config(root=str(tmp_path), no_cache=True)))
    st = os.stat(tmp_path / "m.py")
    (tmp_path / "m.py").write_text(text.replace("L.acquire()", "return None"))
    os.utime(tmp_path / "m.py", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(tmp_path / "m.py").st_size == st.st_size
    after = codes(project.scan(["m.py"], cfg))
    assert after == codes(engine.scan(["m.py"], Config(root=str(tmp_path), no_cache=True))) == []


def test_a_failed_update_is_not_built_on(tmp_path, monkeypatch):
    """An update that fails may have changed the old analysis' model: the next scan starts
    from scratch (Analysis.full), and answers as a plain scan."""
    from lockwatch.static.incremental import Analysis

    _write(tmp_path, {k: v for k, v in SRC.items() if not k.startswith("zz/")})
    monkeypatch.chdir(tmp_path)
    project = Project()
    cfg = Config(root=str(tmp_path), no_cache=True)
    project.scan(["."], cfg)
    (tmp_path / "pkg" / "bad.py").write_text("X = 2\n", encoding="utf-8")

    def broken(self, summaries, errors=None):
        raise RuntimeError("update failed half-way")

    monkeypatch.setattr(Analysis, "update", broken)
    with pytest.raises(RuntimeError):
        project.scan(["."], cfg)
    assert project.current().analysis is None
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    full = []
    real_full = Analysis.full.__func__
    monkeypatch.setattr(Analysis, "full", classmethod(lambda cls, *a, **k: full.append(1) or real_full(cls, *a, **k)))
    got = project.scan(["."], cfg).to_dict()
    assert full == [1]
    assert got == engine.scan(["."], Config(root=str(tmp_path), no_cache=True)).to_dict()
