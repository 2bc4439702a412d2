"""Worker -> main transport of summaries, and what it does to a cold scan.

    python benchmarks/bench_transport.py --wire [--tree DIR] [--rounds N] [--json OUT]
    python benchmarks/bench_transport.py --scan --base DIR [--new DIR] [--tree DIR ...]
                                         [--mode cold|no-cache|warm-entries ...] [--rounds N]
                                         [--json OUT]

``--wire``: every file of the tree (default: the CPython 3.12 stdlib without tests,
``/tmp/stdlib/tree``) is summarised once here; then a forked child sends every summary through
a ``multiprocessing`` pipe, as a worker does, in each of these ways, and this process receives
it (collector off, as in ``lockwatch scan``):

* ``pickle ModuleSummary``: ``send((True, summary, None))`` / ``recv()`` (session 4's transport);
* ``tuple with entry``: ``send((True, entry_bytes, None))`` / ``recv()``;
* ``send_bytes(entry)``: the JSON entry's bytes as they are / ``recv_bytes()`` (sessions 5-8:
  the worker encoded the entry, wrote it and sent the same bytes);
* ``send_bytes(marshal)``: the ``marshal`` bytes of the entry dict / ``recv_bytes()`` (what
  ``pool`` does since session 9; the JSON entry is encoded later, while the main process
  analyses).

``worker: encode`` is what the worker pays before sending, in the parse phase: ``to_entry()``
and ``cache.encode_summary_entry`` for the JSON ways, ``to_entry()`` and ``marshal.dumps`` for
the marshal way, nothing for the pickle way (pickling is the send). ``main: + decode`` adds
what the main process then does to get the summary: ``cache.decode_entry`` (or
``marshal.loads``) + ``ModuleSummary.from_entry``; the pickle way needs none. CPU time
(``time.process_time``) of each side, median over ``--rounds`` (default 5) rounds, the ways
in a different order each round.

``--scan``: cold scans of each ``--tree`` (default the stdlib tree) in each ``--mode``
(default cold and no-cache): ``cold`` is ``lockwatch scan --format json --cache-dir EMPTY``
(a fresh empty cache each run: the issue's cold scan, whose workers write every entry),
``no-cache`` is ``lockwatch scan --no-cache --format json``, ``warm-entries`` is a scan whose
every file has its cache entry but whose whole-scan result is not cached (what the pre-commit
hook and the pytest plugin pay: read and decode every entry, then the whole analysis; each
side fills its own cache once, untimed, and each run removes the ``results/`` it left). The sides are the checkouts ``--base`` and
``--new`` (default: this one; repeatable, each compared with the base), e.g. made with
``git worktree add /tmp/base REV``. Each scan runs in a fresh interpreter whose ``lockwatch``
is that checkout's (``PYTHONPATH``; the workers inherit it); that interpreter reports its own
CPU (``getrusage(RUSAGE_SELF)``: the main process) and its reaped children's
(``RUSAGE_CHILDREN``: the workers), the peak RSS of the main process and of the largest
worker, and the wall time of the scan. The sides alternate, which goes first rotating from round to round (the machine
may be shared); per side the medians, and for each new side the ratio of its median to the
base's and the median of its per-round ratios. Every report must be byte-identical to the
first one of the same tree (all sides, both modes, all rounds), or the run says so and
exits 1.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_TREE = "/tmp/stdlib/tree"


def default_tree() -> str:
    if os.path.isdir(DEFAULT_TREE):
        return DEFAULT_TREE
    sys.exit(f"no --tree given and {DEFAULT_TREE} does not exist (bench_scan.py builds one)")


# ---------------------------------------------------------------------- the pipe alone
WAYS = ("pickle ModuleSummary", "tuple with entry", "send_bytes(entry)", "send_bytes(marshal)")


def summaries_of(tree: str) -> list:
    sys.path.insert(0, REPO)
    from lockwatch.static.summarise import summarise_module

    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    source = f.read()
                s = summarise_module(source, path, name[:-3], name == "__init__.py")
            except Exception:  # noqa: BLE001, S112 - a file the summariser rejects is not a summary to send
                continue
            out.append(s)
    return out


def _marshal_entry(s) -> bytes:
    import marshal

    d = s.to_entry()  # as pool.analyse: headers as lists, what JSON decodes
    d["function_fields"] = list(d["function_fields"])
    d["class_fields"] = list(d["class_fields"])
    return marshal.dumps(d)


def _sender(conn, items, way: str, cpu, enc) -> None:
    from lockwatch.static.cache import encode_summary_entry

    t0 = time.process_time()
    if way in ("tuple with entry", "send_bytes(entry)"):
        payloads = [encode_summary_entry("k" * 64, s.to_entry()) for s in items]
    elif way == "send_bytes(marshal)":
        payloads = [_marshal_entry(s) for s in items]
    else:
        payloads = items
    t1 = time.process_time()
    for p in payloads:
        if way in ("pickle ModuleSummary", "tuple with entry"):
            conn.send((True, p, None))
        else:
            conn.send_bytes(p)
    cpu.value = time.process_time() - t1
    enc.value = t1 - t0
    conn.close()


def wire_round(items, way: str) -> dict[str, float]:
    import marshal

    from lockwatch.static.cache import decode_entry
    from lockwatch.static.summary import ModuleSummary

    ctx = multiprocessing.get_context("fork")  # the child inherits the summaries
    cpu, enc = ctx.Value("d", 0.0), ctx.Value("d", 0.0)
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_sender, args=(w, items, way, cpu, enc))
    gc.disable()
    try:
        p.start()
        w.close()
        got = []
        t0 = time.process_time()
        for _ in items:
            got.append(r.recv_bytes() if way.startswith("send_bytes") else r.recv())
        recv = time.process_time() - t0
        p.join()
        decode = 0.0
        if way != "pickle ModuleSummary":
            t0 = time.process_time()
            for m in got:
                if way == "send_bytes(marshal)":
                    ModuleSummary.from_entry(marshal.loads(m))
                else:
                    entry = m if isinstance(m, bytes) else m[1]
                    ModuleSummary.from_entry(decode_entry(entry, "k" * 64)["summary"])
            decode = time.process_time() - t0
    finally:
        gc.enable()
        r.close()
    return {"worker: encode": enc.value, "worker: send": cpu.value, "main: receive": recv,
            "main: + decode": decode}


def wire(tree: str, rounds: int, out_json: str | None) -> None:
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(10_000)
    items = summaries_of(tree)
    from lockwatch.static.cache import encode_summary_entry

    mb = sum(len(encode_summary_entry("k" * 64, s.to_entry())) for s in items) / 1e6
    mmb = sum(len(_marshal_entry(s)) for s in items) / 1e6
    print(f"{len(items)} summaries from {tree} ({mb:.1f} MB of JSON entries, {mmb:.1f} MB marshalled), "
          f"{rounds} rounds, CPU s (median)")
    res: dict[str, dict[str, list[float]]] = {w: {} for w in WAYS}
    for i in range(rounds):
        order = WAYS[i % len(WAYS):] + WAYS[:i % len(WAYS)]
        for way in order:
            for k, v in wire_round(items, way).items():
                res[way].setdefault(k, []).append(v)
    med = {w: {k: statistics.median(v) for k, v in d.items()} for w, d in res.items()}
    cols = ("worker: encode", "worker: send", "main: receive", "main: + decode")
    print(f"  {'':24s}" + "".join(f" {c:>15s}" for c in cols))
    for w in WAYS:
        print(f"  {w:24s}" + "".join(f" {med[w][c]:15.3f}" for c in cols))
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"tree": tree, "files": len(items), "entry_mb": mb, "marshal_mb": mmb, "rounds": rounds,
                       "median_cpu_s": med, "all_cpu_s": res}, f, indent=1)


# ---------------------------------------------------------------------- cold scans, A/B
_CHILD = r"""
import os, resource, sys, time
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["lockwatch", *argv]
t0 = time.perf_counter()
from lockwatch.cli import program
rc = program()
wall = time.perf_counter() - t0
s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
import lockwatch, json
with open(out, "w") as f:
    json.dump({"rc": rc, "wall": wall, "main": s.ru_utime + s.ru_stime,
               "workers": c.ru_utime + c.ru_stime, "main_peak_mb": s.ru_maxrss / 1024,
               "worker_peak_mb": c.ru_maxrss / 1024,
               "lockwatch": lockwatch.__file__}, f)
