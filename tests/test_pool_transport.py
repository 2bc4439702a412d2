"""Worker -> main transport: a summary travels as the marshal bytes of its entry dict and is
built as a warm cache hit is (``from_entry``); the worker writes the JSON entry once every
summary is in. It must arrive field for field, errors must still arrive as errors, the entry
a worker writes must be a valid warm hit, and ``--no-cache`` must work and encode nothing."""

from __future__ import annotations

import io
import itertools
import json
import marshal
import os
import pickle
import sys
import warnings

import pool_standins
import pytest

from lockwatch.config import Config
from lockwatch.static import pool
from lockwatch.static.cache import Cache, decode_entry
from lockwatch.static.discover import discover
from lockwatch.static.pool import summarise_files
from lockwatch.static.summary import ModuleSummary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STDLIB = os.path.dirname(os.__file__)
# Real files with locks, threads, conditions, async code: summaries with every kind of field.
RICH = [os.path.join(STDLIB, n) for n in ("threading.py", "queue.py", "concurrent/futures/thread.py",
                                          "asyncio/locks.py", "logging/__init__.py")]


def tree(tmp_path, files):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        p = src / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    fs, errs = discover([str(src)], Config(root=str(tmp_path)))
    assert errs == []
    return fs


def rich_tree(tmp_path):
    files = {}
    for p in RICH:
        with open(p, "rb") as f:
            files[os.path.relpath(p, STDLIB).replace("/", "_")] = f.read()
    return tree(tmp_path, files)


def in_process(sf) -> dict:
    """The summary the default summariser makes of a file here, without any transport."""
    from lockwatch.static.summarise import summarise_module

    with open(sf.abspath, encoding="utf-8") as f:
        source = f.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return summarise_module(source, sf.path, sf.module, sf.is_package).to_dict()


def by_name(errors):
    return {os.path.basename(e.path): e.message for e in errors}


# --------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("no_cache", [True, False], ids=["no-cache", "cache"])
def test_real_summaries_arrive_field_for_field(tmp_path, no_cache):
    fs = rich_tree(tmp_path)
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"), no_cache=no_cache, jobs=2)
    summaries, errors = summarise_files(fs, cfg)
    assert errors == []
    assert set(summaries) == {sf.path for sf in fs}
    for sf in fs:
        got = summaries[sf.path]
        assert isinstance(got, ModuleSummary)
        want = in_process(sf)
        assert got.functions and got.classes  # rich enough to mean something
        assert got.to_dict() == want, sf.path
        # and typed as the in-process summary is, not only equal as data
        f0 = next(iter(got.functions.values()))
        assert type(f0).__name__ == "FunctionSummary"


def test_stand_in_summary_arrives(tmp_path):
    fs = tree(tmp_path, {"a.py": "def fa():\n    pass\n\nasync def g():\n    pass\n",
                         "pkg/__init__.py": "def init():\n    pass\n",
                         "é.py": "def uni():\n    '''ünïcode ☃'''\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True), summariser=pool_standins.SPEC)
    assert errors == []
    got = {s.module: s for s in summaries.values()}
    assert got["a"].functions["g"].is_async and not got["a"].functions["fa"].is_async
    assert got["pkg"].is_package and got["pkg"].functions["init"].line == 1
    assert got["é"].path.endswith("é.py") and "uni" in got["é"].functions


def test_undecodable_file_name_survives_the_json(tmp_path):
    if sys.platform == "darwin":
        pytest.skip("the file system refuses names that are not UTF-8")
    src = tmp_path / "src"
    src.mkdir()
    name = os.fsdecode(b"caf\xff.py")  # a lone surrogate in the display path
    with open(os.path.join(str(src), name), "w") as f:
        f.write("def f():\n    pass\n")
    fs, errs = discover([str(src)], Config(root=str(tmp_path)))
    if errs or not fs:
        pytest.skip("discovery does not take this name")
    for no_cache in (True, False):
        cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"), no_cache=no_cache)
        summaries, errors = summarise_files(fs, cfg, summariser=pool_standins.SPEC)
        assert errors == []
        (s,) = summaries.values()
        assert s.path == fs[0].path and "\udcff" in s.path


# --------------------------------------------------------------------------- errors

def test_errors_still_arrive_as_errors(tmp_path):
    fs = tree(tmp_path, {"ok.py": "def f():\n    pass\n", "syntax.py": "def (\n",
                         "bug.py": "RAISE_BUG = 1\n", "segv.py": "CRASH_SEGV = 1\n"})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=2), summariser=pool_standins.SPEC)
    by = by_name(errors)
    assert set(by) == {"syntax.py", "bug.py", "segv.py"}
    assert by["syntax.py"].startswith("syntax error") and "line 1" in by["syntax.py"]
    assert by["bug.py"].startswith("internal error while summarising (KeyError")
    assert by["segv.py"].startswith("parser crashed (signal 11")
    assert [s.module for s in summaries.values()] == ["ok"]


