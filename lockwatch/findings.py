"""The one finding model that the static analyser, the runtime tracer and the pytest
plugin all produce, and that every report format renders (see SPEC.md).

Plain dataclasses with a stable dict form: ``to_dict``/``from_dict`` round-trip, so
findings can travel between processes (xdist workers, caches) as JSON.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from lockwatch import __version__

SEVERITIES = ("error", "warning", "info")

# Ordering used when sorting findings "most important first".
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def display_path(path: str | os.PathLike, cwd: str | None = None) -> str:
    """SPEC: relative to the current directory when the file lies under it, '/'-separated."""
    p = os.fspath(path)
    if not p:
        return p
    cwd = cwd or os.getcwd()
    ap = os.path.abspath(p)
    try:
        rel = os.path.relpath(ap, cwd)
    except ValueError:  # different drive on Windows
        rel = ap
    if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir:
        rel = ap
    return rel.replace(os.sep, "/")


@dataclass
class Location:
    """One place in the witness of a finding: an acquisition, a call on the way, a frame."""

    path: str
    line: int
    column: int = 1
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Location":
        return cls(d["path"], int(d["line"]), int(d.get("column", 1)), d.get("note", ""))


@dataclass
class Finding:
    code: str
    kind: str
    severity: str
    message: str
    path: str
    line: int
    column: int = 1
    locks: list[str] = field(default_factory=list)
    related: list[Location] = field(default_factory=list)
    fingerprint: str = ""
    # Runtime findings: one list of "path:line in function" frames per thread/task involved.
    stacks: list[list[str]] | None = None
    # Set by the plugin's join: did the other half see the same hazard?
    confirmed: bool | None = None
    # Set by the plugin's join for static findings: did the tests run every acquisition line?
    executed: bool | None = None
    # Anything else a producer wants to carry (tests that saw it, thresholds, ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"bad severity {self.severity!r}")
        if not self.fingerprint:
            self.fingerprint = make_fingerprint(self.code, self.path, *self.locks, self.message)

    @property
    def location(self) -> Location:
        return Location(self.path, self.line, self.column)

    def locations(self) -> list[Location]:
        """Primary location first, then the witness."""
        return [self.location, *self.related]

    def sort_key(self) -> tuple:
        return (_SEVERITY_RANK.get(self.severity, 9), self.path, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "locks": list(self.locks),
            "related": [r.to_dict() for r in self.related],
            "fingerprint": self.fingerprint,
        }
        if self.stacks is not None:
            d["stacks"] = [list(s) for s in self.stacks]
        if self.confirmed is not None:
            d["confirmed"] = self.confirmed
        if self.executed is not None:
            d["executed"] = self.executed
        if self.extra:
            d.update({k: v for k, v in self.extra.items() if k not in d})
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        known = {
            "code", "kind", "severity", "message", "path", "line", "column", "locks",
            "related", "fingerprint", "stacks", "confirmed", "executed",
        }
        return cls(
            code=d["code"],
            kind=d["kind"],
            severity=d["severity"],
            message=d["message"],
            path=d["path"],
            line=int(d["line"]),
            column=int(d.get("column", 1)),
            locks=list(d.get("locks", [])),
            related=[Location.from_dict(r) for r in d.get("related", [])],
            fingerprint=d.get("fingerprint", ""),
            stacks=d.get("stacks"),
            confirmed=d.get("confirmed"),
            executed=d.get("executed"),
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass
class InputError:
    """An input that could not be analysed, with the reason (SPEC: ``errors``)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputError":
        return cls(d["path"], d["message"])


@dataclass
class Report:
    source: str  # "static" | "runtime" | "joined"
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    # Extra top-level sections (runtime edges the static graph lacks, contention profile, ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=Finding.sort_key)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "lockwatch": __version__,
            "source": self.source,
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "errors": [e.to_dict() for e in self.errors],
        }
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        extra = {k: v for k, v in d.items() if k not in ("lockwatch", "source", "findings", "errors")}
        return cls(
            source=d.get("source", "static"),
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            errors=[InputError.from_dict(e) for e in d.get("errors", [])],
            extra=extra,
        )


def make_fingerprint(code: str, *parts: Any) -> str:
    """A stable id from the rule and what identifies the hazard (symbols, normalised code),
    never line numbers, so that a baseline survives unrelated edits."""
    h = hashlib.sha256()
    h.update(code.encode())
    for p in parts:
        h.update(b"\x1f")
        h.update(str(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:20]


def normalise_code(text: str) -> str:
    """Whitespace-folded source text, for fingerprints that survive re-indentation."""
    return " ".join(text.split())


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        key = (f.code, f.fingerprint)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out
