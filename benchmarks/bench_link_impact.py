"""How far does an edit to one module reach into the linked model? The question behind an
incremental pre-commit run (issue #4: one changed file of a stdlib-sized tree in under one
second; docs/scale.md).

Today the hook links the whole program again (about 1.0-1.3 s on the stdlib), although an edit
to one module can change the linked facts of only the functions whose resolution consulted
that module. This script measures how many that is, by linking the tree three ways and
comparing the results function by function:

* **as is** (the reference);
* **add**: a new function taking a lock appended to module M (the edit ``bench_scan.py``'s
  hook measurement makes), M summarised again in this process from its file;
* **drop**: M removed from the program altogether (every name resolving into M now
  resolves to nothing: an upper bound for any edit of M's interface).

For each sampled module it prints how many functions *outside M* changed their linked facts
(acquisitions, call sites with their targets, external names, blocking name, lock method,
function arguments, receiver class; decorator acquisitions, releases, parameter calls). It
then times, on the reference model, the stages a resident incremental analysis would still
run whole unless they too were made incremental: ``graph.analyse`` (compose, lock graph)
and the rules. Nothing is imported from the tree; its files are only read and summarised.

    python benchmarks/bench_link_impact.py TREE [--sample N] [--seed S] [--module MOD ...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config
from lockwatch.static.discover import discover
from lockwatch.static.engine import gc_paused, run_checks
from lockwatch.static.graph import analyse
from lockwatch.static.link import link
from lockwatch.static.pool import summarise_files
from lockwatch.static.summarise import summarise_module

PROBE = "\n\ndef _lockwatch_probe(lock):\n    with lock:\n        pass\n"


def linked_facts(model) -> dict[str, str]:
    """Function id -> a canonical text of what the linker decided for it (not the composed
    effects: graph.py computes those afterwards)."""
    out = {}
    for fid, fi in model.functions.items():
        acqs = sorted((k, [(a.lock, a.path, a.blocking, a.loc, a.via, a.cond, a.mode) for a in v])
                      for k, v in fi.acqs.items())
        calls = [(c.idx, c.loc, c.held, sorted(map(repr, c.targets)), sorted(c.ext), c.blocking,
                  c.lockm, sorted(map(repr, c.fnargs)), c.use, sorted(map(repr, c.virtual)),
                  c.rename, c.recv_class) for c in fi.calls]
        out[fid] = repr((acqs, calls, [(a.lock, a.path) for a in fi.deco_acqs],
                         sorted(fi.released), sorted(map(repr, fi.param_calls))))
    return out


def changed_outside(base: dict, other: dict, mod: str) -> int:
    own = mod + "."
    return sum(1 for fid, v in other.items() if not fid.startswith(own) and base.get(fid) != v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree")
    ap.add_argument("--sample", type=int, default=30, help="random modules besides the named ones")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--module", action="append", default=None,
                    help="module to edit (default: queue, threading, then a random sample)")
    args = ap.parse_args()
    cfg = Config(no_cache=True)
    with gc_paused():
        files, _ = discover([args.tree], cfg)
        summaries, _ = summarise_files(files, cfg)
        by_module: dict = {}
        source_of: dict = {}
        for sf in files:
            s = summaries.get(sf.path)
            if s is not None and s.module not in by_module:
                by_module[s.module] = s
                source_of[s.module] = sf.abspath
        t = time.perf_counter()
        model = link(dict(by_module), cfg)
        t_link = time.perf_counter() - t
        base = linked_facts(model)
        t = time.perf_counter()
        analyse(model)
        t_graph = time.perf_counter() - t
        t = time.perf_counter()
        run_checks(model, cfg)
        t_rules = time.perf_counter() - t
        print(f"{args.tree}: {len(by_module)} modules, {len(base)} functions; whole-program "
              f"link {t_link:.2f} s, graph {t_graph:.2f} s, rules {t_rules:.2f} s", flush=True)

        named = args.module or [m for m in ("queue", "threading") if m in by_module]
        rest = sorted(m for m in by_module if m not in named)
        random.seed(args.seed)
        sample = named + random.sample(rest, min(args.sample, len(rest)))
        rows = []
        print(f"{'module':40s} {'own':>5s} {'add':>5s} {'drop':>5s}   (functions outside it whose links change)")
        for mod in sample:
            s = by_module[mod]
            with open(source_of[mod], encoding="utf-8", errors="replace") as f:
                src = f.read()
            added = summarise_module(src + PROBE, s.path, mod, s.is_package)
            add = changed_outside(base, linked_facts(link({**by_module, mod: added}, cfg)), mod)
            drop = changed_outside(
                base, linked_facts(link({k: v for k, v in by_module.items() if k != mod}, cfg)), mod)
            own = sum(1 for fid in base if fid.startswith(mod + "."))
            rows.append((mod, own, add, drop))
            print(f"{mod:40s} {own:5d} {add:5d} {drop:5d}", flush=True)
    adds = [r[2] for r in rows]
    drops = [r[3] for r in rows]
    print(f"add:  median {statistics.median(adds)}, max {max(adds)} of {len(base)} functions")
    print(f"drop: median {statistics.median(drops)}, max {max(drops)} of {len(base)} functions "
          f"({100 * max(drops) / len(base):.2f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
