"""The per-file summary cache does not depend on the directory lockwatch runs from (issue #4):
the same project scanned from its root, its parent and a subdirectory, with one cache
directory, is parsed once; every run reports the findings and errors with the paths of its
own directory. Look-alikes: equal bytes under another module name never share an entry; the
whole-scan cache (a finished report, with display paths in it) is not served across
directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pool_standins
import test_cli_e2e

from lockwatch.config import Config
from lockwatch.static.cache import Cache
from lockwatch.static.discover import discover
from lockwatch.static.pool import summarise_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_PARSER = "pool_standins:does_not_exist"  # a worker that cannot even load its summariser

# the connection pool of tests/test_cli_e2e.py: a lock-order cycle across two modules
POOL, CONN = test_cli_e2e.POOL, test_cli_e2e.CONN_BAD

PROJECT = {
    "shop/__init__.py": "",
    "shop/pool.py": POOL,
    "shop/conn.py": CONN,
    "shop/util/__init__.py": "",
    "shop/util/helpers.py": "def helper():\n    return 1\n",
    "broken.py": "def (\n",   # an error entry, displayed outside the subdirectory run's cwd
}


def make(base):
    proj = base / "proj"
    (proj / ".git").mkdir(parents=True)
    for rel, text in PROJECT.items():
        p = proj / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return proj


def entry_files(cache_dir) -> dict[str, tuple[int, int]]:
    """Per-file entries (not the whole-scan results) -> (inode, mtime): an entry written
    again, even with the same bytes, gets a new inode (temporary file + rename)."""
    out = {}
    for d, dirs, fs in os.walk(cache_dir):
        dirs[:] = [x for x in dirs if x != "results"]
        for f in fs:
            if f.endswith(".json") and not f.startswith(".tmp"):
                st = os.stat(os.path.join(d, f))
                out[os.path.join(d, f)] = (st.st_ino, st.st_mtime_ns)
    return out


def result_files(cache_dir) -> set[str]:
    """The whole-scan cache's reports (``cache.ResultCache``)."""
    d = os.path.join(Cache(cache_dir).dir, "results")
    return {f for f in os.listdir(d) if f.endswith(".json") and not f.startswith(".tmp")}


def shown(abspath: str, cwd: str) -> str:
    """SPEC's display rule, written out here: relative under the cwd, else absolute."""
    rel = os.path.relpath(abspath, cwd)
    return abspath if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel.replace(os.sep, "/")


# --------------------------------------------------------------------------- in process

def summaries_from(cwd, proj, cfg, monkeypatch, **kw):
    """discover + summarise, run from ``cwd`` (the project named as the CLI would name it)."""
    monkeypatch.chdir(cwd)
    files, errs = discover([shown(str(proj), str(cwd)) if cwd != proj else "."], cfg)
    assert errs == []
    s, e = summarise_files(files, cfg, **kw)
    return files, s, e


def test_entries_are_shared_by_every_directory_and_carry_no_path(tmp_path, monkeypatch):
    proj = make(tmp_path)
    cfg = Config(root=str(proj), cache_dir=str(tmp_path / "cache"), jobs=1)
    files, cold, cold_errors = summaries_from(proj, proj, cfg, monkeypatch)  # the real summariser
    assert {sf.path for sf in files} == set(PROJECT)
    assert [e.path for e in cold_errors] == ["broken.py"]
    written = entry_files(cfg.cache_dir)
    assert len(written) == len(PROJECT)
    # nothing in an entry says where the file is, or where it was displayed from
    for p in written:
        with open(p, "rb") as fh:
            raw = fh.read()
        assert b"shop/" not in raw and b"broken.py" not in raw and str(tmp_path).encode() not in raw
        e = json.loads(raw)
        assert "error" in e or e["summary"]["path"] == ""

    by_module = {s.module: s.to_dict() for s in cold.values()}
    for cwd in (tmp_path, proj / "shop", proj / "shop" / "util"):
        files, warm, errors = summaries_from(cwd, proj, cfg, monkeypatch, summariser=NO_PARSER)
        # every summary and the cached error, with this directory's display paths
        assert sorted(warm) == sorted(shown(sf.abspath, str(cwd)) for sf in files if sf.module != "broken")
        for path, s in warm.items():
            assert s.path == path
            assert {**s.to_dict(), "path": None} == {**by_module[s.module], "path": None}
        assert [(e.path, e.message) for e in errors] == \
            [(shown(str(proj / "broken.py"), str(cwd)), cold_errors[0].message)]
        assert entry_files(cfg.cache_dir) == written   # nothing parsed, nothing rewritten


