"""The shared indexes and hand-written graph walks that replaced slower equivalents in
link -> graph -> checks: each is checked against the plain computation it stands for."""

from __future__ import annotations

import random
import textwrap

import networkx as nx

from lockwatch.config import Config
from lockwatch.static.engine import build_model
from lockwatch.static.graph import _sccs_callees_first
from lockwatch.static.model import CallSite, FunctionInfo
from lockwatch.static.summarise import summarise_module


def _random_graph(seed: int, n: int, p: float) -> nx.DiGraph:
    rng = random.Random(seed)
    g = nx.DiGraph()
    g.add_nodes_from(f"f{i}" for i in range(n))
    for i in range(n):
        for j in range(n):
            if rng.random() < p:
                g.add_edge(f"f{i}", f"f{j}")   # self loops included
    return g


def test_sccs_are_networkx_components_callees_first():
    for seed in range(40):
        g = _random_graph(seed, n=3 + seed % 17, p=0.04 + (seed % 5) * 0.05)
        comps = _sccs_callees_first(dict(g.adjacency()))
        assert sorted(sorted(c) for c in comps) == sorted(sorted(c) for c in nx.strongly_connected_components(g))
        where = {v: i for i, c in enumerate(comps) for v in c}
        for a, b in g.edges:
            # a calls b: b's component is finished before a's (or is the same one)
            assert where[b] <= where[a]


def test_sccs_deep_chain_needs_no_recursion():
    n = 5000   # deeper than the default recursion limit
    g = nx.DiGraph([(f"f{i}", f"f{i + 1}") for i in range(n)] + [(f"f{n}", "f0")])
    comps = _sccs_callees_first(dict(g.adjacency()))
    assert len(comps) == 1 and len(comps[0]) == n + 1
    chain = nx.DiGraph([(f"f{i}", f"f{i + 1}") for i in range(n)])
    order = _sccs_callees_first(dict(chain.adjacency()))
    assert [c[0] for c in order] == [f"f{i}" for i in range(n, -1, -1)]


def _model(files: dict[str, str]):
    sums = {}
    for path, src in files.items():
        mod = path[:-3]
        sums[mod] = summarise_module(textwrap.dedent(src), path, mod, False)
    return build_model(sums, Config())


SRC_A = """
    import threading
    import b

    L = threading.Lock()

    def top():
        with L:
            b.helper()
        inner_user()

    def inner_user():
        def closure():
            return b.helper()
        return closure()

    class C:
        def m(self):
            top()
"""

SRC_B = """
    def helper():
        return other()

    def other():
        return helper()
"""


def test_module_functions_is_the_filtered_function_list():
    m = _model({"a.py": SRC_A, "b.py": SRC_B})
    for mod in ("a", "b", "nowhere"):
        assert m.module_functions(mod) == [f for f in m.functions.values() if f.module == mod]
    # a function added afterwards is seen (the index is rebuilt)
    fi = next(iter(m.functions.values()))
    extra = FunctionInfo("b.late", "b", "late", fi.path, fi.summary)
    m.functions["b.late"] = extra
    assert m.module_functions("b")[-1] is extra


def test_sites_is_the_call_site_map_and_follows_new_calls():
    m = _model({"a.py": SRC_A, "b.py": SRC_B})
    for fi in m.functions.values():
        assert fi.sites() == {cs.idx: cs for cs in fi.calls if cs.idx >= 0}
    fi = m.functions["a.top"]
    before = dict(fi.sites())
    fi.calls.append(CallSite(99, (fi.path, 1, 1, ""), ()))
    assert set(fi.sites()) == set(before) | {99}


def test_call_graph_order_is_that_of_add_node_add_edge():
    m = _model({"a.py": SRC_A, "b.py": SRC_B})
    ref = nx.DiGraph()
    for fid in sorted(m.functions):
        ref.add_node(fid)
        for cs in m.functions[fid].calls:
            for tgt, _ in cs.targets:
                if tgt in m.functions:
                    ref.add_edge(fid, tgt)
            for _i, h, _r in cs.fnargs:
                if h in m.functions:
                    ref.add_edge(fid, h)
    assert list(m.call_graph.nodes) == list(ref.nodes)
    assert list(m.call_graph.edges) == list(ref.edges)
    assert {n: list(m.call_graph.predecessors(n)) for n in ref} == {n: list(ref.predecessors(n)) for n in ref}
    # the recursion b.helper <-> b.other is composed to a fixpoint: helper reaches no lock,
    # top takes L
    assert ("a.L", "@global") in m.functions["a.top"].acq_eff
    assert ("a.L", "@global") in m.functions["a.C.m"].acq_eff


def test_call_events_is_a_superset_in_model_order():
    m = _model({"a.py": SRC_A, "b.py": SRC_B})
    every = [(fi, i, ev) for fi in m.functions.values()
             for i, ev in enumerate(fi.summary.events) if ev["e"] == "call"]
    # by the called ref's last name
    got = m.call_events(last={"helper"})
    assert got == [t for t in every if t[2]["f"].rpartition(".")[2] == "helper"]
    assert len(got) == 3   # top, the closure in inner_user, b.other
    # by linked target, and the union of two keys comes once, in model order
    both = m.call_events(last={"helper"}, targets=lambda g: g == "b.helper")
    assert both == got
    by_target = m.call_events(targets=lambda g: g == "a.top")
    assert [(fi.id, ev["f"]) for fi, _i, ev in by_target] == [("a.C.m", "top")]
    assert m.call_events() == []
