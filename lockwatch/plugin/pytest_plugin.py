"""pytest plugin (``pytest11`` entry point ``lockwatch``): run the lockwatch tracer over the
test session, pin what it finds on the tests that caused it, fail the tests that really
deadlock, check each test for leaked threads and pending tasks, and join the runtime
findings with the static scan of the project (``--lockwatch-report=FILE``).

Inactive unless ``--lockwatch`` is given or ``lockwatch = true`` is set in the ini
configuration (``[tool.pytest.ini_options]``). See docs/pytest-plugin.md.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pytest

from lockwatch.findings import Finding, Report

DEFAULT_FAIL = ("deadlock", "self-deadlock")
DEFAULT_GRACE = 0.5
_MARKER_KEYS = {"allow", "fail", "strict", "grace", "leaks", "long_hold", "long_wait"}
_ORIGIN_DEPTH = 8  # frames kept per coroutine creation: enough to reach the creating line


# ---------------------------------------------------------------- options and registration
def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("lockwatch", "lockwatch deadlock and leak detection")
    g.addoption("--lockwatch", action="store_true", default=None,
                help="trace locks, threads and tasks in every test; join with the static scan")
    g.addoption("--lockwatch-report", metavar="FILE", default=None,
                help="write the joined report (static + runtime) as JSON to FILE")
    g.addoption("--lockwatch-strict", action="store_true", default=None,
                help="fail a test on any lockwatch finding it causes (default: deadlocks only)")
    g.addoption("--lockwatch-fail", metavar="KINDS", default=None,
                help="comma list of kinds or codes that fail a test (default: deadlock,self-deadlock)")
    g.addoption("--lockwatch-grace", metavar="SECONDS", type=float, default=None,
                help=f"wait this long for a test's threads to end before reporting them (default {DEFAULT_GRACE})")
    g.addoption("--lockwatch-no-static", action="store_true", default=None,
                help="skip the static scan and the join (runtime findings only)")
    g.addoption("--lockwatch-no-coverage", action="store_true", default=None,
                help="do not measure whether static findings were executed")
    parser.addini("lockwatch", "enable the lockwatch plugin (like --lockwatch)", type="bool", default=False)
    parser.addini("lockwatch_report", "joined report file (like --lockwatch-report)", default="")
    parser.addini("lockwatch_strict", "fail tests on any lockwatch finding", type="bool", default=False)
    parser.addini("lockwatch_fail", "kinds or codes that fail a test", type="args",
                  default=list(DEFAULT_FAIL))
    parser.addini("lockwatch_grace", "seconds to wait for a test's threads to end", default=str(DEFAULT_GRACE))
    parser.addini("lockwatch_static", "run the static scan and join it (default true)", type="bool", default=True)
    parser.addini("lockwatch_coverage", "measure executed acquisition lines (default true)", type="bool",
                  default=True)
    parser.addini("lockwatch_scan_paths", "paths the static scan covers (default: the rootdir)", type="args",
                  default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lockwatch(allow=[...], fail=[...], strict=False, grace=SECONDS, leaks=True, long_hold=SECONDS, "
        "long_wait=SECONDS): per-test lockwatch policy (codes or kinds allowed / failing, leak grace, thresholds)",
    )
    if not _active(config):
        return
    plugin = LockwatchPlugin(config)
    config.pluginmanager.register(plugin, "lockwatch-session")
    plugin.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin("lockwatch-session")
    if plugin is not None:
        plugin.stop()
        config.pluginmanager.unregister(plugin)


def _active(config: pytest.Config) -> bool:
    opt = config.getoption("lockwatch")
    return bool(opt) if opt is not None else bool(config.getini("lockwatch"))


def _opt(config: pytest.Config, name: str, ini: str):
    v = config.getoption(name)
    return v if v is not None else config.getini(ini)


# ---------------------------------------------------------------- per-test policy
def _matches(f: Finding, selectors) -> bool:
    for s in selectors:
        s = str(s).strip()
        if not s:
            continue
        if s.upper() == "ALL" or s.lower() == f.kind or f.code.upper().startswith(s.upper()):
            return True
    return False


@dataclass
class Policy:
    fail: tuple = DEFAULT_FAIL
    strict: bool = False
    allow: tuple = ()
    grace: float = DEFAULT_GRACE
    leaks: bool = True
    thresholds: dict = field(default_factory=dict)

    def fails(self, f: Finding) -> bool:
        if _matches(f, self.allow):
            return False
        return self.strict or _matches(f, self.fail)


def _marker_policy(item: pytest.Item, base: Policy) -> Policy:
    p = Policy(base.fail, base.strict, base.allow, base.grace, base.leaks)
    for m in reversed(list(item.iter_markers("lockwatch"))):  # closest marker wins
        if m.args:
            raise ValueError("@pytest.mark.lockwatch takes keyword arguments only")
        bad = set(m.kwargs) - _MARKER_KEYS
        if bad:
            raise ValueError(f"@pytest.mark.lockwatch: unknown argument(s) {', '.join(sorted(bad))} "
                             f"(known: {', '.join(sorted(_MARKER_KEYS))})")
        kw = m.kwargs
        if "allow" in kw:
            p.allow = tuple(p.allow) + tuple(_as_list(kw["allow"]))
        if "fail" in kw:
            p.fail = tuple(p.fail) + tuple(_as_list(kw["fail"]))
        if "strict" in kw:
            p.strict = bool(kw["strict"])
        if "grace" in kw:
            p.grace = float(kw["grace"])
            if p.grace < 0:
                raise ValueError("@pytest.mark.lockwatch: grace must be >= 0")
        if "leaks" in kw:
            p.leaks = bool(kw["leaks"])
        for k in ("long_hold", "long_wait"):
            if k in kw:
                p.thresholds[k] = None if kw[k] is None else float(kw[k])
    return p


def _as_list(v) -> list[str]:
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    return [str(x) for x in v]


# ---------------------------------------------------------------- the session plugin
class LockwatchPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.role = _role(config)
        fail = config.getoption("lockwatch_fail")
        fail_list = _as_list(fail) if fail is not None else list(config.getini("lockwatch_fail"))
        grace = _opt(config, "lockwatch_grace", "lockwatch_grace")
        self.base = Policy(tuple(fail_list), bool(_opt(config, "lockwatch_strict", "lockwatch_strict")),
                           (), float(grace))
        report = config.getoption("lockwatch_report") or config.getini("lockwatch_report")
        self.report_path = (
            os.path.join(str(config.invocation_params.dir), report) if report else None
        )
        no_static = config.getoption("lockwatch_no_static")
        self.static_on = not no_static and bool(config.getini("lockwatch_static"))
        no_cov = config.getoption("lockwatch_no_coverage")
        self.coverage_on = self.static_on and not no_cov and bool(config.getini("lockwatch_coverage"))
        self.static = None
        self.static_error = ""
        self.coverage = None
        self.tracker = None
        self.graph = None
        self.findings: dict[tuple[str, str], Finding] = {}
        self.per_test: dict[str, list[Finding]] = {}
        self.allowed: dict[str, tuple] = {}
        self.payloads: list[dict] = []
        self.final: Report | None = None
        self.current: str | None = None
        self.policy: Policy = self.base
        self._n_findings = self._n_orphans = self._n_edges = self._n_errors = self._n_cycles = 0
        self._saved_opts: dict = {}
        self._origin_depth = None
        self._installed = False
        self._lwcfg = None
        self._executed: dict | None = None

    # -- session lifetime ------------------------------------------------------------
    def start(self) -> None:
        from lockwatch import config as cfgmod
        from lockwatch.plugin.xdist import OrderGraph

        self.graph = OrderGraph()
        try:
            self._lwcfg = cfgmod.load(start=str(self.config.rootpath))
        except cfgmod.ConfigError as e:
            raise pytest.UsageError(f"lockwatch: {e}") from e
        files: list[str] = []
        if self.role in ("single", "controller") and self.static_on:
            self._scan()
            if self.static is not None:
                files = self.static.acquisition_files()
        elif self.role == "worker":
            files = list(self.config.workerinput.get("lockwatch_files", []))  # type: ignore[attr-defined]
            self.coverage_on = bool(self.config.workerinput.get("lockwatch_coverage", False))  # type: ignore[attr-defined]
        if self.role == "controller":
            self._files = files
            return
        if self.coverage_on and files:
            from lockwatch.plugin.coverage_join import LineCoverage

            self.coverage = LineCoverage(files)
            self.coverage.start()
        from lockwatch.plugin.leaks import SITES
        from lockwatch.runtime import api, lifecycle, state

        self.tracker = lifecycle.attach(SITES)
        try:
            api.install(**dict(self._lwcfg.runtime))
        except ValueError as e:
            lifecycle.detach(self.tracker)
            self.tracker = None
            raise pytest.UsageError(f"lockwatch: [tool.lockwatch.runtime]: {e}") from e
        self._installed = True
        if self.coverage is not None and self.coverage.slowdown > 1.0:
            # A line tracer (our own collector's, or pytest-cov's) slows the loop thread's
            # Python code: LW201 must not time that as the program's block (r4).
            # api.uninstall resets it.
            from lockwatch.runtime import loopwatch

            loopwatch.slowdown = self.coverage.slowdown
        self._n_findings = len(state.findings)
        self._n_orphans = len(state.orphans)
        self._n_cycles = len(getattr(state, "cycle_findings", ()))
        self._n_edges = len(state.edges)
        self._n_errors = len(state.errors)
        try:
            self._origin_depth = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(max(self._origin_depth, _ORIGIN_DEPTH))
        except Exception:  # noqa: BLE001 - origins are a nicety
            self._origin_depth = None

    def stop(self) -> None:
        if self._installed:
            from lockwatch.runtime import api

            api.uninstall()
            self._installed = False
        if self.tracker is not None:
            from lockwatch.runtime import lifecycle

            lifecycle.detach(self.tracker)
            self.tracker = None
        if self._origin_depth is not None:
            sys.set_coroutine_origin_tracking_depth(self._origin_depth)
            self._origin_depth = None

    def _scan(self) -> None:
        from lockwatch.plugin.join import static_scan

        root = str(self.config.rootpath)
        paths = [os.path.join(root, p) for p in self.config.getini("lockwatch_scan_paths")] or [root]
        try:
            self.static = static_scan(paths, self._lwcfg)
        except Exception as e:  # noqa: BLE001 - a scan failure must not cost the test run
            self.static_error = f"static scan failed: {type(e).__name__}: {e}"

    # -- xdist -------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput["lockwatch_files"] = list(getattr(self, "_files", []))
        node.workerinput["lockwatch_coverage"] = bool(self.coverage_on)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        from lockwatch.plugin.xdist import PAYLOAD_KEY

        out = getattr(node, "workeroutput", None) or {}
        p = out.get(PAYLOAD_KEY)
        if p is not None:
            self.payloads.append(p)

    # -- per test ----------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        if self.tracker is None:
            yield
            return
        self._harvest(None)  # whatever happened between tests belongs to no test
        self.current = item.nodeid
        self.tracker.test = item.nodeid
        self.per_test[item.nodeid] = []
        try:
            self.policy = _marker_policy(item, self.base)
            bad = ""
        except (ValueError, TypeError) as e:
            self.policy = self.base
            bad = str(e)
        item.stash[_BAD_MARKER] = bad
        self.allowed[item.nodeid] = self.policy.allow
        self._apply_thresholds(self.policy.thresholds)
        try:
            yield
        finally:
            self._restore_thresholds()
            self.current = None
            self.tracker.test = None
            self.tracker.phase = "between"
            self.policy = self.base

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        if self.tracker is not None:
            self.tracker.phase = "setup"
        bad = item.stash.get(_BAD_MARKER, "")
        if bad:
            pytest.fail(bad, pytrace=False)
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        if self.tracker is not None:
            self.tracker.phase = "call"
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        if self.tracker is not None:
            self.tracker.phase = "teardown"
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if self.tracker is None or call.when == "setup":
            return
        rep = outcome.get_result()
        test = item.nodeid
        new = self._harvest(test)
        if call.when == "teardown":
            new += self._leaks(test)
        failing = [f for f in new if self.policy.fails(f)]
        if not failing:
            return
        text = "\n".join(_render_failure(f) for f in failing)
        if rep.passed:
            rep.outcome = "failed"
            rep.longrepr = "lockwatch: " + text
        else:
            rep.sections.append(("lockwatch", text))

    @pytest.hookimpl(optionalhook=True)
    def pytest_warning_recorded(self, warning_message, when, nodeid, location) -> None:
        if self.tracker is None or not issubclass(warning_message.category, RuntimeWarning):
            return
        from lockwatch.plugin.leaks import unawaited_finding

        test = nodeid or self.current
        if not test:
            return
        f = unawaited_finding(str(warning_message.message), warning_message.filename,
                              warning_message.lineno, test)
        if f is not None:
            self._add(f, test)

    # -- collecting ----------------------------------------------------------------------
    def _harvest(self, test: str | None) -> list[Finding]:
        """Findings and order edges recorded since the last harvest, pinned on ``test``."""
        from lockwatch.plugin.xdist import annotate_cycle, edge_record
        from lockwatch.runtime import api, state

        with state.mutex:
            # A test may reset the tracer's state (state.reset()): start counting afresh.
            if len(state.edges) < self._n_edges:
                self._n_edges = 0
            if len(state.findings) < self._n_findings:
                self._n_findings = 0
            if len(state.orphans) < self._n_orphans:
                self._n_orphans = 0
            if len(getattr(state, "cycle_findings", ())) < self._n_cycles:
                self._n_cycles = 0
            n_e = len(state.edges)
            new_edges = list(islice(state.edges.items(), self._n_edges, None)) if n_e > self._n_edges else []
            n_f, n_o = len(state.findings), len(state.orphans)
            n_c = len(getattr(state, "cycle_findings", ()))
        for (a, b), e in new_edges:
            self.graph.add(edge_record(a, b, e, [test] if test else []))
        self._n_edges = n_e
        new: list[Finding] = []
        if n_f > self._n_findings or n_o > self._n_orphans or n_c > self._n_cycles:
            if hasattr(state, "cycle_findings"):
                found = api.collect(self._n_findings, self._n_orphans, self._n_cycles)
            else:
                found = api.collect(self._n_findings, self._n_orphans)
            self._n_findings, self._n_orphans, self._n_cycles = n_f, n_o, n_c
            for f in found:
                if f.code == "LW101":
                    annotate_cycle(f, self.graph)
                f.extra.setdefault("origin", "runtime")
                new.append(self._add(f, test))
        return new

    def _add(self, f: Finding, test: str | None) -> Finding:
        k = (f.code, f.fingerprint)
        old = self.findings.get(k)
        if old is None:
            self.findings[k] = old = f
        tests = set(old.extra.get("tests", ())) | set(f.extra.get("tests", ()))
        if test:
            tests.add(test)
            self.per_test.setdefault(test, []).append(old)
        old.extra["tests"] = sorted(tests)
        return old

    def _leaks(self, test: str) -> list[Finding]:
        from lockwatch.plugin.leaks import join, task_finding, thread_finding

        if not self.policy.leaks:
            self.tracker.forget(test)
            return []
        grace = self.policy.grace
        out = []
        for r in self.tracker.threads_left(test, grace, join=join):
            out.append(self._add(thread_finding(r, test, grace), test))
        tasks = self.tracker.tasks_left(test)
        for r in tasks:
            out.append(self._add(task_finding(r, test), test))
        return out

    def _apply_thresholds(self, th: dict) -> None:
        if not th:
            return
        from lockwatch.runtime import state

        for k, v in th.items():
            self._saved_opts[k] = getattr(state.options, k)
            setattr(state.options, k, v or None)

    def _restore_thresholds(self) -> None:
        if not self._saved_opts:
            return
        from lockwatch.runtime import state

        for k, v in self._saved_opts.items():
            setattr(state.options, k, v)
        self._saved_opts = {}

    def test_findings(self, test: str) -> list[Finding]:
        if self.tracker is not None and self.current == test:
            self._harvest(test)
        return list({id(f): f for f in self.per_test.get(test, [])}.values())

    # -- the end -------------------------------------------------------------------------
    def _runtime_payload(self) -> dict[str, Any]:
        from lockwatch.runtime import state

        self._harvest(None)
        if self.tracker is not None:
            # Threads and tasks started by fixtures during setup: checked once everything
            # was torn down.
            from lockwatch.plugin.leaks import join, task_finding, thread_finding

            thread_tests, task_tests = self.tracker.tests()
            for test in thread_tests:
                for r in self.tracker.threads_left(test, self.base.grace, include_setup=True, join=join):
                    self._add(thread_finding(r, test, self.base.grace), test)
            for test in task_tests:
                for r in self.tracker.tasks_left(test, include_setup=True):
                    self._add(task_finding(r, test), test)
        # Locks released by threads that did not take them are signals, not mutexes: the
        # tracer drops cycles through them, and so does the merged search.
        handoff = sorted(c.key for c in list(state.classes.values()) if getattr(c, "handoff", False))
        hs = set(handoff)
        findings = [
            f for f in self.findings.values()
            if not self._allowed(f) and not (f.code == "LW101" and hs.intersection(f.locks))
        ]
        if self._executed is None:
            self._measure()
        executed = self._executed or None
        return {
            "edges": list(self.graph.edges.values()),
            "handoff": handoff,
            "findings": [f.to_dict() for f in findings],
            "executed": executed,
            "errors": list(state.errors[self._n_errors:]),
            "coverage": self._coverage_note(),
        }

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtestloop(self, session):
        # Innermost wrapper: read the coverage data right after the last test, before
        # pytest-cov (an outer wrapper) stops and saves its collector.
        yield
        if self.tracker is not None:
            self._measure()

    def _measure(self) -> None:
        self._executed = {}
        if self.coverage is not None:
            from lockwatch.runtime import loopwatch

            loopwatch.slowdown = 1.0   # the own collector stops here (the rest is over too)
            ex = self.coverage.executed()
            if ex is not None:
                self._executed = {p: sorted(v) for p, v in ex.items()}

    def _coverage_note(self) -> str:
        c = self.coverage
        if c is None:
            return "not measured" if not self.coverage_on else "nothing to measure"
        return c.problem or f"measured ({'the active coverage.py collector' if c.source == 'active' else 'own collector'})"

    def _allowed(self, f: Finding) -> bool:
        tests = f.extra.get("tests") or []
        if not tests:
            return False
        return all(_matches(f, self.allowed.get(t, ())) for t in tests)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        from lockwatch.plugin.xdist import PAYLOAD_KEY, merge_payloads

        if self.role == "worker":
            if self.tracker is not None:
                self.config.workeroutput[PAYLOAD_KEY] = self._runtime_payload()  # type: ignore[attr-defined]
            return
        if self.role == "single":
            payloads = [self._runtime_payload()] if self.tracker is not None else []
        else:
            payloads = self.payloads
        merged = merge_payloads(payloads)
        self.final = self._join(merged, [p.get("coverage", "") for p in payloads])
        if self.report_path:
            try:
                with open(self.report_path, "w", encoding="utf-8") as fh:
                    json.dump(self.final.to_dict(), fh, indent=2)
                    fh.write("\n")
            except OSError as e:
                self.static_error = (self.static_error + "; " if self.static_error else "") + \
                    f"cannot write {self.report_path}: {e.strerror or e}"

    def _join(self, merged: dict, cov_notes: list[str]) -> Report:
        from lockwatch.plugin.join import join
        from lockwatch.plugin.xdist import annotate_cycle

        graph = merged["graph"]
        findings: list[Finding] = merged["findings"]
        seen = {(f.code, f.fingerprint) for f in findings}
        for f in findings:
            if f.code == "LW101":
                annotate_cycle(f, graph)
        # Cycles no single process closed: halves of an inversion on different workers.
        for cyc in graph.cycles():
            f = graph.cycle_finding(cyc)
            if (f.code, f.fingerprint) in seen:
                continue
            annotate_cycle(f, graph)
            seen.add((f.code, f.fingerprint))
            findings.append(f)
        executed = None
        if merged["executed"] is not None:
            executed = {p: set(v) for p, v in merged["executed"].items()}
        note = "; ".join(sorted({n for n in cov_notes if n})) or ("not measured")
        rep = join(self.static, findings, graph, executed, merged["errors"], note)
        if self.static_error:
            from lockwatch.findings import InputError

            rep.errors.append(InputError("<lockwatch plugin>", self.static_error))
        info = rep.extra.setdefault("plugin", {})
        info["mode"] = "xdist" if self.role == "controller" else "single"
        if self.role == "controller":
            info["workers"] = len(self.payloads)
        info["static_seconds"] = round(self.static.seconds, 3) if self.static is not None else None
        return rep

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.final is None:
            return
        from lockwatch.plugin.join import describe, rank

        tr = terminalreporter
        rep = self.final
        tr.write_sep("=", "lockwatch")
        fs = sorted(rep.findings, key=rank)
        runtime = [f for f in fs if f.extra.get("origin") == "runtime"]
        static = [f for f in fs if f.extra.get("origin") != "runtime"]
        n_conf = sum(1 for f in static if f.confirmed)
        n_unexec = sum(1 for f in static if f.executed is False)
        tr.write_line(
            f"runtime: {len(runtime)} finding(s); static: {len(static)} finding(s), {n_conf} confirmed by the "
            f"tests, {n_unexec} never executed; runtime edges the static graph lacks: "
            f"{len(rep.extra.get('missed_by_static', []))}"
        )
        limit = 10 if tr.config.option.verbose <= 0 else len(fs)
        for f in fs[:limit]:
            tr.write_line(describe(f))
        if len(fs) > limit:
            tr.write_line(f"... {len(fs) - limit} more" + (" in " + self.report_path if self.report_path else
                                                          " (use -v or --lockwatch-report=FILE)"))
        for e in rep.errors:
            tr.write_line(f"{e.path}: error: {e.message}")
        if self.report_path and os.path.exists(self.report_path):
            tr.write_line(f"joined report written to {self.report_path}")


def _role(config: pytest.Config) -> str:
    if hasattr(config, "workerinput"):
        return "worker"
    dist = getattr(config.option, "dist", "no")
    n = getattr(config.option, "numprocesses", None)
    if dist and dist != "no" and n not in (None, 0):
        return "controller"
    if getattr(config.option, "tx", None) and dist and dist != "no":
        return "controller"
    return "single"


_BAD_MARKER = pytest.StashKey[str]()


def _render_failure(f: Finding) -> str:
    """The finding with every involved thread's stack, without the test runner's frames."""
    from dataclasses import replace

    from lockwatch.plugin.leaks import _is_runner
    from lockwatch.report.text import render_finding

    def trim(stack):
        return [fr for fr in stack if not _is_runner(fr.rsplit(":", 1)[0].rsplit(" in ", 1)[0])]

    shown = replace(f, stacks=[trim(s) for s in f.stacks] if f.stacks else f.stacks)
    lines = render_finding(shown)
    others = f.extra.get("other_threads") or {}
    for name, stack in others.items():
        stack = trim(stack)
        if stack:
            lines.append(f"    other thread {name}:")
            lines.extend("        " + fr for fr in stack)
    return "\n".join(lines)


# ---------------------------------------------------------------- the fixture
class LockwatchFixture:
    """What the tracer saw during the current test (``lockwatch`` fixture)."""

    def __init__(self, plugin: LockwatchPlugin, item: pytest.Item) -> None:
        self._plugin = plugin
        self._item = item

    @property
    def findings(self) -> list[Finding]:
        """Runtime findings pinned on this test so far (leak checks run after teardown)."""
        return self._plugin.test_findings(self._item.nodeid)

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Lock-order edges (lock class keys, ``path:line``) first seen during this test."""
        self._plugin.test_findings(self._item.nodeid)
        nid = self._item.nodeid
        return [k for k, e in self._plugin.graph.edges.items() if nid in e.get("tests", ())]

    def allow(self, *selectors: str) -> None:
        """Allow findings of these codes/kinds for this test (as the marker's ``allow``)."""
        p = self._plugin
        if p.current == self._item.nodeid:
            p.policy.allow = tuple(p.policy.allow) + selectors
            p.allowed[self._item.nodeid] = p.policy.allow

    def report(self) -> Report:
        return Report("runtime", findings=self.findings)


@pytest.fixture
def lockwatch(request: pytest.FixtureRequest) -> LockwatchFixture:
    """Inspect the lockwatch findings of the running test (needs ``--lockwatch``)."""
    plugin = request.config.pluginmanager.get_plugin("lockwatch-session")
    if plugin is None or plugin.tracker is None:
        pytest.skip("the lockwatch plugin is not active (run pytest with --lockwatch)")
    return LockwatchFixture(plugin, request.node)
