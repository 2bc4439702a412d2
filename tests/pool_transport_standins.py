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


def not_marshal(source: str, path: str, module: str, is_package: bool = False) -> ModuleSummary:
    """A summary holding a value neither marshal nor JSON can encode when the source asks."""
    ms = pool_standins.summarise(source, path, module, is_package)
    if "NOT_MARSHAL" in source:
        ms.globals["x"] = {"v": object()}
    return ms


_finalised: list[str] = []


class _Cyclic:
    def __init__(self, name: str) -> None:
        self.name = name
        self.me = self  # a cycle: only the collector frees it

    def __del__(self) -> None:
        _finalised.append(self.name)


def leaves_a_cycle(source: str, path: str, module: str, is_package: bool = False) -> ModuleSummary:
    """Leaves one cyclic object behind per file, and says in its summary whether the
    collector was on and which earlier files' cycles were freed before this file started."""
    import gc

    ms = pool_standins.summarise(source, path, module, is_package)
    ms.globals["seen"] = {"v": {"gc_enabled": gc.isenabled(), "freed": sorted(_finalised)}}
    _Cyclic(module)
    return ms
