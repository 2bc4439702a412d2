"""The summary cache: warm equals cold, bad entries are rebuilt, errors are cached, keys
change with everything the summary depends on, nothing but JSON is ever read."""

from __future__ import annotations

import json
import os

import pool_standins
import pytest

from lockwatch.config import Config
from lockwatch.static.cache import Cache
from lockwatch.static.discover import discover
from lockwatch.static.pool import summarise_files

FILES = {"a.py": "def fa():\n    pass\n", "b.py": "def fb():\n    pass\n", "bad.py": "def (\n"}


def setup(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n, t in FILES.items():
        (src / n).write_text(t)
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    files, _ = discover([str(src)], cfg)
    return src, cfg, files


def run(files, cfg, spec=pool_standins.SPEC):
    s, e = summarise_files(files, cfg, summariser=spec)
    return {k: v.to_dict() for k, v in s.items()}, [x.to_dict() for x in e]


def entries(cfg):
    return sorted(p for p, _, fs in os.walk(cfg.cache_dir) for f in fs if f.endswith(".json") and not f.startswith(".tmp"))


def test_warm_equals_cold_without_any_parse(tmp_path):
    src, cfg, files = setup(tmp_path)
    cold = run(files, cfg)
    # A summariser that crashes on everything: a warm run must not call it at all.
    warm = run(files, cfg, spec="pool_standins:does_not_exist")
    assert warm == cold
    assert len(cold[0]) == 2 and len(cold[1]) == 1     # the syntax error is cached too


def test_cache_dir_has_gitignore_and_tag(tmp_path):
    _, cfg, files = setup(tmp_path)
    run(files, cfg)
    assert (tmp_path / "cache/.gitignore").read_text().strip().endswith("*")
    assert (tmp_path / "cache/CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_default_cache_dir_is_in_project_root(tmp_path):
    cfg = Config(root=str(tmp_path))
    assert Cache.for_config(cfg).base == str(tmp_path / ".lockwatch_cache")
    assert Cache.for_config(Config(root=str(tmp_path), no_cache=True)) is None


def test_no_cache_writes_nothing(tmp_path):
    _, cfg, files = setup(tmp_path)
    cfg.no_cache = True
    run(files, cfg)
    assert not (tmp_path / "cache").exists() and not (tmp_path / ".lockwatch_cache").exists()


def test_edit_misses_and_rebuilds(tmp_path):
    src, cfg, files = setup(tmp_path)
    run(files, cfg)
    (src / "a.py").write_text("def fa():\n    pass\ndef fa2():\n    pass\n")
    s, _ = run(files, cfg)
    a = next(v for v in s.values() if v["module"] == "a")
    assert set(a["functions"]) == {"fa", "fa2"}


def corrupt_all(cfg, how):
    root = cfg.cache_dir
    for dirpath, _, fs in os.walk(root):
        for f in fs:
            if not f.endswith(".json"):
                continue
            p = os.path.join(dirpath, f)
            data = open(p, "rb").read()
            open(p, "wb").write(how(data))


def test_corrupt_truncated_wrong_key_wrong_version_entries_are_ignored_and_rewritten(tmp_path):
    src, cfg, files = setup(tmp_path)
    cold = run(files, cfg)
    for how in (
        lambda d: d[: len(d) // 2],                       # truncated
        lambda d: b"\x00\xff garbage",                    # corrupt
        lambda d: d.replace(b'"k":"', b'"k":"0', 1),      # another file's key
        lambda d: d.replace(b'"version":', b'"version":999,"old":', 1),  # old layout
        lambda d: b'["not", "a", "dict"]',
    ):
        corrupt_all(cfg, how)
        assert run(files, cfg) == cold
        # ...and rewritten: a warm run after that needs no parser
        assert run(files, cfg, spec="pool_standins:does_not_exist") == cold


def test_key_depends_on_content_module_package_and_version_not_on_the_path(tmp_path):
    c = Cache(str(tmp_path))
    k = c.key(b"x = 1\n", "a", False)
    assert k == c.key(b"x = 1\n", "a", False)
    assert len({k, c.key(b"x = 2\n", "a", False), c.key(b"x = 1\n", "b", False),
                c.key(b"x = 1\n", "a", True)}) == 4
    # the path is no part of it (display paths depend on the current directory: issue #4)
    with pytest.raises(TypeError):
        c.key(b"x = 1\n", "a.py", "a", False)
    c2 = Cache(str(tmp_path))
    c2._salt = b"another version\0"
    assert c2.key(b"x = 1\n", "a", False) != k


def test_entries_are_plain_json(tmp_path):
    _, cfg, files = setup(tmp_path)
    run(files, cfg)
    paths = [os.path.join(d, f) for d, _, fs in os.walk(cfg.cache_dir) for f in fs if f.endswith(".json")]
    assert len(paths) == 3
    for p in paths:
        e = json.load(open(p))
        assert set(e) in ({"k", "summary"}, {"k", "error"})
        assert os.path.basename(p) == e["k"] + ".json"


def test_timeout_is_cached_but_retried_with_a_larger_budget(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "hang.py").write_text("HANG_FOREVER = 1\n")
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    files, _ = discover([str(src)], cfg)
    _, e1 = summarise_files(files, cfg, timeout=0.5, summariser=pool_standins.SPEC)
    assert "timed out" in e1[0].message
    # same budget: answered from the cache, the (missing) summariser is never asked
    _, e2 = summarise_files(files, cfg, timeout=0.5, summariser="pool_standins:does_not_exist")
    assert e2[0].message == e1[0].message
    # larger budget: retried (and the missing summariser makes the worker exit)
    _, e3 = summarise_files(files, cfg, timeout=0.8, summariser="pool_standins:does_not_exist")
    assert "timed out" not in e3[0].message


def test_misses_parse_while_cached_entries_are_decoded_and_bad_entries_join_the_running_pool(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"m{i:02d}.py").write_text(f"def f{i}():\n    pass\n")
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    files, _ = discover([str(src)], cfg)
    cold = run(files, cfg)
    # one edited file (a miss from the start) and five damaged entries (misses found only
    # while the pool is already running, in the background decoding)
    (src / "m39.py").write_text("def f39():\n    pass\ndef g39():\n    pass\n")
    c = Cache(cfg.cache_dir)
    damaged = [f"m{i:02d}.py" for i in (0, 7, 16, 17, 33)]
    for name in damaged:
        sf = next(sf for sf in files if sf.path.endswith(name))
        key = c.key((src / name).read_bytes(), sf.module, sf.is_package)
        with open(c.entry_path(key), "wb") as fh:
            fh.write(b"\x00 damaged")
    calls = []
    s, e = summarise_files(files, cfg, summariser=pool_standins.SPEC, while_waiting=lambda: calls.append(1))
    got = {k: v.to_dict() for k, v in s.items()}
    assert calls == [1]
    assert len(got) == 40 and not e
    edited = next(v for v in got.values() if v["module"] == "m39")
    assert set(edited["functions"]) == {"f39", "g39"}
    assert {k: v for k, v in got.items() if v["module"] != "m39"} == \
        {k: v for k, v in cold[0].items() if v["module"] != "m39"}
    # the damaged entries were rewritten: nothing is parsed now, and nothing waits
    calls.clear()
    s, e = summarise_files(files, cfg, summariser="pool_standins:does_not_exist",
                           while_waiting=lambda: calls.append(1))
    assert {k: v.to_dict() for k, v in s.items()} == got and calls == []
