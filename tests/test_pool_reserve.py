"""``pool.Reserve``: a long-lived caller (the daemon) keeps idle workers between calls of
``summarise_files``; a kept worker that died meanwhile is replaced, and nothing is kept for a
stand-in summariser or without a reserve."""

from __future__ import annotations

import os
import signal

from lockwatch.config import Config
from lockwatch.static.discover import discover
from lockwatch.static.pool import Reserve, summarise_files


def _files(root, name, text):
    (root / name).write_text(text)
    fs, errors = discover([str(root / name)], Config(root=str(root)))
    assert errors == []
    return fs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def test_a_reserve_keeps_one_worker_between_calls(tmp_path):
    reserve = Reserve(keep=1)
    cfg = Config(no_cache=True, jobs=2)
    try:
        s, e = summarise_files(_files(tmp_path, "a.py", "def f():\n    return 1\n"), cfg, reserve=reserve)
        assert e == [] and len(s) == 1
        (kept,) = reserve.pids()
        assert _alive(kept)
        s, e = summarise_files(_files(tmp_path, "b.py", "def g():\n    return 2\n"), cfg, reserve=reserve)
        assert e == [] and [x.module for x in s.values()] == ["b"]
        assert reserve.pids() == [kept]          # the same process did the second file
        os.kill(kept, signal.SIGKILL)
        s, e = summarise_files(_files(tmp_path, "c.py", "def h():\n    return 3\n"), cfg, reserve=reserve)
        assert e == [] and [x.module for x in s.values()] == ["c"]
        (now,) = reserve.pids()
        assert now != kept and _alive(now)
    finally:
        pids = reserve.pids()
        reserve.close()
    assert reserve.pids() == [] and not any(_alive(p) for p in pids)


def test_without_a_reserve_no_worker_outlives_the_call(tmp_path):
    reserve = Reserve(keep=1)
    summarise_files(_files(tmp_path, "a.py", "x = 1\n"), Config(no_cache=True))
    assert reserve.pids() == []
