"""LW211 unjoined-thread: a thread, process, executor or pool that is started and that the
code owning it never joins or shuts down.

Ownership, from the summaries (precision first: anything unclear counts as handed on):

- a local (``t = Thread(...); t.start()``): the function (closures included) must call
  ``join``/``shutdown``/``terminate``/... on it or use it in a ``with``; a local that is
  passed, stored, returned, tested or captured is handed on and not judged;
- an attribute (``self._t = Thread(...)``): some method anywhere must call ``._t.join()``
  (or shutdown...); if the attribute is used other than through method calls it is handed
  on;
- ``Thread(...).start()`` with the handle thrown away: never joinable;
- ``with ThreadPoolExecutor() as ex:`` is always fine;
- module level: the program owns it, and the interpreter joins non-daemon threads and
  executor workers at exit, so it is not judged.

Daemon threads (``daemon=True``, ``t.daemon = True``, ``t.setDaemon(True)``, a subclass
that sets ``self.daemon = True``) follow ``daemon-threads`` in the configuration: "ignore"
(default: documented fire-and-forget) or "report".
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static import asyncflow
from lockwatch.static.checks import finding, function_short

CREATORS = {
    "threading.Thread": "thread",
    "threading.Timer": "thread",
    "multiprocessing.Process": "process",
    "multiprocessing.context.BaseContext.Process": "process",
    "concurrent.futures.ThreadPoolExecutor": "executor",
    "concurrent.futures.ProcessPoolExecutor": "executor",
    "multiprocessing.Pool": "pool",
    "multiprocessing.pool.Pool": "pool",
    "multiprocessing.pool.ThreadPool": "pool",
    "multiprocessing.context.BaseContext.Pool": "pool",
}
_CREATOR_LAST = frozenset(n.rpartition(".")[2] for n in CREATORS)
# What a message calls a creator known by an internal class (a context's method): the
# public name of what it makes. The creator's catalog name stays the finding's key.
_SHOWN = {"multiprocessing.context.BaseContext.Process": "multiprocessing.Process",
          "multiprocessing.context.BaseContext.Pool": "multiprocessing.Pool"}
# How to end one: a Thread or Process is no context manager (no with block), an executor
# or a pool is.
_THROWN_AWAY = "the handle is thrown away"
_ADVICE = {"thread": "join it", "process": "join it",
           "executor": "shut it down, or use a with block", "pool": "close and join it, or use a with block"}
_BASES = {"threading.Thread": "thread", "multiprocessing.Process": "process",
          "multiprocessing.context.Process": "process"}
FINISH = {"join", "shutdown", "terminate", "kill", "cancel", "close", "__exit__", "__enter__"}
_STARTS = {"thread": {"start"}, "process": {"start"}}   # executors/pools: any work submitted
_NOUN = {"thread": "thread", "process": "process", "executor": "executor", "pool": "pool"}


def _thread_subclass_init(model, fid: str, memo: dict) -> bool:
    """Is ``fid`` the ``__init__`` of a project class with a Thread or Process base (the
    calls ``_subclass_kind`` names)? A call of any other project ``__init__`` that the
    creators' names do not find is no candidate: ``ext_names`` finds nothing for a call
    with targets, and ``_subclass_kind`` nothing in them."""
    g = model.functions.get(fid)
    if g is None or g.summary.name != "__init__" or not g.cls:
        return False
    found = memo.get(g.cls)
    if found is None:
        ci = model.classes.get(g.cls)
        found = memo[g.cls] = ci is not None and any(
            b in _BASES for c in ci.mro if c in model.classes for b in model.classes[c].ext_bases)
    return found


def _subclass_kind(model, cs):
    for tgt, _r in cs.targets:
        g = model.functions.get(tgt)
        if g is None or g.summary.name != "__init__" or not g.cls:
            continue
        ci = model.classes.get(g.cls)
        if ci is None:
            continue
        for c in ci.mro:
            for b in model.classes[c].ext_bases:
                if b in _BASES:
                    return _BASES[b], ci
    return None, None


def _class_sets_daemon(model, ci) -> bool:
    for c in ci.mro:
        for q in model.classes[c].summary.methods.values():
            fi = model.functions.get(f"{model.classes[c].module}.{q}")
            if fi is None:
                continue
            for ev in fi.summary.events:
                if ev["e"] == "wr" and ev["r"] == "@self.daemon" and (ev.get("v") or {}).get("const") is True:
                    return True
                if ev["e"] == "call" and ev["f"] in ("@super.__init__", "@self.setDaemon") and (
                        (ev.get("k") or {}).get("daemon") == {"const": True}
                        or ev["f"] == "@self.setDaemon"):
                    return True
    return False


def _daemon_local(model, fi, name) -> bool:
    for f in asyncflow._scope_functions(model, fi):
        for ev in f.summary.events:
            if ev["e"] == "wr" and ev["r"] == f"{name}.daemon" and (ev.get("v") or {}).get("const") is True:
                return True
            if ev["e"] == "call" and ev["f"] == f"{name}.setDaemon":
                return True
    return False


def _finished_attrs(model) -> set[str]:
    """Attribute names on which some code anywhere calls a finishing method."""
    cached = getattr(model, "_lw211_finished", None)
    if cached is not None:
        return cached
    out = set()
    # the model's shared indexes: the calls of a finishing method, every acquisition event
    for _fi, _i, ev in model.call_events(last=FINISH):
        # ``x.attr.join()``: the name before the last, for a chain of 3 or more
        head, _, last = ev["f"].rpartition(".")
        if last in FINISH and "." in head:
            out.add(head.rpartition(".")[2])
    for _fi, _i, ev in model.acq_events():
        r = ev["r"]
        if "." in r:
            out.add(r.rpartition(".")[2])   # ``with self._pool:``
    model._lw211_finished = out
    return out


def _attr_handed_on(model, fi, ref) -> bool:
    """``self._t`` used other than as the receiver of a method call (in its class)."""
    cls = fi.cls
    for g in model.functions.values():
        if g.cls != cls:
            continue
        evs = g.summary.events
        calls_at = {(ev["l"], ev["c"]) for ev in evs if ev["e"] == "call" and ev["f"].startswith(ref + ".")}
        for ev in evs:
            if ev["e"] == "rd" and ev["r"] == ref and (ev["l"], ev["c"]) not in calls_at:
                return True
            if ev["e"] == "wr" and (ev.get("v") or {}).get("r") == ref:
                return True
            if ev["e"] == "call":
                for a in list(ev.get("a") or []) + list((ev.get("k") or {}).values()):
                    if isinstance(a, dict) and (a.get("r") == ref or str(a.get("r", "")).startswith(ref + ".")):
                        return True
        for rv in g.summary.returns:
            if isinstance(rv, dict) and rv.get("r") == ref:
                return True
    return False


def _verdict(model, fi, ev, kind, idx):
    """None when owned and finished (or handed on), else (why, related step)."""
    u = ev.get("u")
    starts = _STARTS.get(kind)
    if u == "local" and ev.get("t"):
        name = ev["t"]
        if asyncflow.name_handed_on(model, fi, name):
            return None
        meths = asyncflow.method_calls_on(model, fi, name)
        if meths & FINISH:
            return None
        started = bool(meths & starts) if starts else bool(meths)
        if not started:
            return None
        return f"the local {name!r} is never joined" if kind in ("thread", "process") else f"the local {name!r} is never shut down"
    if u == "attr" and ev.get("t", "").startswith("@self.") and ev["t"].count(".") == 1:
        ref = ev["t"]
        attr = ref.split(".")[1]
        if attr in _finished_attrs(model) or _attr_handed_on(model, fi, ref):
            return None
        meths = set()
        for g in model.functions.values():
            if g.cls == fi.cls:
                meths |= asyncflow.method_calls_on(model, g, ref)
        started = bool(meths & starts) if starts else bool(meths)
        if not started:
            return None
        return f"no code {'joins' if kind in ('thread', 'process') else 'shuts down'} self.{attr}"
    if u == "expr":
        pre = ev["f"] + ".()."
        for later in fi.summary.events[idx + 1:idx + 4]:
            if later["e"] == "call" and later["f"].startswith(pre) and later["l"] == ev["l"]:
                m = later["f"][len(pre):]
                if m in FINISH:
                    return None
                if starts is None or m in starts:
                    return _THROWN_AWAY + ", so it can never be joined"
        return None
    return None


def check(model, config):
    policy = getattr(config, "daemon_threads", "ignore") or "ignore"
    # the only calls that can start one: a linked creator, a call of a project __init__ (a
    # Thread subclass, see _subclass_kind) or, without the linker's names (ext_names then
    # finds only names ending with the called ref's own last part), a creator's last name
    candidates: dict[str, list] = {}
    memo: dict = {}
    for fi, idx, ev in model.call_events(ext=CREATORS, last=_CREATOR_LAST,
                                         targets=lambda g: _thread_subclass_init(model, g, memo)):
        candidates.setdefault(fi.id, []).append((idx, ev))
    for fid in sorted(candidates):
        fi = model.functions[fid]
        if fi.qualname == "<module>":
            continue   # owned by the program: threading and concurrent.futures join them at exit
        sites = asyncflow.call_sites(fi)
        counts: dict = {}
        for idx, ev in candidates[fid]:
            cs = sites.get(idx)
            if (cs is None or not (cs.ext or cs.targets or cs.lockm)) and \
                    ev["f"].rpartition(".")[2] not in _CREATOR_LAST:
                # without the linker's names, ext_names can only find a name ending with the
                # called ref's last part, and no target means no Thread subclass
                continue
            kind, what, ci = None, None, None
            for name in asyncflow.ext_names(model, fi, ev, cs):
                if name in CREATORS:
                    kind, what = CREATORS[name], name
                    break
            if kind is None and cs is not None:
                kind, ci = _subclass_kind(model, cs)
                what = ci.summary.name if ci is not None else None
            if kind is None:
                continue
            if kind in ("thread", "process"):
                daemon = (ev.get("k") or {}).get("daemon") == {"const": True}
                if not daemon and ci is not None:
                    daemon = _class_sets_daemon(model, ci)
                if not daemon and ev.get("u") == "local" and ev.get("t"):
                    daemon = _daemon_local(model, fi, ev["t"])
                if daemon and policy != "report":
                    continue
            why = _verdict(model, fi, ev, kind, idx)
            if why is None:
                continue
            n = counts[what] = counts.get(what, 0) + 1
            noun = _NOUN[kind]
            end = "joined" if kind in ("thread", "process") else "shut down"
            article = "an" if noun[0] in "aeiou" else "a"
            advice = _ADVICE[kind]
            if why.startswith(_THROWN_AWAY):
                advice = "keep a reference and " + advice
            msg = (f"{function_short(model, fid)} starts {article} {noun} ({_SHOWN.get(what, what)}) that "
                   f"is never {end}: {why}; it outlives its owner, keeps the program from exiting or is "
                   f"killed mid-work, and its errors are lost ({advice})")
            where = Location(fi.path, ev["l"], ev["c"])
            related = [Location(fi.path, ev["l"], ev["c"], f"{fi.short} creates the {noun}")]
            yield finding(RULE, msg, where, related, [], (fid, what, ev.get("u"), ev.get("t", ""), n))


RULE = Rule(
    code="LW211",
    name="unjoined-thread",
    kind="unjoined-thread",
    severity="warning",
    runtime=True,  # also reported by `lockwatch run` (lockwatch/runtime/loopwatch.py, lifecycle.py)
    summary="Join every thread and shut down every pool you start",
    what="""
