"""Compose per-function effects over the call graph, then build the lock-acquisition graph.

``compose``: for every function, the locks it can take (blocking) and the blocking calls
it can make, directly or through callees, each with one shortest witness chain. Strongly
connected components of the call graph (recursion) are iterated to a fixpoint.

``build_lock_graph``: a ``networkx.DiGraph`` of lock class ids; an edge A -> B means "B is
taken while A is held", with witnesses (lists of :class:`Location`: the outer acquisition,
each call on the way, the inner acquisition). Same-class pairs (A -> A) are kept apart as
*self edges* (self-deadlock or instance nesting), blocking calls under a lock as
*blocking sites*. ``find_cycles`` enumerates cycles of distinct lock classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from lockwatch.findings import Location
from lockwatch.static import catalog
from lockwatch.static.checks import local_lock_escapes
from lockwatch.static.link import reroot
from lockwatch.static.model import Acq, FunctionInfo, ProgramModel, short_name

_MAX_WITNESSES = 3
# Marks a witness step that goes through a subclass override (virtual dispatch): a
# possible path, good enough for an order edge, not for claiming a self-deadlock.
VIRTUAL = " (if overridden)"
# Marks a witness step made only when a try-acquire of a lock succeeded just before
# (``if lock.acquire(False): lock.release(); self.m()``): a thread that already holds that
# (non-reentrant) lock never takes this step, so it is no self-deadlock path for it.
PROBED = " (only if {} was free)"
_MAX_ROUNDS = 25

# A witness step is a tuple ``(path, line, col, note)``. A step that enters a project
# function carries what it enters as data after the note, so that a reader follows a chain
# through the functions it names without reading them back out of the note's text
# (``lw131``'s reentrant-hold test): ``(path, line, col, note, how, fid, recv, label)``,
# ``how`` ``CALLS`` for a call (``recv``: the receiver path the linker bound it to, as
# ``reroot`` takes it) or ``HANDS`` for a callable handed on and called by the callee at
# that place (``recv``: the callable's own receiver), ``fid`` the function entered,
# ``label`` how the note names it (``step_name`` and the ``PROBED``/``VIRTUAL`` marks).
CALLS = "calls"
HANDS = "hands"


def step_callee(step) -> tuple[str, str, str | None] | None:
    """``(how, fid, recv)`` of a step that enters a project function, else None."""
    return (step[4], step[5], step[6]) if len(step) > 4 else None


def step_label(step) -> str | None:
    """How a step that enters a project function names it (``"Feed.fetch (if
    overridden)"``), else None."""
    return step[7] if len(step) > 4 else None


def blocking_note(name: str) -> str:
    """The note of the step that makes the blocking call ``name`` (a chain's last)."""
    return f"... which calls {name}"


def _better(old, new) -> bool:
    return old is None or len(new) < len(old)


def _runs_in_call(cs, g: FunctionInfo) -> bool:
    """Does calling ``g`` here run its body now? A coroutine function runs only when
    awaited (``asyncio.run``/``create_task`` hand it to a loop, not to this frame)."""
    return not g.is_async or cs.use == "await"


def _bound_param_calls(m: ProgramModel, cs, g: FunctionInfo):
    """(param-call event idx, callable fid, its receiver) for callables passed to ``g``."""
    if not cs.fnargs or not g.param_calls:
        return []
    params = list(g.summary.params)
    recv_bound = g.summary.self_name is not None and params and params[0] == g.summary.self_name
    out = []
    for ai, h, hrecv in cs.fnargs:
        if isinstance(ai, int):
            pi = ai + (1 if recv_bound else 0)
            if pi >= len(params):
                continue
            pname = params[pi]
        else:
            pname = ai
        for name, idx in g.param_calls:
            if name == pname and h in m.functions:
                out.append((idx, h, hrecv))
    return out


