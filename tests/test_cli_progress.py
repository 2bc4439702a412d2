"""The progress line of a long scan: on a terminal only, never with --quiet, erased at the
end, and never in the output of a scan written to a pipe."""

from __future__ import annotations

import argparse
import io
import os
import pty
import subprocess
import sys

from lockwatch import cli


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_not_quiet(monkeypatch):
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setattr(sys, "stderr", Tty())
    assert cli._progress_for(argparse.Namespace(quiet=False)) is not None
    assert cli._progress_for(argparse.Namespace(quiet=True)) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert cli._progress_for(argparse.Namespace(quiet=False)) is None


def test_progress_waits_throttles_and_erases():
    now = [0.0]
    out = Tty()
    p = cli._Progress(out)
    p.clock = lambda: now[0]
    p.t0 = 0.0
    p(1, 10)                 # a quick scan never shows anything
    assert out.getvalue() == ""
    now[0] = 0.6
    p(2, 10)
    now[0] = 0.62
    p(3, 10)                 # within 0.1 s of the last update: skipped
    now[0] = 0.63
    p(10, 10)                # the last one always shows
    p.close()
    assert out.getvalue() == ("\rlockwatch: summarising 2/10 files"
                              "\rlockwatch: summarising 10/10 files\r\x1b[K")


def test_scan_on_a_pipe_prints_no_progress(tmp_path):
    (tmp_path / "m.py").write_text("import threading\nL = threading.Lock()\n")
    r = subprocess.run([sys.executable, "-m", "lockwatch", "scan", "--no-cache", "."], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "summarising" not in r.stderr + r.stdout


def test_scan_on_a_terminal_ends_with_a_clean_line(tmp_path):
    for i in range(40):
        (tmp_path / f"m{i}.py").write_text("import threading\nL = threading.Lock()\n")
    pid, fd = pty.fork()
    if pid == 0:  # child: stderr and stdout are the terminal
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "lockwatch", "scan", "--no-cache", "."])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    # whether a progress line appeared depends on speed; if it did, it was erased
    if "summarising" in text:
        assert "\x1b[K" in text.split("summarising")[-1]
    assert text.replace("\x1b[1m", "").replace("\x1b[0m", "").rstrip().endswith("No findings.")