Finds a `threading.Thread`/`Timer` (or a project subclass), `multiprocessing.Process`,
`ThreadPoolExecutor`/`ProcessPoolExecutor` or `multiprocessing.Pool` that is started and
never joined or shut down by the code that owns it: a local the function starts but never
joins, an attribute (`self._worker`) that no method joins, or `Thread(...).start()` whose
handle is thrown away. Clean: a `with` block, a join in the same function, a
`close()`/`stop()` method that joins the attribute, threads handed on (appended to a list
joined later, returned, passed). Daemon threads follow `daemon-threads` in the
configuration (`"ignore"`, the default, or `"report"`).
""",
    why="""
A thread nobody joins outlives the object or request that started it: the program cannot
exit while it runs (or, as a daemon, it is killed mid-write at exit), its exception is
printed to stderr and lost, and tests leak threads into each other. An executor that is
never shut down keeps its worker threads or processes alive.
""",
    example="""
def handle(self, job):
    worker = threading.Thread(target=self.process, args=(job,))
    worker.start()            # never joined
""",
    use_instead="""
def handle(self, job):
    worker = threading.Thread(target=self.process, args=(job,))
    worker.start()
    worker.join()
""",
    invalid=(
        Example.single('''
import threading
from concurrent.futures import ThreadPoolExecutor


def process(job):
    return job


def handle(job):
    worker = threading.Thread(target=process, args=(job,))  # expect
    worker.start()


def fan_out(jobs):
    pool = ThreadPoolExecutor(4)  # expect
    return [pool.submit(process, j) for j in jobs]


def fire(job):
    threading.Thread(target=process, args=(job,)).start()  # expect


class Poller:
    def __init__(self):
        self._thread = threading.Thread(target=self._run)  # expect

    def begin(self):
        self._thread.start()

    def _run(self):
        pass
'''),
    ),
    valid=(
        Example.single('''
import threading
from concurrent.futures import ThreadPoolExecutor


def process(job):
    return job


def handle(job):
    worker = threading.Thread(target=process, args=(job,))
    worker.start()
    worker.join()


def fan_out(jobs):
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(process, jobs))


def many(jobs):
    threads = []
    for j in jobs:
        t = threading.Thread(target=process, args=(j,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def background(job):
    threading.Thread(target=process, args=(job,), daemon=True).start()


server = threading.Thread(target=process, args=(None,))
server.start()
shared_pool = ThreadPoolExecutor(2)
shared_pool.submit(process, 1)


class Poller:
    def __init__(self):
        self._thread = threading.Thread(target=self._run)

    def begin(self):
        self._thread.start()

    def close(self):
        self._thread.join()

    def _run(self):
        pass
'''),
    ),
    check=check,
)
