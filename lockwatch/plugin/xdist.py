"""The runtime order graph as plain data, so that it can leave a pytest-xdist worker
(``workeroutput``) and be merged on the controller, where cycles spanning workers are found.

An edge is keyed by the lock classes' keys (creation sites, the same in every worker since
workers share the working directory). Merging keeps the first witness of an edge and the
union of the tests that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from lockwatch.findings import Finding, Location, make_fingerprint

PAYLOAD_KEY = "lockwatch"


def site_of(key: str) -> str:
    """'pkg/a.py:10 (queue.py:35)' -> 'pkg/a.py:10': the user's creation line."""
    return key.split(" (", 1)[0]


def edge_record(a, b, e, tests: Iterable[str]) -> dict[str, Any]:
    """One tracer edge (``state.edges[(a, b)] = e``) as JSON-able data."""
    return {
        "from": a.key,
        "to": b.key,
        "from_name": a.name(),
        "to_name": b.name(),
        "path": e.path,
        "line": e.line,
        "thread": e.thread,
        "stack": list(e.stack),
        "tests": sorted(set(tests)),
    }


class OrderGraph:
    """Merged order graph of lock classes (one or many processes)."""

    def __init__(self) -> None:
        self.edges: dict[tuple[str, str], dict[str, Any]] = {}
        # Classes some process saw released by a thread that did not take them (signals):
        # order through them means nothing, so no cycle goes through them.
        self.handoff: set[str] = set()

    def add(self, rec: dict[str, Any]) -> None:
        k = (rec["from"], rec["to"])
        old = self.edges.get(k)
        if old is None:
            self.edges[k] = dict(rec, tests=sorted(set(rec.get("tests", ()))))
        else:
            old["tests"] = sorted(set(old["tests"]) | set(rec.get("tests", ())))

    def extend(self, recs: Iterable[dict[str, Any]]) -> None:
        for r in recs:
            self.add(r)

    def tests_of(self, a: str, b: str) -> list[str]:
        e = self.edges.get((a, b))
        return list(e["tests"]) if e else []

    def digraph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for (a, b) in self.edges:
            if a != b and a not in self.handoff and b not in self.handoff:
                g.add_edge(a, b)
        return g

    def cycles(self, length_bound: int = 8, limit: int = 500) -> list[list[str]]:
        g = self.digraph()
        out: set[tuple[str, ...]] = set()
        for scc in nx.strongly_connected_components(g):
            if len(scc) < 2:
                continue
            n = 0
            for cyc in nx.simple_cycles(g.subgraph(scc), length_bound=length_bound):
                if len(cyc) < 2:
                    continue
                i = cyc.index(min(cyc))
                out.add(tuple(cyc[i:] + cyc[:i]))
                n += 1
                if n >= limit:
                    break
        return [list(c) for c in sorted(out, key=lambda c: (len(c), c))]

    def cycle_finding(self, cyc: list[str]) -> Finding:
        """An LW101 finding in the tracer's own shape (same message and fingerprint), for a
        cycle that no single process saw whole."""
        pairs = list(zip(cyc, cyc[1:] + cyc[:1]))
        es = [self.edges[p] for p in pairs]
        names = {}
        for e in es:
            names[e["from"]] = e.get("from_name") or e["from"]
            names[e["to"]] = e.get("to_name") or e["to"]
        if len(pairs) == 2:
            (a, b), _ = pairs
            msg = (
                f"locks acquired in opposite orders: {names[a]} -> {names[b]} ({es[0]['path']}:{es[0]['line']}) "
                f"and {names[b]} -> {names[a]} ({es[1]['path']}:{es[1]['line']})"
            )
        else:
            chain = " -> ".join(names[c] for c in cyc + cyc[:1])
            msg = f"lock-order cycle of {len(pairs)} locks: {chain}"
        related = [
            Location(e["path"], e["line"], 1, f"{e['thread']} takes {names[b]} while holding {names[a]}")
            for (a, b), e in zip(pairs, es)
        ][1:]
        return Finding(
            code="LW101",
            kind="lock-order-cycle",
            severity="error",
            message=msg,
            path=es[0]["path"],
            line=es[0]["line"],
            locks=list(cyc),
            related=related,
            stacks=[e["stack"] for e in es],
            fingerprint=make_fingerprint("LW101", *sorted(cyc)),
            extra={"lock_names": [names[c] for c in cyc], "origin": "runtime", "merged": True},
        )


def annotate_cycle(f: Finding, graph: OrderGraph) -> None:
    """Name, on a runtime cycle finding, the test(s) during which each of its edges was
    seen: in ``extra["edge_tests"]``, in the union ``extra["tests"]`` and in the witness
    notes (the primary location is the first edge)."""
    locks = list(f.locks)
    if len(locks) < 2:
        return
    pairs = list(zip(locks, locks[1:] + locks[:1]))
    per_edge = [{"from": a, "to": b, "tests": graph.tests_of(a, b)} for a, b in pairs]
    f.extra["edge_tests"] = per_edge
    tests = set(f.extra.get("tests", ()))
    for pe in per_edge:
        tests.update(pe["tests"])
    f.extra["tests"] = sorted(tests)
    for loc, pe in zip(f.related, per_edge[1:]):
        if pe["tests"] and "(in " not in loc.note:
            loc.note += f" (in {', '.join(pe['tests'])})"


def merge_payloads(payloads: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Workers' payloads -> one: edges merged, findings deduplicated (tests united),
    executed lines united, errors kept."""
    graph = OrderGraph()
    findings: dict[tuple[str, str], Finding] = {}
    executed: dict[str, set[int]] = {}
    executed_known = False
    errors: list[str] = []
    for p in payloads:
        graph.extend(p.get("edges", ()))
        graph.handoff.update(p.get("handoff", ()))
        for d in p.get("findings", ()):
            f = Finding.from_dict(d)
            k = (f.code, f.fingerprint)
            old = findings.get(k)
            if old is None:
                findings[k] = f
            else:
                old.extra["tests"] = sorted(set(old.extra.get("tests", ())) | set(f.extra.get("tests", ())))
        if p.get("executed") is not None:
            executed_known = True
            for path, lines in p["executed"].items():
                executed.setdefault(path, set()).update(lines)
        errors.extend(p.get("errors", ()))
    fs = [f for f in findings.values()
          if not (f.code == "LW101" and graph.handoff.intersection(f.locks))]
    return {
        "graph": graph,
        "findings": fs,
        "executed": executed if executed_known else None,
        "errors": errors,
    }
