"""The package list of benchmarks/real_world_scan.py stays consistent: a typo in an EXCLUDES or
PLATFORM_WHEELS key would silently scan a shipped test suite or fail to fetch a wheel, and
the documented counts (docs/real-world.md) are only comparable for pinned versions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "real_world_scan.py"


def _load():
    spec = importlib.util.spec_from_file_location("real_world_scan", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_package_is_pinned_once():
    rws = _load()
    specs = [spec for spec, _ in rws.PACKAGES]
    for spec in specs:
        name, sep, version = spec.partition("==")
        assert sep and name and version, spec
    names = [s.split("==")[0].lower() for s in specs]
    assert len(names) == len(set(names)), "a distribution is listed twice"


def test_excludes_and_platform_wheels_name_listed_packages():
    rws = _load()
    specs = {spec for spec, _ in rws.PACKAGES}
    assert set(rws.EXCLUDES) <= specs
    assert set(rws.PLATFORM_WHEELS) <= specs


def test_excludes_are_directory_globs_under_a_scanned_dir():
    # main() counts files by stripping the trailing "**": only "DIR/**" globs are counted right
    rws = _load()
    dirs = {spec: scanned for spec, scanned in rws.PACKAGES}
    for spec, globs in rws.EXCLUDES.items():
        for glob in globs:
            assert glob.endswith("/**"), glob
            assert any(glob.startswith(d.rstrip("/") + "/") for d in dirs[spec]), glob