def _sccs_callees_first(adj: dict) -> list[list]:
    """Strongly connected components of a graph (node -> successor dict), each component
    listed after every component it reaches (an iterative Tarjan). Any such order gives
    ``compose`` the same result: a component only reads the effects of components it
    calls, which are final by then. (``networkx.condensation`` plus a topological sort
    did the same at several times the cost on a stdlib-sized call graph.)"""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: list[list] = []
    counter = 0
    for root, succ in adj.items():
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ))]
        while work:
            v, it = work[-1]
            pushed = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(adj[w])))
                    pushed = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if pushed:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def compose(m: ProgramModel) -> None:
    G = m.call_graph
    adj = dict(G.adjacency())
    guards = ConstantGuards(m)
    functions = m.functions
    done = guards.done
    # only the functions that can reach an effect of their own are composed; the others'
    # effects are final (empty) from the start. A component is reached as a whole (its
    # members reach each other), so the components of the reached part are those of the
    # whole graph, and callees first is still callees first.
    reach = _reaching_effects(m, adj)
    done.update(adj.keys() - reach)
    sub = {v: [w for w in succ if w in reach] for v, succ in adj.items() if v in reach}
    for comp in _sccs_callees_first(sub):
        if len(comp) == 1 and comp[0] not in adj[comp[0]]:
            fi = functions[comp[0]]
            _collect(m, fi, fi.acq_eff, fi.block_eff, guards)   # one pass: no fixpoint to test
            done.add(comp[0])
            continue
        members = sorted(comp)
        for _ in range(_MAX_ROUNDS):
            changed = False
            for fid in members:
                changed |= _compose_one(m, m.functions[fid], guards)
            if not changed:
                break
        guards.done.update(members)


def _reaching_effects(m: ProgramModel, adj: dict) -> set:
    """The call graph's functions that can have an effect: those with an effect of their
    own (an acquisition, a blocking call, a call on a lock: a superset of what ``_collect``
    adds by itself) and, transitively, their callers (a function handed on as a callable
    is a successor of the one that hands it on, see ``link``). Every other function's
    effects are empty: all it calls is effect-free, so ``_collect`` would add nothing. On
    a large program most functions are of that kind (about nine in ten in the stdlib)."""
    stack = [fid for fid in m.effect_fids() if fid in adj]   # (the model's index of call sites)
    seen = set(stack)
    pred = m.call_graph.pred
    while stack:
        for u in pred[stack.pop()]:
            if u not in seen:
                seen.add(u)
                stack.append(u)
    return seen


_NO_SKIP: frozenset = frozenset()


