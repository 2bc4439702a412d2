"""Which findings a configuration keeps: ``select``/``ignore`` (codes, code prefixes such
as ``LW1``, or kind slugs such as ``lock-order-cycle``) and per-file ignores."""

from __future__ import annotations

import fnmatch
import os
from typing import Iterable

from lockwatch.config import Config
from lockwatch.findings import Finding


def _matches(selector: str, f: Finding) -> bool:
    s = selector.strip()
    if not s:
        return False
    if s.upper() == "ALL":
        return True
    return f.code.upper().startswith(s.upper()) or f.kind == s.lower()


def _path_matches(pattern: str, path: str) -> bool:
    pattern = pattern.replace("\\", "/")
    return (
        fnmatch.fnmatch(path, pattern)
        or fnmatch.fnmatch(path, pattern.rstrip("/") + "/*")
        or fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern)
    )


def _project_relative(path: str, root: str) -> str:
    """Per-file-ignore globs are written relative to the project root (where the config
    lives), but finding paths are relative to the current directory: compare in the
    root's terms so that the result does not depend on where lockwatch was run from."""
    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root or "."))
    except ValueError:
        return path
    if rel.startswith(os.pardir):
        return path
    return rel.replace(os.sep, "/")


def keep(f: Finding, config: Config) -> bool:
    if config.select and not any(_matches(s, f) for s in config.select):
        return False
    if any(_matches(s, f) for s in config.ignore):
        return False
    rel = _project_relative(f.path, config.root) if config.per_file_ignores else f.path
    for pattern, codes in config.per_file_ignores.items():
        if (_path_matches(pattern, rel) or _path_matches(pattern, f.path)) and any(_matches(c, f) for c in codes):
            return False
    return True


def rule_enabled(rule, config: Config) -> bool:
    """Does the configuration run this static rule at all? An empty ``select`` means the
    default set: every rule except the opt-in ones (``Rule.default`` false), which run only
    when ``select``/``extend-select`` names them (by code, prefix, kind or ALL)."""
    probe = Finding(code=rule.code, kind=rule.kind, severity=rule.severity, message="", path="", line=1)
    if config.select:
        chosen = any(_matches(s, probe) for s in config.select)
    else:
        chosen = rule.default or any(_matches(s, probe) for s in config.extend_select)
    return chosen and not any(_matches(s, probe) for s in config.ignore)


def apply(findings: Iterable[Finding], config: Config) -> list[Finding]:
    return [f for f in findings if keep(f, config)]
