"""The shortcuts that made graph composition and the checks faster (session 5, S5B), each
checked against the plain computation it replaces: composing only the functions that can
reach an effect, LW401's per-module callback test, and the model's shared indexes
(callers, acquisition events, functions in id order)."""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.rules import lw211_unjoined_thread as lw211
from lockwatch.rules import lw401_unbounded_backlog as lw401
from lockwatch.static import graph
from lockwatch.static.engine import build_model
from lockwatch.static.summarise import summarise_module


def _model(files: dict[str, str]):
    sums = {}
    for path, src in files.items():
        mod = path[:-3].replace("/", ".")
        sums[mod] = summarise_module(textwrap.dedent(src), path, mod, False)
    return build_model(sums, Config())


# Locks reached directly, through callees, through recursion, through a callable handed to
# a function that calls it, through a constant-guarded branch, through a coroutine that is
# only awaited, and a lot of functions that reach none.
SRC_LOCKS = """
    import threading
    import time
    import helpers

    L = threading.Lock()
    M = threading.Lock()
    cv = threading.Condition()

    def takes_l():
        with L:
            pass

    def sleeps():
        time.sleep(1)

    def waits():
        with cv:
            cv.wait()

    def calls_it(fn):
        fn()

    def hands_on():
        calls_it(takes_l)

    def ping(n):
        if n:
            pong(n - 1)
        with M:
            pass

    def pong(n):
        ping(n)

    def guarded(block=True):
        if block:
            sleeps()

    def nonblocking_caller():
        guarded(block=False)

    def blocking_caller():
        guarded(True)

    async def coro():
        takes_l()

    async def awaits_coro():
        await coro()

    def only_makes_coro():
        coro()

    def pure(x):
        return helpers.add(x, 1)

    def pure_chain(x):
        return pure(pure(x))

    def pure_loop(n):
        return pure_loop(n - 1) if n else 0

    class Worker:
        def run(self):
            with L:
                self.step()

        def step(self):
            sleeps()

        def idle(self):
            return pure_chain(1)
"""

SRC_HELPERS = """
    def add(a, b):
        return a + b

    def twice(f, x):
        return f(f(x))
"""


def _full_compose(m) -> None:
    """``compose`` as it was before the shortcut: every component of the whole call graph,
    callees first, each to a fixpoint."""
    adj = dict(m.call_graph.adjacency())
    guards = graph.ConstantGuards(m)
    for comp in graph._sccs_callees_first(adj):
        members = sorted(comp)
        for _ in range(graph._MAX_ROUNDS):
            changed = False
            for fid in members:
                changed |= graph._compose_one(m, m.functions[fid], guards)
            if not changed:
                break
        guards.done.update(members)


def test_compose_of_the_reached_functions_is_the_full_composition():
    m = _model({"app.py": SRC_LOCKS, "helpers.py": SRC_HELPERS})
    got = {fid: (dict(fi.acq_eff), dict(fi.block_eff)) for fid, fi in m.functions.items()}
    for fi in m.functions.values():
        fi.acq_eff, fi.block_eff = {}, {}
    _full_compose(m)
    want = {fid: (fi.acq_eff, fi.block_eff) for fid, fi in m.functions.items()}
    assert got == want
    # the shortcut did leave functions out, and the composition found what it should
    reach = graph._reaching_effects(m, dict(m.call_graph.adjacency()))
    for fid in ("app.pure", "app.pure_chain", "app.pure_loop", "app.Worker.idle", "helpers.add"):
        assert fid not in reach and got[fid] == ({}, {})
    assert ("app.L", "@global") in got["app.hands_on"][0]          # a callable handed on
    assert ("app.M", "@global") in got["app.pong"][0]              # recursion
    assert "time.sleep" in got["app.Worker.run"][1]
    assert "time.sleep" in got["app.blocking_caller"][1]
    assert "time.sleep" not in got["app.nonblocking_caller"][1]    # ruled out by block=False
    assert ("app.L", "@global") in got["app.awaits_coro"][0]
    assert got["app.only_makes_coro"] == ({}, {})                  # never runs the body
    assert any(k.startswith("Condition.wait@") for k in got["app.waits"][1])


