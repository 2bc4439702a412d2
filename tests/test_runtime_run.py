"""``lockwatch run SCRIPT`` / ``lockwatch run -m MODULE`` behave like ``python SCRIPT`` /
``python -m MODULE``, and the report is written however the program ends."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

# Through the real command line (H2's cli dispatches `run` to lockwatch.runtime.run.main).
CLI = ("-m", "lockwatch", "run")

SHOW = """
import sys, os
print("name", __name__)
print("argv", sys.argv)
print("file", os.path.basename(__file__))
print("path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
"""


def test_script_argv_main_file_and_path(tmp_path):
    r = rh.run(tmp_path, SHOW, args=("a", "--flag", "-m", "x"), launcher=CLI)
    assert r.returncode == 0, r.explain()
    lines = r.stdout.splitlines()
    assert lines == ["name __main__", "argv ['prog.py', 'a', '--flag', '-m', 'x']", "file prog.py", "path0 True"], r.explain()
    assert r.report["source"] == "runtime" and r.report["findings"] == []


def test_module_mode(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tool.py").write_text(textwrap.dedent("""
        import sys, os, threading
        print("name", __name__)
        print("argv0", os.path.basename(sys.argv[0]), sys.argv[1:])
        print("path0", sys.path[0] == os.getcwd())
        a, b = threading.Lock(), threading.Lock()
        with a:
            with b: pass
        with b:
            with a: pass
    """))
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, *CLI, "--format", "json", "--output", str(out), "-m", "pkg.tool", "x", "y"],
                       cwd=tmp_path, env=rh.env(), capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines() == ["name __main__", "argv0 tool.py ['x', 'y']", "path0 True"], p.stdout + p.stderr
    rep = json.loads(out.read_text())
    assert [f["code"] for f in rep["findings"]] == ["LW101"]
    assert rep["findings"][0]["path"] == "pkg/tool.py"
    assert p.returncode == 1


@pytest.mark.parametrize("body,code", [
    ("import sys\nsys.exit(3)\n", 3),
    ("import sys\nsys.exit(0)\n", 0),
    ("import sys\nsys.exit('bye')\n", 1),
    ("raise SystemExit\n", 0),
])
def test_exit_codes(tmp_path, body, code):
    r = rh.run(tmp_path, body, launcher=CLI)
    assert r.returncode == code, r.explain()
    assert r.report is not None and r.report["source"] == "runtime"
    if "bye" in body:
        assert "bye" in r.stderr


def test_findings_give_exit_1_and_program_status_wins(tmp_path):
    src = """
        import threading, sys
        a, b = threading.Lock(), threading.Lock()
        with a:
            with b: pass
        with b:
            with a: pass
    """
    r = rh.run(tmp_path, src, launcher=CLI)
    assert r.returncode == 1 and r.codes() == ["LW101"], r.explain()
    r = rh.run(tmp_path, textwrap.dedent(src) + "sys.exit(7)\n", launcher=CLI)
    assert r.returncode == 7 and r.codes() == ["LW101"], r.explain()


def test_exception_traceback_like_python_and_report_written(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        a, b = threading.Lock(), threading.Lock()
        with a:
            with b: pass
        with b:
            with a: pass
        def boom():
            raise ValueError("kaput")
        boom()
    """, launcher=CLI)
    assert r.returncode == 1, r.explain()
    assert "Traceback (most recent call last):" in r.stderr
    assert 'prog.py", line 10, in <module>' in r.stderr and "ValueError: kaput" in r.stderr
    assert "runpy" not in r.stderr and "lockwatch" not in r.stderr.split("Traceback")[1]
    assert r.codes() == ["LW101"]


