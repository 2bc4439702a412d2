"""The worker pool: a worker that segfaults, exits, hangs or hits a bug costs one file; the
pool replaces it and every other file is still analysed, in any order of events."""

from __future__ import annotations

import os

import pool_standins
import pytest

from lockwatch.config import Config
from lockwatch.static.discover import discover
from lockwatch.static.pool import summarise_files


def make_tree(root, files):
    for name, text in files.items():
        (root / name).write_text(text)
    fs, errors = discover([str(root)], Config(root=str(root)))
    assert errors == []
    return fs


def names(errors):
    return {os.path.basename(e.path): e.message for e in errors}


GOOD = {f"good{i}.py": f"def f{i}():\n    return {i}\n" for i in range(6)}


@pytest.mark.parametrize("jobs", [1, 2])
def test_segfault_and_exit_cost_one_file_each(tmp_path, jobs):
    fs = make_tree(tmp_path, {**GOOD, "segv.py": "CRASH_SEGV = 1\n", "exit.py": "CRASH_EXIT = 1\n",
                              "segv2.py": "CRASH_SEGV = 2\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=jobs), summariser=pool_standins.SPEC)
    by = names(errors)
    assert set(by) == {"segv.py", "segv2.py", "exit.py"}
    assert by["segv.py"].startswith("parser crashed (signal 11")
    assert "status 3" in by["exit.py"]
    assert {s.module for s in summaries.values()} == {f"good{i}" for i in range(6)}
    assert summaries[next(f.path for f in fs if f.module == "good3")].functions["f3"].line == 1


def test_timeout_costs_one_file_and_pool_goes_on(tmp_path):
    fs = make_tree(tmp_path, {**GOOD, "hang.py": "HANG_FOREVER = 1\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=2), timeout=1.0,
                                        summariser=pool_standins.SPEC)
    assert names(errors) == {"hang.py": "timed out after 1 s; not analysed"}
    assert len(summaries) == len(GOOD)


def test_timeout_comes_from_the_configuration(tmp_path):
    fs = make_tree(tmp_path, {**GOOD, "hang.py": "HANG_FOREVER = 1\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=2, parse_timeout=1.0),
                                        summariser=pool_standins.SPEC)
    assert names(errors) == {"hang.py": "timed out after 1 s; not analysed"}


def test_summariser_bug_and_recursion_are_errors_not_crashes(tmp_path):
    fs = make_tree(tmp_path, {**GOOD, "bug.py": "RAISE_BUG = 1\n", "rec.py": "DEEP_RECURSE = 1\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=2), summariser=pool_standins.SPEC)
    by = names(errors)
    assert "internal error while summarising (KeyError" in by["bug.py"]
    assert "too deeply nested" in by["rec.py"]
    assert len(summaries) == len(GOOD)


def test_only_crashing_files_single_worker(tmp_path):
    # Every worker dies in turn: each replacement must still get through the queue.
    fs = make_tree(tmp_path, {f"c{i}.py": "CRASH_EXIT = 1\n" for i in range(4)})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=1), summariser=pool_standins.SPEC)
    assert summaries == {} and len(errors) == 4


def test_errors_follow_input_order_and_keys_are_display_paths(tmp_path):
    fs = make_tree(tmp_path, {"b.py": "def (\n", "a.py": "def (\n", "c.py": "x = 1\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True), summariser=pool_standins.SPEC)
    assert [e.path for e in errors] == [f.path for f in fs if f.module in ("a", "b")]
    assert list(summaries) == [f.path for f in fs if f.module == "c"]


def test_progress_reports_every_file(tmp_path):
    fs = make_tree(tmp_path, GOOD)
    seen = []
    summarise_files(fs, Config(no_cache=True), progress=lambda d, t: seen.append((d, t)),
                    summariser=pool_standins.SPEC)
    assert seen[-1] == (len(GOOD), len(GOOD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_file_vanishing_after_discovery_is_an_error(tmp_path):
    fs = make_tree(tmp_path, GOOD)
    os.unlink(fs[0].abspath)
    summaries, errors = summarise_files(fs, Config(no_cache=True), summariser=pool_standins.SPEC)
    assert [e.path for e in errors] == [fs[0].path]
    assert "vanished" in errors[0].message
    assert len(summaries) == len(GOOD) - 1


def test_file_swapped_for_fifo_after_discovery_does_not_block(tmp_path):
    fs = make_tree(tmp_path, GOOD)
    os.unlink(fs[0].abspath)
    os.mkfifo(fs[0].abspath)
    summaries, errors = summarise_files(fs, Config(no_cache=True), summariser=pool_standins.SPEC)
    assert [e.path for e in errors] == [fs[0].path]


def test_stuck_worker_without_cpu_use_is_stopped_by_the_wall_cap(tmp_path):
    fs = make_tree(tmp_path, {"good.py": "x = 1\n", "stuck.py": "SLEEP_FOREVER = 1\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=2), timeout=0.3,
                                        summariser=pool_standins.SPEC)
    assert names(errors) == {"stuck.py": "timed out after 0.3 s; not analysed"}
    assert len(summaries) == 1


def test_cpu_seconds_of_a_process():
    from lockwatch.static.pool import _cpu_seconds

    used = _cpu_seconds(os.getpid())
    assert used is None or used > 0
    assert _cpu_seconds(2**22 + 12345) is None