class ConstantGuards:
    """A callee's effects as one call site sees them: without the events that the call's
    constant arguments rule out (``put(item, block=False)`` never reaches the
    ``not_full.wait()`` in the ``else`` of ``put``'s ``if not block:``; events' ``pg``, see
    ``summary.py``). Only ``True``/``False``/``None`` passed by keyword, or by position when
    the position is sure (no ``*args`` at the call or in the callee, the receiver known to be
    bound or absent); an omitted argument rules nothing out. P38: the
    ``else`` of ``isinstance(p, C)`` is ruled out by an argument that is a constructor call
    of a class known to be a subclass of ``C`` (``_passed_instances``, ``_instance_of``;
    the arguments of a constructor call, ``File(io.BytesIO(data))``, count by position too).

    P23: the ``connect((host, port))`` of a datagram socket whose host is a parameter
    (``host_params``) is ruled out by a call that binds that parameter to a numeric address:
    a literal, the parameter's literal default when the call surely leaves it out
    (``get_ip()`` with ``def get_ip(host="8.8.8.8")``), or the caller's own parameter when
    the caller's context says it is one (``ctx``: the caller's skip set, which names such
    parameters as ``("ip", param)``; a helper that hands its ``host`` on to another,
    Dask's ``get_ip`` -> ``_get_ip``). Anything else, a name, an expression, a caller's
    parameter with no context (the walk starts there), leaves the connect in: it may
    resolve a host name. The ``("ip", param)`` entries of a skip set are no event index;
    they make the callee's effects restricted (and memoised) per context.

    Effects restricted this way are remembered once final: in ``compose``, when the
    callee's component of the call graph is composed (``done``); afterwards, always."""

    def __init__(self, m: ProgramModel, final: bool = False):
        self.m = m
        self.final = final
        self.done: set = set()
        self._pg: dict[str, dict] = {}     # fid -> {event idx: pg}
        self._isa: dict[str, bool] = {}    # fid -> has an ``isinstance`` guard (P38)
        self._hosts = host_params(m)       # fid -> (connect idx -> param, params) (P23)
        self._memo: dict = {}
        # restrictions being computed, outermost first, and those that met a recursive
        # call of one below them (their result leaves out what that one adds: not kept)
        self._stack: list = []
        self._partial: set = set()

    def skipped(self, fi: FunctionInfo, cs, g: FunctionInfo, recv, ctx: frozenset = _NO_SKIP) -> frozenset:
        """Indices of ``g``'s events that this call of ``g`` (from ``fi``, in the context
        ``ctx``: ``fi``'s own skip set) never reaches, and ``("ip", p)`` for the parameters
        ``p`` of ``g`` it binds to a numeric address (P23)."""
        hosts = self._hosts.get(g.id)
        if hosts is not None:
            out = set(self._skipped_pg(fi, cs, g, recv))
            direct, params = hosts
            numeric = [p for p in params if numeric_host_argument(fi, cs, g, recv, p, ctx)]
            if numeric:
                out.update(("ip", p) for p in numeric)
                out.update(i for i, p in direct.items() if p in numeric)
            return frozenset(out) if out else _NO_SKIP
        return self._skipped_pg(fi, cs, g, recv)

    def _skipped_pg(self, fi: FunctionInfo, cs, g: FunctionInfo, recv) -> frozenset:
        """``skipped`` by the events' ``pg`` guards (constant arguments, P38 instances)."""
        gp = g.summary.guard_params
        if not gp or not cs.args and not cs.kws:
            return _NO_SKIP
        consts = _passed_constants(fi, cs, g, recv)
        isa = self._isa.get(g.id)
        if isa is None:
            isa = self._isa[g.id] = any(type(c) is dict for ev in g.summary.events for _p, c in ev.get("pg", ()))
        made = _passed_instances(self.m, fi, cs, g, recv) if isa else None
        if not any(p in consts or made and p in made for p in gp):
            return _NO_SKIP
        guarded = self._pg.get(g.id)
        if guarded is None:
            guarded = self._pg[g.id] = {i: ev["pg"] for i, ev in enumerate(g.summary.events) if "pg" in ev}
        if not guarded:
            return _NO_SKIP
        m = self.m
        out = [i for i, pg in guarded.items()
               if any((made is not None and p in made and _instance_of(m, made[p], c["isa"], g))
                      if type(c) is dict else (p in consts and any(x is consts[p] for x in c))
                      for p, c in pg)]
        return frozenset(out) if out else _NO_SKIP

    def effects(self, fi: FunctionInfo, cs, g: FunctionInfo, recv,
                ctx: frozenset = _NO_SKIP) -> tuple[dict, dict, frozenset]:
        """(lock effects, blocking effects, skipped event indices) of ``g`` seen from ``cs``
        (in ``fi``'s context ``ctx``, see ``skipped``)."""
        if (not g.summary.guard_params or not cs.args and not cs.kws) and g.id not in self._hosts:
            return g.acq_eff, g.block_eff, _NO_SKIP   # ``skipped``'s first test: most calls
        skip = self.skipped(fi, cs, g, recv, ctx)
        if not skip:
            return g.acq_eff, g.block_eff, skip
        key = (g.id, skip)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        stack = self._stack
        if key in stack:
            # recursion with the same constants: the call adds what is being computed, so
            # nothing new (a least fixpoint); the restrictions in between are partial
            self._partial.update(stack[stack.index(key) + 1:])
            return {}, {}, skip
        stack.append(key)
        try:
            acq: dict = {}
            blk: dict = {}
            _collect(self.m, g, acq, blk, self, skip)
        finally:
            stack.pop()
        out = (acq, blk, skip)
        if key in self._partial:
            self._partial.discard(key)
        elif self.final or g.id in self.done:
            self._memo[key] = out
        return out


def _arguments(fi: FunctionInfo, cs, g: FunctionInfo, recv, constructor: bool = False) -> list[tuple]:
    """(parameter of ``g``, argument value) for what this call passes: every keyword, and
    the positional arguments when their parameters are sure (no ``*args`` at the call or in
    the callee, the receiver known to be bound or absent). With ``constructor``, a call of a
    class (``File(fp)``: the linker's target is ``__init__`` on an unknown receiver) counts
    its positions from the parameter after ``self``."""
    out = list(cs.kws.items())
    args = cs.args
    if not args or g.summary.vararg is not None or cs.idx < 0 or fi.summary.events[cs.idx].get("sa"):
        return out
    s = g.summary
    if s.self_name is None:
        offset = 0                # a function or staticmethod: no receiver
    elif recv == "?":
        # ``Class.method(obj, ...)`` or bound? unsure: keywords only; except a constructor
        # call, whose object made is the first parameter (``File.__init__(obj, fp)`` names
        # the method, and is left to keywords)
        if not constructor or s.name != "__init__" or fi.summary.events[cs.idx]["f"].rpartition(".")[2] == "__init__":
            return out
        offset = 1
    elif recv == "@self" and args[0] == {"r": "@self"}:
        return out                # ``self.method(self, ...)``: unsure, keywords only
    else:
        offset = 1                # a method bound to a known receiver
    params = s.params
    out.extend((params[i + offset], a) for i, a in enumerate(args) if i + offset < len(params))
    return out


def _passed_constants(fi: FunctionInfo, cs, g: FunctionInfo, recv) -> dict:
    """Parameter name -> ``True``/``False``/``None`` for the constants this call passes."""
    out = {}
    for p, a in _arguments(fi, cs, g, recv):
        if a and "const" in a:
            c = a["const"]
            if c is True or c is False or c is None:
                out.setdefault(p, c)
    return out