def test_keyboard_interrupt_still_reports(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        a, b = threading.Lock(), threading.Lock()
        with a:
            with b: pass
        with b:
            with a: pass
        raise KeyboardInterrupt
    """, launcher=CLI)
    assert r.returncode == 130, r.explain()
    assert "KeyboardInterrupt" in r.stderr
    assert r.codes() == ["LW101"]


def test_real_sigint_while_blocked_still_reports(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import threading, time, sys
        a, b = threading.Lock(), threading.Lock()
        with a:
            with b: pass
        with b:
            with a: pass
        print("ready", flush=True)
        ev = threading.Event()
        ev.wait(30)
    """))
    out = tmp_path / "r.json"
    p = subprocess.Popen([sys.executable, *CLI, "--format", "json", "--output", str(out), "prog.py"],
                         cwd=tmp_path, env=rh.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 130, err
    rep = json.loads(out.read_text())
    assert [f["code"] for f in rep["findings"]] == ["LW101"]


def test_waits_for_non_daemon_threads_before_reporting(tmp_path):
    r = rh.run(tmp_path, """
        import threading, time
        lock = threading.Lock()
        def late():
            time.sleep(0.3)
            lock.acquire()      # leaked when the thread ends, after the main script returned
        threading.Thread(target=late).start()
    """, launcher=CLI)
    assert r.codes() == ["LW122"], r.explain()


def test_usage_errors_exit_2(tmp_path):
    for argv in (["--bogus", "x.py"], [], ["--long-hold"], ["--format", "xml", "x.py"], ["-m"]):
        p = subprocess.run([sys.executable, *CLI, *argv], cwd=tmp_path, env=rh.env(),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, (argv, p.stdout, p.stderr)
        assert "error" in p.stderr


def test_missing_script(tmp_path):
    p = subprocess.run([sys.executable, *CLI, "nope.py"], cwd=tmp_path, env=rh.env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "can't open file" in p.stderr


def test_options_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.lockwatch.runtime]\nreport-only = true\nself-deadlock-grace = 0.1\n')
    r = rh.run(tmp_path, """
        import threading, lockwatch
        lock = threading.Lock()
        lock.acquire()
        ok = lock.acquire(timeout=0.5)   # timed: never reported, never broken
        print("timed", ok)
    """, launcher=CLI)
    assert "timed False" in r.stdout and r.findings == [] and r.returncode == 0, r.explain()
    (tmp_path / "pyproject.toml").write_text('[tool.lockwatch.runtime]\nnot-an-option = 1\n')
    r = rh.run(tmp_path, "print('x')\n", launcher=CLI)
    assert r.returncode == 2 and "not_an_option" in r.stderr, r.explain()


def test_text_report_goes_to_stderr_by_default(tmp_path):
    (tmp_path / "prog.py").write_text("import threading\na, b = threading.Lock(), threading.Lock()\n"
                                      "with a:\n    with b: pass\nwith b:\n    with a: pass\nprint('out')\n")
    p = subprocess.run([sys.executable, *CLI, "prog.py"], cwd=tmp_path, env=rh.env(),
                       capture_output=True, text=True, timeout=60)
    assert p.stdout == "out\n"
    assert "prog.py:6:1: LW101 lock-order-cycle" in p.stderr, p.stderr
    assert p.returncode == 1


def test_help(tmp_path):
    p = subprocess.run([sys.executable, *CLI, "--help"], cwd=tmp_path, env=rh.env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("usage: lockwatch run"), p.stderr


def test_the_traced_program_keeps_its_garbage_collector(tmp_path):
    # `lockwatch scan` runs with the collector off (cli.program); a traced program must not.
    # (compared with the same interpreter without lockwatch: 3.12 starts with objects frozen)
    prog = "import gc\nprint('gc', gc.isenabled(), gc.get_freeze_count())\n"
    plain = rh.run_plain(tmp_path, prog)
    assert plain.returncode == 0 and plain.stdout.startswith("gc True "), plain.stdout + plain.stderr
    r = rh.run(tmp_path, prog, launcher=CLI)
    assert r.returncode == 0, r.explain()
    assert plain.stdout.strip() in r.stdout, r.explain()
