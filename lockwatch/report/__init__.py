"""Report formats: one :class:`~lockwatch.findings.Report` rendered as text, JSON, SARIF
2.1.0 or GitHub Actions workflow commands. Every format renders the same findings;
none of them filters or reorders beyond :meth:`Report.sorted_findings`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import IO

from lockwatch.findings import Report

FORMATS = ("text", "json", "sarif", "github")


def _renderer(fmt: str) -> Callable[..., str]:
    if fmt == "text":
        from lockwatch.report.text import render_text

        return render_text
    if fmt == "json":
        from lockwatch.report.json import render_json

        return render_json
    if fmt == "sarif":
        from lockwatch.report.sarif import render_sarif

        return render_sarif
    if fmt == "github":
        from lockwatch.report.github import render_github

        return render_github
    raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")


def render(report: Report, fmt: str, *, color: bool = False, quiet: bool = False) -> str:
    """The whole report as one string. ``color`` and ``quiet`` matter to ``text`` only."""
    fn = _renderer(fmt)
    if fmt == "text":
        return fn(report, color=color, quiet=quiet)
    return fn(report)


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (https://no-color.org);
    FORCE_COLOR turns it on anyway (CI logs that render ANSI)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def write(report: Report, fmt: str, output: str | None = None, *, quiet: bool = False,
          statistics: bool = False) -> None:
    """Render to ``output`` (a path; ``None`` or ``-`` = stdout). Files are UTF-8.
    ``statistics``: counts per rule instead of the findings (text or json)."""
    to_file = bool(output and output != "-")
    out = sys.stdout
    if statistics:
        from lockwatch.report.statistics import render_statistics

        text = render_statistics(report, fmt, quiet=quiet)
    else:
        text = render(report, fmt, color=not to_file and use_color(out), quiet=quiet)
    if to_file:
        _write_file(output, text)
        return
    try:
        out.write(text)
    except UnicodeEncodeError:
        # A terminal that cannot show some path or message: write UTF-8 bytes rather than
        # lose the report.
        out.flush()
        out.buffer.write(text.encode("utf-8", "backslashreplace"))
    out.flush()


def _write_file(output: str, text: str) -> None:
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    with open(output, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
