"""Time the race analysis (LW301-LW303) on one linked model, against another version of
``lockwatch/static/races.py`` in the same process and run, interleaved.

    python benchmarks/bench_races.py [DIR] [--cache DIR] [--before OLD_RACES_PY] [--rounds N]

DIR defaults to the CPython 3.12 stdlib without its tests. Summaries come from the cache
(``--cache``; the first run fills it), so only link+graph and the race stage are timed.
``--before`` names an older ``races.py`` (e.g. ``git show REV:lockwatch/static/races.py >
/tmp/old_races.py``): both versions run on the same model, alternately, best of N rounds,
and their candidates (races, check-then-acts, guard violations, module globals) must be
equal. Without it only the current version is timed, against link+graph as the baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config
from lockwatch.static import races as current
from lockwatch.static.engine import summarise_paths
from lockwatch.static.graph import analyse as graph_analyse
from lockwatch.static.link import link

DEFAULT = "/root/.pyenv/versions/3.12.1/lib/python3.12"
TEST_DIRS = ["test/**", "idlelib/idle_test/**", "**/tests/**"]


def _load(path: str):
    spec = importlib.util.spec_from_file_location("races_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["races_before"] = mod   # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _fresh(model) -> None:
    for attr in ("_races", "_races_index"):
        if hasattr(model, attr):
            delattr(model, attr)


def _run(mod, model, config):
    """Every race entry point the rules call, as comparable tuples."""
    _fresh(model)
    t = time.perf_counter()
    un = mod.unprotected(model, config, set())
    cta = mod.check_then_act(model, config)
    gv = mod.guard_violations(model, config)
    gl = mod.global_check_then_act(model, config)
    dt = time.perf_counter() - t
    key = (
        sorted((r.cid, r.attr, r.access.fid, r.access.loc.line, r.witness.loc.line, r.why) for r in un),
        sorted((c.cid, c.attr, c.check.loc.line, c.act.loc.line) for c in cta),
        sorted((g.cid, g.attr, g.access.loc.line) for g in gv),
        sorted((g.fid, g.name, g.check.line, g.act.line) for g in gl),
    )
    return dt, key


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=DEFAULT)
    ap.add_argument("--cache", default="/tmp/lockwatch-bench-cache")
    ap.add_argument("--before")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    exclude = TEST_DIRS if args.dir == DEFAULT else []
    config = Config(cache_dir=args.cache, exclude=exclude, root=args.dir)  # globs are root-relative
    summaries, _errors = summarise_paths([args.dir], config)
    t0 = time.perf_counter()
    model = link(summaries, config)
    graph_analyse(model)
    base = time.perf_counter() - t0
    print(f"modules {len(summaries)}  classes {len(model.classes)}  functions {len(model.functions)}")
    print(f"link+graph (baseline, once): {base:.2f}s")
    versions = [("after", current)]
    if args.before:
        versions.insert(0, ("before", _load(args.before)))
    best = {name: float("inf") for name, _ in versions}
    keys = {}
    for _ in range(args.rounds):
        for name, mod in versions:
            dt, key = _run(mod, model, config)
            best[name] = min(best[name], dt)
            keys[name] = key
    for name, _ in versions:
        counts = [len(k) for k in keys[name]]
        print(f"{name}: races stage best of {args.rounds} {best[name]:.2f}s "
              f"= {best[name] / base:.2f}x link+graph; candidates LW301/LW302/LW303/global = {counts}")
    if args.before:
        print(f"after/before = {best['after'] / best['before']:.3f}; "
              f"same candidates: {keys['after'] == keys['before']}")
        # what a precision change dropped or added, per entry point
        for name, b, a in zip(("LW301", "LW302", "LW303", "global"), keys["before"], keys["after"]):
            for row in sorted(set(b) - set(a)):
                print(f"  only before {name}: {row}")
            for row in sorted(set(a) - set(b)):
                print(f"  only after {name}: {row}")
        return 0 if keys["after"] == keys["before"] else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
