"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per
finding, which the Actions runner turns into an annotation on the file and line.

Escaping follows the runner's rules: in the message, ``%``, ``\\r`` and ``\\n``; in
property values additionally ``:`` and ``,`` (they separate properties)."""

from __future__ import annotations

from lockwatch.findings import Finding, Report

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _message(f: Finding) -> str:
    # Annotations show multi-line messages: the witness goes under the message so the
    # reader sees both ends of an inversion without opening the log.
    lines = [f.message]
    lines.extend(f"{r.path}:{r.line}:{r.column} {r.note}".rstrip() for r in f.related)
    for i, stack in enumerate(f.stacks or [], 1):
        lines.append(f"stack {i}:")
        lines.extend("  " + fr for fr in stack)
    return "\n".join(lines)


def render_finding(f: Finding) -> str:
    props = ",".join(
        f"{k}={escape_property(str(v))}"
        for k, v in (("file", f.path), ("line", f.line), ("col", f.column), ("title", f"{f.code} {f.kind}"))
    )
    return f"::{_COMMAND.get(f.severity, 'warning')} {props}::{escape_data(_message(f))}"


def render_github(report: Report) -> str:
    lines = [render_finding(f) for f in report.sorted_findings()]
    for e in report.errors:
        props = f"file={escape_property(e.path)},title={escape_property('lockwatch: input not analysed')}"
        lines.append(f"::error {props}::{escape_data(e.message)}")
    return "".join(line + "\n" for line in lines)
