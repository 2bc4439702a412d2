"""``lockwatch`` command line: argument parsing only; the work is done by the pipelines.

    lockwatch scan [PATH ...]       static analysis (default: .)
    lockwatch run ...               the runtime tracer (lockwatch.runtime.run parses its own options)
    lockwatch rules                 every rule, as a table or JSON
    lockwatch rule CODE|NAME        one rule's documentation
    lockwatch daemon start|stop|status|restart [PATH]
                                    the resident analysis process ``scan --daemon`` asks

Exit status (SPEC): 0 no findings, 1 findings, 2 usage or configuration error. A crash is
a bug: an unexpected exception prints its traceback and a line saying so, and exits 2, so
that it never looks like a clean run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence

from lockwatch import __version__
from lockwatch.config import (
    Config,
    ConfigError,
    apply_overrides,
    find_project_root,
    load,
    split_list,
)
from lockwatch.findings import Report

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class UsageError(Exception):
    pass


# ---- argument parsing ----------------------------------------------------------------

def _comma_list(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out: list[str] = []
    for v in values:
        out.extend(split_list(v))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lockwatch",
        description="Deadlock and race detector for Python: static lock-order analysis and a runtime tracer.",
    )
    p.add_argument("--version", action="version", version=f"lockwatch {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser(
        "scan",
        help="analyse source files statically",
        description="Analyse Python source files for lock-order cycles, self-deadlocks, "
        "unreleased locks and blocking calls under locks. Exit status: 0 no findings, "
        "1 findings, 2 usage or configuration error.",
    )
    s.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    s.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                   help="report format (default: text)")
    s.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    s.add_argument("--select", action="append", metavar="CODES",
                   help="only these codes, code prefixes (LW1) or kinds; comma list, repeatable")
    s.add_argument("--extend-select", action="append", metavar="CODES",
                   help="add to the configured selection")
    s.add_argument("--ignore", action="append", metavar="CODES",
                   help="skip these codes, code prefixes or kinds; comma list, repeatable")
    s.add_argument("--exclude", action="append", metavar="GLOBS",
                   help="path globs not to scan (replaces the configured 'exclude')")
    s.add_argument("--extend-exclude", action="append", metavar="GLOBS",
                   help="path globs not to scan, in addition to the configured ones")
    s.add_argument("--config", metavar="FILE", help="pyproject.toml or lockwatch.toml to read instead of searching")
    s.add_argument("--baseline", metavar="FILE", help="report only findings not recorded in FILE")
    s.add_argument("--write-baseline", metavar="FILE",
                   help="record the current findings in FILE and exit 0")
    s.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    s.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (0 = every core)")
    s.add_argument("--cache-dir", metavar="DIR", help="where to keep per-file summaries")
    s.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    s.add_argument("--quiet", "-q", action="store_true", help="print findings only, no summary line")
    s.add_argument("--statistics", action="store_true",
                   help="print how many findings each rule has instead of the findings (text or json)")
    s.add_argument(
        "--hook", action="store_true",
        help="pre-commit mode: the PATHs are the changed files; analyse their whole project "
        "(found from pyproject.toml/.git upwards, cached) and report only findings with any "
        "location in a given file",
    )
    s.add_argument(
        "--daemon", action="store_true",
        help="ask the project's resident lockwatch daemon (starting one if none runs); the "
        "output is the same as without; if the daemon cannot answer, say so and scan here",
    )
    s.set_defaults(func=cmd_scan)

    r = sub.add_parser("rules", help="list every rule")
    r.add_argument("--format", choices=("text", "json"), default="text")
    r.set_defaults(func=cmd_rules)

    d = sub.add_parser("rule", help="show one rule's documentation")
    d.add_argument("rule", metavar="CODE|NAME")
    d.set_defaults(func=cmd_rule)

    dm = sub.add_parser(
        "daemon", help="the resident analysis process that 'scan --daemon' asks (docs/daemon.md)",
        description="A resident process per project that keeps the analysis in memory and up "
        "to date as files change, so that 'lockwatch scan --daemon' (the lockwatch-daemon "
        "pre-commit hook) answers without re-reading the project.",
    )
    dsub = dm.add_subparsers(dest="daemon_command", metavar="ACTION")
    dsub.required = True
    for name, text in (("start", "start the project's daemon (and analyse the project)"),
                       ("stop", "stop it"), ("status", "show what it holds; exit 1 if none runs"),
                       ("restart", "stop it and start a new one")):
        a = dsub.add_parser(name, help=text, description=text)
        a.add_argument("path", nargs="?", default=".", metavar="PATH",
                       help="a directory of the project (default: .); its root is found as for --hook")
        if name in ("start", "restart"):
            a.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                           help="exit after this long without a request (default: 3600)")
        if name == "status":
            a.add_argument("--json", action="store_true", help="print the status as JSON")
    dm.set_defaults(func=cmd_daemon)

    # Listed for --help only: main() hands everything after "run" to the tracer unparsed.
    sub.add_parser("run", help="run a program under the runtime tracer (see: lockwatch run --help)", add_help=False)
    return p


# ---- scan --------------------------------------------------------------------------

def _engine_scan(paths: list[str], config: Config, progress=None) -> Report:
    from lockwatch.static.engine import scan
    from lockwatch.static.pool import WorkerStartError

    try:
        if progress is None:
            return scan(paths, config)
        return scan(paths, config, progress)
    except WorkerStartError as e:
        # the environment cannot run the parser processes: say so, exit 2 (not a crash)
        raise UsageError(f"cannot scan: {e}") from None


class _Progress:
    """``lockwatch: summarising 120/686 files`` on one rewritten stderr line, for scans long
    enough to wonder about: only on a terminal, not with --quiet, first shown after half a
    second, at most ten updates a second, erased when the scan is done."""

    DELAY = 0.5
    EVERY = 0.1

    def __init__(self, stream) -> None:
        import time

        self.stream = stream
        self.clock = time.monotonic
        self.t0 = self.clock()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now - self.t0 < self.DELAY or (now - self.last < self.EVERY and done < total):
            return
        self.last = now
        self.shown = True
        self.stream.write(f"\rlockwatch: summarising {done}/{total} files")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _progress_for(args: argparse.Namespace):
    stream = sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if args.quiet or not tty or os.environ.get("TERM") == "dumb":
        return None
    return _Progress(stream)


def _same_file_key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _hook_roots(files: list[str]) -> list[str]:
    """The project directories to analyse for the given changed files: one per distinct
    project, dropping any that lies inside another."""
    roots = sorted({find_project_root(os.path.dirname(os.path.abspath(f)) or ".") for f in files})
    kept: list[str] = []
    for r in roots:
        if not any(r == k or r.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
            kept.append(r)
    return kept


def filter_to_files(report: Report, files: list[str]) -> Report:
    """Hook mode: keep findings with any location (primary or witness) in one of
    ``files``, and errors about those files. An inversion between a changed file and an
    untouched one is reported, since the change may be what closed the cycle."""
    wanted = {_same_file_key(f) for f in files}
    cache: dict[str, str] = {}

    def touches(path: str) -> bool:
        if path not in cache:
            cache[path] = _same_file_key(path)
        return cache[path] in wanted

    findings = [f for f in report.findings if any(touches(loc.path) for loc in f.locations())]
    errors = [e for e in report.errors if touches(e.path)]
    return Report(source=report.source, findings=findings, errors=errors, extra=dict(report.extra))


def _display(path: str) -> str:
    """A scan root as the engine should see it: relative under the cwd, else absolute,
    so that reported paths follow SPEC's display rule."""
    rel = os.path.relpath(path)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return path
    return rel


