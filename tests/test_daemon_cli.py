"""``lockwatch daemon`` and ``lockwatch scan --daemon``, end to end: the real console entry
(``lockwatch.entry:program``) in subprocesses, a real daemon per test on its own socket
directory (``LOCKWATCH_DAEMON_DIR``), always stopped (and killed by pid as a last resort).

The daemon's promise is that its answer is the plain scan's: every test compares with a
plain ``lockwatch scan`` of the same files in the same state."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRY = "import sys; from lockwatch.entry import program; sys.argv[0] = 'lockwatch'; sys.exit(program())"

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or sys.platform == "win32",
                                reason="the daemon needs Unix domain sockets")

ORDERS = textwrap.dedent('''\
    import threading

    registry_lock = threading.Lock()
    journal_lock = threading.Lock()


    def register():
        with registry_lock:
            with journal_lock:
                pass
''')

# the same order as orders.register: no cycle
WORKER_GOOD = textwrap.dedent('''\
    from app import orders


    def compact():
        with orders.registry_lock:
            with orders.journal_lock:
                pass
''')

# the opposite order: closes a lock-order cycle with orders.register
WORKER_BAD = WORKER_GOOD.replace(
    "with orders.registry_lock:\n        with orders.journal_lock:",
    "with orders.journal_lock:\n        with orders.registry_lock:")

UNRELEASED = textwrap.dedent('''\
    import threading

    lock = threading.Lock()


    def leak():
        lock.acquire()
        return 1
''')


class Env:
    def __init__(self, tmp_path):
        self.proj = tmp_path / "proj"
        (self.proj / "app").mkdir(parents=True)
        (self.proj / "pyproject.toml").write_text("[project]\nname = 'p'\n", encoding="utf-8")
        (self.proj / "app" / "__init__.py").write_text("", encoding="utf-8")
        (self.proj / "app" / "orders.py").write_text(ORDERS, encoding="utf-8")
        (self.proj / "app" / "worker.py").write_text(WORKER_GOOD, encoding="utf-8")
        # a short directory: a Unix socket path has ~100 bytes, and pytest's (under xdist
        # especially) can take most of them
        self._sockbase = tempfile.mkdtemp(prefix="lwd-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.sockdir = pathlib.Path(self._sockbase) / "s"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("LOCKWATCH_", "PYTHON", "NO_COLOR", "FORCE_COLOR"))}
        self.env.update(LOCKWATCH_DAEMON_DIR=str(self.sockdir), PYTHONPATH=ROOT, NO_COLOR="1")

    def run(self, *args, cwd=None, env=None, timeout=120):
        p = subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=str(cwd or self.proj),
                           env=dict(self.env, **(env or {})), capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def popen(self, *args, env=None):
        return subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=str(self.proj),
                                env=dict(self.env, **(env or {})), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def status(self):
        rc, out, err = self.run("daemon", "status", "--json")
        return json.loads(out) if rc == 0 else None

    def wait_status(self, pred, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st is not None and pred(st):
                return st
            time.sleep(0.1)
        raise AssertionError(f"daemon status never satisfied the condition: {self.status()}")

    def pids(self):
        out = []
        for name in os.listdir(self.sockdir) if self.sockdir.exists() else []:
            if name.endswith(".lock"):
                try:
                    out.append(int((self.sockdir / name).read_text().strip() or 0))
                except (OSError, ValueError):
                    pass
        return [p for p in out if p > 0]

    def sockets(self):
        return sorted(n for n in os.listdir(self.sockdir) if n.endswith(".sock")) if self.sockdir.exists() else []

    def cleanup(self):
        try:
            self.run("daemon", "stop", timeout=30)
        except Exception:  # noqa: BLE001 - the kill below is the last resort
            pass
        for pid in self.pids():
            if _is_our_daemon(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(self._sockbase, ignore_errors=True)


def _is_our_daemon(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"lockwatch.daemon.server" in f.read()
    except OSError:
        return False


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.cleanup()


def _plain_and_daemon(env, *args, cwd=None):
    plain = env.run("scan", *args, cwd=cwd)
    via = env.run("scan", "--daemon", *args, cwd=cwd)
    return plain, via


def test_daemon_output_equals_plain_scan(env):
    (env.proj / "app" / "worker.py").write_text(WORKER_BAD, encoding="utf-8")
    (env.proj / "app" / "leaky.py").write_text(UNRELEASED, encoding="utf-8")
    (env.proj / "app" / "broken.py").write_text("def f(:\n", encoding="utf-8")
    for args in ([], ["--format", "json"], ["--statistics"], ["--format", "sarif"],
                 ["--select", "LW101"], ["--extend-exclude", "nothing_here"], ["-q", "app"]):
        plain, via = _plain_and_daemon(env, *args)
        assert via == plain, args
    rc, out, err = plain
    assert "nothing_here" not in err or rc in (0, 1)
    # the findings are really there (not two empty answers)
    rc, out, _ = env.run("scan", "--daemon", "--format", "json")
    data = json.loads(out)
    assert rc == 1
    assert {f["code"] for f in data["findings"]} >= {"LW101"}
    assert any("broken.py" in e["path"] for e in data["errors"])
    # --output writes the same file
    env.run("scan", "--output", "plain.json", "--format", "json")
    env.run("scan", "--daemon", "--output", "daemon.json", "--format", "json")
    assert (env.proj / "plain.json").read_text() == (env.proj / "daemon.json").read_text()
    # from a subdirectory (other display paths)
    plain, via = _plain_and_daemon(env, ".", cwd=env.proj / "app")
    assert via == plain and "worker.py" in plain[1]
    assert len(env.sockets()) == 1


def test_hook_reports_an_edit_that_closes_a_cycle_and_passes_after_revert(env):
    worker = env.proj / "app" / "worker.py"
    rc, out, err = env.run("daemon", "start")
    assert rc == 0 and "started" in out
    env.wait_status(lambda st: st["up_to_date"])
    rc, out, err = env.run("scan", "--daemon", "--hook", "app/worker.py")
    assert (rc, err) == (0, "") and "No findings" in out
    worker.write_text(WORKER_BAD, encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--hook", "app/worker.py")
    assert via == plain
    assert via[0] == 1 and "LW101" in via[1]
    worker.write_text(WORKER_GOOD, encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--hook", "app/worker.py")
    assert via == plain and via[0] == 0


def test_configuration_change_is_honoured(env):
    (env.proj / "app" / "worker.py").write_text(WORKER_BAD, encoding="utf-8")
    (env.proj / "app" / "leaky.py").write_text(UNRELEASED, encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--format", "json")
    assert via == plain
    codes = {f["code"] for f in json.loads(via[1])["findings"]}
    assert "LW101" in codes and len(codes) > 1
    (env.proj / "pyproject.toml").write_text(
        "[project]\nname = 'p'\n\n[tool.lockwatch]\nselect = ['LW101']\n", encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--format", "json")
    assert via == plain
    assert {f["code"] for f in json.loads(via[1])["findings"]} == {"LW101"}
    (env.proj / "pyproject.toml").write_text(
        "[project]\nname = 'p'\n\n[tool.lockwatch]\nignore = ['LW101']\n", encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--format", "json")
    assert via == plain
    assert "LW101" not in {f["code"] for f in json.loads(via[1])["findings"]}


def _paths(env):
    old = os.environ.get("LOCKWATCH_DAEMON_DIR")
    os.environ["LOCKWATCH_DAEMON_DIR"] = str(env.sockdir)
    try:
        from lockwatch.daemon import Paths

        return Paths(str(env.proj))
    finally:
        if old is None:
            del os.environ["LOCKWATCH_DAEMON_DIR"]
        else:
            os.environ["LOCKWATCH_DAEMON_DIR"] = old


def test_stale_socket_file_is_replaced(env):
    env.sockdir.mkdir(mode=0o700)
    paths = _paths(env)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(paths.socket)
    s.close()  # the file stays, nobody listens: what a killed daemon leaves
    assert os.path.exists(paths.socket)
    plain, via = _plain_and_daemon(env)
    assert via == plain
    st = env.status()
    assert st is not None and st["requests"] == 1 and st["socket"] == paths.socket


def test_daemon_killed_mid_request_falls_back_with_a_message(env):
    (env.proj / "app" / "worker.py").write_text(WORKER_BAD, encoding="utf-8")
    rc, out, _ = env.run("daemon", "start", env={"LOCKWATCH_DAEMON_TEST_DELAY": "60"})
    assert rc == 0
    pid = env.status()["pid"]
    client = env.popen("scan", "--daemon")
    env.wait_status(lambda st: st["busy"] == "request" and st["requests"] == 1)
    os.kill(pid, signal.SIGKILL)
    out, err = client.communicate(timeout=60)
    plain = env.run("scan")
    assert client.returncode == plain[0] == 1
    assert out.decode() == plain[1]
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lockwatch: daemon unavailable:")
    assert "running a plain scan" in lines[0]


def test_hanging_daemon_times_out_and_falls_back(env):
    rc, _, _ = env.run("daemon", "start", env={"LOCKWATCH_DAEMON_TEST_DELAY": "60"})
    assert rc == 0
    env.wait_status(lambda st: st["busy"] is None)
    rc, out, err = env.run("scan", "--daemon", env={"LOCKWATCH_DAEMON_TIMEOUT": "1"})
    plain = env.run("scan")
    assert (rc, out) == plain[:2]
    assert "no answer within 1 s" in err and err.count("\n") == 1


def test_status_and_stop(env):
    rc, out, err = env.run("daemon", "status")
    assert rc == 1 and "no daemon runs" in out
    rc, out, err = env.run("daemon", "start", "--idle-timeout", "300")
    assert rc == 0, err
    st = env.wait_status(lambda st: st["up_to_date"])
    assert st["root"] == str(env.proj) and st["files"] == 3 and st["analyses"] == 1
    assert st["idle_timeout"] == 300 and st["last"]["trigger"] == "warm-up"
    rc, out, err = env.run("daemon", "status")
    assert rc == 0 and f"pid: {st['pid']}" in out and "up to date: yes" in out
    rc, out, err = env.run("daemon", "start")
    assert rc == 0 and "already runs" in out
    assert len(env.sockets()) == 1
    sock_mode = os.stat(env.sockdir / env.sockets()[0]).st_mode & 0o777
    assert sock_mode & 0o077 == 0 and os.stat(env.sockdir).st_mode & 0o077 == 0
    rc, out, err = env.run("daemon", "stop")
    assert rc == 0 and "stopped" in out
    assert env.sockets() == []
    assert not _is_our_daemon(st["pid"]) or _gone_soon(st["pid"])
    rc, out, err = env.run("daemon", "status")
    assert rc == 1


def _gone_soon(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _is_our_daemon(pid):
            return True
        time.sleep(0.05)
    return False


def test_watcher_analyses_an_edit_without_a_request(env):
    rc, _, _ = env.run("daemon", "start")
    assert rc == 0
    st = env.wait_status(lambda st: st["up_to_date"])
    before = st["analyses"]
    (env.proj / "app" / "worker.py").write_text(WORKER_BAD, encoding="utf-8")
    st = env.wait_status(lambda st: st["analyses"] > before and st["up_to_date"])
    assert st["last"]["trigger"] == "watcher" and st["requests"] == 0
    # the hook's request is answered from that analysis: no new one
    plain, via = _plain_and_daemon(env, "--hook", "app/worker.py")
    assert via == plain and via[0] == 1
    assert env.status()["analyses"] == st["analyses"]
    # a new file is seen too (a directory changed)
    (env.proj / "app" / "leaky.py").write_text(UNRELEASED, encoding="utf-8")
    st = env.wait_status(lambda s: s["files"] == 4 and s["up_to_date"])
    assert st["last"]["trigger"] == "watcher"


def test_idle_timeout_stops_the_daemon_and_removes_its_socket(env):
    rc, _, _ = env.run("daemon", "start", "--idle-timeout", "1")
    assert rc == 0
    pid = env.status()["pid"]
    deadline = time.monotonic() + 20
    while env.sockets() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert env.sockets() == []
    assert _gone_soon(pid)


def test_another_versions_daemon_is_not_used(env, monkeypatch):
    import lockwatch.daemon as d

    monkeypatch.setenv("LOCKWATCH_DAEMON_DIR", str(env.sockdir))
    ours = d.daemon_id(str(env.proj))
    monkeypatch.setattr(d, "__version__", "0.0.1")
    assert d.daemon_id(str(env.proj)) != ours
    monkeypatch.undo()
    # and a daemon asked by a client of another version says so instead of answering
    rc, _, _ = env.run("daemon", "start")
    assert rc == 0
    env.wait_status(lambda st: st["busy"] is None)
    from lockwatch.daemon import protocol

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(_paths(env).socket)
    protocol.send(s, {"op": "scan", "version": "0.0.1", "argv": ["scan"], "cwd": str(env.proj)})
    header, _ = protocol.recv(s)
    s.close()
    assert header["ok"] is False and header["stale"] is True
    assert env.status()["requests"] == 0


def test_unsafe_socket_directory_is_refused(env):
    env.sockdir.mkdir(mode=0o755)
    os.chmod(env.sockdir, 0o755)
    rc, out, err = env.run("scan", "--daemon")
    plain = env.run("scan")
    assert (rc, out) == plain[:2]
    assert "accessible to other users" in err and "running a plain scan" in err
    rc, out, err = env.run("daemon", "start")
    assert rc == 2 and "accessible to other users" in err
    assert env.sockets() == []


def test_daemon_exits_when_lockwatch_code_changes_on_disk(env, tmp_path):
    """An upgrade (here: a copy of lockwatch that the daemon runs, then edited) makes the
    daemon exit instead of answering with old code; the next request starts a new one."""
    copy = tmp_path / "lw"
    shutil.copytree(os.path.join(ROOT, "lockwatch"), copy / "lockwatch",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    env.env["PYTHONPATH"] = str(copy)
    rc, _, err = env.run("daemon", "start")
    assert rc == 0, err
    first = env.wait_status(lambda st: st["busy"] is None)["pid"]
    with open(copy / "lockwatch" / "daemon" / "protocol.py", "a", encoding="utf-8") as f:
        f.write("\n# upgraded\n")
    assert _gone_soon(first)
    assert env.sockets() == []
    plain, via = _plain_and_daemon(env)
    assert via == plain
    assert env.status()["pid"] != first


def test_summarising_worker_is_kept_between_updates(env):
    """The worker that summarised one edit summarises the next (no new interpreter per
    update), and the answers stay the plain scan's; it goes when the daemon goes."""
    worker = env.proj / "app" / "worker.py"
    rc, _, _ = env.run("daemon", "start")
    assert rc == 0
    env.wait_status(lambda st: st["busy"] is None and st["up_to_date"])
    worker.write_text(WORKER_BAD, encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--hook", "app/worker.py", "--no-cache")
    assert via == plain and via[0] == 1
    kept = env.wait_status(lambda st: st["busy"] is None)["kept_workers"]
    assert len(kept) == 1 and _alive(kept[0])
    worker.write_text(WORKER_GOOD, encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--hook", "app/worker.py", "--no-cache")
    assert via == plain and via[0] == 0
    st = env.wait_status(lambda st: st["busy"] is None)
    assert st["kept_workers"] == kept and st["summarised"] == 5  # 3 + 2 edits, one worker
    # a kept worker that dies is replaced, and the file is still summarised
    os.kill(kept[0], signal.SIGKILL)
    worker.write_text(WORKER_BAD, encoding="utf-8")
    plain, via = _plain_and_daemon(env, "--hook", "app/worker.py", "--no-cache")
    assert via == plain and via[0] == 1
    now = env.wait_status(lambda st: st["busy"] is None)["kept_workers"]
    assert len(now) == 1 and now != kept and _alive(now[0])
    env.run("daemon", "stop")
    assert _gone_soon_pid(now[0])


def _gone_soon_pid(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False