def _passed_instances(m: ProgramModel, fi: FunctionInfo, cs, g: FunctionInfo, recv) -> dict:
    """Parameter name -> the class of the object this call passes for it (as the linker
    resolved it: ``FunctionInfo.named_classes``), for the arguments that are a constructor
    call of a class: a stdlib io class (``catalog.IO_CLASS_BASES``) or a project class
    without ``__new__`` in its MRO."""
    out = {}
    for p, a in _arguments(fi, cs, g, recv, constructor=True):
        c = _constructed(m, fi, a)
        if c is not None:
            out.setdefault(p, c)
    return out


# ---------------------------------------------------------------- P23: hosts by parameter

def host_params(m: ProgramModel) -> dict:
    """P23: function id -> ({event index: parameter}, parameters) for the functions whose
    thread-blocking calls include a datagram socket's ``connect((p, port))`` whose host is
    their parameter ``p`` (event index -> ``p``), or hand such a parameter on: a call that
    passes their own parameter for one of the callee's (Dask's ``get_ip(host="8.8.8.8")``
    calls ``_get_ip(host, port, family=...)``, which connects). Only parameters the function
    never rebinds (``_unrebound``). The socket is a local the function builds with
    ``socket.socket(..., SOCK_DGRAM)`` (the summary's value of the receiver, read as the
    linker reads it: ``catalog.socket_is_datagram``) and the linker took the call for
    ``socket.socket.connect``. Made once per model."""
    got = m.__dict__.get("_host_params")
    if got is not None and got[0] == len(m.functions):
        return got[1]
    table: dict = {}
    for mod, ms in m.modules.items():
        # the socket is built by a call named ``socket``: its module imports something of
        # that name (most modules do not: the scan of their calls is skipped)
        if not any("socket" in t[1] or "socket" in t[-1] for t in ms.imports.values() if t):
            continue
        for fi in m.module_functions(mod):
            for cs in fi.calls:
                if cs.blocking != "socket.socket.connect" or cs.idx < 0 or cs.targets:
                    continue
                p = _dgram_host_param(m, fi, fi.summary.events[cs.idx])
                if p is not None:
                    entry = table.setdefault(fi.id, ({}, set()))
                    entry[0][cs.idx] = p
                    entry[1].add(p)
    if table:
        # hand-ons, callees first: a caller passing its own parameter for a host parameter
        callers = m.callers()
        work = list(table)
        while work:
            gid = work.pop()
            g = m.functions[gid]
            params = table[gid][1]
            for fi, cs, recv in callers.get(gid, ()):
                if cs.idx < 0 or not _runs_in_call(cs, g):
                    continue
                for q, a in _arguments(fi, cs, g, recv):
                    if q not in params or not isinstance(a, dict) or len(a) != 1:
                        continue
                    p = a.get("r")
                    if isinstance(p, str) and _unrebound(m, fi, p):
                        entry = table.setdefault(fi.id, ({}, set()))
                        if p not in entry[1]:
                            entry[1].add(p)
                            work.append(fi.id)
    m.__dict__["_host_params"] = (len(m.functions), table)
    return table


def _dgram_host_param(m: ProgramModel, fi: FunctionInfo, ev: dict) -> str | None:
    """For a ``socket.socket.connect`` call event of ``fi``: the parameter that is the
    address's host, when the receiver is a local datagram socket and ``fi`` never rebinds
    the parameter; else None."""
    recv, _, meth = ev["f"].rpartition(".")
    if meth != "connect" or not recv.isidentifier():
        return None
    s = fi.summary
    v = s.locals.get(recv)
    ctor = v.get("call") if v else None
    if (not isinstance(ctor, str) or ctor.rpartition(".")[2] != "socket"
            or not catalog.socket_is_datagram(v.get("a") or [], v.get("k") or {})):
        return None
    p = catalog.datagram_connect_host(ev.get("a") or [], ev.get("k") or {})
    return p if p is not None and _unrebound(m, fi, p) else None


def _unrebound(m: ProgramModel, fi: FunctionInfo, p: str) -> bool:
    """Is ``p`` a parameter of ``fi`` (not its receiver) that nothing rebinds: no local
    value in the summary but an annotation (an assignment, ``+=``, a loop, ``with`` or
    ``except`` target leaves one), still a local (an ``import`` makes it none), no
    ``global``, and no function nested in ``fi`` assigning the name (a ``nonlocal``)?"""
    s = fi.summary
    if p not in s.params or p == s.self_name or p not in s.assigned or p in s.globals_decl:
        return False
    v = s.locals.get(p)
    if v is not None and list(v) != ["ann"]:
        return False
    prefix = fi.qualname + ".<locals>."
    for h in m.module_functions(fi.module):
        if h.qualname.startswith(prefix) and p in h.summary.assigned and p not in h.summary.params:
            return False
    return True


