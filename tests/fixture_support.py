"""Shared helpers for the fixture corpus (``fixtures/<area>/<case>/``): loading cases,
running the two halves of lockwatch on them, comparing with ``expected.json`` and
formatting readable differences.

Also a scoring script, run from the repository root::

    python -m tests.fixture_support --report            # static and runtime
    python -m tests.fixture_support --report --static   # one half only
    python -m tests.fixture_support --report --json     # machine-readable

It prints, per area and per hazard code, the recall (expected findings found) and the
false positives (extra findings on positive cases, findings on clean cases).

Expectations come from what each little program really does (a human judgement), never
from what the tool happens to print: see ``fixtures/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
AREAS = ("lock_order", "self_deadlock", "acquire_release", "blocking_under_lock", "async", "races", "backlog")

# Files of a case directory that are scaffolding, not the program under analysis.
SCAFFOLDING = {"expected.json", "driver.py", "README.md", "__pycache__"}

# Runtime kinds whose presence is deterministic for these drivers: an unexpected one is a
# false alarm. Timing-based kinds (blocking-under-lock, long waits) depend on machine load,
# so an unexpected one is reported by the score script but does not fail a test.
STRICT_RUNTIME_KINDS = frozenset(
    {"lock-order-cycle", "deadlock", "self-deadlock", "acquire-without-release", "unbounded-backlog"}
)

CODE_RE = re.compile(r"^LW\d{3}$")
STATIC_KEYS = {"code", "path", "line", "lines"}
RUNTIME_KEYS = {"code", "kind"}
TOP_KEYS = {
    "static", "runtime", "source", "summary", "lookalike_of", "really_deadlocks", "notes",
    "runtime_args", "known_gap_static",
}

PLAIN_TIMEOUT = 20.0     # a driver under plain python: generous, it must never hang
RUNTIME_TIMEOUT = 30.0   # a driver under `lockwatch run`


# --------------------------------------------------------------------------- loading


@dataclass
class Case:
    area: str
    name: str
    dir: Path
    expected: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.area}/{self.name}"

    @property
    def static(self) -> list[dict[str, Any]]:
        return list(self.expected.get("static", []))

    @property
    def runtime(self) -> list[dict[str, Any]] | None:
        rt = self.expected.get("runtime")
        return None if rt is None else list(rt)

    @property
    def driver(self) -> Path | None:
        p = self.dir / "driver.py"
        return p if p.is_file() else None

    @property
    def runtime_args(self) -> list[str]:
        """Extra ``lockwatch run`` options (thresholds): a blocking case sets short
        long-hold/long-wait thresholds instead of holding locks for the 5 s default."""
        return [str(a) for a in self.expected.get("runtime_args", [])]

    @property
    def strict_runtime_kinds(self) -> frozenset[str]:
        # With thresholds set deliberately (and drivers holding far longer, or not at all),
        # blocking-under-lock is deterministic too.
        if self.runtime_args:
            return STRICT_RUNTIME_KINDS | {"blocking-under-lock"}
        return STRICT_RUNTIME_KINDS

    @property
    def really_deadlocks(self) -> bool:
        return bool(self.expected.get("really_deadlocks", False))

    @property
    def is_clean(self) -> bool:
        """A clean look-alike: nothing expected from either half."""
        return not self.static and not (self.runtime or [])

    def program_paths(self) -> list[str]:
        """What the static half analyses, relative to the case directory (the driver is
        test scaffolding, not part of the program)."""
        return sorted(
            p.name for p in self.dir.iterdir()
            if p.name not in SCAFFOLDING and not p.name.startswith(".")
            and (p.is_dir() or p.suffix == ".py")
        )

    def source_files(self) -> list[Path]:
        out: list[Path] = []
        for rel in self.program_paths():
            p = self.dir / rel
            out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
        return out


def load_cases(root: Path = FIXTURES) -> list[Case]:
    cases = []
    for exp in sorted(root.glob("*/*/expected.json")):
        d = exp.parent
        with open(exp, encoding="utf-8") as fh:
            data = json.load(fh)
        cases.append(Case(d.parent.name, d.name, d, data))
    return cases


def cases_with_driver(root: Path = FIXTURES) -> list[Case]:
    return [c for c in load_cases(root) if c.driver is not None]


# ------------------------------------------------------------------------ validation


def acceptable_locations(entry: dict[str, Any]) -> set[tuple[str, int]]:
    """(path, line) pairs a finding's primary location may take. ``lines`` items are line
    numbers in ``path`` or ``"other/path.py:LINE"`` strings: a cycle or a call chain can
    cross modules, and the analyser chooses which of its locations is primary."""
    if "line" in entry:
        return {(entry["path"], int(entry["line"]))}
    out = set()
    for x in entry["lines"]:
        if isinstance(x, str):
            path, _, line = x.rpartition(":")
            out.add((path, int(line)))
        else:
            out.add((entry["path"], int(x)))
    return out


def validate_case(case: Case) -> list[str]:
    """Problems with the case itself (schema, dangling lines): the corpus must be sound
    before it can judge the analyser."""
    problems: list[str] = []
    e = case.expected
    unknown = set(e) - TOP_KEYS
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    if "static" not in e:
        problems.append('missing "static" (use [] for a clean case)')
    if not str(e.get("summary", "")).strip():
        problems.append('missing "summary"')
    if case.area not in AREAS:
        problems.append(f"unknown area {case.area!r}")
    files = {p.relative_to(case.dir).as_posix(): p for p in case.source_files()}
    if not files:
        problems.append("no program files")
    total_lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files.values())
    if not 15 <= total_lines <= 160:
        problems.append(f"program is {total_lines} lines (keep cases small: ~20-120)")
    for i, s in enumerate(case.static):
        where = f"static[{i}]"
        if set(s) - STATIC_KEYS:
            problems.append(f"{where}: unknown keys {sorted(set(s) - STATIC_KEYS)}")
        if not CODE_RE.match(str(s.get("code", ""))):
            problems.append(f"{where}: bad code {s.get('code')!r}")
        if ("line" in s) == ("lines" in s):
            problems.append(f"{where}: give exactly one of line/lines")
            continue
        if s.get("code") in ("LW101", "LW102") and "lines" not in s:
            problems.append(f"{where}: use \"lines\" for {s['code']}")
        try:
            locs = acceptable_locations(s)
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"{where}: bad location ({exc})")
            continue
        for path, ln in sorted(locs):
            if path not in files:
                problems.append(f"{where}: path {path!r} is not a program file of the case")
                continue
            text = files[path].read_text(encoding="utf-8").splitlines()
            if not 1 <= ln <= len(text):
                problems.append(f"{where}: line {ln} outside {path}")
            else:
                src = text[ln - 1].strip()
                if not src or src.startswith("#"):
                    problems.append(f"{where}: {path}:{ln} is blank or a comment")
    rt = case.runtime
    if rt is not None:
        if case.driver is None:
            problems.append('"runtime" given but no driver.py')
        for i, r in enumerate(rt):
            if not r or set(r) - RUNTIME_KEYS:
                problems.append(f"runtime[{i}]: give code and/or kind only")
    elif case.driver is not None:
        problems.append('driver.py present but no "runtime" expectations')
    if not isinstance(e.get("runtime_args", []), list):
        problems.append('"runtime_args" must be a list of command-line words')
    return problems


# ------------------------------------------------------------------------ comparison


def _get(f: Any, key: str) -> Any:
    return f.get(key) if isinstance(f, dict) else getattr(f, key)


@dataclass
class StaticResult:
    matched: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def _static_match(entry: dict[str, Any], finding: Any) -> bool:
    return (
        _get(finding, "code") == entry["code"]
        and (_get(finding, "path"), int(_get(finding, "line"))) in acceptable_locations(entry)
    )


def compare_static(expected: list[dict[str, Any]], findings: Iterable[Any]) -> StaticResult:
    """Exact comparison: every expected entry is matched by exactly one finding and every
    finding by exactly one entry. A maximum bipartite matching, so that an entry with
    several acceptable lines never steals the only finding another entry could take."""
    findings = list(findings)
    cand = [[j for j, f in enumerate(findings) if _static_match(e, f)] for e in expected]
    owner: dict[int, int] = {}  # finding index -> expected index

    def augment(i: int, seen: set[int]) -> bool:
        for j in cand[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        augment(i, set())
    res = StaticResult()
    taken = {i: j for j, i in owner.items()}
    for i, e in enumerate(expected):
        if i in taken:
            res.matched.append((e, findings[taken[i]]))
        else:
            res.missing.append(e)
    res.extra = [f for j, f in enumerate(findings) if j not in owner]
    return res


@dataclass
class RuntimeResult:
    matched: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)      # strict kinds, unexpected: fail
    noted: list[Any] = field(default_factory=list)      # timing kinds, unexpected: report only

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def runtime_match(entry: dict[str, Any], finding: Any) -> bool:
    """A runtime expectation names a code (exact, or a prefix such as "LW13") and/or a
    kind; the tracer is free to report one hazard more than once (one per thread pair)."""
    code = entry.get("code")
    kind = entry.get("kind")
    if code is not None and not str(_get(finding, "code")).startswith(code):
        return False
    if kind is not None and _get(finding, "kind") != kind:
        return False
    return True


def compare_runtime(expected: list[dict[str, Any]], findings: Iterable[Any],
                    strict_kinds: frozenset[str] = STRICT_RUNTIME_KINDS) -> RuntimeResult:
    findings = list(findings)
    res = RuntimeResult()
    for e in expected:
        (res.matched if any(runtime_match(e, f) for f in findings) else res.missing).append(e)
    for f in findings:
        if any(runtime_match(e, f) for e in expected):
            continue
        (res.extra if _get(f, "kind") in strict_kinds else res.noted).append(f)
    return res


def _fmt_finding(f: Any) -> str:
    msg = str(_get(f, "message") or "")
    return f"{_get(f, 'path')}:{_get(f, 'line')}: {_get(f, 'code')} {_get(f, 'kind')}: {msg}"


def _fmt_entry(e: dict[str, Any]) -> str:
    if "path" in e:
        locs = sorted(acceptable_locations(e))
        where = " | ".join(f"{p}:{ln}" for p, ln in locs)
        return f"{where}: {e['code']}" if len(locs) == 1 else f"one of {{{where}}}: {e['code']}"
    return " ".join(f"{k}={v}" for k, v in e.items())


def format_static_diff(case: Case, res: StaticResult) -> str:
    out = [f"{case.id}: static findings differ from expected.json ({case.expected.get('summary', '')})"]
    for e in res.missing:
        out.append(f"  - missing  {_fmt_entry(e)}")
    for f in res.extra:
        out.append(f"  + extra    {_fmt_finding(f)}")
    for e, f in res.matched:
        out.append(f"    ok       {_fmt_finding(f)}")
    return "\n".join(out)


def format_runtime_diff(case: Case, res: RuntimeResult, run: "RuntimeRun") -> str:
    out = [f"{case.id}: runtime findings differ from expected.json ({case.expected.get('summary', '')})"]
    for e in res.missing:
        out.append(f"  - missing  {_fmt_entry(e)}")
    for f in res.extra:
        out.append(f"  + extra    {_fmt_finding(f)}")
    for f in res.noted:
        out.append(f"  ~ noted    {_fmt_finding(f)}")
    out.append(f"  (exit {run.returncode}; stderr tail: {run.stderr[-800:]!r})")
    return "\n".join(out)


# ---------------------------------------------------------------------------- running


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def static_engine_available() -> bool:
    try:
        from lockwatch.static import engine  # noqa: F401
    except ImportError:
        return False
    return hasattr(engine, "scan") and hasattr(engine, "scan_sources")


def run_static(case: Case, full: bool | None = None) -> Any:
    """Analyse the case's program with cwd = case directory (finding paths come out
    relative to it).

    By default through ``engine.scan_sources`` (the same link/graph/checks, parsed in this
    process: ~0.2 s a case instead of seconds of worker start-up); ``full=True`` or
    LOCKWATCH_FIXTURES_FULL_SCAN=1 goes through ``engine.scan`` (discovery, worker pool),
    with no cache so nothing is written into the corpus. A test checks both agree."""
    from lockwatch.config import Config
    from lockwatch.static import engine

    if full is None:
        full = os.environ.get("LOCKWATCH_FIXTURES_FULL_SCAN", "") not in ("", "0")
    with chdir(case.dir):
        # Every rule, opt-in ones included: the corpus measures the whole analyser.
        cfg = Config(root=".", no_cache=True, select=["ALL"])
        if full:
            return engine.scan(case.program_paths(), cfg)
        sources = {
            p.relative_to(case.dir).as_posix(): p.read_text(encoding="utf-8")
            for p in case.source_files()
        }
        return engine.scan_sources(sources, cfg)


def runtime_cli_available() -> bool:
    try:
        import lockwatch.cli  # noqa: F401
        import lockwatch.runtime.run  # noqa: F401
    except ImportError:
        return False
    return True


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The driver imports its own case package from the case directory; lockwatch itself
    # comes from this checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep __pycache__ out of the corpus
    return env


def run_plain(case: Case, timeout: float = PLAIN_TIMEOUT) -> subprocess.CompletedProcess:
    assert case.driver is not None
    return subprocess.run(
        [sys.executable, "driver.py"], cwd=case.dir, env=_env(), capture_output=True,
        text=True, timeout=timeout,
    )


@dataclass
class RuntimeRun:
    returncode: int | None
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    timed_out: bool = False

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("findings", []))


def run_runtime(case: Case, timeout: float = RUNTIME_TIMEOUT) -> RuntimeRun:
    assert case.driver is not None
    with tempfile.TemporaryDirectory(prefix="lw-fixture-") as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "lockwatch", "run", "--format", "json",
               "--output", str(out), *case.runtime_args, "driver.py"]
        try:
            p = subprocess.run(cmd, cwd=case.dir, env=_env(), capture_output=True,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            return RuntimeRun(None, str(exc.stdout or ""), str(exc.stderr or ""), None, True)
        report = None
        if out.is_file() and out.stat().st_size:
            try:
                report = json.loads(out.read_text(encoding="utf-8"))
            except ValueError:
                report = None
        return RuntimeRun(p.returncode, p.stdout, p.stderr, report)


# ---------------------------------------------------------------------------- scoring


def _static_codes(case: Case) -> list[str]:
    return [e["code"] for e in case.static]


def score(cases: list[Case], do_static: bool, do_runtime: bool, jobs: int = 2) -> dict[str, Any]:
    result: dict[str, Any] = {"cases": {}, "static": None, "runtime": None}
    if do_static and static_engine_available():
        per_area: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        per_code: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for c in cases:
            row = result["cases"].setdefault(c.id, {})
            try:
                rep = run_static(c)
                res = compare_static(c.static, rep.findings)
                row["static"] = {
                    "missing": [_fmt_entry(e) for e in res.missing],
                    "extra": [_fmt_finding(f) for f in res.extra],
                    "errors": [f"{e.path}: {e.message}" for e in rep.errors],
                }
            except Exception as exc:  # a crash is a result too: count everything as missed
                res = StaticResult(missing=c.static)
                row["static"] = {"crash": f"{type(exc).__name__}: {exc}",
                                 "missing": [_fmt_entry(e) for e in c.static], "extra": []}
            a = per_area[c.area]
            a["expected"] += len(c.static)
            a["found"] += len(res.matched)
            a["extra_on_positive"] += 0 if c.is_clean else len(res.extra)
            a["clean_cases"] += int(c.is_clean)
            a["clean_cases_flagged"] += int(c.is_clean and bool(res.extra))
            a["findings_on_clean"] += len(res.extra) if c.is_clean else 0
            for e in c.static:
                per_code[e["code"]]["expected"] += 1
            for e, _ in res.matched:
                per_code[e["code"]]["found"] += 1
            for f in res.extra:
                per_code[_get(f, "code")]["false"] += 1
        result["static"] = {"areas": per_area, "codes": per_code}
    elif do_static:
        result["static_unavailable"] = "lockwatch.static.engine.scan is not importable yet"

    if do_runtime and runtime_cli_available():
        with_driver = [c for c in cases if c.driver is not None and c.runtime is not None]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            runs = dict(zip([c.id for c in with_driver], pool.map(run_runtime, with_driver)))
        per_area = defaultdict(lambda: defaultdict(int))
        per_code = defaultdict(lambda: defaultdict(int))
        for c in with_driver:
            run = runs[c.id]
            res = compare_runtime(c.runtime or [], run.findings, c.strict_runtime_kinds)
            result["cases"].setdefault(c.id, {})["runtime"] = {
                "exit": run.returncode, "timed_out": run.timed_out,
                "report": run.report is not None,
                "missing": [_fmt_entry(e) for e in res.missing],
                "extra": [_fmt_finding(f) for f in res.extra],
                "noted": [_fmt_finding(f) for f in res.noted],
            }
            a = per_area[c.area]
            a["expected"] += len(c.runtime or [])
            a["found"] += len(res.matched)
            a["extra_on_positive"] += 0 if c.is_clean else len(res.extra)
            a["clean_cases"] += int(c.is_clean)
            a["clean_cases_flagged"] += int(c.is_clean and bool(res.extra))
            a["findings_on_clean"] += len(res.extra) if c.is_clean else 0
            a["no_report"] += int(run.report is None)
            for e in c.runtime or []:
                key = e.get("code") or e.get("kind")
                per_code[key]["expected"] += 1
            for e in res.matched:
                per_code[e.get("code") or e.get("kind")]["found"] += 1
            for f in res.extra:
                per_code[_get(f, "code")]["false"] += 1
        result["runtime"] = {"areas": per_area, "codes": per_code}
    elif do_runtime:
        result["runtime_unavailable"] = "`python -m lockwatch run` is not available yet"
    return result


def _pct(found: int, expected: int) -> str:
    return "  n/a" if not expected else f"{100.0 * found / expected:5.1f}%"


def print_score(result: dict[str, Any], cases: list[Case]) -> None:
    for half in ("static", "runtime"):
        data = result.get(half)
        if data is None:
            why = result.get(f"{half}_unavailable")
            if why:
                print(f"== {half}: skipped ({why})\n")
            continue
        print(f"== {half}: per area")
        print(f"  {'area':22} {'recall':>14} {'extra(pos)':>10} {'clean flagged':>14} {'findings on clean':>18}")
        tot = defaultdict(int)
        for area in AREAS:
            a = data["areas"].get(area)
            if not a:
                continue
            for k, v in a.items():
                tot[k] += v
            print(f"  {area:22} {a['found']:3}/{a['expected']:<3} {_pct(a['found'], a['expected'])}"
                  f" {a['extra_on_positive']:10} {a['clean_cases_flagged']:7}/{a['clean_cases']:<6}"
                  f" {a['findings_on_clean']:18}")
        print(f"  {'TOTAL':22} {tot['found']:3}/{tot['expected']:<3} {_pct(tot['found'], tot['expected'])}"
              f" {tot['extra_on_positive']:10} {tot['clean_cases_flagged']:7}/{tot['clean_cases']:<6}"
              f" {tot['findings_on_clean']:18}")
        print(f"== {half}: per hazard code (recall; false = findings matching no expectation)")
        for code in sorted(data["codes"]):
            c = data["codes"][code]
            print(f"  {code:22} {c['found']:3}/{c['expected']:<3} {_pct(c['found'], c['expected'])}"
                  f"   false {c['false']}")
        print()
    print("== per case (only cases with a difference)")
    for c in cases:
        row = result["cases"].get(c.id, {})
        lines = []
        for half in ("static", "runtime"):
            r = row.get(half)
            if not r:
                continue
            if r.get("crash"):
                lines.append(f"   {half}: CRASH {r['crash']}")
            if half == "runtime" and (r.get("timed_out") or not r.get("report")):
                lines.append(f"   runtime: exit={r.get('exit')} timed_out={r.get('timed_out')} report={r.get('report')}")
            for m in r.get("missing", []):
                lines.append(f"   {half}: missing {m}")
            for x in r.get("extra", []):
                lines.append(f"   {half}: EXTRA   {x}")
            for x in r.get("noted", []):
                lines.append(f"   {half}: noted   {x}")
            for x in r.get("errors", []):
                lines.append(f"   {half}: input error {x}")
        if lines:
            print(f"  {c.id}{'  [clean]' if c.is_clean else ''}")
            print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fixture_support", description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", action="store_true", help="score lockwatch on the corpus")
    ap.add_argument("--static", action="store_true", help="static half only")
    ap.add_argument("--runtime", action="store_true", help="runtime half only")
    ap.add_argument("--json", action="store_true", help="print the raw result as JSON")
    ap.add_argument("--area", action="append", help="only these areas")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--validate", action="store_true", help="check the corpus itself")
    args = ap.parse_args(argv)
    cases = load_cases()
    if args.area:
        cases = [c for c in cases if c.area in args.area]
    if args.validate or not args.report:
        bad = 0
        for c in cases:
            for p in validate_case(c):
                bad += 1
                print(f"{c.id}: {p}")
        pos = sum(not c.is_clean for c in cases)
        print(f"{len(cases)} cases ({pos} positive, {len(cases) - pos} clean), "
              f"{sum(bool(c.expected.get('source')) for c in cases)} with a source, {bad} problems")
        if not args.report:
            return 1 if bad else 0
    both = not args.static and not args.runtime
    result = score(cases, args.static or both, args.runtime or both, args.jobs)
    if args.json:
        print(json.dumps(result, indent=2, default=lambda o: dict(o)))
    else:
        print_score(result, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
