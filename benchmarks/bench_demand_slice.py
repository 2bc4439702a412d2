"""How much would demand-driven parsing save? Measures the call-graph slice of a tree.

Issue #4 asks for "a cheap pre-pass decides which files hold locks, threads, tasks or async
code, and the call graph pulls in the modules those reach". This script measures that design
before it goes into the pipeline:

* seeds: files the byte-level pre-pass (``lockwatch.static.prefilter``) accepts;
* roots: ``--roots all`` every function of a seed module; ``--roots tight`` only those that
  acquire/release a lock, await, or are ``async def`` (the smallest defensible set);
* the slice: roots plus, transitively, every function, class (its dunder methods and the
  methods whose names the slice calls) and module global that their references resolve to
  through imports, ``from`` imports, package attributes, star imports and base classes.
  Resolution is by name, as ``link.py`` would see it, without types; over-approximate on
  purpose (a slice must not lose a finding).

It prints the slice's share of modules and bytes, the analysis time of the slice against the
whole program (same process, same summaries: a ratio), and whether the findings are the
same. Summaries are made by the normal pipeline (workers, no cache); nothing is imported
from the scanned tree.

    python benchmarks/bench_demand_slice.py TREE [TREE ...] [--roots all|tight]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config  # noqa: E402
from lockwatch.static import engine  # noqa: E402
from lockwatch.static.discover import discover  # noqa: E402
from lockwatch.static.prefilter import needs_full_parse  # noqa: E402

# Methods that run without being named at the call site (construction, protocols).
IMPLICIT = {"__init__", "__new__", "__post_init__", "__enter__", "__exit__", "__aenter__",
            "__aexit__", "__del__", "__call__", "__iter__", "__next__", "__aiter__", "__anext__",
            "__await__", "__getattr__", "__getattribute__", "__setattr__", "__init_subclass__",
            "__set_name__", "__get__", "__set__", "__len__", "__bool__", "__contains__",
            "__getitem__", "__setitem__", "__delitem__", "__eq__", "__hash__", "__lt__",
            "__repr__", "__str__", "__class_getitem__"}


def _refs(value, out: set) -> None:
    if isinstance(value, dict):
        for k, x in value.items():
            if k in ("r", "call", "ann", "f") and isinstance(x, str):
                out.add(x)
            else:
                _refs(x, out)
    elif isinstance(value, list):
        for x in value:
            _refs(x, out)


def function_refs(f) -> set:
    out: set = set()
    for part in (f.events, f.decorators, f.locals, f.returns):
        _refs(part, out)
    if f.return_ann:
        out.add(f.return_ann)
    return out


class Slice:
    def __init__(self, summaries: dict) -> None:
        self.s = summaries
        self.used = set(IMPLICIT)        # attribute names the slice reads or calls
        self.done: set = set()
        self.todo: list = []
        self.classes: set = set()
        self.modules: set = set()

    def reach(self, mod: str, item) -> None:
        if (mod, item) not in self.done:
            self.done.add((mod, item))
            self.todo.append((mod, item))

    def _resolve(self, mod: str, parts: list, depth: int = 0) -> list:
        ms = self.s.get(mod)
        if ms is None or depth > 12:
            return []
        if not parts:
            return [(mod, None)]
        n = parts[0]
        if n in ms.functions or n in ms.classes:
            return [(mod, n)]
        imp = ms.imports.get(n)
        if imp:
            base = imp[1].split(".") + ([] if imp[0] == "module" else [imp[2]])
            for i in range(len(base), 0, -1):
                m = ".".join(base[:i])
                if m in self.s:
                    return self._resolve(m, base[i:] + parts[1:], depth + 1)
            return []
        if f"{mod}.{n}" in self.s:
            return self._resolve(f"{mod}.{n}", parts[1:], depth + 1)
        if n in ms.globals:
            out: set = set()
            _refs(ms.globals[n], out)
            res = [(mod, None)]
            for r in out:
                res += self._resolve_ref(mod, r, depth + 1)
            return res
        res = []
        for star in ms.star_imports:
            res += self._resolve(star, parts, depth + 1)
        return res

    def _resolve_ref(self, mod: str, ref: str, depth: int = 0) -> list:
        parts = []
        for p in ref.split("."):
            if not p or p.startswith(("(", "[")):
                break
            parts.append(p)
        if not parts or parts[0].startswith("@"):
            return []
        return self._resolve(mod, parts, depth)

    def _class_methods(self, mod: str, q: str) -> None:
        for name, fq in self.s[mod].classes[q].methods.items():
            if name in self.used:
                self.reach(mod, fq)

    def grow(self) -> None:
        while self.todo:
            mod, item = self.todo.pop()
            ms = self.s[mod]
            self.modules.add(mod)
            fns, classes = [], []
            if item == "*":
                fns, classes = list(ms.functions.values()), list(ms.classes.values())
            elif item in ms.classes:
                classes = [ms.classes[item]]
                self.classes.add((mod, item))
                self._class_methods(mod, item)
            elif item is not None:
                fns = [f for f in ms.functions.values()
                       if f.qualname == item or f.qualname.startswith(item + ".<locals>.")]
                f0 = ms.functions.get(item)
                if f0 is not None and f0.cls in ms.classes:
                    self.reach(mod, f0.cls)
            refs: set = set()
            for f in fns:
                refs |= function_refs(f)
            for c in classes:
                refs.update(c.bases)
                _refs(c.attrs, refs)
                _refs(c.decorators, refs)
            new = set()
            for r in refs:
                for p in r.split(".")[1:]:
                    if p and not p.startswith(("(", "[", "@")) and p not in self.used:
                        new.add(p)
                for target in self._resolve_ref(mod, r):
                    self.reach(*target)
            if new:
                self.used |= new
                for m, q in list(self.classes):
                    self._class_methods(m, q)


def tight_root(f) -> bool:
    return f.is_async or any(e.get("e") in ("acq", "rel", "await") for e in f.events)


def measure(tree: str, roots: str) -> None:
    cfg = Config(no_cache=True)
    files, errors = discover([tree], cfg)
    summaries, errors = engine.summarise_discovered(files, errors, cfg)
    paths = {m: s.path for m, s in summaries.items()}
    seeds = set()
    for m, p in paths.items():
        with open(p, "rb") as fh:
            if needs_full_parse(fh.read()):
                seeds.add(m)
    sl = Slice(summaries)
    for m in seeds:
        sl.reach(m, None)
        if roots == "all":
            sl.reach(m, "*")
        else:
            for f in summaries[m].functions.values():
                if tight_root(f):
                    sl.reach(m, f.qualname)
    sl.grow()
    size = {m: os.path.getsize(p) for m, p in paths.items()}
    share = sum(size[m] for m in sl.modules) / max(1, sum(size.values()))
    cfg = Config()
    gc.disable()
    t0 = time.perf_counter()
    whole = engine.analyse_summaries(summaries, cfg, [])
    t1 = time.perf_counter()
    part = engine.analyse_summaries({m: summaries[m] for m in sl.modules}, cfg, [])
    t2 = time.perf_counter()
    gc.enable()

    def key(r):
        return sorted((f.code, f.message) for f in r.findings)

    a, b = key(whole), key(part)
    print(f"{os.path.basename(os.path.normpath(tree)):28s} modules {len(summaries):4d}  seeds {len(seeds):4d}  "
          f"slice {len(sl.modules):4d} ({100 * share:3.0f}% of bytes)  analysis slice/whole "
          f"{(t2 - t1) / max(1e-9, t1 - t0):.2f}  findings {len(a)} -> {len(b)}  "
          f"lost {len([x for x in a if x not in b])}  new {len([x for x in b if x not in a])}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--roots", choices=("all", "tight"), default="all")
    args = ap.parse_args()
    for t in args.trees:
        measure(t, args.roots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
