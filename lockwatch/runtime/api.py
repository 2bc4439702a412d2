"""Embedding API: ``lockwatch.install()``/``uninstall()`` and ``with lockwatch.watch() as w``.

    with lockwatch.watch(long_hold=1.0) as w:
        run_my_threads()
    for f in w.findings: ...
    w.report()  # -> Report(source="runtime")

Options (also ``[tool.lockwatch.runtime]`` keys and ``lockwatch run`` flags):
``report_only`` (never raise DeadlockError), ``long_hold``, ``long_wait`` (seconds, 0 = off),
``starvation_passes``, ``starvation_time``, ``self_deadlock_grace``, ``deadlock_confirm``.
Nested/duplicate installs are counted; options given to a nested install are ignored
(the outermost install's options stay in force).
"""

from __future__ import annotations

import os

from lockwatch.findings import Finding, InputError, Report
from lockwatch.runtime import detect, install as _install, state, watchdog


def install(**options) -> None:
    """Start tracing locks created from now on (idempotent; calls nest)."""
    if not _install.installed():
        state.options = state.Options.from_mapping(options)
    _install.install()
    if _install._count == 1:
        from lockwatch.runtime import lifecycle, loopwatch

        loopwatch.install(state.options.loop_block)
        lifecycle.install()
        watchdog.start()
        if state.options.races or state.options.watch_classes:
            from lockwatch.runtime import lockset

            lockset.start(state.options.watch_classes, markers=state.options.races)


def uninstall() -> None:
    """Undo one ``install()``; the last one restores the original factories exactly."""
    _install.uninstall()
    if not _install.installed():
        from lockwatch.runtime import lifecycle, loopwatch

        lifecycle.uninstall()
        loopwatch.uninstall()
        watchdog.stop()
        from lockwatch.runtime import lockset

        lockset.stop()


def _suppressed(findings: list[Finding]) -> list[Finding]:
    from lockwatch import suppress

    cache: dict[str, object] = {}

    def lookup(path: str):
        if path not in cache:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    cache[path] = suppress.suppressions_in(fh.read())
            except OSError:
                cache[path] = None
        return cache[path]

    return suppress.apply(findings, lookup)


def collect(since: int = 0, since_orphans: int = 0, since_cycles: int = 0) -> list[Finding]:
    """Findings recorded so far (plus leaks still standing), suppressions applied."""
    with state.mutex:
        found = list(state.findings[since:])
        orphans = state.orphans[since_orphans:]
        cycles = state.cycle_findings[since_cycles:]
    found += detect.cycle_findings(cycles)
    found += detect.leak_findings(orphans)
    from lockwatch.runtime import lockset

    found += lockset.findings()
    from lockwatch.runtime import backlog

    found += backlog.findings()
    seen = set()
    out = []
    for f in found:
        if (f.code, f.fingerprint) in seen:
            continue
        seen.add((f.code, f.fingerprint))
        out.append(f)
    return _suppressed(out)


def build_report(since: int = 0, since_orphans: int = 0, since_errors: int = 0,
                 since_cycles: int = 0) -> Report:
    from lockwatch.runtime import backlog, contention

    findings = collect(since, since_orphans, since_cycles)
    errors = [InputError("<lockwatch runtime>", m) for m in state.errors[since_errors:]]
    return Report(
        source="runtime",
        findings=findings,
        errors=errors,
        extra={
            "runtime": {
                "lock_classes": len(state.classes),
                "order_edges": len(state.edges),
                "python": ".".join(map(str, __import__("sys").version_info[:3])),
                "pid": os.getpid(),
            },
            "contention": contention.profile(),
            "backlog": backlog.high_water_marks(),
        },
    )


class watch:
    """Context manager: install on enter, uninstall on exit; ``findings``/``report()``
    cover what happened inside the block (the order graph itself is shared and kept)."""

    def __init__(self, **options):
        self.options = options
        self._since = self._since_orphans = self._since_errors = self._since_cycles = 0
        self._final: Report | None = None

    def __enter__(self) -> "watch":
        install(**self.options)
        self._since = len(state.findings)
        self._since_orphans = len(state.orphans)
        self._since_errors = len(state.errors)
        self._since_cycles = len(state.cycle_findings)
        from lockwatch.runtime import lifecycle

        self._since_threads = lifecycle.mark()
        return self

    def __exit__(self, *exc) -> None:
        from lockwatch.runtime import lifecycle

        # Threads started in the block and still running after a grace period (LW211).
        lifecycle.threads_alive(self._since_threads, state.options.thread_grace, "the watch() block ended")
        self._final = self.report()
        uninstall()

    @property
    def findings(self) -> list[Finding]:
        if self._final is not None:
            return list(self._final.findings)
        return collect(self._since, self._since_orphans, self._since_cycles)

    def report(self) -> Report:
        if self._final is not None:
            return self._final
        return build_report(self._since, self._since_orphans, self._since_errors, self._since_cycles)
