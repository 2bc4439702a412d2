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
* **function cone by names** (demand-driven linking): seed with the functions that acquire,
  release or await, or are ``async def``; add, to a fixpoint, every function that calls a
  name (last dotted part) of a function already in, or of a class one of whose methods is
  in. Only the functions in the cone would need linking. (Seeding with blocking calls as
  well, as LW131 and LW201 need, can only make it bigger.) The linked model's count of
  functions with a composed effect, printed beside it, is what an exact cone would keep.

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
    name_cone(mods)
    return 0


def name_cone(mods: dict) -> None:
    fns = {(ms.module, q): f for ms, _ in mods.values() for q, f in ms.functions.items()}
    called: dict = {}
    cone = set()
    for k, f in fns.items():
        called[k] = {ev["f"].replace(".()", "").replace(".[]", "").rpartition(".")[2]
                     for ev in f.events if ev["e"] == "call"}
        if f.is_async or any(ev["e"] in ("acq", "rel", "await") for ev in f.events):
            cone.add(k)
    seeds = len(cone)
    methods = collections.defaultdict(set)   # class name -> its methods
    for ms, _ in mods.values():
        for c in ms.classes.values():
            methods[c.name].update((ms.module, q) for q in c.methods.values())
    names = {fns[k].name for k in cone}
    grew = True
    while grew:
        names |= {c for c, ms_ in methods.items() if ms_ & cone}
        new = {k for k, ns in called.items() if k not in cone and ns & names}
        cone |= new
        names |= {fns[k].name for k in new}
        grew = bool(new)
    ev_all = sum(len(f.events) for f in fns.values())
    ev_cone = sum(len(fns[k].events) for k in cone)
    with gc_paused():
        from lockwatch.static.engine import analyse_summaries_with_model
        model, _ = analyse_summaries_with_model({ms.module: ms for ms, _ in mods.values()}, Config())
    eff = sum(1 for fi in model.functions.values() if fi.acq_eff or fi.block_eff)
    print(f"function cone by names: {seeds} seeds -> {len(cone)} of {len(fns)} functions "
          f"({len(cone) / len(fns):.0%}), {ev_cone / ev_all:.0%} of events; the linked model: "
          f"{eff} functions ({eff / len(fns):.0%}) reach a lock or blocking effect")


if __name__ == "__main__":
    raise SystemExit(main())
