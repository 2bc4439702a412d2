"""The summarise stage alone: ast summariser vs libcst summariser, in one process, one run.

    python benchmarks/bench_summarise.py [--tree DIR] [--json OUT] [--limit N]

Over every ``.py`` file of the tree (default: the CPython 3.12 stdlib without tests, as
``bench_scan.py`` builds it; ``/tmp/stdlib/tree`` is used when it exists):

* CPU time (``time.process_time``) of ``compile(PyCF_ONLY_AST)`` + ``summarise_ast`` and of
  ``summarise_cst`` (libcst parse + ``PositionProvider`` + walk), and their ratio;
* how many files get identical summaries (``ModuleSummary.to_dict()``), how many differ
  (with the first differing key of each), and the files only one parser reads.

Comment scans (suppressions, ``# guarded_by:``) are shared and run in both timings.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from lockwatch.static import summarise_cst
from lockwatch.static.summarise_ast import summarise_tree

DEFAULT_TREE = "/tmp/stdlib/tree"


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="directory of .py files (default: the stdlib without tests)")
    ap.add_argument("--json", help="write the numbers here too")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = ap.parse_args()
    tree = args.tree
    if tree is None:
        if os.path.isdir(DEFAULT_TREE):
            tree = DEFAULT_TREE
        else:
            import bench_scan

            tree = bench_scan.make_tree(tempfile.mkdtemp(prefix="lw-bench-sum-"))
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(10_000)
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
