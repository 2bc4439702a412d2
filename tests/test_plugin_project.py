"""End to end on fixtures/plugin_project, a small project the plugin has never seen: an
inversion split across two test files, a real deadlock, a leaked thread, a pending task, a
static-only cycle in code no test calls, and clean tests. Run as a user would (a fresh
pytest process in a copy of the project), alone and under pytest-xdist."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(os.path.dirname(HERE), "fixtures", "plugin_project")


def _matches(f: dict, want: dict) -> bool:
    return all(f.get(k, [] if k == "tests" else None) == v for k, v in want.items())


@pytest.fixture(scope="module")
def scan_cache(tmp_path_factory):
    # one summary cache for both runs: the second one scans warm, as a user's second run does
    return tmp_path_factory.mktemp("lockwatch-cache")


def _run(tmp_path, cache, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    proj = tmp_path / "plugin_project"
    shutil.copytree(PROJECT, proj, ignore=shutil.ignore_patterns("__pycache__", "r.json"))
    (proj / "lockwatch.toml").write_text(f'cache-dir = "{cache}"\njobs = 1\n')
    env = dict(os.environ, PYTHONPATH=str(proj), PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "--lockwatch", "--lockwatch-report=r.json", "-rfE", *extra],
        check=False, cwd=proj, env=env, capture_output=True, text=True, timeout=120,
    )
    return p, json.loads((proj / "r.json").read_text())


def _check(p: subprocess.CompletedProcess, rep: dict) -> None:
    with open(os.path.join(PROJECT, "expected.json"), encoding="utf-8") as fh:
        expected = json.load(fh)
    assert p.returncode == 1, p.stdout + p.stderr
    for nodeid in expected["outcomes"]["failed"]:
        assert f"FAILED {nodeid} - lockwatch:" in p.stdout
    assert f"1 failed, {expected['outcomes']['passed']} passed" in p.stdout
    assert rep["source"] == "joined"
    runtime = [f for f in rep["findings"] if f["origin"] == "runtime"]
    static = [f for f in rep["findings"] if f["origin"] == "static"]
    # the runtime list is complete: each expected finding once, nothing else
    assert len(runtime) == len(expected["runtime"]), [(f["code"], f["path"]) for f in runtime]
    for want in expected["runtime"]:
        assert sum(_matches(f, want) for f in runtime) == 1, want
    for want in expected["static"]:
        assert sum(_matches(f, want) for f in static) == 1, want
    for f in rep["findings"]:
        assert f["path"] not in expected["clean_paths"]
        assert not set(f.get("tests", ())) & set(expected["clean_tests"])
    # the inversion's two halves are pinned on their own test files
    (inv,) = [f for f in rep["findings"] if f["origin"] == "runtime" and f["path"] == "bank/ledger.py"]
    assert sorted(t for e in inv["edge_tests"] for t in e["tests"]) == sorted(inv["tests"])
    assert len({tuple(e["tests"]) for e in inv["edge_tests"]}) == 2


def test_plugin_project(tmp_path, scan_cache):
    p, rep = _run(tmp_path, scan_cache)
    _check(p, rep)
    assert "= lockwatch =" in p.stdout


def test_plugin_project_under_xdist(tmp_path, scan_cache):
    pytest.importorskip("xdist")
    p, rep = _run(tmp_path, scan_cache, "-n", "2", "--dist", "loadfile")
    _check(p, rep)
