"""A/B timing of the whole-program analysis (link -> graph -> checks) against a base commit.

The summaries of a tree are made once (with this checkout's summariser) and pickled; then,
N rounds, a fresh child process of this checkout and one of the base commit (a detached
``git worktree`` under /tmp) each load them and run ``engine.analyse_summaries`` with the
cyclic GC off, as the engine does, timing its stages in CPU time (the machine is shared).
Rounds alternate which side goes first. Prints the median
per stage (link, graph, checks, and per rule), the ratio new/base, and whether the two
reports are byte-identical (their JSON). ``--deep`` also compares a digest of the linked
model (every function's acquisitions, call sites and composed effects, the lock graph with
its witnesses, self edges, blocking sites): equal reports on a tree with few findings say
little, an equal model says the analysis did the same work.

Usage:
    python benchmarks/bench_analysis.py [--tree DIR | --pickle FILE] [--base REV] [-n N]
                                        [--deep] [--select ALL] [--keep-reports DIR]

``--pickle`` takes ``(summaries, errors)`` as ``/tmp/dump_sums.py`` writes it. Exit status 1
when the reports (or, with --deep, the models) differ.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import gc, hashlib, json, pickle, sys, time
root, pkl, out, deep, select = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5]
sys.path.insert(0, root)
from lockwatch.config import Config
from lockwatch.static import engine
# imported before the clock starts: the engine may import the analysis lazily (and rule
# modules load on first use), which is start-up cost, not analysis
import lockwatch.static.graph, lockwatch.static.link  # noqa: E401,F401
from lockwatch import rules as _rules
_rules.all_rules()
with open(pkl, "rb") as f:
    summaries, errors = pickle.load(f)
gc.disable()
# stage times as CPU time of this process, not wall time: the machine is shared, and
# another process's burst should not count against either side
import types
engine.time = types.SimpleNamespace(perf_counter=time.process_time)
timings = {}
t = time.process_time()
config = Config(select=select.split(",")) if select else Config()
model, report = engine.analyse_summaries_with_model(summaries, config, errors, timings)
total = time.process_time() - t
text = json.dumps(report.to_dict(), indent=1, sort_keys=True)
res = {"link": timings["link"], "graph": timings["graph"], "checks": timings["checks"],
       "total": total, "per_rule": timings.get("per_rule", {}),
       "report_sha": hashlib.sha256(text.encode()).hexdigest(), "findings": len(report.findings),
       "module": engine.__file__}
if deep:
    def norm(x):
        if isinstance(x, (set, frozenset)):
            return sorted(map(repr, x))
        return x
    h = hashlib.sha256()
    def put(*parts):
        h.update(repr(parts).encode())
        h.update(b"\n")
    m = model
    for fid in sorted(m.functions):
        fi = m.functions[fid]
        put("f", fid, sorted((i, [vars(a) for a in acqs]) for i, acqs in fi.acqs.items()),
            [vars(a) for a in fi.deco_acqs], sorted(fi.released), fi.param_calls)
        for cs in fi.calls:
            put("cs", {k: norm(v) for k, v in vars(cs).items()})
        put("eff", list(fi.acq_eff.items()), list(fi.block_eff.items()))
    put("locks", [(k, vars(v)) for k, v in m.locks.items()])
    put("callbacks", m.callbacks)
    put("lg", list(m.lock_graph.nodes), [(a, b, d) for a, b, d in m.lock_graph.edges(data=True)])
    put("self", [vars(s) for s in m.self_edges])
    put("blk", [vars(b) for b in m.blocking_sites])
    put("cg", list(m.call_graph.nodes), list(m.call_graph.edges))
    res["model_sha"] = h.hexdigest()
with open(out + ".json", "w") as f:
    json.dump(res, f)
with open(out + ".report", "w") as f:
    f.write(text)
"""


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def base_worktree(rev: str) -> Path:
    sha = git("rev-parse", "--verify", rev + "^{commit}")
    path = Path(tempfile.gettempdir()) / f"lw-bench-base-{sha[:12]}"
    if not (path / "lockwatch").is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), sha],
                       check=True, capture_output=True)
    return path


