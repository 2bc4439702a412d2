"""SPEC's text format: one header line per finding, every witness location indented
beneath it (clickable ``path:line:col`` in editors and terminals), runtime stacks beneath
that, then the inputs that could not be analysed, then a one-line summary."""

from __future__ import annotations

from lockwatch.findings import Finding, Report

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_SEV_COLOR = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}

# Witness locations are padded to this width (at least) so notes line up, as in SPEC.
_LOC_WIDTH = 20


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and text else text


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def render_finding(f: Finding, color: bool = False) -> list[str]:
    loc = f"{f.path}:{f.line}:{f.column}"
    sev = _SEV_COLOR.get(f.severity, "")
    head = f"{_paint(loc, _BOLD, color)}: {_paint(f.code, _BOLD + sev, color)} {f.kind}: {f.message}"
    if f.confirmed:
        # Joined reports: the other half (static or runtime) saw the same hazard.
        head += " " + _paint("[confirmed]", _DIM, color)
    lines = [head]
    if f.related:
        locs = [f"{r.path}:{r.line}:{r.column}" for r in f.related]
        width = max(_LOC_WIDTH, *(len(s) for s in locs))
        for s, r in zip(locs, f.related):
            note = r.note.replace("\n", " ")
            lines.append(("    " + s.ljust(width) + " " + note).rstrip() if note else "    " + s)
    for i, stack in enumerate(f.stacks or [], 1):
        label = "stack" if len(f.stacks or []) == 1 else f"stack {i} of {len(f.stacks or [])}"
        lines.append("    " + _paint(label + ":", _DIM, color))
        lines.extend("        " + frame for frame in stack)
    lines.extend(_waiting(f, color))
    return lines


def _waiting(f: Finding, color: bool) -> list[str]:
    """Runtime deadlock/long-wait reports carry the other agents that were waiting at the
    time (``extra["waiting"]``: tasks on an asyncio Event, Queue or Semaphore, threads on a
    lock). They are often why the program is stuck, so the text shows them with their stacks,
    as the JSON does."""
    waiting = f.extra.get("waiting") if isinstance(f.extra, dict) else None
    if not isinstance(waiting, dict) or not waiting:
        return []
    lines = []
    for name, w in waiting.items():
        if not isinstance(w, dict):
            continue
        what = w.get("waits_for") or w.get("kind") or "something"
        secs = w.get("seconds")
        since = f" for {secs:g} s" if isinstance(secs, (int, float)) else ""
        lines.append("    " + _paint(f"also waiting: {name} waits for {what}{since}", _DIM, color))
        lines.extend("        " + str(frame) for frame in (w.get("stack") or []))
    return lines


def summary_line(report: Report) -> str:
    findings = report.findings
    parts = []
    if findings:
        by_sev: dict[str, int] = {}
        for f in findings:
            by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
        counts = ", ".join(
            _plural(by_sev[s], s, "info" if s == "info" else None)
            for s in ("error", "warning", "info")
            if s in by_sev
        )
        files = len({f.path for f in findings})
        parts.append(f"Found {_plural(len(findings), 'finding')} ({counts}) in {_plural(files, 'file')}.")
    else:
        parts.append("No findings.")
    if report.errors:
        n = len(report.errors)
        parts.append(f"{_plural(n, 'input')} could not be analysed (listed above).")
    return " ".join(parts)


def render_text(report: Report, color: bool = False, quiet: bool = False) -> str:
    lines: list[str] = []
    for f in report.sorted_findings():
        lines.extend(render_finding(f, color))
    for e in report.errors:
        lines.append(f"{_paint(e.path, _BOLD, color)}: {_paint('error', _SEV_COLOR['error'], color)}: {e.message}")
    if not quiet:
        if lines:
            lines.append("")
        lines.append(_paint(summary_line(report), _BOLD, color))
    return "\n".join(lines) + "\n" if lines else ""
