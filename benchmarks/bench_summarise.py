"""The summarise stage alone: ast summariser vs libcst summariser, in one process, one run.

    python benchmarks/bench_summarise.py [--tree DIR] [--json OUT] [--limit N]
    python benchmarks/bench_summarise.py --ab BASE [--rounds N] [--tree DIR ...] [--json OUT]
    python benchmarks/bench_summarise.py --encode [--tree DIR ...] [--rounds N] [--json OUT]

Over every ``.py`` file of the tree (default: the CPython 3.12 stdlib without tests, as
``bench_scan.py`` builds it; ``/tmp/stdlib/tree`` is used when it exists):

* CPU time (``time.process_time``) of ``compile(PyCF_ONLY_AST)`` + ``summarise_ast`` and of
  ``summarise_cst`` (libcst parse + ``PositionProvider`` + walk), and their ratio;
* how many files get identical summaries (``ModuleSummary.to_dict()``), how many differ
  (with the first differing key of each), and the files only one parser reads.

Comment scans (suppressions, ``# guarded_by:``) are shared and run in both timings.

``--ab BASE`` (a commit, e.g. ``HEAD~3``): the ast walk of this checkout against the walk of
``BASE`` (its ``lockwatch/`` extracted with ``git archive`` into a temporary directory), each
in a fresh subprocess, alternating which runs first, ``--rounds`` times (default 5); per side
the median CPU time of the walk over the tree (``summarise_tree`` only: each file is parsed
just before its walk, untimed, so one tree is alive at a time as in a worker), the ratio
new/base of the medians and the median of the per-round ratios (the two runs of a round are
adjacent in time, so that one is less sensitive to other load on the machine). Every child also hashes the JSON of every summary: the
hashes of the two sides must be equal (byte-identical summaries) or the run says so.
Several ``--tree`` may be given.

``--encode [--rounds N]``: what a worker does with a summary after the walk, per file: its
cache entry (``cache.encode_summary_entry(key, summary.to_entry())``), and what the main
process does with the entry's bytes (``cache.decode_entry`` + ``ModuleSummary.from_entry``),
against entry format 1 (``to_dict()`` as it is, json.loads + from_dict: 3f0cc24's) in the
same run, alternating which goes first, collector off (as in a worker and in the main
process of ``lockwatch scan``); CPU per side, medians over the rounds, the ratio, the
entries' total size, and a check that every summary comes back with the same ``to_dict()``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

DEFAULT_TREE = "/tmp/stdlib/tree"
REPO = os.path.dirname(HERE)


def first_difference(a, b, where=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{where}/{k}: only in {'cst' if k not in a else 'ast'}"
            d = first_difference(a[k], b[k], f"{where}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{where}: ast={json.dumps(a)[:200]} cst={json.dumps(b)[:200]}"


def files_of(tree: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return out


def module_of(tree: str, path: str) -> tuple[str, bool]:
    rel = os.path.relpath(path, tree)[:-3].replace(os.sep, ".")
    is_pkg = rel.endswith("__init__") and (rel == "__init__" or rel.endswith(".__init__"))
    return rel.removesuffix(".__init__"), is_pkg


def default_tree() -> str:
    if os.path.isdir(DEFAULT_TREE):
        return DEFAULT_TREE
    import bench_scan

    return bench_scan.make_tree(tempfile.mkdtemp(prefix="lw-bench-sum-"))


def sources(trees: list[str], limit: int = 0):
    """``(tree, path, source, module, is_package)`` of every UTF-8 file of the trees."""
    out = []
    for tree in trees:
        for path in files_of(tree):
            with open(path, "rb") as f:
                data = f.read()
            try:
                src = data.decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError:
                continue
            out.append((tree, path, src, *module_of(tree, path)))
    return out[:limit] if limit else out


def parse(src: str, path: str):
    try:
        return compile(src, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


# ---------------------------------------------------------------------- A/B of the walk
def walk_child(root: str, trees: list[str], limit: int) -> None:
    """In a fresh process: the walk of the lockwatch under ``root`` over the trees. Prints
    ``{"walk_s", "files", "digest"}`` as JSON."""
    sys.path.insert(0, root)
    from lockwatch.static.summarise_ast import summarise_tree

    assert os.path.dirname(os.path.dirname(sys.modules["lockwatch.static.summarise_ast"].__file__)) \
        == os.path.join(root, "lockwatch"), "imported the wrong lockwatch"
    h = hashlib.sha256()
    walk = 0.0
    n = 0
    clock = time.process_time
    for _tree, path, src, mod, is_pkg in sources(trees, limit):
        tr = parse(src, path)
        if tr is None:
            continue
        t0 = clock()
        s = summarise_tree(tr, src, path, mod, is_pkg)
        walk += clock() - t0
        del tr
        n += 1
        h.update(path.encode("utf-8", "surrogatepass"))
        h.update(json.dumps(s.to_dict(), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    print(json.dumps({"walk_s": walk, "files": n, "digest": h.hexdigest()}))


def extract(base: str, dest: str) -> str:
    """``lockwatch/`` of commit ``base`` under ``dest`` (git archive: the checkout is untouched)."""
    arch = subprocess.run(["git", "-C", REPO, "archive", base, "lockwatch"], check=True,
                          capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=arch, check=True)
    return dest


def ab(base: str, trees: list[str], rounds: int, limit: int, out_json: str | None) -> None:
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", base], check=True,
                            capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "lockwatch"],
                           check=True, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="lw-bench-ab-") as tmp:
        roots = {"base": extract(base, tmp), "new": REPO}
        cmd = [sys.executable, os.path.abspath(__file__)]
        for t in trees:
            cmd += ["--tree", t]
        if limit:
            cmd += ["--limit", str(limit)]
        times: dict[str, list[float]] = {"base": [], "new": []}
        digests: dict[str, set] = {"base": set(), "new": set()}
        files = {}
        for k in range(rounds):
            for side in (("base", "new") if k % 2 == 0 else ("new", "base")):
                p = subprocess.run(cmd + ["--walk-child", roots[side]], capture_output=True,
                                   text=True, check=True)
                r = json.loads(p.stdout.strip().splitlines()[-1])
                times[side].append(r["walk_s"])
                digests[side].add(r["digest"])
                files[side] = r["files"]
            print(f"round {k + 1}: base {times['base'][-1]:.3f} s, new {times['new'][-1]:.3f} s",
                  flush=True)
    med = {side: statistics.median(v) for side, v in times.items()}
    ratio = med["new"] / med["base"]
    # the two runs of a round are adjacent in time: their ratio is the less load-sensitive one
    round_ratio = statistics.median(n / b for n, b in zip(times["new"], times["base"]))
    identical = digests["base"] == digests["new"] and len(digests["new"]) == 1
    res = {
        "trees": trees, "python": sys.version.split()[0], "base": commit,
        "new": head + (" + uncommitted changes" if dirty else ""), "rounds": rounds,
        "files": files, "walk_s": times, "median_s": med, "new_over_base": round(ratio, 3),
        "median_round_ratio": round(round_ratio, 3),
        "identical_summaries": identical,
    }
    print(f"walk CPU over {files['new']} files ({', '.join(trees)}), Python {res['python']}, "
          f"median of {rounds}: base {commit} {med['base']:.3f} s, new {res['new']} "
          f"{med['new']:.3f} s, new/base = {ratio:.3f} (median of the rounds' ratios {round_ratio:.3f})")
    print("summaries: " + ("identical (same digest)" if identical else
                           f"DIFFERENT: base {sorted(digests['base'])} new {sorted(digests['new'])}"))
    if out_json:
        with open(out_json, "w") as f:
            json.dump(res, f, indent=1)
    if not identical:
        sys.exit(1)


# ---------------------------------------------------------------------- after the walk
def _format1_entry(summary, key: str = "0" * 64) -> bytes:
    """The cache entry of entry format 1 (3f0cc24 and before: ``to_dict()`` as it is), for
    comparison in the same run."""
    return json.dumps({"k": key, "summary": summary.to_dict()}, separators=(",", ":"), ensure_ascii=False,
                      check_circular=False).encode("utf-8", "surrogatepass")


def _format1_decode(raw: bytes):
    """Format 1's decoding: ``json.loads`` + ``from_dict`` of the ``to_dict()`` layout."""
    from lockwatch.static.summary import ClassSummary, FunctionSummary, ModuleSummary

    d = json.loads(raw)["summary"]
    return ModuleSummary(
        module=d["module"], path=d["path"], is_package=d.get("is_package", False),
        imports=d.get("imports", {}), star_imports=d.get("star_imports", []), globals=d.get("globals", {}),
        functions={k: FunctionSummary(**f) for k, f in d.get("functions", {}).items()},
        classes={k: ClassSummary(**c) for k, c in d.get("classes", {}).items()},
        suppressions=d.get("suppressions", {}), guard_comments=d.get("guard_comments", {}))