def make_pickle(tree: str, dest: Path) -> None:
    sys.path.insert(0, str(REPO))
    import gc

    from lockwatch.config import Config
    from lockwatch.static import engine
    from lockwatch.static.discover import discover

    gc.disable()
    cfg = Config()
    cfg.no_cache = True
    files, errs = discover([tree], cfg)
    by_module, errs = engine.summarise_discovered(files, errs, cfg)
    with open(dest, "wb") as f:
        pickle.dump((by_module, errs), f)
    gc.enable()


def run_child(root: Path, pkl: Path, out: Path, deep: bool, select: str) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-c", CHILD, str(root), str(pkl), str(out), "1" if deep else "0", select],
                   check=True, env=env, cwd=str(root))
    with open(str(out) + ".json") as f:
        return json.load(f)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--tree", help="directory to summarise (with this checkout) and analyse")
    src.add_argument("--pickle", help="pickled (summaries, errors)")
    ap.add_argument("--base", default="HEAD", help="base commit (default HEAD: the working tree "
                    "against its last commit)")
    ap.add_argument("-n", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--deep", action="store_true", help="also compare a digest of the linked model")
    ap.add_argument("--select", default="", help="rule selection, comma-separated (ALL: every rule, "
                    "opt-in ones included); default: the default configuration's")
    ap.add_argument("--keep-reports", help="directory to write base.json/new.json reports to")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lw-bench-analysis-"))
    if args.tree:
        pkl = work / "summaries.pkl"
        make_pickle(args.tree, pkl)
    else:
        pkl = Path(args.pickle)
    base = base_worktree(args.base)
    sides = {"base": base, "new": REPO}
    runs: dict[str, list[dict]] = {"base": [], "new": []}
    for i in range(args.n):
        order = ("base", "new") if i % 2 == 0 else ("new", "base")
        for side in order:
            runs[side].append(run_child(sides[side], pkl, work / f"{side}{i}", args.deep, args.select))

    def med(side, key):
        return statistics.median(r[key] for r in runs[side])

    def med_rule(side, code):
        return statistics.median(r["per_rule"].get(code, 0.0) for r in runs[side])

    print(f"base {git('rev-parse', '--short', args.base)} ({base}) vs new (working tree {REPO}); "
          f"{args.n} rounds, medians, CPU seconds")
    print(f"{'stage':10} {'base':>8} {'new':>8} {'new/base':>9}")
    for key in ("link", "graph", "checks", "total"):
        b, n = med("base", key), med("new", key)
        print(f"{key:10} {b:8.3f} {n:8.3f} {n / b if b else float('nan'):9.2f}")
    codes = sorted(set(runs["base"][0]["per_rule"]) | set(runs["new"][0]["per_rule"]),
                   key=lambda c: -med_rule("base", c))
    for code in codes:
        b, n = med_rule("base", code), med_rule("new", code)
        if b >= 0.005 or n >= 0.005:
            print(f"  {code:8} {b:8.3f} {n:8.3f} {n / b if b else float('nan'):9.2f}")
    same = True
    shas = {side: {r["report_sha"] for r in runs[side]} for side in runs}
    if len(shas["base"]) != 1 or len(shas["new"]) != 1:
        print("reports differ between rounds of one side (nondeterministic output)")
        same = False
    if shas["base"] != shas["new"]:
        print("REPORTS DIFFER: diff", work / "base0.report", work / "new0.report")
        same = False
    else:
        print(f"reports identical ({runs['new'][0]['findings']} findings, sha256 {next(iter(shas['new']))[:16]})")
    if args.deep:
        ms = {side: {r["model_sha"] for r in runs[side]} for side in runs}
        if ms["base"] != ms["new"] or len(ms["new"]) != 1:
            print("MODELS DIFFER")
            same = False
        else:
            print("linked models identical")
    if args.keep_reports:
        keep = Path(args.keep_reports)
        keep.mkdir(parents=True, exist_ok=True)
        for side in runs:
            (keep / f"{side}.json").write_text((work / f"{side}0.report").read_text())
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