def _exclude_origins(args: argparse.Namespace, config: Config) -> dict[str, str]:
    """Exclude pattern -> where it was given, for the warning (the command line first:
    the user just typed it)."""
    origins: dict[str, str] = {}
    for opt, given in (("--exclude", args.exclude), ("--extend-exclude", args.extend_exclude)):
        for p in _comma_list(given) or []:
            origins.setdefault(p, opt)
    if config.config_file is not None:
        where = _display(config.config_file)
        for p in config._extend_exclude:
            origins.setdefault(p, f"'extend-exclude' in {where}")
        for p in config.exclude:
            origins.setdefault(p, f"'exclude' in {where}")
    return origins


def exclude_warnings(checks: list, config: Config, origins: dict[str, str]) -> list[str]:
    """One line per exclude pattern that excluded nothing (see ``ExcludeCheck.unused`` for
    which ones stay silent). A pattern from the configuration file without '/' is not
    reported when only part of the project was scanned: ``exclude = ["migrations"]`` is
    for the whole project, and a scan of one subpackage need not meet it."""
    lines: list[str] = []
    root = os.path.abspath(config.root or ".")
    for check in checks[-1:]:  # the scan's discovery (an engine runs it once)
        for u in check.unused():
            origin = origins.get(u.pattern, "exclude")
            if u.partial and not u.anchored and not origin.startswith("--"):
                continue
            head = f"lockwatch: warning: exclude pattern '{u.pattern}' ({origin}) matched no path"
            if u.anchored:
                where = " and ".join(_base_description(b, root, config) for b in u.bases)
                line = f"{head}: a pattern with '/' is matched relative to {where}"
                if u.suggestion:
                    line += f"; did you mean '{u.suggestion}'?"
            else:
                line = (f"{head}: a pattern without '/' matches a file or directory name at any "
                        "depth, and no scanned path has such a name")
            lines.append(line)
    return lines


