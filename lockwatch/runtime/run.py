"""``lockwatch run [OPTIONS] SCRIPT [ARGS...]`` / ``lockwatch run [OPTIONS] -m MODULE [ARGS...]``.

Runs the program as ``python SCRIPT`` / ``python -m MODULE`` would (``sys.argv``,
``__main__``, ``sys.path[0]``, ``__file__``, via runpy) with the tracer installed, then
reports. The report is written also when the program raises (the traceback is printed as
Python prints it), calls ``sys.exit`` or is interrupted. Like the interpreter, it waits for
non-daemon threads before reporting.

Exit status: the program's when non-zero; else 1 with findings; else 0; 2 for a usage or
configuration error. Without ``--output`` the report goes to stderr, so that the program's
own stdout stays its own.

Options come from ``[tool.lockwatch.runtime]`` (via :func:`lockwatch.config.load`), then
the command line wins.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import traceback

USAGE = """\
usage: lockwatch run [OPTIONS] SCRIPT [ARGS ...]
       lockwatch run [OPTIONS] -m MODULE [ARGS ...]

Run a Python program under the lockwatch runtime tracer, then report.

options:
  --format {text,json,sarif,github}  report format (default: text)
  --output FILE                      write the report to FILE (default: stderr)
  --report-only                      never break a deadlock (no DeadlockError); report only
  --long-hold SECONDS                report locks held longer (default 5; 0 = off)
  --long-wait SECONDS                report acquisitions waiting longer (default 5; 0 = off)
  --starvation N                     report a waiter passed over N times (default 20; 0 = off)
  --starvation-time SECONDS          ... while waiting at least this long (default 1)
  --self-deadlock-grace SECONDS      wait this long for another thread to release a lock
                                     re-acquired by its holder before reporting (default 0.5)
  --watch-class pkg.mod.Class        check this class's attributes for races (lockset;
                                     repeatable; classes marked lockwatch.thread_safe or
                                     guarded_by are watched anyway)
  --no-races                         do not watch marked classes either
  --backlog-threshold N              report an unbounded queue whose backlog passes N items
                                     and keeps rising while drained (default 5000)
  --loop-block SECONDS               report an event loop blocked this long in one step
                                     (default 0.1; 0 = off)
  --thread-grace SECONDS             let threads still running when the program ends this
                                     long to finish before reporting them (default 0.5)
  --config FILE                      configuration file (pyproject.toml or lockwatch.toml)
  -h, --help                         show this help
