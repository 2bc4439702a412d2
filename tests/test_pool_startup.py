"""Worker start-up: the workers never import from the tree being scanned, and workers that
cannot start stop the scan with a clear error.

A worker used to be started with ``python -c``, which puts the current directory on its
path: on Python 3.13 the ``-c`` start-up itself imports ``linecache`` before any code of
ours runs, so a scan run from inside a tree holding a ``linecache.py`` (the CPython ``Lib/``
directory, scanned as issue #4's benchmark does) made every worker import and run *that*
file (never import or execute the code being scanned), and where it did not fit the running
Python every worker died at start-up and was replaced, forever: the scan hung. Caught by
this test on 3.13 (on 3.10-3.12 nothing is imported before the worker's path is set).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SHADOW = textwrap.dedent('''
    import os
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "IMPORTED"), "a") as f:
        f.write(__name__ + "\\n")
    raise SystemExit(3)
''')


def test_a_scan_run_inside_the_tree_imports_nothing_from_it(tmp_path):
    for name in ("tokenize", "linecache", "json", "ast", "threading", "typing"):
        (tmp_path / f"{name}.py").write_text(SHADOW)
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import threading
        import time

        lock = threading.Lock()


        def tick():
            with lock:
                time.sleep(1)
    """))
    # -I: the main process itself must not pick the tree up either (as the `lockwatch`
    # command does not); what is tested is the workers it starts
    out = subprocess.run(
        [sys.executable, "-I", "-m", "lockwatch", "scan", "--no-cache", "--format", "json", "."],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert not (tmp_path / "IMPORTED").exists(), (tmp_path / "IMPORTED").read_text()
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert [(f["code"], f["path"], f["line"]) for f in report["findings"]] == [("LW131", "app.py", 10)]
    assert report["errors"] == []


def _files(tmp_path, n=3):
    from lockwatch.config import Config
    from lockwatch.static.discover import discover

    tmp_path.mkdir()
    for i in range(n):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}():\n    pass\n")
    files, errors = discover([str(tmp_path)], Config(root=str(tmp_path), no_cache=True))
    assert errors == []
    return files


def test_workers_that_cannot_start_stop_the_scan_with_a_clear_error(tmp_path, monkeypatch):
    # it used to replace them for ever, blaming each file in turn ("parser process exited")
    import pool_start_standins

    from lockwatch.config import Config
    from lockwatch.static.pool import WorkerStartError, summarise_files

    files = _files(tmp_path / "src")
    monkeypatch.setenv("LOCKWATCH_TEST_START_MARKER", str(tmp_path / "marker"))
    monkeypatch.setenv("LOCKWATCH_TEST_START_ALWAYS", "1")
    try:
        summarise_files(files, Config(no_cache=True, jobs=1), summariser=pool_start_standins.SPEC)
    except WorkerStartError as e:
        assert "3 in a row, exit status 7" in str(e) and "LOCKWATCH_DEBUG" in str(e)
    else:
        raise AssertionError("no WorkerStartError")
    assert (tmp_path / "marker").read_text().count("died") == 3


def test_a_worker_that_dies_starting_does_not_cost_its_file(tmp_path, monkeypatch):
    import pool_start_standins

    from lockwatch.config import Config
    from lockwatch.static.pool import summarise_files

    files = _files(tmp_path / "src")
    monkeypatch.setenv("LOCKWATCH_TEST_START_MARKER", str(tmp_path / "marker"))
    summaries, errors = summarise_files(files, Config(no_cache=True, jobs=1),
                                        summariser=pool_start_standins.SPEC)
    assert errors == []
    assert sorted(s.module for s in summaries.values()) == ["m0", "m1", "m2"]
    assert (tmp_path / "marker").read_text().count("died") == 1
