"""Baselines for legacy code: record today's findings, then report only new ones.

A baseline holds fingerprints, never line numbers (the producer's
:attr:`Finding.fingerprint` is rule + symbols + normalised code), so unrelated edits do
not resurrect old findings. Matching counts instances: a baseline entry absorbs one
current finding with the same (code, fingerprint), so a second copy of a known hazard
is still reported.

File layout (JSON)::

    {"lockwatch_baseline": 1, "lockwatch": "0.3.0",
     "findings": [{"code": "LW101", "fingerprint": "...", "path": "pkg/pool.py",
                   "message": "..."}]}

``path`` and ``message`` are for people reading or reviewing the file; matching uses
only ``code`` and ``fingerprint``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from typing import Any

from lockwatch import __version__
from lockwatch.config import ConfigError
from lockwatch.findings import Finding

BASELINE_VERSION = 1


class BaselineError(ConfigError):
    """An unreadable or malformed baseline file (exit status 2, like a config error)."""


def baseline_dict(findings: Iterable[Finding]) -> dict[str, Any]:
    entries = [
        {"code": f.code, "fingerprint": f.fingerprint, "path": f.path, "message": f.message}
        for f in sorted(findings, key=lambda f: (f.path, f.code, f.fingerprint, f.line))
    ]
    return {"lockwatch_baseline": BASELINE_VERSION, "lockwatch": __version__, "findings": entries}


def write_baseline(path: str, findings: Iterable[Finding]) -> int:
    """Write atomically (a half-written baseline would hide nothing but break the next
    run). Returns the number of entries."""
    data = baseline_dict(findings)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lockwatch-baseline-", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(data["findings"])


def load_baseline(path: str) -> Counter[tuple[str, str]]:
    """(code, fingerprint) -> how many instances the baseline accepts."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise BaselineError(f"{path}: cannot read baseline: {e.strerror or e}") from e
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BaselineError(f"{path}: baseline is not valid JSON ({e}); regenerate it with --write-baseline") from e
    if not isinstance(data, dict) or "lockwatch_baseline" not in data:
        raise BaselineError(f"{path}: not a lockwatch baseline (no 'lockwatch_baseline' key)")
    version = data["lockwatch_baseline"]
    if version != BASELINE_VERSION:
        raise BaselineError(f"{path}: baseline version {version!r} is not supported (expected {BASELINE_VERSION})")
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: baseline 'findings' must be a list")
    counts: Counter[tuple[str, str]] = Counter()
    for i, e in enumerate(entries):
        if not (isinstance(e, dict) and isinstance(e.get("code"), str) and isinstance(e.get("fingerprint"), str)):
            raise BaselineError(f"{path}: baseline entry {i} needs string 'code' and 'fingerprint'")
        counts[(e["code"], e["fingerprint"])] += 1
    return counts


def apply_baseline(findings: Iterable[Finding], accepted: Counter[tuple[str, str]]) -> list[Finding]:
    """Findings not covered by the baseline, most important first. Of several findings
    with one fingerprint, the baseline absorbs the first ones in that order, so which
    copies stay reported is deterministic."""
    remaining = Counter(accepted)
    ordered = sorted(findings, key=Finding.sort_key)
    kept = []
    for f in ordered:
        key = (f.code, f.fingerprint)
        if remaining[key] > 0:
            remaining[key] -= 1
            continue
        kept.append(f)
    return kept