"""

_VALUED = {
    "--format": "format",
    "--output": "output",
    "-o": "output",
    "--long-hold": "long_hold",
    "--long-wait": "long_wait",
    "--starvation": "starvation_passes",
    "--starvation-time": "starvation_time",
    "--self-deadlock-grace": "self_deadlock_grace",
    "--deadlock-confirm": "deadlock_confirm",
    "--config": "config",
    "--backlog-threshold": "backlog_threshold",
    "--loop-block": "loop_block",
    "--thread-grace": "thread_grace",
}
FORMATS = ("text", "json", "sarif", "github")


class UsageError(Exception):
    pass


class _Help(Exception):
    pass


def parse(argv: list[str]) -> tuple[dict, str, str, list[str]]:
    """-> (options, mode 'script'|'module', target, program args)."""
    opts: dict = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            raise _Help()
        if a == "--report-only":
            opts["report_only"] = True
            i += 1
            continue
        if a == "--no-races":
            opts["races"] = False
            i += 1
            continue
        if a == "--watch-class" or a.startswith("--watch-class="):
            val = a.partition("=")[2]
            if not val:
                if i + 1 >= len(argv):
                    raise UsageError("--watch-class needs a value")
                val = argv[i + 1]
                i += 1
            opts.setdefault("watch_classes", []).append(val)
            i += 1
            continue
        if a == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name")
            return opts, "module", argv[i + 1], argv[i + 2:]
        if a.startswith("-m") and len(a) > 2 and not a.startswith("--"):
            return opts, "module", a[2:], argv[i + 1:]
        name, eq, val = a.partition("=")
        if name in _VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{name} needs a value")
                val = argv[i + 1]
                i += 1
            opts[_VALUED[name]] = val
            i += 1
            continue
        if a == "--":
            i += 1
            if i >= len(argv):
                break
            return opts, "script", argv[i], argv[i + 1:]
        if a.startswith("-") and a != "-":
            raise UsageError(f"unknown option {a}")
        return opts, "script", a, argv[i + 1:]
    raise UsageError("nothing to run: give a SCRIPT or -m MODULE")


def _runtime_options(opts: dict) -> dict:
    out: dict = {}
    try:
        from lockwatch import config as cfgmod

        cfg = cfgmod.load(config_file=opts.get("config")) if hasattr(cfgmod, "load") else None
        # One setting for both halves: [tool.lockwatch] daemon-threads judges daemon threads
        # statically (LW211) and at the end of a run; the runtime table may override it.
        if getattr(cfg, "daemon_threads", None):
            out["daemon_threads"] = cfg.daemon_threads
        out.update(getattr(cfg, "runtime", {}) or {})
    except Exception as e:
        if type(e).__name__ == "ConfigError":
            raise UsageError(str(e)) from e
        raise
    for k in ("report_only", "long_hold", "long_wait", "starvation_passes", "starvation_time",
              "self_deadlock_grace", "deadlock_confirm", "races", "backlog_threshold",
              "loop_block", "thread_grace"):
        if k in opts:
            out[k] = opts[k]
    if "watch_classes" in opts:
        prev = out.get("watch_classes") or []
        out["watch_classes"] = [*([prev] if isinstance(prev, str) else prev), *opts["watch_classes"]]
    # Keys the launcher uses itself may also sit in the table.
    for k in ("format", "output"):
        if k in out:
            opts.setdefault(k, out.pop(k))
    return out


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(f"{code}\n")
    except Exception:
        pass
    return 1


def _print_exception(exc: BaseException) -> None:
    # Like the interpreter's own report, without lockwatch's and runpy's frames on top.
    tb = exc.__traceback__
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if os.path.basename(fn) == "runpy.py" or fn.startswith("<frozen runpy") or (
            os.sep + "lockwatch" + os.sep in fn and os.sep + "runtime" + os.sep in fn
        ):
            tb = tb.tb_next
            continue
        break
    try:
        sys.stdout.flush()
    except Exception:
        pass
    traceback.print_exception(type(exc), exc, tb)


def _wait_for_threads() -> None:
    # What the interpreter does before exiting (threading._shutdown): run the threading atexit
    # hooks (concurrent.futures wakes its idle workers there: without it a pool never shut
    # down would be waited for forever), then wait for non-daemon threads.
    hooks = getattr(threading, "_threading_atexits", None)
    while hooks:
        try:
            hooks.pop()()
        except Exception:
            pass
    me = threading.current_thread()
    for t in list(threading.enumerate()):
        if t is me or t.daemon or t is threading.main_thread():
            continue
        try:
            t.join()
        except Exception:
            pass


def run_program(mode: str, target: str, args: list[str]) -> int:
    if mode == "script":
        sys.argv = [target, *args]
        if not os.path.exists(target):
            sys.stderr.write(f"{sys.executable}: can't open file {os.path.abspath(target)!r}: "
                             f"[Errno 2] No such file or directory\n")
            return 2
        sys.path[0] = os.path.dirname(os.path.abspath(target))
        g = runpy.run_path(target, run_name="__main__")
    else:
        sys.argv = [target, *args]
        sys.path[0] = os.getcwd()
        g = runpy.run_module(target, run_name="__main__", alter_sys=True)
    _program_end()  # while the program's globals are alive, as they are at a real exit
    del g
    return 0


def _program_end() -> None:
    from lockwatch.runtime import lifecycle, state

    lifecycle.program_end(state.options.thread_grace)


def main(argv: list[str]) -> int:
    try:
        opts, mode, target, args = parse(list(argv))
    except _Help:
        sys.stdout.write(USAGE)
        return 0
    except UsageError as e:
        sys.stderr.write(f"lockwatch run: error: {e}\n{USAGE.splitlines()[0]}\n")
        return 2
    try:
        fmt = opts.get("format", "text")
        runtime_opts = _runtime_options(opts)
        fmt = opts.get("format", fmt)
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
        from lockwatch.runtime import state

        state.Options.from_mapping(runtime_opts)  # validate before running anything
    except UsageError as e:
        sys.stderr.write(f"lockwatch run: error: {e}\n")
        return 2
    except ValueError as e:
        sys.stderr.write(f"lockwatch run: error: {e}\n")
        return 2

    from lockwatch.runtime import api

    api.install(**runtime_opts)
    code = 0
    try:
        try:
            code = run_program(mode, target, args)
            _wait_for_threads()
        except SystemExit as e:
            code = _exit_code(e.code)
            _program_end()
            _wait_for_threads()
        except KeyboardInterrupt as e:
            _print_exception(e)
            code = 130
        except BaseException as e:  # the program's own error: printed like Python does
            _print_exception(e)
            code = 1
            _wait_for_threads()
    finally:
        try:
            sys.stdout.flush()
        except Exception:
            pass
        report = api.build_report()
        _write(report, fmt, opts.get("output"))
    if code:
        return code
    return 1 if report.findings else 0


def _write(report, fmt: str, output: str | None) -> None:
    try:
        from lockwatch.report import render, write
    except Exception:
        render = write = None
    if output and output != "-":
        if write is not None:
            write(report, fmt, output)
        else:  # pragma: no cover - before the report package existed
            import json

            with open(output, "w", encoding="utf-8") as fh:
                json.dump(report.to_dict(), fh, indent=2)
        return
    if render is not None:
        text = render(report, fmt)
    else:  # pragma: no cover
        import json

        text = json.dumps(report.to_dict(), indent=2) + "\n"
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        pass
