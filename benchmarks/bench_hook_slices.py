"""How much of a program could a pre-commit run skip? Measures two cheap slicing ideas.

Issue #4 wants a pre-commit run on one changed file of a stdlib-sized tree under one second.
Today the hook links and checks the whole program (the analysis is interprocedural: any file
may change any finding that touches the changed one). Two cheap ways to analyse less, measured
here on the summaries of a tree (made by the normal pipeline, nothing imported from it):

* **module cones**: for a changed module F, the modules that import it (transitively: the
  only ones whose names can resolve into F through imports) plus everything those import
  (needed to resolve their names). Prints the cone's share of modules and bytes per module:
  median, 90th percentile and a few named modules. (Module imports are not even all of it:
  duck-typed calls and overrides reach across modules that do not import each other.)
* **callee names**: the share of call events whose callee's last name is also the name of
  some project function, class or global (a name filter cannot skip those: the call may
  resolve into the project).

    python benchmarks/bench_hook_slices.py TREE [--named MOD ...]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config
from lockwatch.static.discover import discover
from lockwatch.static.engine import gc_paused
from lockwatch.static.pool import summarise_files


def summaries(tree: str) -> dict:
    cfg = Config(root=tree, cache_dir=os.path.join(tempfile.gettempdir(), "lockwatch-bench-slices-cache"))
    with gc_paused():
        files, _ = discover([tree], cfg)
        by_path, _ = summarise_files(files, cfg)
    out = {}
    for sf in files:
        s = by_path.get(sf.path)
        if s is not None:
            out.setdefault(s.module, (s, os.path.getsize(sf.abspath)))
    return out


def import_edges(mods: dict) -> dict[str, set[str]]:
    """Module -> project modules it imports (longest project prefix of each dotted target)."""
    def owner(dotted: str) -> str | None:
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            p = ".".join(parts[:i])
            if p in mods:
                return p
        return None

    out: dict[str, set[str]] = {}
    for m, (ms, _) in mods.items():
        targets = set()
        for v in ms.imports.values():
            if isinstance(v, list) and len(v) > 1 and isinstance(v[1], str):
                t = owner(v[1])
                if t:
                    targets.add(t)
        targets.update(d for d in ms.star_imports if d in mods)
        out[m] = targets
    return out


def closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for y in edges.get(todo.pop(), ()):
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree")
    ap.add_argument("--named", nargs="*", default=["queue", "threading", "logging", "json.decoder",
                                                   "http.client", "concurrent.futures.thread"])
    args = ap.parse_args()
    mods = summaries(os.path.abspath(args.tree))
    down = import_edges(mods)
    up: dict[str, set[str]] = collections.defaultdict(set)
    for m, ts in down.items():
        for t in ts:
            up[t].add(m)
    total = sum(size for _, size in mods.values())
    rows = []
    for m in sorted(mods):
        cone = closure(closure({m}, up), down)
        rows.append((len(cone) / len(mods), sum(mods[x][1] for x in cone) / total, m))
    rows.sort()
    q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]
    mod_share = [r[0] for r in rows]
    byte_share = sorted(r[1] for r in rows)
    print(f"{len(mods)} modules, {total / 1e6:.1f} MB")
    print(f"module cone (importers + what they import): median {statistics.median(mod_share):.0%} of modules, "
          f"{statistics.median(byte_share):.0%} of bytes; 90th percentile {q(byte_share, 0.9):.0%} of bytes")
    for m in args.named:
        for r in rows:
            if r[2] == m:
                print(f"  {m}: {r[0]:.0%} of modules, {r[1]:.0%} of bytes")

    names = set()
    for ms, _ in mods.values():
        names.update(q.rsplit(".", 1)[-1] for q in ms.functions)
        names.update(q.rsplit(".", 1)[-1] for q in ms.classes)
        names.update(ms.globals)
    counts = collections.Counter()
    for ms, _ in mods.values():
        for fs in ms.functions.values():
            for ev in fs.events:
                if ev["e"] == "call":
                    counts[ev["f"].rpartition(".")[2] in names] += 1
    n = counts[True] + counts[False]
    print(f"call events: {n}; callee's last name is a project name: {counts[True] / n:.0%} "
          f"(a name filter could skip at most {counts[False] / n:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
