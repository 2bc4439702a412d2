"""The real pre-commit hook, end to end: a throwaway git repository whose
.pre-commit-config.yaml points at this checkout (by path and commit sha), so pre-commit
clones it, pip-installs lockwatch into its own virtualenv and runs `lockwatch scan --hook`.

Slow (one virtualenv install from PyPI), so everything happens in one test. Skipped
cleanly when pre-commit or git is missing or this checkout is not a git repository.
Note: pre-commit installs the *committed* HEAD of this checkout, not the working tree.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None or shutil.which("git") is None,
    reason="needs pre-commit and git",
)

ORDERS = textwrap.dedent('''\
    """Two module locks and the one order the rest of the code keeps: registry, then journal."""
    import threading

    registry_lock = threading.Lock()
    journal_lock = threading.Lock()
    entries = {}
    journal = []


    def register(key, value):
        with registry_lock:
            with journal_lock:
                entries[key] = value
                journal.append(("register", key))
''')

# Takes the same two locks in the opposite order: together with orders.register this is a
# lock-order cycle, although each file alone looks harmless.
WORKER_BAD = textwrap.dedent('''\
    import orders


    def compact():
        with orders.journal_lock:
            with orders.registry_lock:
                orders.journal[:] = [e for e in orders.journal if e[1] in orders.entries]
''')

WORKER_GOOD = textwrap.dedent('''\
    import orders


    def compact():
        with orders.registry_lock:
            with orders.journal_lock:
                orders.journal[:] = [e for e in orders.journal if e[1] in orders.entries]
''')


def _env(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PRE_COMMIT_HOME=str(home),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        NO_COLOR="1",
    )
    return env


def _git(cwd, env, *args, check=True):
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=check, timeout=900, stdin=subprocess.DEVNULL)


def test_precommit_hook_blocks_a_cycle_and_passes_clean_code(tmp_path):
    env = _env(tmp_path / "pc-home")
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], check=False, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("this checkout is not a git repository")
    sha = head.stdout.strip()
    hooks = subprocess.run(["git", "-C", ROOT, "cat-file", "-e", f"{sha}:.pre-commit-hooks.yaml"], check=False)
    assert hooks.returncode == 0, ".pre-commit-hooks.yaml must be committed"

    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, env, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(textwrap.dedent(f"""\
        repos:
          - repo: {ROOT}
            rev: {sha}
            hooks:
              - id: lockwatch
    """), encoding="utf-8")
    install = subprocess.run([sys.executable, "-m", "pre_commit", "install"], check=False, cwd=repo, env=env,
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr

    def commit(message):
        r = _git(repo, env, "commit", "-m", message, check=False)
        return r.returncode, r.stdout + r.stderr

    # 1. Consistent code passes.
    (repo / "orders.py").write_text(ORDERS, encoding="utf-8")
    _git(repo, env, "add", ".pre-commit-config.yaml", "orders.py")
    rc, out = commit("orders")
    assert rc == 0, out
    assert "lockwatch" in out and "Passed" in out

    # 2. A new file that closes a cycle with the committed one fails the commit, and the
    #    report points into the staged file.
    (repo / "worker.py").write_text(WORKER_BAD, encoding="utf-8")
    _git(repo, env, "add", "worker.py")
    rc, out = commit("worker")
    assert rc != 0, out
    assert "Failed" in out and "LW101" in out and "worker.py" in out
    assert "internal error" not in out

    # 3. The clean look-alike (same order as orders.register) passes.
    (repo / "worker.py").write_text(WORKER_GOOD, encoding="utf-8")
    _git(repo, env, "add", "worker.py")
    rc, out = commit("worker, fixed")
    assert rc == 0, out
    assert _git(repo, env, "log", "--oneline").stdout.count("\n") == 2