@pytest.mark.parametrize("spec,marker,kind", [
    ("pool_transport_standins:no_to_dict", "NOT_A_SUMMARY", "AttributeError"),
    ("pool_transport_standins:not_marshal", "NOT_MARSHAL", "ValueError"),
])
def test_a_result_that_is_no_summary_is_an_internal_error_for_that_file(tmp_path, spec, marker, kind):
    fs = tree(tmp_path, {"a.py": "def fa():\n    pass\n", "bad.py": f"{marker} = 1\n",
                         "b.py": "def fb():\n    pass\n"})
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    summaries, errors = summarise_files(fs, cfg, summariser=spec)
    by = by_name(errors)
    assert list(by) == ["bad.py"]
    assert by["bad.py"].startswith(f"internal error: cannot send the summary ({kind}")
    assert by["bad.py"].endswith("not analysed")
    assert sorted(s.module for s in summaries.values()) == ["a", "b"]
    # a bug is not remembered: the next run tries the file again
    cache = Cache.for_config(cfg)
    bad = next(sf for sf in fs if sf.module == "bad")
    with open(bad.abspath, "rb") as f:
        assert not cache.has(cache.key(f.read(), bad.module, bad.is_package))


def test_a_summary_json_cannot_encode_arrives_but_is_not_cached(tmp_path):
    """marshal takes a set, JSON does not: the summary arrives (the worker could send it), but
    its entry cannot be written, so the next run parses that file again; the others' are."""
    fs = tree(tmp_path, {"a.py": "def fa():\n    pass\n", "bad.py": "NOT_JSON = 1\n"})
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    summaries, errors = summarise_files(fs, cfg, summariser="pool_transport_standins:not_json")
    assert errors == []
    assert sorted(s.module for s in summaries.values()) == ["a", "bad"]
    cache = Cache.for_config(cfg)
    has = {}
    for sf in fs:
        with open(sf.abspath, "rb") as f:
            has[sf.module] = cache.has(cache.key(f.read(), sf.module, sf.is_package))
    assert has == {"a": True, "bad": False}


