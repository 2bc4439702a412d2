"""Scan speed and memory on the CPython 3.12 stdlib (tests removed), as ratios against ruff
measured in the same run (so machine load affects both sides alike).

    python benchmarks/bench_scan.py [--tree DIR] [--repeat N] [--json OUT]

Measures, each as a separate process the way a user runs it:

* ``ruff check --no-cache --select ASYNC,RUF006,PLW2101`` (the baseline; median of N);
* ``lockwatch scan`` cold (empty cache directory) and warm (same cache, nothing changed;
  median of N), with findings compared between the two;
* ``lockwatch scan --hook FILE`` warm after changing one file (a new function each time),
  the pre-commit path: discover + cache load + one parse + link/checks + filter;
* the same pre-commit run through a resident daemon (``scan --hook --daemon``), in the same
  rounds and with the same kind of edit: (1) right after the edit (the daemon brings itself
  up to date on the request), (2) after its watcher has analysed the edit on its own (the
  save -> commit case: ``daemon status`` says up to date), (3) ``scan --daemon`` of the whole
  project with nothing changed; its answer is checked to equal the plain hook's once;
* what the client imports before it talks to the daemon (``-X importtime``), against
  ``import lockwatch.cli``;
* peak RSS of the lockwatch process and of its largest worker (``getrusage``);
* the stages of a warm run in one process (discover, read+hash+cache load, analysis).

Targets (the issue): cold <= 20x ruff, warm <= 4x ruff, hook < 1 s, peak memory <= 1 GiB.

The baseline is the issue's exact command. ruff 0.17.6 runs it in 0.14-0.19 s here on a quiet
machine (the issue's "about half a second" is ruff with its default rule set: 0.53 s), so the
ratios are against that faster number. The hook run changes code (a new function taking the
queue's mutex), not a comment, so the analysis really has new input.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
STDLIB = "/root/.pyenv/versions/3.12.1/lib/python3.12"
DROP = ["test", "idlelib/idle_test", "lib2to3/tests", "tkinter/test", "site-packages"]
RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")
CHANGED = "queue.py"


def make_tree(dest: str) -> str:
    tree = os.path.join(dest, "stdlib")
    shutil.copytree(STDLIB, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
    for d in DROP:
        shutil.rmtree(os.path.join(tree, d), ignore_errors=True)
    # A project root for --hook (it walks up to pyproject.toml or .git).
    with open(os.path.join(tree, "pyproject.toml"), "w") as f:
        f.write("[project]\nname = 'stdlib-bench'\n")
    return tree


def timed(cmd: list[str], cwd: str) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, p


def lockwatch(args: list[str], cwd: str) -> tuple[float, dict]:
    """Run the CLI in a child that reports its own and its workers' peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as f:
        out = f.name
    try:
        wall, p = timed([sys.executable, __file__, "--child", out, "--", *args], cwd)
        with open(out) as f:
            info = json.load(f)
    finally:
        os.unlink(out)
    if info["rc"] not in (0, 1):
        raise SystemExit(f"lockwatch {' '.join(args)} failed ({info['rc']}):\n{p.stderr[-3000:]}")
    return wall, info


# The console script (lockwatch.entry:program) in a fresh interpreter; -I: the current
# directory (the scanned tree, full of stdlib module names) is never on the path.
_ENTRY = ("import sys; sys.path.insert(0, %r); from lockwatch.entry import program; "
          "sys.argv[0] = 'lockwatch'; sys.exit(program())" % REPO)


