"""Differential harness for ``Analysis.update`` (lockwatch/static/incremental.py): for a
program, the full analysis, then many one-module edits, each applied to the module's source,
the module summarised again in this process (``summarise_module`` on the edited text: the
scanned code is only read, never imported), and ``update`` compared with ``Analysis.full`` on
the same summaries, report by report (``Report.to_dict()`` as JSON, order included), and
the two models' lock classes (their sites) as a table. After
each edit the edit is undone by another ``update`` (back to the original summaries), compared
with the original full report: every update is checked, incremental after incremental.

Edit kinds: ``append`` (a function taking a lock of the module appended, the edit of
``bench_scan.py``'s hook measurement), ``wrap`` (a function's body wrapped in ``with
self._lock:`` or a module lock), ``delete_fn`` (a module-level function deleted),
``add_method`` (a method added to a class), ``return`` (a function's returned value changed),
``self_assign`` (a ``self.x = ...`` value changed), ``rename_attr`` (a class attribute
renamed), ``comment_shift`` (a comment line inserted: the lines after it shift),
``comment_end`` (a comment appended at the end: nothing moves), ``delete_module``,
``new_module`` (a new module importing the edited one).

Times are CPU seconds (``time.process_time``), medians, of ``update`` and of ``full`` on the
same new summaries, in the same process, interleaved. An update that falls back is
``Analysis.full`` on the new summaries itself: it is counted (with its reason), not compared.

    python benchmarks/bench_incremental.py stdlib TREE [--pickle SUMS.pkl --base DIR]
                                                 [--random 20] [--seed 8]
    python benchmarks/bench_incremental.py packages RW_WORKDIR [--per-package 3]
    python benchmarks/bench_incremental.py fixtures FIXTURES_DIR
Exit status 1 when any update differs from the full analysis.
"""

from __future__ import annotations

import argparse
import ast
import collections
import gc
import json
import os
import pickle
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config
from lockwatch.static.incremental import Analysis
from lockwatch.static.summarise import ParseError, summarise_module

KINDS = ("append", "wrap", "delete_fn", "add_method", "return", "self_assign", "rename_attr",
         "comment_shift", "comment_end", "delete_module", "new_module")
NAMED = ("queue", "threading", "asyncio.locks", "concurrent.futures.thread", "logging")
_LOCK_FACTORIES = ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore")


# ---------------------------------------------------------------------------- edits
def _module_lock(ms) -> str | None:
    for name, g in sorted(ms.globals.items()):
        call = ((g.get("v") or {}).get("call") or "")
        if call.rsplit(".", 1)[-1] in _LOCK_FACTORIES:
            return name
    return None


def _functions(tree):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _replace_span(lines: list[str], node, text: str) -> list[str] | None:
    """Replace a one-line node's text (ast columns are UTF-8 byte offsets)."""
    if node.lineno != node.end_lineno:
        return None
    i = node.lineno - 1
    b = lines[i].encode()
    lines = list(lines)
    lines[i] = (b[:node.col_offset] + text.encode() + b[node.end_col_offset:]).decode()
    return lines


def edit_append(src, ms, rng, tag):
    lock = _module_lock(ms)
    if lock:
        return src + f"\n\ndef _lw_edit_{tag}():\n    with {lock}:\n        return None\n"
    return src + f"\n\ndef _lw_edit_{tag}(q):\n    with q.mutex:\n        return q._qsize()\n"


def edit_wrap(src, ms, rng, tag):
    tree = ast.parse(src)
    lock = _module_lock(ms)
    cands = []
    for f in _functions(tree):
        if f.body[0].lineno == f.lineno:
            continue
        is_method = bool(f.args.args) and f.args.args[0].arg == "self"
        if is_method or lock:
            cands.append((f, "self._lock" if is_method else lock))
    if not cands:
        return None
    f, lk = rng.choice(cands)
    lines = src.splitlines(keepends=True)
    start, end = f.body[0].lineno - 1, f.body[-1].end_lineno
    first = lines[start]
    indent = first[:len(first) - len(first.lstrip())]
    body = [("    " + ln if ln.strip() else ln) for ln in lines[start:end]]
    return "".join(lines[:start] + [f"{indent}with {lk}:\n"] + body + lines[end:])


def edit_delete_fn(src, ms, rng, tag):
    tree = ast.parse(src)
    cands = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not cands:
        return None
    f = rng.choice(cands)
    start = (f.decorator_list[0].lineno if f.decorator_list else f.lineno) - 1
    lines = src.splitlines(keepends=True)
    return "".join(lines[:start] + lines[f.end_lineno:])