def numeric_host_argument(fi: FunctionInfo, cs, g: FunctionInfo, recv, p: str,
                          ctx: frozenset = _NO_SKIP) -> bool:
    """Does this call of ``g`` bind its parameter ``p`` to a numeric address? The argument
    (by keyword, or by a sure position) is a numeric address literal, or ``fi``'s own
    parameter that ``ctx`` names as one (``("ip", name)``); or the call surely leaves ``p``
    out (no ``*args``/``**kwargs``, fewer positions than reach it even with a receiver
    counted) and ``p``'s literal default is one. Anything else: False."""
    for q, a in _arguments(fi, cs, g, recv):
        if q == p:
            if catalog.numeric_host(a):
                return True
            r = a.get("r") if isinstance(a, dict) and len(a) == 1 else None
            return bool(ctx) and isinstance(r, str) and ("ip", r) in ctx and r in fi.summary.params
    if cs.idx < 0:
        return False   # an implicit call: its arguments are not recorded
    ev = fi.summary.events[cs.idx]
    if ev.get("sa") or ev.get("sk") or p in cs.kws:
        return False
    s = g.summary
    if p not in s.params:
        return False
    # positional arguments bind from the first parameter, or the one after the receiver
    if s.params.index(p) < len(cs.args) + (1 if s.self_name is not None else 0):
        return False
    return catalog.numeric_host(s.defaults.get(p))


def _constructed(m: ProgramModel, fi: FunctionInfo, a) -> tuple | None:
    """The class a value makes when it is a constructor call (``{"call": "io.BytesIO"}``)."""
    ref = a.get("call") if a else None
    if not ref:
        return None
    c = fi.named_classes.get(ref)
    if c is None:
        return None
    if c[0] == "ext":
        return c if c[1] in catalog.IO_CLASS_BASES else None
    mro = m.classes[c[1]].mro or [c[1]]
    if any(f"{k}.__new__" in m.functions for k in mro):
        return None   # ``__new__`` may return anything
    return c


def _instance_of(m: ProgramModel, made: tuple, refs: list, g: FunctionInfo) -> bool:
    """Is an object of the class ``made`` an instance of one of the classes ``g`` names
    by ``refs`` (an ``isinstance`` test's)?"""
    for ref in refs:
        t = g.named_classes.get(ref)
        if t is None:
            continue
        if made[0] == "ext":
            if t[0] == "ext" and catalog.io_subclass(made[1], t[1]):
                return True
            continue
        mro = m.classes[made[1]].mro or [made[1]]
        if t[0] == "cls" and t[1] in mro:
            return True
        if t[0] == "ext":
            for k in mro:
                ci = m.classes.get(k)
                if ci is not None and any(e == t[1] or catalog.io_subclass(e, t[1]) for e in ci.ext_bases):
                    return True
    return False


def _compose_one(m: ProgramModel, fi: FunctionInfo, guards: ConstantGuards) -> bool:
    acq = fi.acq_eff
    blk = fi.block_eff
    before = (len(acq), len(blk), sum(len(v) for v in acq.values()))
    _collect(m, fi, acq, blk, guards)
    after = (len(acq), len(blk), sum(len(v) for v in acq.values()))
    return before != after


def _put(d: dict, key, chain) -> None:
    if _better(d.get(key), chain):
        d[key] = chain


