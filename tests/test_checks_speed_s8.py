"""Session 8's shortcuts in the lock graph and the checks (S8C), each checked against the
plain computation it replaces, on the fixtures/ programs (every case summarised into one
model: the shortcuts must hold on any model) and on small programs made for the purpose:

* the model's two shared indexes (call sites; events): ``handed_on``, ``effect_fids``,
  ``fnarg_fids``, ``write_events``, and ``call_events`` through them; ``async_functions``,
  ``acquiring_functions``;
* LW201's once-only test reading the write events instead of every event;
* ``graph.compose`` seeding from ``effect_fids`` and ``build_lock_graph`` skipping the
  functions that take no lock and hand no callable on; the witness steps' function names
  made in one pass over the functions;
* races' first test of a class made before listing its methods;
* LW303's guard violations from the analysis of the classes that may declare a guard
  (the whole analysis when it was made already).
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest

from lockwatch.config import Config
from lockwatch.static import asyncflow, graph, races
from lockwatch.static.engine import build_model
from lockwatch.static.summarise import summarise_module

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _model(files: dict[str, str]):
    sums = {}
    for path, src in files.items():
        mod = path[:-3].replace("/", ".")
        sums[mod] = summarise_module(textwrap.dedent(src), path, mod, False)
    return build_model(sums, Config())


@functools.lru_cache(maxsize=1)
def fixtures_program():
    """Every fixtures/ file summarised into one model (shared by the speed tests)."""
    sums = {}
    for p in sorted(FIXTURES.rglob("*.py")):
        rel = p.relative_to(FIXTURES).with_suffix("")
        mod = ".".join(part.replace("-", "_") for part in rel.parts).removesuffix(".__init__")
        sums[mod] = summarise_module(p.read_text(), str(p), mod, p.name == "__init__.py")
    return build_model(sums, Config())


@pytest.fixture(scope="module")
def fixtures_model():
    return fixtures_program()


SRC = """
    import threading
    import queue
    import lockwatch

    L = threading.Lock()
    _cache = None

    def lazy():
        global _cache
        if _cache is None:
            _cache = open("x").read()
        return _cache

    def reset():
        global _cache
        _cache = None

    def worker(q):
        with L:
            q.get()

    def start():
        t = threading.Thread(target=worker, args=(queue.Queue(),))
        t.start()
        t.join()

    def call_it(fn):
        fn()

    def hands():
        call_it(worker)

    M = threading.Lock()
    CV = threading.Condition()

    def under_m(fn):
        with M:
            fn()

    def takes_l():
        with L:
            pass

    def no_lock_hands_on():
        # takes no lock itself: the M -> L edge is made at this call (the callee holds M
        # around the call of what it is handed)
        under_m(takes_l)

    def releases_only():
        CV.notify_all()   # a call on a lock: its only effect

    def nests():
        with L:
            with M:
                pass

    class Owner:
        def __init__(self):
            self._lock = threading.Lock()
            self.items = []

        def add(self, x):
            with self._lock:
                self.items.append(x)

        def peek(self):
            return self.items[-1]

    class Runner:
        def __init__(self):
            self.n = 0

        def go(self):
            threading.Thread(target=self.run).start()

        def run(self):
            self.n += 1

        @property
        def value(self):
            return self.n

        @value.setter
        def value(self, v):
            self.n = v

    @lockwatch.thread_safe
    class Declared:
        def set(self, v):
            self.v = v

    class Plain:
        def get(self):
            return self.x

        def lazy(self):   # a method with a module function's name: that one is qualified
            return None

        def put(self, v):
            self.x = v

    @lockwatch.guarded_by("_lock", "balance")
    class Account:
        def __init__(self):
            self._lock = threading.Lock()
            self.balance = 0

        def deposit(self, n):
            with self._lock:
                self.balance += n

        def peek(self):
            return self.balance

    class Commented:
        def __init__(self):
            self.lock = threading.Lock()
            self.count = 0  # guarded_by: lock

        def bump(self):
            self.count += 1
"""


def _programs(fixtures_model):
    return [fixtures_model, _model({"app.py": SRC})]


def test_shared_indexes_are_the_plain_computations(fixtures_model):
    for m in _programs(fixtures_model):
        funcs = list(m.functions.values())
        assert m.handed_on() == {g for fi in funcs for cs in fi.calls for _i, g, _r in cs.fnargs}
        assert m.effect_fids() == {fi.id for fi in funcs if fi.acqs or fi.deco_acqs
                                   or any(cs.blocking or cs.lockm for cs in fi.calls)}
        assert m.fnarg_fids() == {fi.id for fi in funcs if any(cs.fnargs for cs in fi.calls)}
        assert m.write_events() == [(fi, i, ev) for fi in funcs for i, ev in enumerate(fi.summary.events)
                                    if ev["e"] in ("wr", "gwr")]
        assert m.acq_events() == [(fi, i, ev) for fi in funcs for i, ev in enumerate(fi.summary.events)
                                  if ev["e"] == "acq"]
        assert m.async_functions() == [(fid, fi) for fid, fi in m.sorted_functions() if fi.is_async]
        assert m.acquiring_functions() == [(fid, fi) for fid, fi in m.sorted_functions() if fi.acqs]
        # call_events from the two indexes: every call event it should name, in model order
        last = {"start", "join", "get", "put", "append"}
        ext = {"threading.Thread", "queue.Queue"}
        plain = []
        for fi in funcs:
            sites = fi.sites()
            for i, ev in enumerate(fi.summary.events):
                if ev["e"] != "call":
                    continue
                cs = sites.get(i)
                if (ev["f"].rpartition(".")[2] in last or (cs is not None and set(cs.ext) & ext)
                        or (cs is not None and any(g.endswith("__init__") for g, _r in cs.targets))):
                    plain.append((fi, i, ev))
        got = m.call_events(ext=ext, last=last, targets=lambda g: g.endswith("__init__"))
        assert [(fi.id, i) for fi, i, _ev in got] == [(fi.id, i) for fi, i, _ev in plain]
    assert "app.worker" in _programs(fixtures_model)[1].handed_on()
    assert len(fixtures_model.async_functions()) > 50


def _plain_once_resets(m) -> tuple[set, set]:
    """LW201's once-only resets as a walk of every event (the code before the index)."""
    attrs: set[str] = set()
    globs: set[tuple] = set()
    for f in m.functions.values():
        in_init = f.summary.name == "__init__"
        for ev in f.summary.events:
            e = ev["e"]
            if e == "wr":
                r = ev["r"]
                if r.endswith(".[]"):
                    continue
                oi = ev.get("oi")
                if oi == r or (in_init and r.startswith("@self.") and r.count(".") == 1):
                    continue
                attrs.add(r.rpartition(".")[2])
            elif e == "gwr" and f.qualname != "<module>" and ev.get("oi") != ev["r"]:
                globs.add((f.module, ev["r"]))
    return attrs, globs