def test_main_process_rejects_a_summary_it_cannot_read(tmp_path, monkeypatch):
    """What a worker sends goes through ``from_entry``'s checks, as a cache hit does: another
    summary version is no summary, nor are bytes that are not marshal data (here: the
    worker's bytes are tampered with on arrival)."""
    fs = tree(tmp_path, {"a.py": "def fa():\n    pass\n", "b.py": "def fb():\n    pass\n",
                         "c.py": "def fc():\n    pass\n"})
    real = pool._receive

    def tamper(conn):
        msg = real(conn)
        if msg[0] is True:
            d = marshal.loads(msg[1])
            if d["module"] == "a":
                d["version"] += 1000
                return True, marshal.dumps(d), None
            if d["module"] == "c":
                return True, msg[1][:len(msg[1]) // 2], None  # truncated
        return msg

    monkeypatch.setattr(pool, "_receive", tamper)
    summaries, errors = summarise_files(fs, Config(no_cache=True), summariser=pool_standins.SPEC)
    msg = "internal error: cannot read the summary the worker sent; not analysed"
    assert by_name(errors) == {"a.py": msg, "c.py": msg}
    assert [s.module for s in summaries.values()] == ["b"]


# --------------------------------------------------------------------------- the cache

def test_what_is_sent_is_what_is_cached(tmp_path):
    key = "ab" + "0" * 62
    path = str(tmp_path / "ab" / (key + ".json"))
    ok, payload, t = pool.analyse(pool_standins.summarise, pool_standins.ParseError,
                                  "def f():\n    pass\n", "m.py", "m", False)
    assert ok is True and t is None and isinstance(payload, bytes)
    assert not os.path.exists(path)  # analysing writes nothing: the entry waits for _WRITE
    pool.write_entries([(path, payload)])
    with open(path, "rb") as f:
        e = decode_entry(f.read(), key)
    assert e is not None
    sent = marshal.loads(payload)
    assert e["summary"] == sent  # the same dict, JSON's way: headers as lists
    assert ModuleSummary.from_entry(e["summary"]) == ModuleSummary.from_entry(sent)
    assert ModuleSummary.from_entry(sent).functions["f"].line == 1


def test_workers_write_only_when_told_and_a_scan_returns_with_its_entries(tmp_path):
    """``writes`` given: the call returns with the entries still in the workers, which write
    them on _WRITE (sent when every summary is in); ``finish()`` waits for them."""
    fs = rich_tree(tmp_path)
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"), jobs=2)
    cache = Cache.for_config(cfg)
    keys = []
    for sf in fs:
        with open(sf.abspath, "rb") as f:
            keys.append(cache.key(f.read(), sf.module, sf.is_package))
    writes = pool.PendingWrites()
    try:
        summaries, errors = summarise_files(fs, cfg, writes=writes)
        assert errors == [] and len(summaries) == len(fs)
        assert writes.pools and any(w.writing for p in writes.pools for w in p.workers)
        writes.finish()
    finally:
        writes.close()
    assert all(cache.has(k) for k in keys)
    assert writes.pools == []
    # and without ``writes`` the call itself waits
    cfg2 = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache2"), jobs=2)
    summarise_files(fs, cfg2)
    cache2 = Cache.for_config(cfg2)
    assert all(cache2.has(k) for k in keys)


def test_a_worker_that_dies_before_writing_loses_only_entries(tmp_path):
    """Killed after it sent its summaries, before it wrote: the scan has every summary, the
    dead worker's entries are missing, and the next run parses just those files again."""
    fs = rich_tree(tmp_path)
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"), jobs=2)
    writes = pool.PendingWrites()
    try:
        summaries, errors = summarise_files(fs, cfg, writes=writes)
        victims = [w for p in writes.pools for w in p.workers if w.writing]
        assert victims
        for w in victims:
            w.proc.kill()
        writes.finish()  # returns (EOF from the dead), does not hang
    finally:
        writes.close()
    assert errors == [] and len(summaries) == len(fs)
    again, errors = summarise_files(fs, cfg)
    assert errors == []
    assert {k: v.to_dict() for k, v in again.items()} == {k: v.to_dict() for k, v in summaries.items()}


def test_no_cache_encodes_nothing(tmp_path, monkeypatch):
    """``--no-cache``: no worker is told to write (nothing kept, no JSON encoding)."""
    fs = rich_tree(tmp_path)
    told = []
    real = pool._Pool._tell_write

    def spy(self, w):
        told.append(w.unwritten)
        return real(self, w)

    monkeypatch.setattr(pool._Pool, "_tell_write", spy)
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=2))
    assert errors == [] and len(summaries) == len(fs)
    assert told and not any(told)
    told.clear()
    summarise_files(fs, Config(root=str(tmp_path), cache_dir=str(tmp_path / "c"), jobs=2))
    assert sum(told) >= len(fs)  # the spy sees the cached run's entries: it means something


def test_an_entry_a_worker_wrote_is_a_valid_warm_hit(tmp_path):
    fs = rich_tree(tmp_path)
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    cold, errors = summarise_files(fs, cfg)
    assert errors == []
    cache = Cache.for_config(cfg)
    for sf in fs:
        with open(sf.abspath, "rb") as f:
            key = cache.key(f.read(), sf.module, sf.is_package)
        entry = cache.get(key)
        assert entry is not None and "summary" in entry
        # the entry holds no path (shared by every directory the project is scanned from):
        # the rest is the summary, and loading it for this file gives this file's path
        stored = ModuleSummary.from_dict(entry["summary"])
        assert stored.path == ""
        stored.path = sf.path
        assert stored.to_dict() == cold[sf.path].to_dict()
    # a warm run parses nothing (a summariser that cannot even load) and gets the same
    warm, errors = summarise_files(fs, cfg, summariser="pool_standins:does_not_exist")
    assert errors == []
    assert {k: v.to_dict() for k, v in warm.items()} == {k: v.to_dict() for k, v in cold.items()}