def test_equal_bytes_under_another_module_name_get_their_own_entry(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    text = "def shared():\n    pass\n"
    for rel in ("a.py", "b.py", "pkg/__init__.py", "pkg/a.py"):
        (src / rel).write_text(text)
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    files, _ = discover([str(src)], cfg)
    assert sorted((sf.module, sf.is_package) for sf in files) == \
        [("a", False), ("b", False), ("pkg", True), ("pkg.a", False)]
    summarise_files(files, cfg, summariser=pool_standins.SPEC)
    assert len(entry_files(cfg.cache_dir)) == 4
    warm, errors = summarise_files(files, cfg, summariser=NO_PARSER)
    assert errors == []
    assert {s.path: (s.module, s.is_package) for s in warm.values()} == \
        {sf.path: (sf.module, sf.is_package) for sf in files}


def test_one_module_under_two_roots_shares_an_entry_with_its_own_path(tmp_path):
    """Same bytes, same module name (two roots on the command line): the summaries differ only
    by their path, which each gets from its own file."""
    for d in ("one", "two"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "m.py").write_text("def f():\n    pass\n")
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    files, _ = discover([str(tmp_path / "one"), str(tmp_path / "two")], cfg)
    assert [sf.module for sf in files] == ["m", "m"]
    summarise_files(files, cfg, summariser=pool_standins.SPEC)
    assert len(entry_files(cfg.cache_dir)) == 1
    warm, errors = summarise_files(files, cfg, summariser=NO_PARSER)
    assert errors == [] and sorted(warm) == sorted(sf.path for sf in files)
    assert all(s.path == p for p, s in warm.items())
    # an edit to one of them is its own entry; the other keeps the shared one
    (tmp_path / "two" / "m.py").write_text("def f():\n    pass\ndef g():\n    pass\n")
    s, _ = summarise_files(files, cfg, summariser=pool_standins.SPEC)
    assert {p: sorted(x.functions) for p, x in s.items()} == \
        {files[0].path: ["f"], files[1].path: ["f", "g"]}


# --------------------------------------------------------------------------- the CLI

def lockwatch(cwd, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "lockwatch", "scan", "--jobs", "1", "--format", "json", *args],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    return json.loads(r.stdout)


def absolute(report, cwd):
    """The report with every path made absolute (fingerprints, hashed from the display
    path, left out), to compare runs from different directories."""
    def ab(p):
        return os.path.normpath(os.path.join(cwd, p))

    findings = []
    for f in report["findings"]:
        f = {k: v for k, v in f.items() if k != "fingerprint"}
        f["path"] = ab(f["path"])
        f["related"] = [{**loc, "path": ab(loc["path"])} for loc in f.get("related", [])]
        findings.append(f)
    return findings, [{**e, "path": ab(e["path"])} for e in report["errors"]]


def test_cli_from_root_parent_and_subdirectory_parses_once(tmp_path):
    proj = make(tmp_path)
    cache = str(tmp_path / "cache")
    root_run = lockwatch(proj, "--cache-dir", cache, ".")
    written = entry_files(cache)
    assert len(written) == len(PROJECT)          # five summaries and broken.py's error
    (lw101,) = [f for f in root_run["findings"] if f["code"] == "LW101"]
    assert {loc["path"] for loc in lw101["related"]} == {"shop/pool.py", "shop/conn.py"}
    assert [e["path"] for e in root_run["errors"]] == ["broken.py"]
    expected = absolute(root_run, str(proj))

    results = result_files(cache)
    for cwd, arg in ((tmp_path, "proj"), (proj / "shop", str(proj))):
        report = lockwatch(cwd, "--cache-dir", cache, arg)
        # the same findings and errors, each path as this directory shows it ...
        assert absolute(report, str(cwd)) == expected
        paths = {f["path"] for f in report["findings"]} | {e["path"] for e in report["errors"]} | \
            {loc["path"] for f in report["findings"] for loc in f["related"]}
        assert paths and all(p == shown(os.path.normpath(os.path.join(cwd, p)), str(cwd)) for p in paths)
        # ... from the per-file entries: not one written or rewritten, so no file was
        # summarised (a miss always writes its entry, summary or error) ...
        assert entry_files(cache) == written
        # ... and not from the whole-scan cache, whose report has the other run's paths
        new = result_files(cache) - results
        assert len(new) == 1
        results |= new
    # the last run, from proj/shop: its files relative, broken.py (outside it) absolute
    (lw101,) = [f for f in report["findings"] if f["code"] == "LW101"]
    assert {loc["path"] for loc in lw101["related"]} == {"pool.py", "conn.py"}
    assert [e["path"] for e in report["errors"]] == [str(proj / "broken.py")]
