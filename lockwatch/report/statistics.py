"""``lockwatch scan --statistics``: how many findings of each rule, instead of the findings
(as ``ruff check --statistics``). The first look at a legacy codebase: which rules fire,
and how often, before deciding what to select, fix or baseline."""

from __future__ import annotations

import json

from lockwatch.findings import Report

FORMATS = ("text", "json")


def counts(report: Report) -> list[dict]:
    """One row per code with findings: most frequent first, then by code."""
    from lockwatch import rules

    by_code: dict[str, dict] = {}
    for f in report.findings:
        row = by_code.get(f.code)
        if row is None:
            try:
                name = rules.get(f.code).name
            except KeyError:
                name = f.kind
            row = by_code[f.code] = {"code": f.code, "name": name, "kind": f.kind, "count": 0}
        row["count"] += 1
    return sorted(by_code.values(), key=lambda r: (-r["count"], r["code"]))


def render_statistics(report: Report, fmt: str = "text", quiet: bool = False) -> str:
    rows = counts(report)
    if fmt == "json":
        return json.dumps({"statistics": rows, "errors": len(report.errors)}, indent=2) + "\n"
    if fmt != "text":
        raise ValueError(f"--statistics prints {' or '.join(FORMATS)}, not {fmt}")
    width = max([len(str(r["count"])) for r in rows] or [1])
    lines = [f"{r['count']:>{width}}  {r['code']}  {r['name']}" for r in rows]
    if not quiet:
        total = sum(r["count"] for r in rows)
        lines.append(f"Found {total} finding{'s' if total != 1 else ''}." if total else "No findings.")
        if report.errors:
            n = len(report.errors)
            lines.append(f"{n} input{'s' if n != 1 else ''} could not be analysed "
                         "(run without --statistics to list them).")
    return "\n".join(lines) + "\n" if lines else ""