def _base_description(base: str, root: str, config: Config) -> str:
    if base != root:
        return f"{base} (named on the command line, outside the project)"
    if config.config_file is not None:
        return f"{base} (the project root, where {os.path.basename(config.config_file)} is)"
    return f"{base} (the current directory: no lockwatch configuration was found)"


def _print_warnings(lines: list[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)


def cmd_scan(args: argparse.Namespace) -> int:
    from lockwatch import baseline as bl
    from lockwatch import report as rep

    given = list(args.paths) or ["."]
    if args.hook:
        files = [p for p in given if os.path.isfile(p)]
        if not files:
            # pre-commit ran us with no Python file staged: nothing can be touched.
            return EXIT_OK
        roots = _hook_roots(files)
        scan_paths = [_display(r) for r in roots]
        start = roots[0]
    else:
        missing = [p for p in given if not os.path.lexists(p)]
        if missing:
            raise UsageError("no such file or directory: " + ", ".join(missing))
        scan_paths = given
        start = given[0]

    if args.statistics and args.format not in ("text", "json"):
        raise UsageError(f"--statistics prints text or json, not {args.format}")
    config = load(start=start, config_file=args.config)
    origins = _exclude_origins(args, config)
    apply_overrides(
        config,
        select=_comma_list(args.select),
        extend_select=_comma_list(args.extend_select),
        ignore=_comma_list(args.ignore),
        exclude=_comma_list(args.exclude),
        extend_exclude=_comma_list(args.extend_exclude),
        jobs=args.jobs,
        cache_dir=args.cache_dir,
        no_cache=args.no_cache,
    )
    # Read the baseline before the (possibly long) scan so a bad file fails fast.
    accepted = bl.load_baseline(args.baseline) if args.baseline else None

    from lockwatch.static.discover import watching_excludes

    progress = _progress_for(args)
    try:
        with watching_excludes() as checks:
            # (two arguments when there is no display: stand-in engines in tests take two)
            report = (_engine_scan(scan_paths, config, progress) if progress is not None
                      else _engine_scan(scan_paths, config))
    finally:
        if progress is not None:
            progress.close()
    # Hook mode never warns: it runs on every commit, about the changed files; a scan of
    # the project is where a configuration problem is worth a line.
    warnings = [] if args.hook or args.quiet else exclude_warnings(checks, config, origins)
    if not isinstance(report, Report):
        raise TypeError(f"engine.scan returned {type(report).__name__}, expected Report")
    if args.hook:
        report = filter_to_files(report, files)

    if args.write_baseline:
        try:
            n = bl.write_baseline(args.write_baseline, report.findings)
        except OSError as e:
            raise UsageError(f"cannot write baseline {args.write_baseline}: {e.strerror or e}") from e
        if not args.quiet:
            print(f"lockwatch: wrote {n} finding{'s' if n != 1 else ''} to baseline {args.write_baseline}",
                  file=sys.stderr)
        if report.errors and not args.quiet:
            for e in report.errors:
                print(f"{e.path}: error: {e.message}", file=sys.stderr)
        _print_warnings(warnings)
        return EXIT_OK

    if accepted is not None:
        before = len(report.findings)
        report = Report(source=report.source, findings=bl.apply_baseline(report.findings, accepted),
                        errors=report.errors, extra=dict(report.extra))
        hidden = before - len(report.findings)
        if hidden and not args.quiet and args.format == "text":
            print(f"lockwatch: {hidden} finding{'s' if hidden != 1 else ''} hidden by baseline {args.baseline}",
                  file=sys.stderr)

    try:
        rep.write(report, args.format, args.output, quiet=args.quiet, statistics=args.statistics)
    except OSError as e:
        if args.output and not isinstance(e, BrokenPipeError):
            raise UsageError(f"cannot write report to {args.output}: {e.strerror or e}") from e
        raise
    _print_warnings(warnings)
    if report.findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


# ---- daemon -------------------------------------------------------------------------

# Set in the daemon process itself: there, ``scan --daemon`` is a plain scan (never a request
# to itself).
_IN_DAEMON = False


def _daemon_scan(argv: list[str]) -> int:
    from lockwatch.daemon import client

    return client.scan(argv, run_plain)


def _ago(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def format_status(st: dict) -> str:
    lines = [f"lockwatch daemon for {st['root']} (lockwatch {st['version']})",
             f"  pid: {st['pid']}",
             f"  socket: {st['socket']}",
             (f"  uptime: {_ago(st['uptime'])}; idle {_ago(st['idle'])} "
              f"(exits after {st['idle_timeout']:g} s idle)")]
    scan = st.get("scan")
    where = f" (scan of {' '.join(scan['paths'])} from {scan['cwd']})" if scan else " (no scan yet)"
    lines.append(f"  files: {st['files']}{where}")
    lines.append(f"  requests: {st['requests']}; analyses: {st['analyses']}; "
                 f"files summarised: {st['summarised']}")
    last = st.get("last")
    if last:
        import time

        lines.append(f"  last analysis: {last['seconds']:.2f} s, {_ago(time.time() - last['at'])} ago "
                     f"({last['trigger']}, {last['mode']}, {last['files_summarised']} file(s) re-summarised)")
    else:
        lines.append("  last analysis: none yet")
    busy = f" ({st['busy']} running)" if st.get("busy") else ""
    lines.append(f"  up to date: {'yes' if st['up_to_date'] else 'no'}{busy}")
    return "\n".join(lines) + "\n"


def cmd_daemon(args: argparse.Namespace) -> int:
    from lockwatch.daemon import Paths, Unavailable, client, unix_sockets

    if not unix_sockets():
        raise UsageError("the daemon needs Unix domain sockets, which this platform does not have")
    if not os.path.isdir(args.path):
        raise UsageError(f"not a directory: {args.path}")
    root = find_project_root(args.path)
    try:
        paths = Paths(root)
        return _daemon_action(args, paths, client)
    except Unavailable as e:
        raise UsageError(f"daemon: {e}") from None


def _daemon_action(args: argparse.Namespace, paths, client) -> int:
    action = args.daemon_command
    st = client.running(paths)
    if action == "status":
        if st is None:
            print(f"lockwatch: no daemon runs for {paths.root}")
            return EXIT_FINDINGS
        if args.json:
            st = {k: v for k, v in st.items() if k not in ("ok", "blobs")}
            sys.stdout.write(json.dumps(st, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(format_status(st))
        return EXIT_OK
    if action in ("stop", "restart"):
        if st is None:
            if action == "stop":
                print(f"lockwatch: no daemon runs for {paths.root}")
                return EXIT_OK
        else:
            client.ask(paths, {"op": "stop"}, 30.0)
            if not client.wait_until_gone(paths):
                raise UsageError(f"the daemon (pid {st['pid']}) did not stop; see {paths.log}")
            print(f"lockwatch: stopped the daemon for {paths.root} (pid {st['pid']})")
            st = None
        if action == "stop":
            return EXIT_OK
    # start / restart
    if st is not None:
        print(f"lockwatch: a daemon already runs for {paths.root} (pid {st['pid']})")
        return EXIT_OK
    idle = args.idle_timeout
    if idle is not None and not idle > 0:
        raise UsageError("--idle-timeout must be a positive number of seconds")
    client.spawn(paths, idle_timeout=idle, warm=True)
    client.wait_until_up(paths)
    st = client.running(paths)
    pid = st["pid"] if st else "?"
    print(f"lockwatch: started a daemon for {paths.root} (pid {pid}, socket {paths.socket}); "
          "it is analysing the project now")
    return EXIT_OK


# ---- rules / rule ------------------------------------------------------------------

def _halves(rule) -> str:
    return "+".join(h for h, on in (("static", rule.static), ("runtime", rule.runtime)) if on) or "-"


def rules_table(rules: Sequence) -> str:
    rows = [("CODE", "NAME", "KIND", "FOUND BY", "SUMMARY")]
    rows += [(r.code, r.name, r.kind, _halves(r), r.summary) for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def cmd_rules(args: argparse.Namespace) -> int:
    from lockwatch.rules import all_rules

    rules = all_rules()
    if args.format == "json":
        data = [
            {"code": r.code, "name": r.name, "kind": r.kind, "severity": r.severity,
             "static": r.static, "runtime": r.runtime, "summary": r.summary}
            for r in rules
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(rules_table(rules))
    return EXIT_OK


def cmd_rule(args: argparse.Namespace) -> int:
    from lockwatch.rules import all_rules, get

    try:
        rule = get(args.rule)
    except KeyError:
        codes = ", ".join(r.code for r in all_rules()) or "none"
        raise UsageError(f"unknown rule {args.rule!r} (known: {codes}; see 'lockwatch rules')") from None
    sys.stdout.write(rule.doc())
    return EXIT_OK


# ---- entry point ---------------------------------------------------------------------

def _run(argv: list[str]) -> int:
    try:
        from lockwatch.runtime.run import main as run_main
    except ImportError as e:
        raise UsageError(f"'lockwatch run' is not available in this installation: {e}") from e
    return int(run_main(argv) or 0)


def program() -> int:
    """The ``lockwatch`` command and ``python -m lockwatch``: :func:`main` as a whole process.

    A scan's objects (summaries, the linked model) live until the process ends, and some are
    cyclic: once the engine re-enabled the collector, its first full pass over them cost
    ~0.75 s on the CPython stdlib, and the interpreter's own pass at shutdown more, for memory
    the process is about to give back anyway. As a program, the collector therefore stays off
    and what is left at the end is frozen (``gc.freeze``: the shutdown pass skips it). Callers
    of :func:`main` inside a longer-lived process (tests, the pytest plugin) keep their GC,
    and so does ``lockwatch run``: the traced program must run exactly as it would alone."""
    if sys.argv[1:2] != ["scan"]:
        return main()
    return run_plain(sys.argv[1:])


def run_plain(argv: list[str]) -> int:
    """:func:`main` for a ``scan`` in a process of its own (see :func:`program`); also the
    daemon client's fallback."""
    import gc

    gc.disable()
    try:
        return main(argv)
    finally:
        gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "run":
            return _run(argv[1:])
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help/--version (0) or a usage error (2, already printed)
            return e.code if isinstance(e.code, int) else EXIT_ERROR
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        if getattr(args, "daemon", False) and not _IN_DAEMON:
            return _daemon_scan(argv)
        return args.func(args)
    except (ConfigError, UsageError) as e:
        print(f"lockwatch: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("lockwatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `lockwatch rules | head`: the reader left; that is not an error of ours.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_ERROR
    except Exception:  # noqa: BLE001 - not swallowed: traceback printed, exit 2
        traceback.print_exc()
        print(
            f"lockwatch: internal error (lockwatch {__version__}, Python {sys.version.split()[0]}): "
            "this is a bug in lockwatch, not in your code; please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
