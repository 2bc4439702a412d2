"""static × runtime × coverage: one report where every finding says whether the other half
saw the same hazard (``confirmed``), every static finding whether the tests ran all of its
acquisition lines (``executed``), plus the runtime order edges the static graph lacks.

The join key is the lock's creation site ``path:line`` (SPEC "Lock identity"): the static
model names each lock class with its definition and creation line, the tracer keys its
classes by the creation line it saw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from lockwatch.config import Config
from lockwatch.findings import Finding, InputError, Report, display_path
from lockwatch.plugin.xdist import OrderGraph, site_of

# Kinds whose halves describe the same hazard on the other side.
_SAME_HAZARD = {
    "lock-order-cycle": {"lock-order-cycle", "deadlock"},
    "deadlock": {"lock-order-cycle", "deadlock"},
}


def _abs_site(site: str) -> str:
    path, _, line = site.rpartition(":")
    return f"{os.path.abspath(path)}:{line}" if path else site


@dataclass
class StaticSide:
    report: Report
    # lock id -> creation site (abs path:line), and back (one site may define several ids)
    site_of_lock: dict[str, str] = field(default_factory=dict)
    locks_at: dict[str, list[str]] = field(default_factory=dict)
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    seconds: float = 0.0
    # "abs path:line" of the LW201 findings' locations that are calls written in a coroutine
    # (the finding's own call and other coroutines' calls to the same blocking call), as
    # opposed to the sync helpers' steps of its witness chain
    coroutine_calls: set[str] = field(default_factory=set)

    def acquisition_files(self) -> list[str]:
        files = set()
        for f in self.report.findings:
            for loc in acquisition_lines(f):
                files.add(os.path.abspath(loc[0]))
        return sorted(p for p in files if os.path.isfile(p))


def static_scan(paths: list[str], config: Config) -> StaticSide:
    """The project's static report and lock graph (per-file summaries come from the cache
    when warm). The engine's own stages are reused; nothing is imported or executed."""
    import time

    from lockwatch.static import engine

    t0 = time.perf_counter()
    # the engine's whole pipeline, keeping the linked model (the join needs its lock
    # classes and graph) instead of linking the whole program a second time
    model, report = engine.scan_with_model(list(paths), config)
    side = StaticSide(report=report)
    for lid, lc in model.locks.items():
        site = _abs_site(f"{lc.path}:{lc.line}")
        side.site_of_lock[lid] = site
        side.locks_at.setdefault(site, []).append(lid)
    for lid, lc in model.locks.items():
        # A lock wrapper instance (Conn._init_lock = Lock()) is named statically by where the
        # wrapper is stored; the tracer keys it by where the wrapper creates its inner lock.
        # Register the wrapper's names at that site too, after the inner lock's own name.
        inner = model.locks.get(lc.inner) if getattr(lc, "inner", None) else None
        if inner is not None:
            side.locks_at.setdefault(_abs_site(f"{inner.path}:{inner.line}"), []).append(lid)
    if model.lock_graph is not None:
        side.graph = model.lock_graph
    side.coroutine_calls = _coroutine_calls(model, report)
    side.seconds = time.perf_counter() - t0
    return side


def _coroutine_calls(model, report: Report) -> set[str]:
    """Which of the LW201 findings' locations are calls in a coroutine (read from the model's
    functions, not from the notes): the runtime join needs the stack to pass through one."""
    wanted = set()
    for f in report.findings:
        if f.kind == "blocking-in-async":
            wanted.update(_abs_site(f"{l.path}:{l.line}") for l in f.locations())
    out: set[str] = set()
    if not wanted:
        return out
    for fi in model.functions.values():
        if not fi.is_async:
            continue
        for cs in fi.calls:
            site = _abs_site(f"{cs.loc[0]}:{cs.loc[1]}")
            if site in wanted:
                out.add(site)
    return out


def acquisition_lines(f: Finding) -> list[tuple[str, int]]:
    """The witness lines of a static finding where a lock is taken (or held from)."""
    locs = f.locations()
    acq = [(l.path, l.line) for l in locs if l.note and ("holds " in l.note or "takes " in l.note)]
    return acq or [(f.path, f.line)]


def _induces_cycle(g: nx.DiGraph, nodes: set) -> bool:
    """Do the edges among ``nodes`` put all of them on cycles together (one strongly
    connected component covering every node)?"""
    if len(nodes) < 2 or not all(n in g for n in nodes):
        return False
    sub = g.subgraph(nodes)
    return nx.is_strongly_connected(sub)