def edit_add_method(src, ms, rng, tag):
    tree = ast.parse(src)
    cands = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    if not cands:
        return None
    c = rng.choice(cands)
    lines = src.splitlines(keepends=True)
    first = lines[c.body[0].lineno - 1]
    indent = first[:len(first) - len(first.lstrip())]
    end = c.end_lineno
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    meth = f"\n{indent}def _lw_added_{tag}(self):\n{indent}    return self\n"
    return "".join(lines[:end] + [meth] + lines[end:])


def edit_return(src, ms, rng, tag):
    tree = ast.parse(src)
    cands = [n for f in _functions(tree) for n in ast.walk(f)
             if isinstance(n, ast.Return) and n.value is not None and n.value.lineno == n.value.end_lineno]
    if not cands:
        return None
    r = rng.choice(cands)
    new = "0" if isinstance(r.value, ast.Constant) and r.value.value is None else "None"
    lines = _replace_span(src.splitlines(keepends=True), r.value, new)
    return "".join(lines) if lines else None


def edit_self_assign(src, ms, rng, tag):
    tree = ast.parse(src)
    cands = [n for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Attribute) and isinstance(n.targets[0].value, ast.Name)
             and n.targets[0].value.id == "self" and n.value.lineno == n.value.end_lineno]
    if not cands:
        return None
    a = rng.choice(cands)
    new = "0" if isinstance(a.value, ast.Constant) and a.value.value is None else "None"
    lines = _replace_span(src.splitlines(keepends=True), a.value, new)
    return "".join(lines) if lines else None


def edit_rename_attr(src, ms, rng, tag):
    tree = ast.parse(src)
    cands = [s.targets[0] for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for s in c.body
             if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)]
    if not cands:
        return None
    t = rng.choice(cands)
    lines = _replace_span(src.splitlines(keepends=True), t, f"{t.id}_lw{tag}")
    return "".join(lines) if lines else None


def edit_comment_shift(src, ms, rng, tag):
    tree = ast.parse(src)
    if not tree.body:
        return None
    s = rng.choice(tree.body)
    lines = src.splitlines(keepends=True)
    i = (s.decorator_list[0].lineno if getattr(s, "decorator_list", None) else s.lineno) - 1
    return "".join(lines[:i] + [f"# lockwatch incremental edit {tag}\n"] + lines[i:])


def edit_comment_end(src, ms, rng, tag):
    return src + ("" if src.endswith("\n") or not src else "\n") + f"# lockwatch incremental edit {tag}\n"


EDITS = {"append": edit_append, "wrap": edit_wrap, "delete_fn": edit_delete_fn,
         "add_method": edit_add_method, "return": edit_return, "self_assign": edit_self_assign,
         "rename_attr": edit_rename_attr, "comment_shift": edit_comment_shift,
         "comment_end": edit_comment_end}


def new_module_source(mod: str, ms) -> str:
    fn = next((q for q, f in ms.functions.items() if "." not in q and q != "<module>"), None)
    body = f"    return {mod}.{fn}\n" if fn else f"    return {mod}\n"
    return f"import {mod}\n\n\ndef _lw_use():\n{body}"


