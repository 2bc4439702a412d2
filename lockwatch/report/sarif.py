"""SARIF 2.1.0 for code-scanning services (GitHub code scanning, VS Code SARIF viewer).

The witness of a finding travels twice, as SARIF intends: as ``relatedLocations`` (each
with its note, numbered) and as one ``codeFlows[0].threadFlows[0]`` so viewers can step
through it in order. ``partialFingerprints["lockwatch/v1"]`` is the producer's
fingerprint (no line numbers), so alerts survive unrelated edits. Inputs that could not
be analysed become ``invocations[0].toolExecutionNotifications``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lockwatch import __version__
from lockwatch.findings import Finding, Location, Report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/lockwatch/"
SRCROOT = "%SRCROOT%"

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _artifact(path: str) -> dict[str, Any]:
    p = path.replace("\\", "/")
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(p, safe="/"), "uriBaseId": SRCROOT}


def _physical(loc: Location) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, loc.line)}
    if loc.column >= 1:
        region["startColumn"] = loc.column
    return {"artifactLocation": _artifact(loc.path), "region": region}


def _rule_descriptor(rule) -> dict[str, Any]:
    doc = rule.doc()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": " ".join(rule.what.split())},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": _LEVEL.get(rule.severity, "warning")},
        "properties": {
            "kind": rule.kind,
            "tags": [rule.kind, *(h for h, on in (("static", rule.static), ("runtime", rule.runtime)) if on)],
        },
    }


def _rules_for(report: Report) -> list[dict[str, Any]]:
    from lockwatch.rules import all_rules

    descriptors = [_rule_descriptor(r) for r in all_rules()]
    known = {d["id"] for d in descriptors}
    # A producer may use a code that has no rule module yet: describe it from the finding
    # rather than emit a result whose ruleId points nowhere.
    for f in report.sorted_findings():
        if f.code not in known:
            known.add(f.code)
            descriptors.append(
                {
                    "id": f.code,
                    "name": f.kind,
                    "shortDescription": {"text": f.kind},
                    "defaultConfiguration": {"level": _LEVEL.get(f.severity, "warning")},
                    "properties": {"kind": f.kind, "tags": [f.kind]},
                }
            )
    return descriptors


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    primary = f.location
    res: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": _LEVEL.get(f.severity, "warning"),
        "message": {"text": f.message},
        "locations": [{"physicalLocation": _physical(primary)}],
        "partialFingerprints": {"lockwatch/v1": f.fingerprint},
    }
    if f.related:
        res["relatedLocations"] = [
            {"id": i, "physicalLocation": _physical(r), "message": {"text": r.note or f"{r.path}:{r.line}"}}
            for i, r in enumerate(f.related, 1)
        ]
    flow = f.related or [primary]
    res["codeFlows"] = [
        {
            "threadFlows": [
                {
                    "locations": [
                        {
                            "location": {
                                "physicalLocation": _physical(r),
                                "message": {"text": r.note or f.message},
                            },
                            "executionOrder": i,
                        }
                        for i, r in enumerate(flow, 1)
                    ]
                }
            ]
        }
    ]
    props: dict[str, Any] = {"kind": f.kind, "locks": list(f.locks)}
    if f.stacks is not None:
        props["stacks"] = [list(s) for s in f.stacks]
    if f.confirmed is not None:
        props["confirmed"] = f.confirmed
    if f.executed is not None:
        props["executed"] = f.executed
    res["properties"] = props
    return res


def sarif_log(report: Report) -> dict[str, Any]:
    rules = _rules_for(report)
    index = {d["id"]: i for i, d in enumerate(rules)}
    results = [_result(f, index[f.code]) for f in report.sorted_findings()]
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(e.path)}}] if e.path else [],
        }
        for e in report.errors
    ]
    cwd = Path(os.getcwd()).as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "lockwatch",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": cwd}},
        "columnKind": "unicodeCodePoints",
        "invocations": [
            {"executionSuccessful": True, "toolExecutionNotifications": notifications},
        ],
        "results": results,
        "properties": {"source": report.source},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False) + "\n"