def _collect(m: ProgramModel, fi: FunctionInfo, acq: dict, blk: dict, guards: ConstantGuards,
             skip: frozenset = _NO_SKIP) -> None:
    """Add ``fi``'s effects (its own and its callees') to ``acq``/``blk``, leaving out its
    events in ``skip``."""
    put = _put
    for a in fi.deco_acqs:
        if a.blocking:
            put(acq, (a.lock, a.path), ((*a.loc[:3], f"... which takes {short_name(a.lock)} (decorator)"),) + a.via)
    for idx, acqs in fi.acqs.items():
        if skip and idx in skip:
            continue
        for a in acqs:
            if a.blocking:
                put(acq, (a.lock, a.path), ((*a.loc[:3], f"... which takes {short_name(a.lock)}"),) + a.via)
    functions = m.functions
    hosts = guards._hosts
    for cs in fi.calls:
        if skip and cs.idx in skip:
            continue
        if cs.blocking:
            put(blk, cs.blocking, ((*cs.loc[:3], blocking_note(cs.blocking)),))
        if cs.lockm and cs.lockm[3] in ("wait", "wait_for") and cs.lockm[2]:
            put(blk, f"Condition.wait@{cs.lockm[0]}", ((*cs.loc[:3], f"... which waits on {short_name(cs.lockm[0])}"),))
        for g_id, recv in cs.targets:
            g = functions.get(g_id)
            if g is None or g is fi and not skip and not acq and not blk:
                continue   # (a recursive call adds nothing while the function has no effect)
            if g.summary.is_async and cs.use != "await":
                continue   # ``_runs_in_call``, inlined: this loop visits every call edge
            if g.summary.guard_params and (cs.args or cs.kws) or g_id in hosts:
                g_acq, g_blk, g_skip = guards.effects(fi, cs, g, recv, skip)
            else:   # ``guards.effects``'s first test, inlined: nothing to rule out (most calls)
                g_acq, g_blk, g_skip = g.acq_eff, g.block_eff, _NO_SKIP
            if not g_acq and not g_blk and not (cs.fnargs and g.param_calls):
                continue   # nothing to carry over (most callees): no witness step to make
            # an override reached by virtual dispatch is only possibly run: its locks make
            # order edges, its blocking calls are not claimed (logging's Handler.emit would
            # otherwise "block" in every subclass's way)
            if g_id in cs.virtual:
                g_blk = None
            bound = _bound_param_calls(m, cs, g)
            if bound and g_skip:
                bound = [b for b in bound if b[0] not in g_skip]
            if not g_acq and not g_blk and not bound:
                continue
            label = step_name(m, g) + _probe_note(fi, cs) + (VIRTUAL if g_id in cs.virtual else "")
            step = (*cs.loc[:3], f"... calls {label}", CALLS, g_id, recv, label)
            for (lock, p), ch in list(g_acq.items()):
                key = _renamed(cs, lock, p, recv)
                old = acq.get(key)
                if old is None or len(ch) + 1 < len(old):   # put(), without building a loser
                    acq[key] = (step,) + ch
            for name, ch in (list(g_blk.items()) if g_blk else ()):
                old = blk.get(name)
                if old is None or len(ch) + 1 < len(old):
                    blk[name] = (step,) + ch
            for pidx, h, hrecv in bound:
                hf = m.functions[h]
                pev = g.summary.events[pidx]
                label = step_name(m, hf)
                pstep = (g.path, pev["l"], pev["c"], f"... which calls {label}", HANDS, h, hrecv, label)
                for (lock, p), ch in list(hf.acq_eff.items()):
                    put(acq, (lock, "?" if p.startswith("%") else reroot(reroot(p, hrecv), recv)), (step, pstep) + ch)
                for name, ch in list(hf.block_eff.items()):
                    put(blk, name, (step, pstep) + ch)


def step_name(m: ProgramModel, fi: FunctionInfo) -> str:
    """How a witness step names a function: ``fi.short``, except a module function that
    has the name of a method somewhere in the program, which is qualified by its module
    (``_socket.recv``, not a bare ``recv`` one line after ``WebSocket._recv`` and next to
    ``WebSocket.recv``). Names are made once per model."""
    names = m.__dict__.get("_step_names")
    if names is None or names[0] != len(m.functions):
        methods = set()
        module_level = []   # (one pass over the functions: the module functions kept in order)
        for f in m.functions.values():
            q = f.qualname
            if f.cls is not None:
                methods.add(q.rpartition(".")[2])
            elif "." not in q:
                module_level.append(f)
        qualified = {f.id: f"{f.module.rpartition('.')[2]}.{f.qualname}" for f in module_level
                     if f.qualname in methods}
        names = m.__dict__["_step_names"] = (len(m.functions), qualified)
    return names[1].get(fi.id) or fi.short


def _probe_note(fi: FunctionInfo, cs) -> str:
    """``PROBED`` notes for a call made in the body of ``if lock.acquire(False):``."""
    if cs.idx < 0:
        return ""
    pb = fi.summary.events[cs.idx].get("pb")
    if not pb:
        return ""
    locks = sorted({a.lock for i in pb for a in fi.acqs.get(i, ())})
    return "".join(PROBED.format(short_name(lk)) for lk in locks)


def _renamed(cs, lock: str, p: str, recv) -> tuple[str, str]:
    """A callee's lock effect seen from the call site: ``(lock, path)``. The inner lock of a
    lock wrapper entered here (``cs.rename``) is the wrapper definition's lock class."""
    if cs.rename is not None and (lock, p) == cs.rename[:2]:
        return cs.rename[2], recv or "?"
    return lock, (reroot(p, recv) if not p.startswith("%") else "?")


