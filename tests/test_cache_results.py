"""The whole-scan result cache: an unchanged project gets its stored report without any
analysis; any change to a file, the file set, the configuration or the analyser's own code
runs the pipeline again; a bad entry is a miss, never an error."""

from __future__ import annotations

import json
import os

import pytest

from lockwatch.config import Config
from lockwatch.static import cache as cache_mod
from lockwatch.static import engine

CYCLE = {
    "pkg/__init__.py": "",
    "pkg/a.py": (
        "import threading\n"
        "A = threading.Lock()\n"
        "B = threading.Lock()\n"
        "def ab():\n"
        "    with A:\n"
        "        with B:\n"
        "            pass\n"
    ),
    "pkg/b.py": (
        "from pkg.a import A, B\n"
        "def ba():\n"
        "    with B:\n"
        "        with A:\n"
        "            pass\n"
    ),
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    for rel, text in CYCLE.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def counted(monkeypatch):
    """Counts how often the analysis proper (link -> checks) runs."""
    calls = []
    real = engine.analyse_summaries

    def analyse(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(engine, "analyse_summaries", analyse)
    return calls


def cfg(tmp_path, **kw) -> Config:
    return Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"), **kw)


def scan(tmp_path, **kw):
    return engine.scan(["pkg"], cfg(tmp_path, **kw)).to_dict()


def test_unchanged_project_is_not_analysed_again(project, counted):
    cold = scan(project)
    assert [f["code"] for f in cold["findings"]] == ["LW101"]
    warm = scan(project)
    assert warm == cold
    assert len(counted) == 1


def test_any_file_change_runs_the_analysis(project, counted):
    cold = scan(project)
    (project / "pkg" / "b.py").write_text(CYCLE["pkg/b.py"].replace("with B:\n        with A:", "with A:\n        with B:"))
    fixed = scan(project)
    assert fixed["findings"] == [] and cold["findings"]
    (project / "pkg" / "c.py").write_text("x = 1\n")       # a new file
    scan(project)
    assert len(counted) == 3
    os.unlink(project / "pkg" / "c.py")    # back to the state of the second scan: its report
    assert scan(project) == fixed
    assert len(counted) == 3


def test_configuration_is_part_of_the_key(project, counted):
    scan(project)
    ignored = scan(project, ignore=["LW101"])
    assert ignored["findings"] == []
    assert len(counted) == 2
    # how to run (jobs, where the cache lives) is not
    engine.scan(["pkg"], cfg(project, jobs=1))
    assert len(counted) == 2


def test_analyser_code_is_part_of_the_key(project, counted, monkeypatch):
    scan(project)
    monkeypatch.setattr(cache_mod, "_CODE_FINGERPRINT", "some other lockwatch")
    scan(project)
    assert len(counted) == 2


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"k": "other", "report": {}}', b"[1, 2]"])
def test_bad_entry_is_a_miss_and_is_rewritten(project, counted, damage):
    cold = scan(project)
    results = os.path.join(str(project / "cache"))
    paths = [os.path.join(d, f) for d, _, fs in os.walk(results) for f in fs
             if f.endswith(".json") and os.path.basename(d) == "results"]
    assert len(paths) == 1
    with open(paths[0], "wb") as f:
        f.write(damage)
    assert scan(project) == cold
    assert len(counted) == 2
    with open(paths[0], "rb") as f:
        assert json.loads(f.read())["report"] == cold


def test_no_cache_stores_nothing(project, counted):
    scan(project, no_cache=True)
    scan(project, no_cache=True)
    assert len(counted) == 2
    assert not (project / "cache").exists()


def test_only_the_newest_results_are_kept(project, monkeypatch):
    monkeypatch.setattr(cache_mod.ResultCache, "KEEP", 2)
    for i in range(4):
        (project / "pkg" / "c.py").write_text(f"x = {i}\n")
        scan(project)
    d = [d for d, _, _ in os.walk(project / "cache") if os.path.basename(d) == "results"][0]
    assert len([n for n in os.listdir(d) if n.endswith(".json")]) == 2


def test_a_file_swapped_for_a_fifo_does_not_hang_the_key(project, counted):
    # discovery saw a regular file; by the time the result key reads it, it is a FIFO:
    # the read must not block (the scan proper reports the file)
    from lockwatch.static.discover import discover
    from lockwatch.static.cache import ResultCache

    cfg_ = cfg(project)
    files, errors = discover(["pkg"], cfg_)
    victim = project / "pkg" / "b.py"
    victim.unlink()
    os.mkfifo(victim)
    assert ResultCache.for_config(cfg_).key(files, errors, cfg_) is None


def test_a_miss_reads_each_file_once_and_summarises_the_bytes_it_hashed(project, monkeypatch):
    from lockwatch.static import pool

    reads: list[str] = []
    real = pool._read

    def counting_read(path):
        reads.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(pool, "_read", counting_read)
    report = scan(project)
    assert [f["code"] for f in report["findings"]] == ["LW101"]
    assert sorted(reads) == ["__init__.py", "a.py", "b.py"]