os._exit(0)
"""


def one_scan(checkout: str, tree: str, work: str, mode: str) -> tuple[dict, bytes]:
    stats, report = os.path.join(work, "stats.json"), os.path.join(work, "report.json")
    cache = os.path.join(work, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": checkout}
    if mode == "warm-entries":
        # one cache per side and tree, kept between runs; only the whole-scan results go
        cache = os.path.join(work, "warm-" + hashlib.sha256(f"{checkout}\0{tree}".encode()).hexdigest()[:12])
        fill = not os.path.isdir(cache)
    else:
        fill = False
    opts = ["--no-cache"] if mode == "no-cache" else ["--cache-dir", cache]
    cmd = [sys.executable, "-c", _CHILD, stats, "scan", *opts, "--format", "json",
           "--output", report, tree]
    for _ in range(2 if fill else 1):
        if mode == "warm-entries":
            for dirpath, dirnames, _files in os.walk(cache):
                if "results" in dirnames:
                    shutil.rmtree(os.path.join(dirpath, "results"))
        subprocess.run(cmd, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
    if mode != "warm-entries":
        shutil.rmtree(cache, ignore_errors=True)
    with open(stats) as f:
        st = json.load(f)
    if not st["lockwatch"].startswith(os.path.abspath(checkout) + os.sep):
        sys.exit(f"the scan ran {st['lockwatch']}, not {checkout}'s lockwatch")
    with open(report, "rb") as f:
        return st, f.read()


def _ratio(new: float, base: float) -> float:
    return new / base if base else float("nan")  # a warm run starts no worker: 0 s


def scan_ab(base: str, news: list[str], trees: list[str], modes: list[str], rounds: int,
            out_json: str | None) -> None:
    sides = {"base": os.path.abspath(base)}
    for i, n in enumerate(news):
        sides["new" if len(news) == 1 else f"new{i + 1}"] = os.path.abspath(n)
    names = list(sides)
    for name, d in sides.items():
        print(f"{name + ':':6s} {d}")
    print(f"cores: {os.cpu_count()}, {rounds} rounds, Python {sys.version.split()[0]}")
    keys = ("wall", "main", "workers", "cpu", "main_peak_mb", "worker_peak_mb")
    labels = {"wall": "wall s", "main": "main process CPU s", "workers": "workers CPU s",
              "cpu": "all CPU s", "main_peak_mb": "main peak MB", "worker_peak_mb": "worker peak MB"}
    results: dict = {}
    identical = True
    with tempfile.TemporaryDirectory(prefix="bench_transport_") as work:
        for tree in trees:
            first = None
            runs = {m: {n: [] for n in names} for m in modes}
            for i in range(rounds):
                order = names[i % len(names):] + names[:i % len(names)]  # who goes first rotates
                for mode in modes:
                    for side in order:
                        st, rep = one_scan(sides[side], tree, work, mode)
                        st["cpu"] = st["main"] + st["workers"]
                        if first is None:
                            first = rep
                        elif rep != first:
                            identical = False
                            print(f"  REPORT DIFFERS: {side}, {mode}, round {i + 1}, {tree}")
                        runs[mode][side].append(st)
            results[tree] = {}
            for mode in modes:
                rs = runs[mode]
                med = {side: {k: statistics.median(r[k] for r in v) for k in keys} for side, v in rs.items()}
                ratios = {side: {k: statistics.median(_ratio(n[k], b[k]) for b, n in zip(rs["base"], rs[side]))
                                 for k in keys} for side in names[1:]}
                print(f"{tree}, {mode}: medians; per new side: ratio to base of the medians / median of "
                      f"the round ratios")
                print(f"  {'':18s} {'base':>8s}" + "".join(f" {n:>8s} {'ratio':>11s}" for n in names[1:]))
                for k in keys:
                    line = f"  {labels[k]:18s} {med['base'][k]:8.2f}"
                    for n in names[1:]:
                        line += f" {med[n][k]:8.2f} {_ratio(med[n][k], med['base'][k]):5.2f}/{ratios[n][k]:5.2f}"
                    print(line)
                results[tree][mode] = {"median": med, "median_round_ratio": ratios, "runs": rs}
    print(f"reports identical (all runs, all sides, all modes): {identical}")
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"sides": sides, "rounds": rounds, "identical": identical, "trees": results}, f, indent=1)
    if not identical:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wire", action="store_true", help="the pipe alone: three ways to send a summary")
    ap.add_argument("--scan", action="store_true", help="cold scans A/B: --base vs --new checkout")
    ap.add_argument("--base", help="--scan: the base checkout (a directory holding lockwatch/)")
    ap.add_argument("--new", action="append",
                    help="--scan: a new checkout (default: this one); repeatable: each against the base")
    ap.add_argument("--tree", action="append", help="directory to scan (default: the stdlib tree); "
                                                    "repeatable with --scan")
    ap.add_argument("--mode", action="append", choices=("cold", "no-cache", "warm-entries"),
                    help="--scan: cold (empty cache), no-cache, warm-entries (every entry cached, "
                         "no whole-scan result); default: cold and no-cache")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--json", help="write the numbers here too")
    args = ap.parse_args()
    trees = [os.path.abspath(t) for t in args.tree] if args.tree else [default_tree()]
    if args.wire:
        wire(trees[0], args.rounds, args.json)
    elif args.scan:
        if not args.base:
            ap.error("--scan needs --base")
        scan_ab(args.base, args.new or [REPO], trees, args.mode or ["cold", "no-cache"], args.rounds, args.json)
    else:
        ap.error("say --wire or --scan")


if __name__ == "__main__":
    main()