@dataclass
class SelfEdge:
    fid: str
    lock: str
    outer_path: str
    inner_path: str
    blocking: bool
    witness: list          # [Location]
    primary: Location      # where, in ``fid``, the second acquisition happens (or the call)
    outer: Acq | None = None   # the held acquisition


@dataclass
class BlockingSite:
    fid: str
    name: str              # catalog name or "Condition.wait@<lock>"
    held: list             # [Acq]
    witness: list          # [Location]: the lock acquisitions, then the chain
    primary: Location
    steps: tuple = ()      # the chain's witness steps (the witness's tail), with their data


def _loc(step) -> Location:
    return Location(step[0], step[1], step[2], step[3] if len(step) > 3 else "")


def head_steps(m: ProgramModel, fi: FunctionInfo, a: Acq) -> list[Location]:
    """The witness lines of a held lock: where ``fi`` takes it (and, for a wrapper, the
    steps to the real acquisition)."""
    note = f"{step_name(m, fi)} holds {short_name(a.lock)}"
    if a.mode == "decorator":
        note += " (decorator)"
    return [Location(a.loc[0], a.loc[1], a.loc[2], note)] + [_loc(s) for s in a.via]


def _held(fi: FunctionInfo, held, escaping=None) -> list[Acq]:
    """Locks held at a point, leaving out ``acquire()`` calls this function never releases:
    a lock taken and not released here is a signal between threads (``started.acquire()``
    waiting for another thread's ``release()``) or a leak (LW121), not a critical section,
    so it orders nothing."""
    out = fi.held_acqs(held)
    if escaping is not None and out:
        # a local lock handed to another thread (closure, argument) is a signal too
        out = [a for a in out if not (a.mode in ("acquire", "try") and escaping(a.lock))]
    sites = fi.summary.acquire_sites
    if not sites or not out:
        return out
    missing = {(s["l"], s["c"]) for s in sites if s["status"] == "missing"}
    if not missing or fi.summary.name in ("__enter__", "__aenter__"):
        return out
    return [a for a in out if a.via or a.mode not in ("acquire", "try") or (a.loc[1], a.loc[2]) not in missing]


def final_guards(m: ProgramModel) -> ConstantGuards:
    """The model's constant-argument test once composition is done, one per model (its
    memo of what each call rules out is shared by the lock graph's LW131 walk and LW201's,
    ``asyncflow.reach_blocking``)."""
    g = m.__dict__.get("_final_guards")
    if g is None:
        g = m.__dict__["_final_guards"] = ConstantGuards(m, final=True)
    return g