def _runtime_graph_by_site(graph: OrderGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    for (a, b) in graph.edges:
        sa, sb = _abs_site(site_of(a)), _abs_site(site_of(b))
        if sa != sb:
            g.add_edge(sa, sb)
    return g


def _static_graph_by_site(side: StaticSide) -> nx.DiGraph:
    g = nx.DiGraph()
    for a, b in side.graph.edges:
        sa, sb = side.site_of_lock.get(a), side.site_of_lock.get(b)
        if sa and sb and sa != sb:
            g.add_edge(sa, sb)
    return g


def _primary(f: Finding) -> str:
    return f"{os.path.abspath(f.path)}:{f.line}"


def join(static: StaticSide | None, runtime: list[Finding], graph: OrderGraph,
         executed: dict[str, set[int]] | None, runtime_errors: list[str] | None = None,
         coverage_note: str = "") -> Report:
    static_findings = list(static.report.findings) if static else []
    rt_sites = _runtime_graph_by_site(graph)
    st_sites = _static_graph_by_site(static) if static else nx.DiGraph()

    def static_sites(f: Finding) -> set[str]:
        return {static.site_of_lock[x] for x in f.locks if static and x in static.site_of_lock}

    def runtime_sites(f: Finding) -> set[str]:
        return {_abs_site(site_of(k)) for k in f.locks}

    # ---- runtime findings: did the static half see the same hazard?
    for f in runtime:
        f.extra.setdefault("origin", "runtime")
        sites = runtime_sites(f)
        if static is not None and f.locks:
            # the static half's names for the tracer's creation sites (Pool._lock, not self._lock)
            names = [static.locks_at.get(_abs_site(site_of(k)), [None])[0] for k in f.locks]
            if any(names):
                f.extra["static_locks"] = names
        ok = False
        if f.kind in _SAME_HAZARD and len(sites) >= 2:
            ok = _induces_cycle(st_sites, sites)
        if not ok and static:
            for s in static_findings:
                if s.kind != f.kind and s.kind not in _SAME_HAZARD.get(f.kind, ()):
                    continue
                if f.kind == "blocking-in-async":
                    where = _loop_block_at(s, f, static.coroutine_calls)
                    if where is not None:
                        ok = True
                        f.extra["confirmed_at"] = where
                        break
                    continue
                if _primary(s) == _primary(f) or (sites and static_sites(s) == sites):
                    ok = True
                    break
        f.confirmed = ok

    # ---- static findings: did the tests see it, and did they run its acquisition lines?
    for s in static_findings:
        s.extra.setdefault("origin", "static")
        sites = static_sites(s)
        ok = False
        if s.kind in _SAME_HAZARD and len(sites) >= 2:
            ok = _induces_cycle(rt_sites, sites)
            if ok:
                s.extra["tests"] = sorted({
                    t for (a, b), e in graph.edges.items()
                    if _abs_site(site_of(a)) in sites and _abs_site(site_of(b)) in sites
                    for t in e.get("tests", ())
                })
        if not ok:
            for f in runtime:
                if f.kind != s.kind and f.kind not in _SAME_HAZARD.get(s.kind, ()):
                    continue
                if s.kind == "blocking-in-async":
                    where = _loop_block_at(s, f, static.coroutine_calls if static else set())
                    if where is None:
                        continue
                    s.extra["confirmed_at"] = where
                    ok = True
                    s.extra["tests"] = sorted(set(s.extra.get("tests", ())) | set(f.extra.get("tests", ())))
                    break
                if _primary(s) == _primary(f) or (sites and runtime_sites(f) == sites):
                    ok = True
                    s.extra["tests"] = sorted(set(s.extra.get("tests", ())) | set(f.extra.get("tests", ())))
                    break
        s.confirmed = ok
        if executed is not None:
            lines = acquisition_lines(s)
            known = all(os.path.abspath(p) in executed for p, _ in lines)
            if known:
                s.executed = all(ln in executed[os.path.abspath(p)] for p, ln in lines)

    # ---- runtime edges the static graph lacks (inside the project only)
    missed = []
    if static is not None:
        cwd = os.getcwd()
        for (a, b), e in graph.edges.items():
            sa, sb = _abs_site(site_of(a)), _abs_site(site_of(b))
            if sa == sb:
                continue
            pa, pb = sa.rpartition(":")[0], sb.rpartition(":")[0]
            if not (_inside(pa, cwd) and _inside(pb, cwd)):
                continue
            # a lock made while a module was imported is sited at "<frozen
            # importlib._bootstrap>:241": a pseudo-path, which abspath puts under the root
            if site_of(a).startswith("<") or site_of(b).startswith("<"):
                continue
            ids_a, ids_b = static.locks_at.get(sa, []), static.locks_at.get(sb, [])
            if not (_project_lock(a, ids_a) and _project_lock(b, ids_b)):
                continue
            if ids_a and ids_b and any(static.graph.has_edge(x, y) for x in ids_a for y in ids_b):
                continue
            reason = "edge not in the static lock graph"
            if not ids_a or not ids_b:
                unknown = [k for k, ids in ((a, ids_a), (b, ids_b)) if not ids]
                reason = "lock not known to the static analyser: " + ", ".join(unknown)
            missed.append({
                "from": a, "to": b,
                "from_lock": ids_a[0] if ids_a else None,
                "to_lock": ids_b[0] if ids_b else None,
                "path": e["path"], "line": e["line"],
                "tests": list(e.get("tests", ())),
                "reason": reason,
            })

    errors = list(static.report.errors) if static else []
    errors += [InputError("<lockwatch runtime>", m) for m in runtime_errors or ()]
    extra: dict[str, Any] = {"missed_by_static": missed}
    extra["plugin"] = {"coverage": coverage_note or ("measured" if executed is not None else "not measured")}
    return Report("joined", findings=static_findings + list(runtime), errors=errors, extra=extra)


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), root]) == root and "site-packages" not in path
    except ValueError:
        return False