def entry(args: list[str], cwd: str, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-I", "-c", _ENTRY, *args], cwd=cwd, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 1) or "daemon unavailable" in p.stderr:
        raise SystemExit(f"lockwatch {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return wall, p


def daemon_status(tree: str, env: dict) -> dict:
    p = subprocess.run([sys.executable, "-I", "-c", _ENTRY, "daemon", "status", "--json"], cwd=tree,
                       env=env, capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else {}


def wait_daemon(tree: str, env: dict, pred, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = daemon_status(tree, env)
        if st and pred(st):
            return st
        time.sleep(0.05)
    raise SystemExit(f"the daemon never got there: {daemon_status(tree, env)}")


def idle(st: dict) -> bool:
    return st.get("up_to_date") and st.get("busy") is None


def client_imports(rounds: int = 5) -> dict[str, float]:
    """Median cumulative import time (ms) of what ``scan --daemon`` imports before it talks
    to the socket, and of ``lockwatch.cli`` (what every other command imports), each in a
    fresh interpreter (-I, like the console script minus the venv's .pth files)."""
    out = {}
    for name, mods in (("client", "lockwatch.entry, lockwatch.daemon.client"), ("cli", "lockwatch.cli")):
        totals = []
        for _ in range(rounds):
            p = subprocess.run([sys.executable, "-I", "-X", "importtime", "-c",
                                f"import sys; sys.path.insert(0, {REPO!r}); import {mods}"],
                               capture_output=True, text=True)
            us = 0
            for line in p.stderr.splitlines():
                parts = line.split("|")
                if len(parts) == 3 and parts[1].strip().isdigit() and parts[2].strip().startswith("lockwatch") \
                        and not parts[2].startswith("  ", 1):
                    us += int(parts[1])  # a top-level lockwatch import: cumulative, stdlib included
            totals.append(us / 1000)
        out[name] = statistics.median(totals)
    return out


def child(out: str, argv: list[str]) -> None:
    sys.path.insert(0, REPO)
    from lockwatch.cli import program

    sys.argv = ["lockwatch", *argv]  # the command as installed runs cli.program (its GC handling)
    try:
        rc = program()
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 2
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(out, "w") as f:
        json.dump({"rc": rc, "self_kb": me, "workers_kb": kids}, f)


def stages(tree: str, cache_dir: str) -> dict[str, float]:
    """A warm run's stages, in this process."""
    sys.path.insert(0, REPO)
    from lockwatch.config import Config
    from lockwatch.static.discover import discover
    from lockwatch.static.engine import _import_analysis, analyse_summaries, gc_paused
    from lockwatch.static.pool import summarise_files

    # the engine imports the analysis lazily (a CLI run does it while the workers parse):
    # import it before the clock, so that "analysis" is the analysis
    _import_analysis()
    os.chdir(tree)  # display paths (and the whole-scan cache's key) as in the CLI runs
    cfg = Config(root=tree, cache_dir=cache_dir)
    with gc_paused():  # as engine.scan runs them
        return _stages(tree, cfg, discover, summarise_files, analyse_summaries)


def _stages(tree, cfg, discover, summarise_files, analyse_summaries) -> dict[str, float]:
    t0 = time.perf_counter()
    files, errors = discover([tree], cfg)
    t1 = time.perf_counter()
    summaries, errs = summarise_files(files, cfg)
    t2 = time.perf_counter()
    by_module: dict = {}
    for sf in files:
        s = summaries.get(sf.path)
        if s is not None:
            by_module.setdefault(s.module, s)
    timings: dict = {}
    analyse_summaries(by_module, cfg, list(errors) + list(errs), timings)
    t3 = time.perf_counter()
    return {"files": len(files), "discover": t1 - t0, "read_hash_cache_load": t2 - t1,
            "analysis": t3 - t2, **{f"analysis.{k}": v for k, v in timings.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="an existing copy of the stdlib to scan (default: a fresh copy)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--json", help="write the numbers here too")
    ap.add_argument("--no-daemon", action="store_true", help="skip the daemon measurements")
    ap.add_argument("--changed", default=CHANGED,
                    help="file (relative to the tree) the hook measurement edits (default: %(default)s); "
                         "with --tree, any project: e.g. a real package and one of its modules")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="lockwatch-bench-")
    try:
        tree = os.path.abspath(args.tree) if args.tree else make_tree(work)
        cache = os.path.join(work, "cache")
        nfiles = sum(f.endswith(".py") for _, _, fs in os.walk(tree) for f in fs)
        print(f"tree: {tree} ({nfiles} .py files), cores: {os.cpu_count()}, "
              f"load average: {os.getloadavg()[0]:.1f}", flush=True)
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        common = ["scan", "--format", "json", "--exit-zero", "--cache-dir", cache, *jobs]

        ruff_cmd = [RUFF, "check", "--no-cache", "--select", "ASYNC,RUF006,PLW2101", "--exit-zero", "-q", "."]
        ruff = statistics.median(timed(ruff_cmd, tree)[0] for _ in range(args.repeat))
        print(f"ruff                     {ruff:7.2f} s", flush=True)

        cold_out = os.path.join(work, "cold.json")
        cold, cold_info = lockwatch([*common, "--output", cold_out, "."], tree)
        print(f"lockwatch cold           {cold:7.2f} s  {cold / ruff:6.1f}x ruff (target <= 20x)", flush=True)

        warm_out = os.path.join(work, "warm.json")
        warms = []
        for _ in range(args.repeat):
            w, warm_info = lockwatch([*common, "--output", warm_out, "."], tree)
            warms.append(w)
        warm = statistics.median(warms)
        print(f"lockwatch warm           {warm:7.2f} s  {warm / ruff:6.1f}x ruff (target <= 4x)", flush=True)
        with open(cold_out) as a, open(warm_out) as b:
            ca, wa = json.load(a), json.load(b)
        same = ca == wa
        print(f"findings cold == warm    {same}  ({len(ca['findings'])} findings, {len(ca['errors'])} errors)")

        changed = os.path.join(tree, args.changed)
        original = open(changed, "rb").read()
        hooks: list[float] = []
        d_edit: list[float] = []
        d_watched: list[float] = []
        d_same: list[float] = []
        denv = dict(os.environ, LOCKWATCH_DAEMON_DIR=os.path.join(work, "d"))
        hook_args = [*common, "--hook", "--output", os.path.join(work, "hook.json"), changed]
        daemon_args = [*common, "--hook", "--daemon", "--output", os.path.join(work, "dhook.json"), changed]
        same_as_plain = None
        edits = 0

        def edit() -> None:
            # A code edit, not a comment: a new function that takes the queue's mutex
            # and calls into it, so the file's summary (and the lock graph) changes.
            nonlocal edits
            edits += 1
            text = (f"\n\ndef _bench_edit_{time.time_ns()}_{edits}(q):\n"
                    f"    with q.mutex:\n        return q._qsize()\n")
            with open(changed, "wb") as f:
                f.write(original + text.encode())

        try:
            if not args.no_daemon:
                # start the project's daemon by asking it (untimed), as the hook's first run would
                entry([*common, "--daemon", "--output", os.path.join(work, "d0.json"), "."], tree, denv)
            for i in range(args.repeat):
                edit()
                h, _ = lockwatch(hook_args, tree)
                hooks.append(h)
                if args.no_daemon:
                    continue
                wait_daemon(tree, denv, idle)
                # (1) the hook asks right after the edit: the daemon updates on the request
                edit()
                w, _ = entry(daemon_args, tree, denv)
                d_edit.append(w)
                if same_as_plain is None:
                    lockwatch(hook_args, tree)
                    with open(os.path.join(work, "hook.json")) as a, open(os.path.join(work, "dhook.json")) as b:
                        same_as_plain = json.load(a) == json.load(b)
                # (2) the edit is saved, the watcher analyses it, then the commit asks
                before = wait_daemon(tree, denv, idle)["analyses"]
                edit()
                wait_daemon(tree, denv, lambda st, before=before: st["analyses"] > before and idle(st))
                w, _ = entry(daemon_args, tree, denv)
                d_watched.append(w)
                # (3) a whole scan, nothing changed
                w, _ = entry([*common, "--daemon", "--output", os.path.join(work, "d3.json"), "."], tree, denv)
                d_same.append(w)
            if not args.no_daemon:
                daemon_rss = daemon_status(tree, denv).get("peak_rss_mib")
        finally:
            with open(changed, "wb") as f:
                f.write(original)
            if not args.no_daemon:
                subprocess.run([sys.executable, "-I", "-c", _ENTRY, "daemon", "stop"], cwd=tree, env=denv,
                               capture_output=True)
        hook = statistics.median(hooks)
        print(f"hook, one changed file   {hook:7.2f} s  (target < 1 s)", flush=True)
        daemon = {}
        if not args.no_daemon:
            daemon = {"hook_right_after_edit_s": statistics.median(d_edit),
                      "hook_after_watcher_s": statistics.median(d_watched),
                      "scan_nothing_changed_s": statistics.median(d_same),
                      "answer_equals_plain": same_as_plain, "peak_rss_mib": daemon_rss}
            print(f"  via the daemon, asked right after the edit   {daemon['hook_right_after_edit_s']:7.2f} s  "
                  f"({' '.join(f'{x:.2f}' for x in d_edit)})")
            print(f"  via the daemon, after its watcher caught up   {daemon['hook_after_watcher_s']:7.2f} s  "
                  f"({' '.join(f'{x:.2f}' for x in d_watched)})")
            print(f"  scan --daemon, nothing changed                {daemon['scan_nothing_changed_s']:7.2f} s  "
                  f"({' '.join(f'{x:.2f}' for x in d_same)})")
            print(f"  daemon's answer == plain hook's               {same_as_plain}; "
                  f"daemon peak RSS {daemon_rss} MiB")
            imports = client_imports()
            daemon["imports_ms"] = imports
            print(f"  imports before the socket: client {imports['client']:.1f} ms "
                  f"(import lockwatch.cli: {imports['cli']:.1f} ms)", flush=True)

        peak_main = cold_info["self_kb"] / 1024
        peak_worker = cold_info["workers_kb"] / 1024
        print(f"peak RSS cold: main {peak_main:.0f} MiB, largest worker {peak_worker:.0f} MiB "
              f"(target <= 1024 MiB); warm main {warm_info['self_kb'] / 1024:.0f} MiB")

        st = stages(tree, cache)
        def fmt(k, v):
            if isinstance(v, float):
                return f"{k} {v:.2f}s"
            if isinstance(v, dict):  # e.g. per-rule check times: the slowest few
                top = sorted(v.items(), key=lambda kv: -kv[1])[:3]
                return f"{k} (" + ", ".join(f"{a} {b:.2f}s" for a, b in top) + ")"
            return f"{k} {v}"

        print("warm stages in one process: " + ", ".join(fmt(k, v) for k, v in st.items()))

        result = {
            "files": nfiles, "ruff_s": ruff, "cold_s": cold, "warm_s": warm, "hook_s": hook,
            "cold_ratio": cold / ruff, "warm_ratio": warm / ruff, "cold_equals_warm": same,
            "peak_main_mib": peak_main, "peak_worker_mib": peak_worker, "warm_stages": st,
            "findings": len(ca["findings"]), "errors": ca["errors"], "daemon": daemon,
            "load_average": os.getloadavg()[0],
        }
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[4:])
    else:
        raise SystemExit(main())
