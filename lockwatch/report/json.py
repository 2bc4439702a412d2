"""SPEC's JSON layout, exactly :meth:`Report.to_dict`, indented, with a trailing newline."""

from __future__ import annotations

import json as _json

from lockwatch.findings import Report


def render_json(report: Report) -> str:
    return _json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
