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


def local_lock_escapes(model: ProgramModel, lock_id: str) -> bool:
    """A lock created in a function and handed on (passed, stored, appended, returned):
    another thread may release it, so a second ``acquire`` is a wait, not a deadlock (the
    "waiter lock" pattern of ``threading.Condition.wait``)."""
    fid, _, name = lock_id.rpartition(".")
    fi = model.functions.get(fid)
    if fi is None or name not in fi.summary.locals:
        return False
    ref = {"r": name}
    for ev in fi.summary.events:
        e = ev["e"]
        if e == "call" and (_mentions(ev.get("a"), ref) or _mentions(ev.get("k"), ref)):
            return True
        if e == "wr" and _mentions(ev.get("v"), ref):
            return True
    if _mentions(fi.summary.returns, ref):
        return True
    # a closure that uses it (a thread body releasing it)
    prefix = fid + ".<locals>."
    for gid, g in model.functions.items():
        if gid.startswith(prefix):
            gs = g.summary
            if name in getattr(gs, "reads", ()) or name in getattr(gs, "attr_reads", ()):
                return True
            if any(ev.get("r", "").split(".")[0] == name or ev.get("f", "").split(".")[0] == name
                   for ev in gs.events):
                return True
    return False


def _mentions(value, ref: dict) -> bool:
    """Does a summary value (nested lists/dicts) contain ``ref`` anywhere?"""
    name = ref["r"]
    stack = [value]
    while stack:
        v = stack.pop()
        if v == ref:
            return True
        if isinstance(v, dict):
            # ``create_task(cond.wait())``: a method of it handed on counts too
            for k in ("r", "call"):
                x = v.get(k)
                if isinstance(x, str) and x.split(".", 1)[0] == name:
                    return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def acquire_status(model: ProgramModel, fid: str, loc) -> str | None:
    """The release-analysis status of the ``acquire()`` at ``loc`` in ``fid``."""
    fi = model.functions.get(fid)
    if fi is None:
        return None
    for site in fi.summary.acquire_sites:
        if site["l"] == loc[1] and site["c"] == loc[2]:
            return site["status"]
    return None