# ---------------------------------------------------------------------------- driver
class Run:
    def __init__(self, label: str):
        self.label = label
        self.tried = collections.Counter()
        self.modes = collections.defaultdict(collections.Counter)
        self.reasons = collections.defaultdict(collections.Counter)
        self.mismatches: list = []
        self.times = collections.defaultdict(list)   # (kind, mode) -> [(update, full)]

    def edit(self, a: Analysis, base_sums: dict, base_json: str, new_sums: dict, kind: str,
             what: str, errors) -> Analysis:
        config = a.config
        gc.collect()
        t = time.process_time()
        u = a.update(new_sums, errors)
        tu = time.process_time() - t
        mode = u.stats["mode"]
        self.tried[kind] += 1
        self.modes[kind][mode] += 1
        if mode == "full":
            # a fall-back update is Analysis.full on these summaries: nothing to compare
            self.reasons[kind][_reason_class(u.stats.get("reason", ""))] += 1
        else:
            t = time.process_time()
            f = Analysis.full(new_sums, config, errors)
            tf = time.process_time() - t
            self.times[(kind, mode)].append((tu, tf))
            if json.dumps(u.report.to_dict()) != json.dumps(f.report.to_dict()):
                self.mismatches.append((kind, what, "update != full"))
                print(f"MISMATCH {self.label} {kind} {what}", flush=True)
            if _lock_sites(u) != _lock_sites(f):
                self.mismatches.append((kind, what, "lock classes differ"))
                print(f"MISMATCH {self.label} {kind} {what} (lock classes)", flush=True)
        # undo the edit, incrementally too, and compare with the original report
        back = u.update(base_sums, errors)
        if json.dumps(back.report.to_dict()) != base_json:
            self.mismatches.append((kind, what, "undo != original"))
            print(f"MISMATCH {self.label} {kind} {what} (undo)", flush=True)
        return back

    def print(self):
        print(f"\n== {self.label}: {sum(self.tried.values())} edits, {len(self.mismatches)} mismatches")
        for kind in KINDS:
            if not self.tried[kind]:
                continue
            inc = self.modes[kind]["incremental"]
            line = f"  {kind:14s} {self.tried[kind]:4d} tried, incremental {inc:4d}, full {self.modes[kind]['full']:4d}"
            if self.reasons[kind]:
                line += "  (" + ", ".join(f"{r}: {n}" for r, n in self.reasons[kind].most_common()) + ")"
            print(line)
        pairs = [p for (k, m), ps in self.times.items() if m == "incremental" for p in ps]
        if pairs:
            mu = statistics.median(p[0] for p in pairs)
            mf = statistics.median(p[1] for p in pairs)
            ratio = statistics.median(p[0] / p[1] for p in pairs)
            print(f"  incremental updates: {len(pairs):4d}, median CPU update {mu:.3f} s, "
                  f"full {mf:.3f} s, median ratio {ratio:.2f}")
        for kind in KINDS:
            pairs = self.times.get((kind, "incremental"))
            if pairs:
                print(f"    {kind:14s} incremental: median update {statistics.median(p[0] for p in pairs):.3f} s, "
                      f"full {statistics.median(p[1] for p in pairs):.3f} s ({len(pairs)})")

    def to_dict(self):
        return {"label": self.label, "tried": dict(self.tried),
                "modes": {k: dict(v) for k, v in self.modes.items()},
                "reasons": {k: dict(v) for k, v in self.reasons.items()},
                "mismatches": self.mismatches,
                "times": {f"{k}/{m}": v for (k, m), v in self.times.items()}}


def _lock_sites(a: Analysis) -> dict:
    """The model's lock classes, compared as a table (their order is evaluation order)."""
    return {lid: (lc.path, lc.line, lc.col, lc.sort, lc.value, lc.container, lc.wrapper, lc.inner)
            for lid, lc in a.model.locks.items()}


def _reason_class(reason: str) -> str:
    """The fall-back reason without the module/function names."""
    for key, label in (("interface of", "interface changed"), ("read whole", "function read whole changed"),
                       (": class ", "class changed"), (": global ", "global changed"),
                       ("is called from", "removed function still called"),
                       ("name was resolved", "name was resolved"), ("module removed", "module removed"),
                       ("defines classes", "new module with classes"), ("is imported by", "new module imported"),
                       ("star-imported", "star import"), ("bound otherwise", "name bound otherwise"),
                       ("registers a callback", "callback registration"), ("new function inside", "new nested function"),
                       ("removed from an existing scope", "nested function removed"),
                       ("not a plain", "not a plain function"), ("site is no interface", "lock site not mapped"),
                       ("incremental update failed", "INCREMENTAL UPDATE FAILED")):
        if key in reason:
            return label
    return reason.split(": ", 1)[-1][:60]


