"""Which of the static findings' acquisition lines did the tests execute?

coverage.py answers it. When a collector is already running (pytest-cov, ``coverage run -m
pytest``) its data is used, so the test suite is never traced twice; otherwise the plugin
runs its own ``coverage.Coverage`` limited to the files that hold acquisition lines (no
data file written, nothing else measured).

The own collector runs on coverage.py's ``sys.monitoring`` core where there is one (Python
3.12+, coverage.py 7.4+): it stops listening to a line once it has seen it run, so a loop
in a measured file runs at full speed after its first pass. A line-tracing core (3.10/3.11,
or ``COVERAGE_CORE`` set by the user) calls back on every line run in those files, and the
loop watchdog (LW201) is told how much that slows Python code (``slowdown``).
"""

from __future__ import annotations

import os
import sys

# How many times slower a line-tracing core (CTracer) runs pure-Python code in a measured
# file: r4 (a 600k-iteration loop in one loop step) took 0.068-0.076 s plain and
# 0.183-0.263 s under it on 3.11 (2.4-3.9x), 0.079-0.092 s and 0.279-0.309 s on 3.12.1
# (3.0-3.9x). Rounded up: precision first, a discounted step under-counts rather than
# over-counts.
LINE_TRACER_SLOWDOWN = 4.0


def _active():
    try:
        import coverage
    except ImportError:
        return None
    try:
        return coverage.Coverage.current()
    except Exception:  # noqa: BLE001 - no collector is a valid answer
        return None


def _core_name(cov) -> str:
    # No public accessor but sys_info(), which gathers much more; unknown counts as a line
    # tracer (the watchdog then discounts: a miss, not a false alarm).
    try:
        return str(cov._collector.tracer_name())
    except Exception:  # noqa: BLE001
        return ""


class LineCoverage:
    """Start with :meth:`start` as early as possible; :meth:`executed` at the end."""

    def __init__(self, files: list[str]) -> None:
        self.files = sorted({os.path.abspath(f) for f in files})
        self.own = None
        self.source = "none"       # "own" | "active" | "none" (coverage.py missing / nothing to do)
        self.problem = ""
        self.core = ""             # the collector's core: "CTracer", "PyTracer", "SysMonitor"
        self.slowdown = 1.0        # how much the collector slows Python code in measured files

    def start(self) -> None:
        if not self.files:
            return
        active = _active()
        if active is not None:
            # pytest-cov or ``coverage run``: a line-tracing core slows the loop thread's code
            # just as the own collector's does (the watchdog must not time that as a block)
            self.source = "active"
            self.core = _core_name(active)
            self.slowdown = 1.0 if self.core == "SysMonitor" else LINE_TRACER_SLOWDOWN
            return
        try:
            import coverage
        except ImportError:
            self.problem = "coverage.py is not installed: 'executed' cannot be measured"
            return
        try:
            cov = coverage.Coverage(data_file=None, include=self.files, config_file=False, auto_data=False)
            if sys.version_info >= (3, 12) and not os.environ.get("COVERAGE_CORE"):
                try:
                    cov.set_option("run:core", "sysmon")
                except Exception:  # noqa: BLE001, S110 - an older coverage.py: its default core
                    pass
            cov.start()
        except Exception as e:  # noqa: BLE001 - reported in the report, the run goes on
            self.problem = f"could not start coverage.py: {e}"
            return
        self.own = cov
        self.source = "own"
        self.core = _core_name(cov)
        self.slowdown = 1.0 if self.core == "SysMonitor" else LINE_TRACER_SLOWDOWN

    def executed(self) -> dict[str, set[int]] | None:
        """abs path -> executed lines for the files asked for (a file the active collector
        does not measure is left out: unknown, not "never run"); None when nothing measured."""
        own = self.own
        cov = own if own is not None else (_active() if self.source == "active" else None)
        if cov is None:
            return None
        try:
            if own is not None:
                own.stop()
                self.own = None
            data = cov.get_data()
            measured = {os.path.abspath(f): f for f in data.measured_files()}
            loaded = {os.path.abspath(getattr(m, "__file__", None) or "") for m in list(sys.modules.values())}
            out: dict[str, set[int]] = {}
            for f in self.files:
                key = measured.get(f)
                if key is not None:
                    out[f] = set(data.lines(key) or ())
                elif own is not None or f not in loaded:
                    # our collector watched it, or no module was ever loaded from it:
                    # never imported, never run
                    out[f] = set()
            return out
        except Exception as e:  # noqa: BLE001 - reported in the report, the run goes on
            self.problem = f"could not read coverage data: {e}"
            return None