def encode_costs(trees: list[str], limit: int, out_json: str | None, rounds: int = 1) -> None:
    """Per file, as a worker does: walk, then encode the summary's cache entry; then decode
    it as the main process does (a cold scan's worker results, a warm run's and the hook's
    cache hits). The entry format of this checkout ("now") and format 1 (``to_dict()`` as
    it is, 3f0cc24's) side by side, which goes first alternating from file to file; the
    collector off throughout, as in a worker and in the main process of ``lockwatch scan``.
    Every file's summary must come back with the same ``to_dict()`` (same JSON, key order
    included) in both formats, or the run says so and exits 1."""
    import gc

    sys.path.insert(0, REPO)
    from lockwatch.static.cache import decode_entry, encode_summary_entry
    from lockwatch.static.summarise_ast import summarise_tree
    from lockwatch.static.summary import ModuleSummary

    key = "0" * 64

    def now_encode(s):
        return encode_summary_entry(key, s.to_entry())

    def now_decode(raw):
        return ModuleSummary.from_entry(decode_entry(raw, key)["summary"])

    ways = [("format 1 (to_dict)", _format1_entry, _format1_decode), ("now (to_entry)", now_encode, now_decode)]
    clock = time.process_time
    cost = {f"{side}: {name}": [] for name, _, _ in ways for side in ("worker encode", "main decode")}
    walk = 0.0
    size = {name: 0 for name, _, _ in ways}
    n = 0
    bad: list[str] = []
    srcs = sources(trees, limit)
    for rnd in range(rounds):
        cur = dict.fromkeys(cost, 0.0)
        for i, (_tree, path, src, mod, is_pkg) in enumerate(srcs):
            tr = parse(src, path)
            if tr is None:
                continue
            t0 = clock()
            summary = summarise_tree(tr, src, path, mod, is_pkg)
            walk += clock() - t0
            del tr
            want = json.dumps(summary.to_dict(), ensure_ascii=False) if rnd == 0 else None
            order = ways if (i + rnd) % 2 == 0 else ways[::-1]
            gc.disable()
            try:
                for name, enc, dec in order:
                    t0 = clock()
                    raw = enc(summary)
                    t1 = clock()
                    back = dec(raw)
                    t2 = clock()
                    cur[f"worker encode: {name}"] += t1 - t0
                    cur[f"main decode: {name}"] += t2 - t1
                    if rnd == 0:
                        size[name] += len(raw)
                        if json.dumps(back.to_dict(), ensure_ascii=False) != want \
                                or back.to_dict() != summary.to_dict():
                            bad.append(f"{name}: {path}")
                    del raw, back
            finally:
                gc.enable()
            n += rnd == 0
        for k, v in cur.items():
            cost[k].append(v)
    med = {k: statistics.median(v) for k, v in cost.items()}
    f1, now = (name for name, _, _ in ways)
    ratio = {side: statistics.median(b / a for a, b in zip(cost[f"{side}: {now}"], cost[f"{side}: {f1}"]))
             for side in ("worker encode", "main decode")}
    res = {"trees": trees, "python": sys.version.split()[0], "files": n, "rounds": rounds,
           "walk_s": round(walk / rounds, 3), "cpu_s": {k: round(v, 3) for k, v in med.items()},
           "all_cpu_s": cost, "per_file_ms": {k: round(1000 * v / n, 3) for k, v in med.items()},
           "format1_over_now": {k: round(v, 3) for k, v in ratio.items()},
           "bytes": size, "roundtrip_differs": bad}
    print(f"{n} files, Python {res['python']}, {rounds} round(s): CPU over the tree (median), and per file")
    print(f"  {'walk':44s} {walk / rounds:7.3f} s")
    for k, v in med.items():
        print(f"  {k:44s} {v:7.3f} s  {1000 * v / n:6.3f} ms")
    for side, r in ratio.items():
        print(f"  {side}: format 1 / now = {r:.2f}x (median of the rounds' ratios)")
    for k, v in size.items():
        print(f"  entries, {k:35s} {v / 1e6:7.1f} MB")
    print("  round trip (to_dict() JSON after encode -> decode): " +
          ("identical for every file, both formats" if not bad else f"DIFFERS for {len(bad)}: {bad[:5]}"))
    if out_json:
        with open(out_json, "w") as f:
            json.dump(res, f, indent=1)
    if bad:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append",
                    help="directory of .py files (default: the stdlib without tests); "
                         "repeatable with --ab")
    ap.add_argument("--json", help="write the numbers here too")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    ap.add_argument("--ab", metavar="BASE", help="A/B: this checkout's ast walk vs commit BASE's")
    ap.add_argument("--rounds", type=int, default=None,
                    help="--ab rounds (default 5); --encode rounds (default 1)")
    ap.add_argument("--encode", action="store_true",
                    help="cost of encoding and decoding a summary's cache entry, now vs format 1")
    ap.add_argument("--walk-child", metavar="ROOT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.rounds_given = args.rounds is not None
    if args.rounds is None:
        args.rounds = 5
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(10_000)
    if args.walk_child:
        walk_child(args.walk_child, args.tree, args.limit)
        return
    trees = args.tree or [default_tree()]
    if args.ab:
        ab(args.ab, trees, args.rounds, args.limit, args.json)
        return
    if args.encode:
        encode_costs(trees, args.limit, args.json, args.rounds if args.rounds_given else 1)
        return
    sys.path.insert(0, REPO)
    from lockwatch.static import summarise_cst
    from lockwatch.static.summarise_ast import summarise_tree

    tree = trees[0]
    files = files_of(tree)
    if args.limit:
        files = files[: args.limit]
    t_parse = t_walk = t_cst = 0.0
    lines = 0
    identical, differing, only_ast, only_cst, neither = [], [], [], [], []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            src = data.decode("utf-8")
        except UnicodeDecodeError:
            neither.append((path, "not UTF-8"))
            continue
        src = src.removeprefix("\ufeff")
        lines += src.count("\n")
        mod, is_pkg = module_of(tree, path)
        t0 = time.process_time()
        try:
            tr = compile(src, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tr = None
        t1 = time.process_time()
        a = summarise_tree(tr, src, path, mod, is_pkg).to_dict() if tr is not None else None
        t2 = time.process_time()
        try:
            c = summarise_cst.summarise_module(src, path, mod, is_pkg).to_dict()
        except summarise_cst.ParseError:
            c = None
        t3 = time.process_time()
        t_parse += t1 - t0
        t_walk += t2 - t1
        t_cst += t3 - t2
        if a is None and c is None:
            neither.append((path, "both parsers reject it"))
        elif a is None:
            only_cst.append(path)
        elif c is None:
            only_ast.append(path)
        elif a == c:
            identical.append(path)
        else:
            differing.append((path, first_difference(a, c)))
    t_ast = t_parse + t_walk
    res = {
        "tree": tree, "python": sys.version.split()[0], "files": len(files), "lines": lines,
        "identical": len(identical), "differing": len(differing), "only_ast": len(only_ast),
        "only_cst": len(only_cst), "neither": len(neither),
        "ast_parse_s": round(t_parse, 2), "ast_walk_s": round(t_walk, 2), "ast_total_s": round(t_ast, 2),
        "cst_total_s": round(t_cst, 2), "cst_over_ast": round(t_cst / t_ast, 1) if t_ast else None,
        "differences": [{"path": os.path.relpath(p, tree), "first": d} for p, d in differing],
        "only_ast_files": [os.path.relpath(p, tree) for p in only_ast],
        "only_cst_files": [os.path.relpath(p, tree) for p in only_cst],
    }
    print(f"tree {tree}: {len(files)} files, {lines} lines, Python {res['python']}")
    print(f"ast: parse {t_parse:.2f} s + summarise {t_walk:.2f} s = {t_ast:.2f} s CPU")
    print(f"cst: {t_cst:.2f} s CPU (libcst parse + positions + walk)   cst/ast = {res['cst_over_ast']}x")
    print(f"identical {len(identical)}, differing {len(differing)}, only ast parses {len(only_ast)}, "
          f"only libcst parses {len(only_cst)}, neither {len(neither)}")
    for p, d in differing:
        print(f"  differs: {os.path.relpath(p, tree)}: {d}")
    for p in only_ast:
        print(f"  only ast: {os.path.relpath(p, tree)}")
    for p in only_cst:
        print(f"  only libcst: {os.path.relpath(p, tree)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
