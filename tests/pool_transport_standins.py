"""Stand-in summarisers for the transport tests (workers import them by "module:function"
name): results that cannot travel as a summary's cache entry."""

from __future__ import annotations

import pool_standins

from lockwatch.static.summary import ModuleSummary


def no_to_dict(source: str, path: str, module: str, is_package: bool = False):
    """Something that is not a summary when the source asks for it."""
    if "NOT_A_SUMMARY" in source:
        return object()
    return pool_standins.summarise(source, path, module, is_package)


def not_json(source: str, path: str, module: str, is_package: bool = False) -> ModuleSummary:
    """A summary holding a value JSON cannot encode when the source asks for it."""
    ms = pool_standins.summarise(source, path, module, is_package)
    if "NOT_JSON" in source:
        ms.globals["x"] = {"v": {1, 2}}  # a set
    return ms
