"""Where a project starts, in a module of its own that imports nothing but ``os``: the
configuration (``lockwatch.config``) and the daemon's client, which must find its daemon
before importing anything heavier, both use it."""

from __future__ import annotations

import os


def find_project_root(start: str | None = None) -> str:
    """Directory of the nearest pyproject.toml or .git above ``start`` (else cwd). Hook
    mode analyses this whole directory and reports only what touches the given files."""
    d = os.path.abspath(start or os.getcwd())
    if not os.path.isdir(d):
        d = os.path.dirname(d)
    while True:
        if os.path.isfile(os.path.join(d, "pyproject.toml")) or os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.getcwd()
        d = parent
