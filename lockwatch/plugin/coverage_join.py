"""Which of the static findings' acquisition lines did the tests execute?

coverage.py answers it. When a collector is already running (pytest-cov, ``coverage run -m
pytest``) its data is used, so the test suite is never traced twice; otherwise the plugin
runs its own ``coverage.Coverage`` limited to the files that hold acquisition lines (no
data file written, nothing else measured).
"""

from __future__ import annotations

import os


def _active():
    try:
        import coverage
    except ImportError:
        return None
    try:
        return coverage.Coverage.current()
    except Exception:  # noqa: BLE001 - no collector is a valid answer
        return None


class LineCoverage:
    """Start with :meth:`start` as early as possible; :meth:`executed` at the end."""

    def __init__(self, files: list[str]) -> None:
        self.files = sorted({os.path.abspath(f) for f in files})
        self.own = None
        self.source = "none"       # "own" | "active" | "none" (coverage.py missing / nothing to do)
        self.problem = ""

    def start(self) -> None:
        if not self.files:
            return
        if _active() is not None:
            self.source = "active"
            return
        try:
            import coverage
        except ImportError:
            self.problem = "coverage.py is not installed: 'executed' cannot be measured"
            return
        try:
            cov = coverage.Coverage(data_file=None, include=self.files, config_file=False, auto_data=False)
            cov.start()
        except Exception as e:  # noqa: BLE001 - reported in the report, the run goes on
            self.problem = f"could not start coverage.py: {e}"
            return
        self.own = cov
        self.source = "own"

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
            import sys

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