def build_lock_graph(m: ProgramModel) -> nx.DiGraph:
    g = nx.DiGraph()
    m.self_edges = []
    m.blocking_sites = []
    locks = m.locks

    esc_cache: dict[str, bool] = {}
    guards = final_guards(m)

    def escaping(lock_id):
        r = esc_cache.get(lock_id)
        if r is None:
            r = esc_cache[lock_id] = local_lock_escapes(m, lock_id)
        return r

    def usable(lock_id):
        lc = locks.get(lock_id)
        return lc is not None and not lc.counting

    def edge(fi, a: Acq, b_lock, b_path, tail_chain, primary):
        if not usable(a.lock) or not usable(b_lock):
            return
        witness = head_steps(m, fi, a) + [_loc(s) for s in tail_chain]
        if a.lock == b_lock:
            m.self_edges.append(SelfEdge(fi.id, a.lock, a.path, b_path, True, witness, primary, a))
            return
        if g.has_edge(a.lock, b_lock):
            ws = g.edges[a.lock, b_lock]["witnesses"]
            if len(ws) < _MAX_WITNESSES or len(witness) < len(ws[-1]):
                ws.append(witness)
                ws.sort(key=len)
                del ws[_MAX_WITNESSES:]
        else:
            g.add_edge(a.lock, b_lock, witnesses=[witness])

    # a function that takes no lock holds none at its calls: only a call handing on a
    # callable can add an edge there (the callee's own held locks around the call of it)
    hands_on = m.fnarg_fids()
    for fid, fi in m.sorted_functions():
        if not fi.acqs and not fi.deco_acqs and fid not in hands_on:
            continue
        events = fi.summary.events
        for idx in sorted(fi.acqs):
            H = _held(fi, events[idx]["h"], escaping)
            if not H:
                continue
            for b in fi.acqs[idx]:
                if not b.blocking:
                    continue   # a try-lock adds no edge into it
                tail = ((*b.loc[:3], f"... which takes {short_name(b.lock)}"),) + b.via
                for a in H:
                    edge(fi, a, b.lock, b.path, tail, _loc(b.loc))
        deco = fi.deco_acqs
        for cs in fi.calls:
            if not cs.held and not deco and not cs.fnargs:
                continue   # nothing held, nothing handed on (most calls): _held would say []
            H = _held(fi, cs.held, escaping)
            if not H and not cs.fnargs:
                continue
            primary = Location(cs.loc[0], cs.loc[1], cs.loc[2])
            if H and cs.blocking:
                _blocking(m, fi, cs, H, cs.blocking, ((*cs.loc[:3], blocking_note(cs.blocking)),), primary)
            if cs.lockm and cs.lockm[3] in ("wait", "wait_for") and cs.lockm[2]:
                others = [a for a in H if a.lock != cs.lockm[0]]
                if others:
                    step = (*cs.loc[:3], f"... which waits on {short_name(cs.lockm[0])} and re-takes it")
                    for a in others:
                        edge(fi, a, cs.lockm[0], cs.lockm[1], (step,), primary)
                    _blocking(m, fi, cs, others, f"Condition.wait@{cs.lockm[0]}", (step,), primary)
            for g_id, recv in cs.targets:
                gf = m.functions.get(g_id)
                if gf is None or not _runs_in_call(cs, gf):
                    continue
                label = step_name(m, gf) + _probe_note(fi, cs) + (VIRTUAL if g_id in cs.virtual else "")
                step = (*cs.loc[:3], f"... calls {label}", CALLS, g_id, recv, label)
                g_acq, g_blk, g_skip = guards.effects(fi, cs, gf, recv)
                if H:
                    for (lock, p), ch in g_acq.items():
                        lock, bp = _renamed(cs, lock, p, recv)
                        for a in H:
                            edge(fi, a, lock, bp, (step,) + ch, primary)
                    for name, ch in (g_blk.items() if g_id not in cs.virtual else ()):
                        _blocking(m, fi, cs, H, name, (step,) + ch, primary)
                for pidx, h, hrecv in _bound_param_calls(m, cs, gf):
                    if g_skip and pidx in g_skip:
                        continue
                    hf = m.functions[h]
                    pev = gf.summary.events[pidx]
                    label = step_name(m, hf)
                    pstep = (gf.path, pev["l"], pev["c"], f"... which calls {label}", HANDS, h, hrecv, label)
                    inner_held = [Acq(a.lock, reroot(a.path, recv), a.blocking, a.loc, a.via, a.cond, a.mode)
                                  for a in gf.held_acqs(pev["h"])]
                    for (lock, p), ch in hf.acq_eff.items():
                        bp = "?" if p.startswith("%") else reroot(reroot(p, hrecv), recv)
                        for a in H:
                            edge(fi, a, lock, bp, (step, pstep) + ch, primary)
                        for a in inner_held:
                            edge(gf, a, lock, bp, (pstep,) + ch, primary)
    m.lock_graph = g
    return g


def _blocking(m, fi, cs, H, name, chain, primary) -> None:
    held = [a for a in H if not (m.locks.get(a.lock) and m.locks[a.lock].is_async)]
    if name.startswith("Condition.wait@"):
        held = [a for a in held if a.lock != name.split("@", 1)[1]]
    if not held:
        return
    witness = []
    for a in held:
        witness.extend(head_steps(m, fi, a))
    witness.extend(_loc(s) for s in chain)
    m.blocking_sites.append(BlockingSite(fi.id, name, held, witness, primary, chain))


def canonical(cycle: list[str]) -> tuple[str, ...]:
    i = cycle.index(min(cycle))
    return tuple(cycle[i:] + cycle[:i])


def find_cycles(g: nx.DiGraph, length_bound: int = 8, limit_per_scc: int = 200) -> list[tuple[str, ...]]:
    """Cycles of >= 2 distinct lock classes, each once, canonical rotation (smallest id
    first), in a stable order. Bounded in length and count so that a dense graph cannot
    make the search explode."""
    out: set[tuple[str, ...]] = set()
    for scc in nx.strongly_connected_components(g):
        if len(scc) < 2:
            continue
        sub = g.subgraph(scc)
        n = 0
        for cyc in nx.simple_cycles(sub, length_bound=length_bound):
            if len(cyc) < 2:
                continue
            out.add(canonical(list(cyc)))
            n += 1
            if n >= limit_per_scc:
                break
    return sorted(out, key=lambda c: (len(c), c))


def analyse(m: ProgramModel) -> ProgramModel:
    compose(m)
    build_lock_graph(m)
    return m
