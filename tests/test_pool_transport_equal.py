"""A summary that reached the main process through the worker's transport (``marshal`` bytes of
its entry dict, ``pool.analyse``) must equal the one a warm scan decodes from the JSON entry
the worker writes for it (``pool.write_entries`` -> ``Cache.get``): dataclass for dataclass,
and the program linked and checked from either set of summaries must give the same report.
Every file of fixtures/ (each case as its own program, as the fixture tests scan them) and
the concurrency-heavy packages of this interpreter's stdlib (one program)."""

from __future__ import annotations

import marshal
import os
import sys
import warnings

import pytest

from lockwatch.config import Config
from lockwatch.static import pool
from lockwatch.static.cache import Cache
from lockwatch.static.discover import discover
from lockwatch.static.engine import analyse_summaries
from lockwatch.static.summarise import ParseError, summarise_module
from lockwatch.static.summary import ModuleSummary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "fixtures")
STDLIB = os.path.dirname(os.__file__)
STDLIB_SAMPLE = ["threading.py", "queue.py", "sched.py", "selectors.py", "socketserver.py",
                 "asyncio", "concurrent", "logging", "multiprocessing"]


def both_ways(files, tmp_path) -> tuple[dict, dict]:
    """(path -> summary as sent, path -> summary as a warm run reads its entry)."""
    cache = Cache(str(tmp_path / "cache"))
    cache.prepare()
    sent, cached = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sf in files:
            with open(sf.abspath, "rb") as f:
                data = f.read()
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            ok, payload, _ = pool.analyse(summarise_module, ParseError, source, "", sf.module, sf.is_package)
            if not ok:
                continue  # an error travels as an error: nothing to compare
            key = cache.key(data, sf.module, sf.is_package)
            pool.write_entries([(cache.entry_path(key), payload)])
            a = ModuleSummary.from_entry(marshal.loads(payload))
            entry = cache.get(key)
            assert entry is not None and "summary" in entry, sf.path
            b = ModuleSummary.from_entry(entry["summary"])
            a.path = b.path = sf.path
            sent[sf.path], cached[sf.path] = a, b
    return sent, cached


def by_module(files, summaries) -> dict:
    out: dict = {}
    for sf in files:
        s = summaries.get(sf.path)
        if s is not None:
            out.setdefault(s.module, s)  # as engine.summarise_discovered
    return out


def assert_same(files, sent, cached, config) -> int:
    assert sent.keys() == cached.keys()
    for path in sent:
        assert sent[path] == cached[path], path
        assert sent[path].to_dict() == cached[path].to_dict(), path
    r1 = analyse_summaries(by_module(files, sent), config)
    r2 = analyse_summaries(by_module(files, cached), config)
    assert r1.to_dict() == r2.to_dict()
    return len(r1.findings)


def fixture_cases() -> list[str]:
    out = []
    for cat in sorted(os.listdir(FIXTURES)):
        d = os.path.join(FIXTURES, cat)
        if os.path.isdir(d):
            out.extend(os.path.join(d, c) for c in sorted(os.listdir(d)) if os.path.isdir(os.path.join(d, c)))
    return out


def test_fixtures_summaries_and_reports_are_the_same_both_ways(tmp_path):
    cases = fixture_cases()
    assert len(cases) > 100
    n_files = n_findings = 0
    for i, case in enumerate(cases):
        config = Config(root=case, select=["ALL"])
        files, _ = discover([case], config)
        sent, cached = both_ways(files, tmp_path / str(i))
        n_files += len(sent)
        n_findings += assert_same(files, sent, cached, config)
    # the comparison means something: many files, and reports with findings in them
    assert n_files > 300 and n_findings > 50


def test_stdlib_sample_summaries_and_report_are_the_same_both_ways(tmp_path):
    paths = [os.path.join(STDLIB, n) for n in STDLIB_SAMPLE if os.path.exists(os.path.join(STDLIB, n))]
    config = Config(root=STDLIB, select=["ALL"])
    files, _ = discover(paths, config)
    if len(files) < 50:
        pytest.skip(f"this interpreter's stdlib has only {len(files)} of the sample's files")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        sent, cached = both_ways(files, tmp_path)
    finally:
        sys.setrecursionlimit(old)
    assert len(sent) > 50
    assert sum(len(s.functions) for s in sent.values()) > 2000
    assert assert_same(files, sent, cached, config) > 5  # findings to compare
