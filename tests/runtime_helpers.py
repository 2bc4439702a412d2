"""Run a little program under the runtime tracer in a subprocess with a hard timeout, so a
tracer bug can fail a test but never hang the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY313 = "/root/.pyenv/versions/3.13.0/bin/python3"
PY310 = "/root/.pyenv/versions/3.10.13/bin/python3"

# The key scenarios run under every interpreter available here (the venv's and 3.13).
PYTHONS = [sys.executable] + [p for p in (PY313,) if os.path.exists(p) and sys.version_info[:2] != (3, 13)]


PYTHON_IDS = ["venv" if p == sys.executable else os.path.basename(os.path.dirname(os.path.dirname(p)))
              for p in PYTHONS]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None

    @property
    def findings(self) -> list[dict]:
        return (self.report or {}).get("findings", [])

    def codes(self) -> list[str]:
        return sorted(f["code"] for f in self.findings)

    def of(self, code: str) -> list[dict]:
        return [f for f in self.findings if f["code"] == code]

    def explain(self) -> str:
        return f"exit {self.returncode}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}\nreport: {json.dumps(self.report, indent=1)[-4000:] if self.report else None}"


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("PYTHONDEVMODE", None)
    return e


def run(tmp_path, source: str, *opts: str, args: tuple = (), python: str | None = None,
        timeout: float = 60, launcher: tuple = ("-m", "lockwatch.runtime"), name: str = "prog.py",
        stdin: str | None = None) -> Result:
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    out = tmp_path / "report.json"
    if out.exists():
        out.unlink()
    cmd = [python or sys.executable, *launcher, "--format", "json", "--output", str(out), *opts,
           name, *args]
    try:
        p = subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True,
                           timeout=timeout, input=stdin)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"hung for {timeout}s: {cmd}\n{e.stdout}\n{e.stderr}") from None
    rep = json.loads(out.read_text()) if out.exists() and out.read_text().strip() else None
    return Result(p.returncode, p.stdout, p.stderr, rep)


def run_plain(tmp_path, source: str, python: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a program that embeds the API itself (``lockwatch.watch()``)."""
    script = tmp_path / "embed.py"
    script.write_text(textwrap.dedent(source))
    try:
        return subprocess.run([python or sys.executable, str(script)], cwd=tmp_path, env=env(),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"hung for {timeout}s\n{e.stdout}\n{e.stderr}") from None