def test_once_resets_from_the_write_events(fixtures_model):
    for m in _programs(fixtures_model):
        assert asyncflow._once_resets(m) == _plain_once_resets(m)
    attrs, globs = asyncflow._once_resets(_programs(fixtures_model)[1])
    assert ("app", "_cache") in globs and "items" not in attrs and {"n", "x", "v"} <= attrs


def _plain_reaching(m, adj) -> set:
    stack = []
    for fid in adj:
        fi = m.functions[fid]
        if fi.acqs or fi.deco_acqs or any(cs.blocking or cs.lockm for cs in fi.calls):
            stack.append(fid)
    seen = set(stack)
    while stack:
        for u in m.call_graph.pred[stack.pop()]:
            if u not in seen:
                seen.add(u)
                stack.append(u)
    return seen


def _graph_facts(m):
    return ([(a, b, d) for a, b, d in m.lock_graph.edges(data=True)],
            [vars(s) for s in m.self_edges], [vars(b) for b in m.blocking_sites])


def test_lock_graph_shortcuts_are_the_plain_computations(fixtures_model, monkeypatch):
    for m in _programs(fixtures_model):
        adj = dict(m.call_graph.adjacency())
        assert graph._reaching_effects(m, adj) == _plain_reaching(m, adj)
        fast = _graph_facts(m)
        # every function visited: what build_lock_graph did before it skipped any
        monkeypatch.setattr(type(m), "fnarg_fids", lambda self: set(self.functions))
        graph.build_lock_graph(m)
        monkeypatch.undo()
        assert _graph_facts(m) == fast
        graph.build_lock_graph(m)
        assert _graph_facts(m) == fast
    edges = {(a, b) for a, b, _d in fast[0]}
    assert {("app.M", "app.L"), ("app.L", "app.M")} <= edges
    assert "app.no_lock_hands_on" not in m.effect_fids() and "app.no_lock_hands_on" in m.fnarg_fids()
    assert "app.releases_only" in m.effect_fids() and not m.functions["app.releases_only"].acqs


def test_step_names_are_the_plain_names(fixtures_model):
    for m in _programs(fixtures_model):
        methods = {f.qualname.rpartition(".")[2] for f in m.functions.values() if f.cls is not None}
        for f in m.functions.values():
            q = f.qualname
            plain = (f"{f.module.rpartition('.')[2]}.{q}" if f.cls is None and "." not in q and q in methods
                     else f.short)
            assert graph.step_name(m, f) == plain, f.id
    assert graph.step_name(m, m.functions["app.lazy"]) == "app.lazy"
    assert graph.step_name(m, m.functions["app.worker"]) == "worker"


def test_races_first_test_is_the_full_verdict(fixtures_model):
    for m in _programs(fixtures_model):
        configured = races._configured_classes(m.config)
        idx = races._index(m)
        fast = {}
        for cid in sorted(m.classes):
            try:
                fast[cid] = races.analyse_class(m, cid, configured)
            except (KeyError, IndexError):
                fast[cid] = "error"
        # every class past the first test (``hand_off_classes`` is read by that test
        # only): the full analysis decides each
        hand = idx.hand_off_classes
        idx.hand_off_classes = set(m.classes)
        try:
            for cid in sorted(m.classes):
                try:
                    full = races.analyse_class(m, cid, configured)
                except (KeyError, IndexError):
                    full = "error"
                assert full == fast[cid], cid
        finally:
            idx.hand_off_classes = hand
    verdicts = {cid for cid, cr in fast.items() if cr not in (None, "error")}
    assert {"app.Owner", "app.Runner", "app.Declared", "app.Commented"} <= verdicts
    assert "app.Plain" not in verdicts



def test_guard_violations_from_the_guarded_classes(fixtures_model):
    for m in _programs(fixtures_model):
        saved = m.__dict__.pop("_races", None)
        try:
            some = races.guard_violations(m)
            assert "_races" not in m.__dict__   # the guarded classes only: nothing kept
            races.analyse(m)
            assert "_races" in m.__dict__
            assert races.guard_violations(m) == some   # from the whole analysis
        finally:
            m.__dict__.pop("_races", None)
            if saved is not None:
                m._races = saved
    assert [(g.cid, g.attr, g.access.write) for g in some] == [("app.Account", "balance", False),
                                                              ("app.Commented", "count", True)]
