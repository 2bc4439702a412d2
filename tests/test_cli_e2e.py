"""`python -m lockwatch scan` end to end with the real static engine, in a subprocess, on
little projects written to disk: exit statuses, formats, configuration, suppression,
baseline surviving edits, and hook mode. Each positive has a clean look-alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

POOL = '''\
from __future__ import annotations

import threading

from shop import conn


class Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self._idle = []

    def checkout(self, c: conn.Conn):
        with self._lock:
            c.reset()

    def release(self, c):
        with self._lock:
            self._idle.append(c)
'''

CONN_BAD = '''\
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shop.pool import Pool


class Conn:
    def __init__(self, pool: Pool):
        self._lock = threading.Lock()
        self.pool = pool

    def reset(self):
        with self._lock:
            pass

    def close(self):
        with self._lock:
            self.pool.release(self)
'''

# Look-alike: close() releases its own lock before handing itself back to the pool.
CONN_GOOD = '''\
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shop.pool import Pool


class Conn:
    def __init__(self, pool: Pool):
        self._lock = threading.Lock()
        self.pool = pool

    def reset(self):
        with self._lock:
            pass

    def close(self):
        with self._lock:
            pass
        self.pool.release(self)
'''

SIMPLE_BAD = '''\
import threading

a = threading.Lock()
b = threading.Lock()


def forward():
    with a:
        with b:
            pass


def backward():
    with b:
        with a:
            pass
'''

SIMPLE_GOOD = SIMPLE_BAD.replace("    with b:\n        with a:", "    with a:\n        with b:")


def run(cwd, *args, check_rc=None, jobs="1"):
    # One parse worker keeps these tiny projects quick; one test runs with the default.
    if args and args[0] == "scan" and jobs is not None:
        args = (args[0], "--jobs", jobs, *args[1:])
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "lockwatch", *args], check=False, cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert "internal error" not in r.stderr, r.stderr
    if check_rc is not None:
        assert r.returncode == check_rc, r.stdout + r.stderr
    return r


def make(tmp_path, files):
    (tmp_path / ".git").mkdir(exist_ok=True)
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp_path


def cycle_project(tmp_path, good=False):
    return make(tmp_path, {"shop/__init__.py": "", "shop/pool.py": POOL,
                           "shop/conn.py": CONN_GOOD if good else CONN_BAD})


def lw101(report):
    return [f for f in report["findings"] if f["code"] == "LW101"]


def test_cross_module_cycle_json_text_sarif_github(tmp_path):
    proj = cycle_project(tmp_path)
    r = run(proj, "scan", "--format", "json", check_rc=1, jobs=None)
    d = json.loads(r.stdout)
    assert d["source"] == "static" and d["errors"] == []
    (f,) = lw101(d)
    assert f["path"] in ("shop/pool.py", "shop/conn.py")
    assert sorted(f["locks"]) == ["shop.conn.Conn._lock", "shop.pool.Pool._lock"]
    assert {loc["path"] for loc in f["related"]} == {"shop/pool.py", "shop/conn.py"}

    text = run(proj, "scan", check_rc=1).stdout
    assert f"{f['path']}:{f['line']}:{f['column']}: LW101 lock-order-cycle: " in text
    assert text.rstrip().splitlines()[-1].startswith("Found ")

    sarif = json.loads(run(proj, "scan", "--format", "sarif", check_rc=1).stdout)
    res = [x for x in sarif["runs"][0]["results"] if x["ruleId"] == "LW101"]
    assert len(res) == 1 and res[0]["partialFingerprints"]["lockwatch/v1"] == f["fingerprint"]
    assert run(proj, "scan", "--format", "github", check_rc=1).stdout.startswith("::error file=shop/")
    assert run(proj, "scan", "--exit-zero", check_rc=0).stdout.startswith("shop/")


def test_statistics_counts_findings_per_rule(tmp_path):
    proj = make(tmp_path, {"app/locks.py": SIMPLE_BAD, "app/more.py": SIMPLE_BAD, "app/broken.py": "def f(:\n"})
    r = run(proj, "scan", "--statistics", "app", check_rc=1)
    assert r.stdout.splitlines() == [
        "2  LW101  lock-order-cycle",
        "Found 2 findings.",
        "1 input could not be analysed (run without --statistics to list them).",
    ]
    d = json.loads(run(proj, "scan", "--statistics", "--format", "json", "app", check_rc=1).stdout)
    assert d == {"statistics": [{"code": "LW101", "name": "lock-order-cycle", "kind": "lock-order-cycle",
                                 "count": 2}], "errors": 1}
    assert run(proj, "scan", "--statistics", "--exit-zero", "-q", "app", check_rc=0).stdout == "2  LW101  lock-order-cycle\n"
    assert "text or json" in run(proj, "scan", "--statistics", "--format", "sarif", "app", check_rc=2).stderr
    (tmp_path / "clean").mkdir()
    clean = make(tmp_path / "clean", {"app/locks.py": SIMPLE_GOOD})
    assert run(clean, "scan", "--statistics", check_rc=0).stdout == "No findings.\n"


def test_clean_lookalike_is_clean(tmp_path):
    proj = cycle_project(tmp_path, good=True)
    assert run(proj, "scan", check_rc=0).stdout == "No findings.\n"


def test_paths_and_broken_inputs(tmp_path):
    proj = make(tmp_path, {"app/locks.py": SIMPLE_BAD, "app/broken.py": "def f(:\n",
                           "other/fine.py": SIMPLE_GOOD})
    d = json.loads(run(proj, "scan", "--format", "json", "other", check_rc=0).stdout)
    assert d["findings"] == [] and d["errors"] == []
    d = json.loads(run(proj, "scan", "--format", "json", "app", check_rc=1).stdout)
    assert [f["path"] for f in lw101(d)] == ["app/locks.py"]
    assert [e["path"] for e in d["errors"]] == ["app/broken.py"]
    r = run(proj, "scan", "app/nope.py", check_rc=2)
    assert "app/nope.py" in r.stderr


def test_suppression_comment(tmp_path):
    first = json.loads(run(make(tmp_path, {"locks.py": SIMPLE_BAD}), "scan", "--format", "json",
                           check_rc=1).stdout)
    (f,) = lw101(first)
    lines = SIMPLE_BAD.splitlines()
    lines[f["line"] - 1] += "  # lockwatch: ignore[LW101] -- reviewed: backward() runs single-threaded"
    (tmp_path / "locks.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(tmp_path, "scan", check_rc=0)


@pytest.mark.parametrize("table, rc", [
    ('ignore = ["LW101"]', 0),
    ('ignore = ["lock-order-cycle"]', 0),
    ('select = ["LW111"]', 0),
    ('select = ["LW1"]', 1),
    ('[tool.lockwatch.per-file-ignores]\n"locks.py" = ["LW101"]', 0),
    ('exclude = ["locks.py"]', 0),
])
def test_configuration_applies(tmp_path, table, rc):
    make(tmp_path, {"locks.py": SIMPLE_BAD, "pyproject.toml": "[tool.lockwatch]\n" + table + "\n"})
    run(tmp_path, "scan", check_rc=rc)


def test_bad_configuration_exits_2(tmp_path):
    make(tmp_path, {"locks.py": SIMPLE_BAD, "pyproject.toml": '[tool.lockwatch]\nselect = ["LW1O1"]\n'})
    r = run(tmp_path, "scan", check_rc=2)
    assert "LW1O1" in r.stderr and "pyproject.toml" in r.stderr


def test_command_line_beats_configuration(tmp_path):
    make(tmp_path, {"locks.py": SIMPLE_BAD, "pyproject.toml": '[tool.lockwatch]\nselect = ["LW111"]\n'})
    run(tmp_path, "scan", check_rc=0)
    run(tmp_path, "scan", "--select", "LW101", check_rc=1)


def test_baseline_survives_unrelated_edits(tmp_path):
    make(tmp_path, {"locks.py": SIMPLE_BAD})
    run(tmp_path, "scan", "--write-baseline", "baseline.json", check_rc=0)
    run(tmp_path, "scan", "--baseline", "baseline.json", check_rc=0)
    # Unrelated edit: lines move, a comment and a helper appear. Still hidden.
    (tmp_path / "locks.py").write_text('"""Locks."""\n\n\ndef helper():\n    return 1\n\n\n' + SIMPLE_BAD,
                                       encoding="utf-8")
    run(tmp_path, "scan", "--baseline", "baseline.json", check_rc=0)
    # A new hazard is reported.
    (tmp_path / "more.py").write_text(SIMPLE_BAD.replace("a =", "c =").replace("with a", "with c"),
                                      encoding="utf-8")
    d = json.loads(run(tmp_path, "scan", "--baseline", "baseline.json", "--format", "json", check_rc=1).stdout)
    assert [f["path"] for f in d["findings"]] == ["more.py"]


def test_hook_mode_reports_what_touches_the_given_files(tmp_path):
    proj = cycle_project(tmp_path)
    (proj / "shop" / "util.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    # The cycle spans pool.py and conn.py: naming either one reports it.
    d = json.loads(run(proj, "scan", "--hook", "--format", "json", "shop/conn.py", check_rc=1).stdout)
    assert len(lw101(d)) == 1
    run(proj, "scan", "--hook", "shop/util.py", check_rc=0)
    # From a subdirectory, as pre-commit never does but a user might.
    run(proj / "shop", "scan", "--hook", "pool.py", check_rc=1)


def test_rules_and_rule_list_the_static_rules():
    r = run(ROOT, "rules", "--format", "json", check_rc=0)
    codes = {x["code"] for x in json.loads(r.stdout)}
    assert {"LW101", "LW111", "LW121", "LW131"} <= codes
    doc = run(ROOT, "rule", "LW101", check_rc=0).stdout
    assert doc.startswith("# lock-order-cycle (LW101)") and "## Use instead" in doc


RUN_BAD = '''\
import threading

a = threading.Lock()
b = threading.Lock()


def forward():
    with a:
        with b:
            pass


def backward():
    with b:
        with a:
            pass


forward()
backward()
print("done")
'''


def test_run_dispatches_to_the_tracer(tmp_path):
    (tmp_path / "prog.py").write_text(RUN_BAD, encoding="utf-8")
    (tmp_path / "clean.py").write_text(RUN_BAD.replace("    with b:\n        with a:", "    with a:\n        with b:"),
                                       encoding="utf-8")
    r = run(tmp_path, "run", "--format", "json", "--output", "rt.json", "prog.py", check_rc=1)
    assert r.stdout == "done\n"  # the program's own output is untouched
    d = json.loads((tmp_path / "rt.json").read_text(encoding="utf-8"))
    assert d["source"] == "runtime"
    assert [f["code"] for f in d["findings"]] == ["LW101"]
    r = run(tmp_path, "run", "clean.py", check_rc=0)
    assert r.stdout == "done\n"