def test_no_cache_gives_what_the_cache_gives_and_writes_nothing(tmp_path):
    fs = rich_tree(tmp_path)
    cached, e1 = summarise_files(fs, Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache")))
    bare, e2 = summarise_files(fs, Config(root=str(tmp_path), cache_dir=str(tmp_path / "nocache"), no_cache=True))
    assert e1 == e2 == []
    assert {k: v.to_dict() for k, v in bare.items()} == {k: v.to_dict() for k, v in cached.items()}
    assert not (tmp_path / "nocache").exists() and not (tmp_path / ".lockwatch_cache").exists()


def test_cli_scan_no_cache_same_report_as_cached(tmp_path, monkeypatch):
    """End to end: ``lockwatch scan --no-cache`` and a cold and a warm cached scan of two
    lock-order fixtures (and a clean twin) give the same JSON report."""
    from lockwatch import cli

    fixtures = [os.path.join(REPO, "fixtures", "lock_order", d)
                for d in ("account_transfer", "account_transfer_clean", "h2_three_locks")]
    monkeypatch.chdir(tmp_path)

    def scan(*opts):
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        try:
            cli.main(["scan", "--format", "json", *opts, *fixtures])
        finally:
            monkeypatch.setattr(sys, "stdout", sys.__stdout__)
        return json.loads(out.getvalue())

    bare = scan("--no-cache")
    assert bare["findings"]  # the fixtures have cycles: the comparison means something
    cache_dir = str(tmp_path / "c")
    assert scan("--cache-dir", cache_dir) == bare
    assert scan("--cache-dir", cache_dir) == bare
    assert not (tmp_path / ".lockwatch_cache").exists()


# --------------------------------------------------------------------------- the wire

def test_receive_tells_a_summary_from_a_pickled_message():
    import multiprocessing

    referenced = {"k": "", "summary": {}}
    also = [referenced]  # a second reference: marshal flags the dict (FLAG_REF)
    payloads = [marshal.dumps({"k": "", "summary": {}}), marshal.dumps(also[0])]
    # a dict, plain and flagged as referenced (0xfb)
    assert {p[:1] for p in payloads} == {b"{", b"\xfb"}
    r, w = multiprocessing.Pipe(duplex=False)
    try:
        w.send(pool._READY)
        for p in payloads:
            w.send_bytes(p)
        w.send((False, "syntax error: x", None))
        w.send(pool._WRITTEN)
        assert pool._receive(r) == pool._READY
        for p in payloads:
            assert pool._receive(r) == (True, p, None)
        assert pool._receive(r) == (False, "syntax error: x", None)
        assert pool._receive(r) == pool._WRITTEN
    finally:
        r.close()
        w.close()
    # why the first byte is enough: a pickle (protocol 2 and later) starts with PROTO, 0x80
    assert pickle.dumps(pool._READY, 2)[:1] == b"\x80"


# --------------------------------------------------------------------------- the worker's collector

def test_worker_collects_each_files_cycles_after_it_not_during_it(tmp_path):
    """The collector is off while a file is analysed and one collection after each file
    frees that file's cyclic garbage (jobs=1: one worker sees every file, in some order)."""
    fs = tree(tmp_path, {f"m{i}.py": f"def f{i}():\n    pass\n" for i in range(4)})
    summaries, errors = summarise_files(fs, Config(no_cache=True, jobs=1),
                                        summariser="pool_transport_standins:leaves_a_cycle")
    assert errors == []
    seen = {s.module: s.globals["seen"]["v"] for s in summaries.values()}
    assert not any(v["gc_enabled"] for v in seen.values())
    # each file saw the cycles of all the files before it freed: 0, 1, 2, 3 of them
    freed = sorted(seen.values(), key=lambda v: len(v["freed"]))
    assert [len(v["freed"]) for v in freed] == [0, 1, 2, 3]
    for a, b in itertools.pairwise(freed):
        assert set(a["freed"]) < set(b["freed"])