SRC_CALLBACKS = """
    import queue
    import threading

    jobs = queue.Queue()

    def on_tick(x):
        jobs.put(x)

    def started(x):
        jobs.put(x)

    def stored(x):
        jobs.put(x)

    def unused(x):
        jobs.put(x)

    def setup(bus, holder):
        bus.subscribe(on_tick)
        threading.Thread(target=started).start()
        holder.cb = stored

    class Proto:
        def data_received(self, data):
            jobs.put(data)

        def feed(self, line):
            jobs.put(line)

        def plain(self, line):
            jobs.put(line)

        def connect(self, reader):
            reader.add_listener(self.feed)
"""

SRC_OTHER = """
    import pkg.app as app

    def elsewhere(bus):
        bus.subscribe(app.unused)
"""


def test_callbacks_per_module_are_the_whole_program_set():
    m = _model({"pkg/app.py": SRC_CALLBACKS, "pkg/other.py": SRC_OTHER})
    whole = lw401._handed_out(m, list(m.functions.values()))
    whole |= {fid for fid, fi in m.functions.items() if fi.summary.name in lw401.HANDLER_NAMES and fi.cls}
    cb = lw401._Callbacks(m)
    for fid in m.functions:
        assert (fid in cb) == (fid in whole), fid
    # what the set holds: passed to a call, stored on another object, a handler name, a
    # method passed on; not a thread target, not a function nobody hands out
    assert {"pkg.app.on_tick", "pkg.app.stored", "pkg.app.Proto.data_received",
            "pkg.app.Proto.feed"} <= whole
    assert not {"pkg.app.started", "pkg.app.unused", "pkg.app.Proto.plain"} & whole
    assert "pkg.app.started" not in cb and "pkg.app.on_tick" in cb and "pkg.app.Proto.feed" in cb


SRC_THREADS = """
    import threading

    class Owner:
        def __init__(self):
            self._t = threading.Thread(target=self.run)
            self._pool_lock = threading.Lock()

        def run(self):
            with self._pool_lock:
                pass

        def close(self, other):
            self._t.join()
            other.worker.shutdown()
            self.x.y.cancel()
            with self._guard:
                pass

    def helper(o):
        o._t.start()
        o.close(o)
"""


def test_shared_indexes_are_the_plain_computations():
    m = _model({"a.py": SRC_THREADS, "app.py": SRC_LOCKS, "helpers.py": SRC_HELPERS})
    callers: dict = {}
    for fi in m.functions.values():
        for cs in fi.calls:
            for g, recv in cs.targets:
                callers.setdefault(g, []).append((fi, cs, recv))
    assert m.callers() == callers
    assert m.acq_events() == [(fi, i, ev) for fi in m.functions.values()
                              for i, ev in enumerate(fi.summary.events) if ev["e"] == "acq"]
    assert m.sorted_functions() == [(fid, m.functions[fid]) for fid in sorted(m.functions)]
    # LW211's finished attributes, from the indexes, are those of a walk of every event
    plain = set()
    for fi in m.functions.values():
        for ev in fi.summary.events:
            if ev["e"] == "call":
                head, _, last = ev["f"].rpartition(".")
                if last in lw211.FINISH and "." in head:
                    plain.add(head.rpartition(".")[2])
            elif ev["e"] == "acq" and "." in ev["r"]:
                plain.add(ev["r"].rpartition(".")[2])
    assert lw211._finished_attrs(m) == plain
    assert {"_t", "worker", "y", "_guard", "_pool_lock"} <= plain
    # call_events by target: a superset of the calls of the matching functions, in order
    by_target = m.call_events(targets=lambda g: g == "app.takes_l")
    assert [(fi.id, ev["f"]) for fi, _i, ev in by_target] == [("app.coro", "takes_l")]