def _project_lock(key: str, static_ids: list[str]) -> bool:
    """Was this runtime lock class created by the project's own code? A key with a
    "(file:line)" tail was created inside the standard library's wrappers on the project's
    behalf (a ThreadPoolExecutor's shutdown lock, an Event's condition, keyed by the project
    line that built the executor or the Event): an order between such locks is the library's,
    not one the static lock graph could have. A wrapper the static analyser models as a lock
    (a Condition, an RLock made through threading.py) is known at that site and stays."""
    return " (" not in key or bool(static_ids)


def _frame_site(frame: str) -> str | None:
    """'pkg/a.py:12 in run' (a runtime stack entry) -> 'abs path:12'."""
    where = frame.rsplit(" in ", 1)[0]
    path, _, line = where.rpartition(":")
    if not path or not line.isdigit():
        return None
    return f"{os.path.abspath(path)}:{line}"


def _loop_block_at(s: Finding, f: Finding, coroutine_calls: set[str]) -> dict | None:
    """Does the runtime loop block ``f`` show the static LW201 ``s``? The tracer places a
    block at the innermost project frame (the helper's blocking line), the static rule at the
    coroutine's call, the helper chain and other coroutines' calls as related locations.
    They are one hazard when the runtime place is on that witness (the primary or a related
    location) and the runtime stack runs through one of the finding's calls in a coroutine
    (its own, or another coroutine's it lists): the same helper reached from a coroutine the
    static side does not name is not this finding's block. Returns which location matched
    (for the joined record), or None."""
    here = _primary(f)
    if here == _primary(s):
        return {"path": s.path, "line": s.line, "witness": "primary"}
    match = next((l for l in s.related if _abs_site(f"{l.path}:{l.line}") == here), None)
    if match is None:
        return None
    entries = {_primary(s)} | {
        site for l in s.related if (site := _abs_site(f"{l.path}:{l.line}")) in coroutine_calls}
    frames = {_frame_site(fr) for st in f.stacks or () for fr in st}
    if not (entries - {here}) & frames:
        return None
    return {"path": match.path, "line": match.line, "witness": "related", "note": match.note}


def rank(f: Finding) -> tuple:
    """Most important first: what broke a test, then observed cycles, confirmed static
    hazards, other runtime findings, static ones the tests never ran, the rest."""
    runtime = f.extra.get("origin") == "runtime"
    if f.kind in ("deadlock", "self-deadlock") and runtime:
        r = 0
    elif f.kind == "lock-order-cycle" and runtime:
        r = 1
    elif not runtime and f.confirmed:
        r = 2
    elif runtime:
        r = 3
    elif f.executed is False:
        r = 4
    else:
        r = 5
    return (r, *f.sort_key())


def describe(f: Finding) -> str:
    bits = []
    origin = f.extra.get("origin", "")
    bits.append(origin or "?")
    if f.confirmed:
        bits.append("confirmed")
    if f.executed is False:
        bits.append("never executed by the tests")
    tests = f.extra.get("tests")
    names = [n for n in f.extra.get("static_locks") or () if n]
    if names:
        from lockwatch.static.model import short_name

        bits.append("locks " + ", ".join(short_name(n) for n in names))
    where = f"{display_path(f.path)}:{f.line}"
    tail = f" [{', '.join(tests[:3])}{', ...' if len(tests) > 3 else ''}]" if tests else ""
    return f"{where}: {f.code} {f.kind} ({', '.join(bits)}): {f.message}{tail}"
