"""Small helpers the static rule modules share (building findings from the model)."""

from __future__ import annotations

import os

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.static.model import ProgramModel, short_name


def where(loc: Location) -> str:
    return f"{os.path.basename(loc.path)}:{loc.line}"


def finding(rule, message: str, primary: Location, related: list[Location], locks: list[str],
            fingerprint_parts: tuple) -> Finding:
    return Finding(
        code=rule.code, kind=rule.kind, severity=rule.severity, message=message,
        path=primary.path, line=primary.line, column=primary.column,
        locks=list(locks), related=list(related),
        fingerprint=make_fingerprint(rule.code, *fingerprint_parts),
    )


def lock_label(model: ProgramModel, lock_id: str) -> str:
    lc = model.locks.get(lock_id)
    kind = {"lock": "Lock", "rlock": "RLock", "semaphore": "Semaphore", "condition": "Condition",
            "async-lock": "async Lock", "async-semaphore": "async Semaphore",
            "async-condition": "async Condition"}.get(lc.sort if lc else "", "lock")
    return f"{short_name(lock_id)} ({kind})"


def function_short(model: ProgramModel, fid: str) -> str:
    fi = model.functions.get(fid)
    return fi.short if fi is not None else fid