def exercise(run: Run, sums: dict, errors, config: Config, modules: list[str], src_of, seed: int,
             kinds=KINDS) -> None:
    gc.disable()
    a = Analysis.full(sums, config, errors)
    base_json = json.dumps(a.report.to_dict())
    for mod in modules:
        ms = sums[mod]
        try:
            src = src_of(ms)
        except OSError as e:
            print(f"  {mod}: cannot read ({e})")
            continue
        for n, kind in enumerate(kinds):
            rng = random.Random(f"{seed}:{mod}:{kind}")
            tag = f"{seed}_{n}"
            new = dict(sums)
            if kind == "delete_module":
                del new[mod]
            elif kind == "new_module":
                name = f"lw_incremental_new_{tag}"
                text = new_module_source(mod, ms)
                new[name] = summarise_module(text, os.path.join(os.path.dirname(ms.path), name + ".py"), name)
            else:
                try:
                    text = EDITS[kind](src, ms, rng, tag)
                except SyntaxError:
                    text = None
                if text is None:
                    continue
                try:
                    new[mod] = summarise_module(text, ms.path, mod, ms.is_package)
                except (ParseError, SyntaxError, RecursionError):
                    continue
            a = run.edit(a, sums, base_json, new, kind, mod, errors)
        print(f"  {mod}: {sum(run.tried.values())} edits so far, {len(run.mismatches)} mismatches", flush=True)
    gc.enable()


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _summarise_tree(root: str, config: Config):
    from lockwatch.static.engine import summarise_paths

    cwd = os.getcwd()
    os.chdir(root)
    try:
        return summarise_paths(["."], config)
    finally:
        os.chdir(cwd)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("stdlib", "packages", "fixtures"))
    ap.add_argument("path")
    ap.add_argument("--pickle", help="summaries (module -> summary, errors) pickled by /tmp/dump_sums.py")
    ap.add_argument("--base", default=".", help="directory the pickled summaries' paths are relative to")
    ap.add_argument("--random", type=int, default=20, help="random modules besides the named ones (stdlib)")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--per-package", type=int, default=3)
    ap.add_argument("--sample", type=int, default=0, help="fixtures: edit this many modules, drawn at random (0: all)")
    ap.add_argument("--only", nargs="*", help="packages (names) or modules to run")
    ap.add_argument("--kinds", nargs="*", default=list(KINDS))
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    config = Config()
    config.no_cache = True
    runs = []
    if args.what == "stdlib":
        if args.pickle:
            with open(args.pickle, "rb") as f:
                sums, errors = pickle.load(f)
            base = args.base
        else:
            sums, errors = _summarise_tree(args.path, config)
            base = args.path
        rng = random.Random(args.seed)
        named = [m for m in NAMED if m in sums]
        others = sorted(m for m in sums if m not in named)
        modules = args.only or (named + rng.sample(others, min(args.random, len(others))))
        print(f"stdlib: {len(sums)} modules; edited: {' '.join(modules)}", flush=True)
        run = Run("stdlib")
        exercise(run, sums, errors, config, modules,
                 lambda ms: _read(os.path.join(base, ms.path)), args.seed, args.kinds)
        runs.append(run)
    elif args.what == "packages":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import real_world_scan as rw

        run = Run("packages")
        for spec, dirs in rw.PACKAGES:
            name = spec.split("==")[0]
            if args.only and name.lower() not in [o.lower() for o in args.only]:
                continue
            root = os.path.join(args.path, "src", spec.replace("==", "-"))
            if not os.path.isdir(root):
                print(f"  {name}: not fetched ({root})")
                continue
            cfg = Config()
            cfg.no_cache = True
            cfg.exclude = list(rw.EXCLUDES.get(spec, []))
            cwd = os.getcwd()
            os.chdir(root)
            try:
                from lockwatch.static.engine import summarise_paths

                sums, errors = summarise_paths(list(dirs), cfg)
            finally:
                os.chdir(cwd)
            prng = random.Random(f"{args.seed}:{name}")
            # modules with locks first (where edits matter most), then any
            locky = sorted(m for m, ms in sums.items() if _module_lock(ms) or any(
                ev.get("e") == "acq" for f in ms.functions.values() for ev in f.events))
            pool = locky if len(locky) >= args.per_package else sorted(sums)
            modules = prng.sample(pool, min(args.per_package, len(pool)))
            print(f"{name}: {len(sums)} modules; edited: {' '.join(modules)}", flush=True)
            exercise(run, sums, errors, cfg, modules,
                     lambda ms, root=root: _read(os.path.join(root, ms.path)),
                     args.seed, args.kinds)
        runs.append(run)
    else:
        root = os.path.abspath(args.path)
        cwd = os.getcwd()
        os.chdir(root)
        try:
            from lockwatch.static.engine import summarise_paths

            sums, errors = summarise_paths(["."], config)
        finally:
            os.chdir(cwd)
        print(f"fixtures: {len(sums)} modules", flush=True)
        run = Run("fixtures")
        mods = sorted(sums)
        if args.sample and args.sample < len(mods):
            mods = random.Random(args.seed).sample(mods, args.sample)
        exercise(run, sums, errors, config, mods,
                 lambda ms: _read(os.path.join(root, ms.path)), args.seed, args.kinds)
        runs.append(run)
    load = os.getloadavg()
    for run in runs:
        run.print()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": [r.to_dict() for r in runs], "load": load}, f, indent=1)
    return 1 if any(r.mismatches for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
