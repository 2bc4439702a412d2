"""Suppression comments (SPEC): ``# lockwatch: ignore[LW101, LW111]`` on the reported line
silences those codes there; a bare ``# lockwatch: ignore`` silences every code. Text after
the directive (``-- reason``, ``because ...``) is the reason and is ignored by matching.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Callable, Iterable

from lockwatch.findings import Finding

_DIRECTIVE = re.compile(r"#\s*lockwatch\s*:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)

# line -> None (all codes) or frozenset of codes
Suppressions = dict[int, "frozenset[str] | None"]


def suppressions_in(text: str) -> Suppressions:
    """Find directives in real comments only (not in strings), by tokenizing. Falls back to
    a line scan when the file does not tokenize (the scan still reports what it can)."""
    out: Suppressions = {}
    if "lockwatch" not in text:
        return out

    def add(line: int, comment: str) -> None:
        m = _DIRECTIVE.search(comment)
        if not m:
            return
        codes = m.group("codes")
        if codes is None or not codes.strip():
            out[line] = None
            return
        new = frozenset(c.strip().upper() for c in codes.split(",") if c.strip())
        prev = out.get(line, frozenset())
        out[line] = None if prev is None and line in out else (prev or frozenset()) | new

    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                add(tok.start[0], tok.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        for i, line in enumerate(text.splitlines(), 1):
            if "#" in line:
                add(i, line[line.index("#"):])
    return out


def is_suppressed(sup: Suppressions, line: int, code: str) -> bool:
    if line not in sup:
        return False
    codes = sup[line]
    return codes is None or code.upper() in codes


def apply(findings: Iterable[Finding], lookup: Callable[[str], Suppressions | None]) -> list[Finding]:
    """Drop findings whose primary line carries a matching directive. ``lookup(path)``
    returns that file's suppressions (or None when unknown, e.g. a runtime frame in a
    file that was never scanned)."""
    kept = []
    for f in findings:
        sup = lookup(f.path)
        if sup and is_suppressed(sup, f.line, f.code):
            continue
        kept.append(f)
    return kept
