"""Shared logic of the race rules (LW301 unprotected-shared-state, LW302 check-then-act,
LW303 guarded-by-violation), RacerD-style: precision first.

Only *candidate* classes are examined: a class that owns or takes a thread lock, one that
is declared thread-safe (``@lockwatch.thread_safe``, or listed in ``[tool.lockwatch.runtime]
watch-classes``), one that declares guards (``guarded_by``), and, for check-then-act only,
a class whose methods are handed to threads or executors. For each candidate the accesses
to ``self.<attr>`` of every method are collected with the set of lock classes held there:

- held directly (``with self._lock:`` / ``acquire()`` in the method), or
- held by *every* caller of a private helper (``_name``) inside the program: the helper is
  analysed compositionally, a greatest fixpoint over the class's internal calls, so that
  ``with self._lock: self._bump()`` makes ``_bump``'s accesses count as locked.

Constructors (``__init__``, ``__new__``, ``__post_init__``, ``__setstate__``, ``__del__``)
and private helpers called only from them run before (or after) the object is shared:
their accesses are never races. Attributes holding locks, queues, events, deques and other
thread-safe objects are not state whose mutation needs a lock (rebinding them still is).

The checks query the linked model only (:mod:`lockwatch.static.model`); nothing here parses
source. The result is computed once per model and shared by the three rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lockwatch.findings import Location
from lockwatch.static.catalog import ASYNC_SORTS
from lockwatch.static.model import FunctionInfo, ProgramModel, short_name

CTOR_NAMES = frozenset({"__init__", "__new__", "__post_init__", "__setstate__", "__del__",
                        "__init_subclass__", "__set_name__", "__class_getitem__",
                        # fork handlers run in the child's only thread
                        "_at_fork_reinit", "_after_fork", "_afterfork", "_reset_internal_locks"})

# Debug renderings: an unlocked read there is at worst a stale line in a log.
REPR_NAMES = frozenset({"__repr__", "__str__", "__format__"})

# Methods that mutate the receiver in place (list, dict, set, bytearray, deque, ...).
MUTATORS = frozenset({
    "append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "add",
    "discard", "setdefault", "sort", "reverse", "appendleft", "extendleft", "popleft",
    "rotate", "difference_update", "intersection_update", "symmetric_difference_update",
    "__setitem__", "__delitem__", "__iadd__",
})

# Objects whose own methods are already thread-safe: their mutation needs no outer lock.
THREAD_SAFE_TYPES = (
    "queue.", "threading.", "multiprocessing.", "asyncio.", "concurrent.futures.",
    "collections.deque", "weakref.", "itertools.count", "_thread.", "contextvars.",
)

THREAD_SAFE_MARKERS = ("thread_safe",)
GUARD_MARKERS = ("guarded_by",)


@dataclass
class Access:
    attr: str
    write: bool
    container: bool            # element write or in-place mutation (not a rebinding)
    fid: str
    loc: Location
    locks: frozenset           # lock class ids held (directly or by every caller)
    direct: tuple              # acq event indices of ``fid`` held here
    ctor: bool                 # in a constructor (object not shared yet)
    test_end: int | None = None  # a read in an ``if`` test: last line of that statement
    idx: int = -1              # event index in ``fid``
    outer: frozenset = frozenset()  # locks held by the calling context (private helpers)
    chain: tuple = ()          # calls from the public method down to ``fid`` (Locations)
    ctx: int = 0               # one id per calling context of ``fid``
    root: str = ""             # the method (not a private helper) the context starts from
    # a mutator-named call (``self.x.update()``) of a method of a plain project class (see
    # ``_mutator_calls``): the method's name. The object changes through its own method,
    # the attribute does not: an in-place change for LW301 (said as a call), no act of a
    # check-then-act, no locked write that makes a read of the reference racy
    call: str | None = None


@dataclass
class ClassRaces:
    cid: str
    reasons: list[str]
    owns_lock: bool
    declared: bool             # thread_safe marker or configured
    threaded: bool             # methods handed to threads/executors
    accesses: dict[str, list[Access]] = field(default_factory=dict)
    # guarded attribute -> (lock attribute name, resolved lock id or None, declaration Location)
    guards: dict[str, tuple] = field(default_factory=dict)
    safe_attrs: set[str] = field(default_factory=set)   # locks, queues, events, ...
    # methods that run in exactly one thread (the target of the one Thread made in __init__)
    single_thread_roots: set[str] = field(default_factory=set)
    thread_roots: set[str] = field(default_factory=set)   # methods handed to threads/executors


def _thread_lock(model: ProgramModel, lock_id: str) -> bool:
    lc = model.locks.get(lock_id)
    return lc is not None and lc.sort not in ASYNC_SORTS and not lc.counting


def _marker_names(model: ProgramModel, module: str, deco: dict) -> tuple[str, dict] | None:
    """``lockwatch.thread_safe`` / ``thread_safe`` (imported from lockwatch) / a call of
    them -> (marker name, the decorator value)."""
    ref = deco.get("r") or deco.get("call")
    if not isinstance(ref, str):
        return None
    parts = ref.split(".")
    last = parts[-1]
    if last not in THREAD_SAFE_MARKERS + GUARD_MARKERS:
        return None
    ms = model.modules.get(module)
    imports = ms.imports if ms is not None else {}
    head = imports.get(parts[0])
    if len(parts) == 1:
        if head is None or not str(head[1]).startswith("lockwatch"):
            return None
    elif head is None or not str(head[1]).startswith("lockwatch"):
        return None
    return last, deco


# a call that runs a callable argument in another thread: a Thread/Timer, or one of these methods
HAND_OFF_TYPES = ("threading.Thread", "threading.Timer")
HAND_OFF_METHODS = ("submit", "map", "start_new_thread", "run_in_executor")


def _configured_classes(config) -> set[str]:
    rt = getattr(config, "runtime", None) or {}
    names = rt.get("watch_classes") or rt.get("watch-classes") or []
    if isinstance(names, str):
        names = [names]
    return {str(n) for n in names}


def _constructor_name(name: str) -> bool:
    """A thread-safe type's name that is a constructor (``threading.Semaphore``,
    ``collections.deque``), not one of its methods (``queue.Queue.get``)."""
    last = name.rpartition(".")[2]
    return last[:1].isupper() or name in THREAD_SAFE_TYPES


class _Index:
    """Model-wide lookups the per-class analysis needs, built in one pass over the
    functions: without it every class rescanned every function (setters) and every
    candidate every call site (helper callers), quadratic on a stdlib-sized model."""

    def __init__(self, model: ProgramModel):
        self.setters: dict[str, list[FunctionInfo]] = {}
        # callee fid -> [(calling function, call site, receiver path)] (the model's, shared)
        self.callers: dict[str, list[tuple]] = model.callers()
        self.lock_modules: set[str] = set()
        # classes with a method that takes a thread lock: their instances guard themselves
        self.lock_owners: set[str] = set()
        # functions with a call that may hand a callable to a thread (see analyse_class)
        self.hand_off_fids: set[str] = {
            fi.id for fi, _i, _ev in model.call_events(ext=HAND_OFF_TYPES, last=HAND_OFF_METHODS)}
        # the classes of those functions: with ``lock_owners``, the classes one of whose
        # methods could make them a candidate (see ``analyse_class``'s first test)
        self.hand_off_classes: set[str] = {
            model.functions[fid].cls for fid in self.hand_off_fids if model.functions[fid].cls is not None}
        for fid, fi in model.functions.items():
            if fi.cls is not None and fi.acqs and any(_thread_lock(model, a.lock) for acqs in fi.acqs.values()
                                                      for a in acqs):
                self.lock_owners.add(fi.cls)
            if fi.cls is not None and fid.endswith(".<setter>"):
                self.setters.setdefault(fi.cls, []).append(fi)
            if not fi.acqs:
                continue
            mod_dots = fi.module.count(".") + 1
            prefix = fi.module + "."
            for acqs in fi.acqs.values():
                for a in acqs:
                    if (a.lock.startswith(prefix) and a.lock.count(".") == mod_dots
                            and _thread_lock(model, a.lock)):
                        self.lock_modules.add(fi.module)


class _LockHandOffs:
    """Locks held across calls by a hand-off API (P39; P9's shape): a method that acquires a
    lock with ``acquire()`` and returns holding it (concurrent-log-handler's ``_do_lock``),
    paired in its caller with a later call of a method that releases that lock without
    taking it (``_do_unlock``). (urllib3's P9 is not this: its per-key lock is a local of both
    methods, and ``set_and_release`` also takes it with ``with``.) Between the two calls,
    on the same receiver, the caller holds the lock: the calls made there (the releasing one
    included: it runs before its own ``release()``) and the caller's own accesses there are
    locked; and a function called only where such a lock is held runs holding it, as do the
    functions it alone calls (``entry``).

    Why the pairing and not the acquirer alone: the summary's release analysis cannot say
    whether an acquirer returns holding the lock (``_do_lock`` releases it in a ``finally``,
    under ``if not ok:``, so its site reads as released); a method releasing a lock it never
    takes is the evidence that some caller hands it one held, and the caller that calls the
    acquirer and then that method is the one. Narrow on purpose: a call whose result is used
    (a try-lock ``if self._lock_it():``), one in a branch of a test on a parameter or on an
    attribute of ``self``, or one reached by virtual dispatch only, opens nothing.

    A held lock is kept with the receiver path, relative to the function's ``self``, of the
    object whose lock it is (``@self``, ``@self.clh``): a callee on that path holds its own
    object's lock; a callee on ``self`` keeps the path; any other callee does not see it."""

    def __init__(self, model: ProgramModel, callers: dict):
        self.model = model
        # fid -> thread locks it acquires with ``acquire()`` (blocking)
        self.acquirers: dict[str, frozenset] = {}
        # fid -> thread locks it releases and never acquires itself
        self.releasers: dict[str, frozenset] = {}
        for fid, fi in model.functions.items():
            if fi.released:
                taken = {a.lock for acqs in fi.acqs.values() for a in acqs}
                rel = frozenset(x for x in fi.released if x not in taken and _thread_lock(model, x))
                if rel:
                    self.releasers[fid] = rel
        released = set().union(*self.releasers.values()) if self.releasers else set()
        for fid, fi in model.functions.items():
            if not fi.acqs or fi.is_async:
                continue
            got = frozenset(a.lock for acqs in fi.acqs.values() for a in acqs
                            if a.mode == "acquire" and a.blocking and not a.via and a.lock in released
                            and _thread_lock(model, a.lock))
            if got:
                self.acquirers[fid] = got
        # calling function id -> [(acquirer call index, releaser call index, lock, receiver)]
        self.spans: dict[str, list[tuple[int, int, str, str]]] = {}
        # fid -> {(lock, receiver path)} held at every call of it (see _propagate)
        self.entries: dict[str, frozenset] = {}
        if not self.acquirers:
            return
        seen: set[str] = set()
        for a in self.acquirers:
            for fi, _cs, _recv in callers.get(a, ()):
                if fi.id not in seen:
                    seen.add(fi.id)
                    self._pair(fi)
        if self.spans:
            self._propagate(callers)

    def _conditional(self, fi: FunctionInfo, idx: int) -> bool:
        ev = fi.summary.events[idx]
        if ev.get("pg") or ev.get("u") != "discard":
            return True
        line = ev["l"]
        return any(t.get("t") is not None and t["l"] < line <= t["t"]
                   for t in fi.summary.events[:idx] if t["e"] == "rd")

    def _pair(self, fi: FunctionInfo) -> None:
        sites = fi.sites()
        open_: dict[tuple[str, str], int] = {}
        spans: list[tuple[int, int, str, str]] = []
        for idx in sorted(sites):
            cs = sites[idx]
            for g, recv in cs.targets:
                if not isinstance(recv, str) or g in cs.virtual:
                    continue
                for lk in self.releasers.get(g, ()):
                    start = open_.pop((lk, recv), None)
                    if start is not None:
                        spans.append((start, idx, lk, recv))
                if g in self.acquirers and not self._conditional(fi, idx):
                    for lk in self.acquirers[g]:
                        open_.setdefault((lk, recv), idx)
        if spans:
            self.spans[fi.id] = spans

    def _pairs_at(self, fi: FunctionInfo, cs) -> frozenset:
        """(lock, receiver path) pairs ``fi`` holds at its call site ``cs``."""
        out = {(lk, r) for a, b, lk, r in self.spans.get(fi.id, ()) if a < cs.idx <= b}
        ent = self.entries.get(fi.id)
        if ent:
            # a releaser entered holding the lock does not pass it on (it gives it up)
            mine = self.releasers.get(fi.id, frozenset())
            out |= {p for p in ent if p[0] not in mine}
        return frozenset(out)

    @staticmethod
    def _translate(pairs, recv) -> frozenset:
        """The caller's pairs as seen by a callee called on receiver ``recv``."""
        out = set()
        for lk, p in pairs:
            if p == recv:
                out.add((lk, "@self"))
            elif recv == "@self":
                out.add((lk, p))
        return frozenset(out)

    def _propagate(self, callers: dict) -> None:
        """``entries``: the least fixpoint of "held at every call site" over the functions
        reachable from a hand-off caller (a cycle not entered from a holder holds nothing)."""
        funcs = self.model.functions
        below: list[str] = []
        seen: set[str] = set()
        stack = sorted(self.spans)
        while stack:
            fid = stack.pop()
            fi = funcs.get(fid)
            if fi is None:
                continue
            for cs in fi.calls:
                for g, _r in cs.targets:
                    if g not in seen and g in funcs:
                        seen.add(g)
                        below.append(g)
                        stack.append(g)
        # a function also handed on as a value (a thread target, a callback) runs from
        # wherever that value is called: no entry lock for it
        passed = self.model.handed_on()
        below = sorted(g for g in below if g not in passed)
        for _round in range(12):
            changed = False
            for fid in below:
                got = None
                for fi, cs, recv in callers.get(fid, ()):
                    if fi.id not in self.spans and fi.id not in self.entries:
                        got = frozenset()
                        break
                    here = self._translate(self._pairs_at(fi, cs), recv) if isinstance(recv, str) else frozenset()
                    got = here if got is None else got & here
                    if not got:
                        break
                got = got or frozenset()
                if got != self.entries.get(fid, frozenset()):
                    changed = True
                    if got:
                        self.entries[fid] = got
                    else:
                        self.entries.pop(fid, None)
            if not changed:
                break

    def at_call(self, fi: FunctionInfo, cs) -> frozenset:
        """Hand-off locks ``fi`` holds at call site ``cs``."""
        if fi.id not in self.spans and fi.id not in self.entries:
            return frozenset()
        return frozenset(lk for lk, _p in self._pairs_at(fi, cs))

    def at_event(self, fi: FunctionInfo, idx: int) -> frozenset:
        """Hand-off locks ``fi`` holds at its event ``idx`` (an access) by its own calls."""
        spans = self.spans.get(fi.id)
        if not spans:
            return frozenset()
        return frozenset(lk for a, b, lk, _r in spans if a < idx < b)

    def on_receiver(self, fi: FunctionInfo, cs, recv) -> bool:
        """Does ``fi`` hold, at ``cs``, the hand-off lock of the object the call is on?"""
        if fi.id not in self.spans and fi.id not in self.entries or not isinstance(recv, str):
            return False
        return any(p == "@self" for _lk, p in self._translate(self._pairs_at(fi, cs), recv))

    def entry(self, fid: str) -> frozenset:
        """Hand-off locks held at every call site of ``fid`` in the program (none when it has
        no caller): the function runs holding them."""
        return frozenset(lk for lk, _p in self.entries.get(fid, ()))

    def released_from(self, fi: FunctionInfo, locks: frozenset) -> dict[str, int]:
        """For a releaser entered holding ``locks``: lock -> index of its first ``release()``
        event (events after it run without that lock)."""
        mine = self.releasers.get(fi.id)
        if not mine or not (mine & locks):
            return {}
        rels = [(i, ev) for i, ev in enumerate(fi.summary.events) if ev["e"] == "rel"]
        out = {}
        for lk in mine & locks:
            name = lk.rpartition(".")[2]
            own = [i for i, ev in rels if str(ev.get("r", "")).rpartition(".")[2] == name]
            out[lk] = min(own or [i for i, _ev in rels])
        return out


def _handoffs(model: ProgramModel) -> _LockHandOffs:
    idx = _index(model)
    h = idx.__dict__.get("handoffs")
    if h is None:
        h = idx.handoffs = _LockHandOffs(model, idx.callers)
    return h


def _index(model: ProgramModel) -> _Index:
    idx = getattr(model, "_races_index", None)
    if idx is None:
        idx = _Index(model)
        try:
            model._races_index = idx
        except AttributeError:
            pass
    return idx


def _class_methods(model: ProgramModel, cid: str) -> list[FunctionInfo]:
    ci = model.classes[cid]
    out = []
    for qual in ci.summary.methods.values():
        fi = model.functions.get(f"{ci.module}.{qual}")
        if fi is not None:
            out.append(fi)
    # property setters are recorded apart from ``methods``
    prefix = f"{ci.module}.{ci.summary.qualname}."
    for fi in _index(model).setters.get(cid, ()):
        if fi.id.startswith(prefix):
            out.append(fi)
    return out


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _held_locks(model: ProgramModel, fi: FunctionInfo, h) -> frozenset:
    # (every lock the linker says a decorator holds counts here, as before P49: an access
    # under one is not unprotected; only ``decorator_locks`` are a calling context)
    return frozenset(a.lock for a in fi.held_acqs(h) if _thread_lock(model, a.lock))


def decorator_locks(model: ProgramModel, fi: FunctionInfo) -> frozenset:
    """Thread locks held for the whole body of ``fi`` by a project decorator (P49, peewee's
    ``locked``: ``def inner(self, *a, **k): with self._pool_lock: return fn(self, *a,
    **k)``): the linker's ``deco_acqs`` (``mode == "decorator"``) whose lock is the
    decorated method's own (``@self...``, passed on as the wrapped call's first argument)
    or one module- or class-level instance (``@global``), and whose wrapper calls the
    wrapped function only while holding it. The linker keeps the lock held at the first
    call of the wrapped function it finds; a decorator with another nested function, or a
    second call, that runs it without the lock (a fast path, an async variant) holds
    nothing for certain, so it gives nothing here (the body is analysed as unlocked)."""
    idx = _index(model)
    memo = idx.__dict__.get("deco_locks")
    if memo is None:
        memo = idx.deco_locks = {}
    got = memo.get(fi.id)
    if got is None:
        got = memo[fi.id] = frozenset(
            a.lock for a in fi.deco_acqs
            if a.mode == "decorator" and _thread_lock(model, a.lock)
            and (a.path.startswith("@self") or a.path == "@global") and _wrapper_always_holds(model, a, fi))
    return got


def _wrapper_always_holds(model: ProgramModel, acq, fi: FunctionInfo) -> bool:
    """Does every call of the wrapped function ``fi`` in the decorator that made ``acq`` (a
    decorator acquisition: its ``via`` step is the wrapper's ``with``) hold that same lock?
    The wrapped function is a parameter of the wrapper's enclosing function (``fn`` of
    ``locked(fn)``, or of a factory's inner ``deco(fn)``); every function nested there is
    looked at (a second wrapper, a closure calling it), and each of its calls of that name
    must be inside an acquisition of the same reference. An ``async def`` wrapper is the
    one a decorator returns for a coroutine function: not looked at for a plain one."""
    if not acq.via:
        return False
    idx = _index(model)
    sites = idx.__dict__.get("acq_sites")
    if sites is None:
        sites = idx.acq_sites = {}
        for afi, i, ev in model.acq_events():
            sites.setdefault((afi.path, ev["l"], ev["c"]), []).append((afi, i))
    hits = sites.get(tuple(acq.via[0][:3]))
    if not hits or len(hits) != 1:
        return False
    w, i = hits[0]
    ref = w.summary.events[i].get("r")
    parent = model.functions.get(f"{w.module}.{w.summary.parent}") if w.summary.parent else None
    if parent is None or not ref:
        return False
    wrapped = set(parent.summary.params)
    own = acq.path.startswith("@self")
    prefix = parent.qualname + ".<locals>."
    calls = 0
    for g in model.module_functions(w.module):
        if not g.qualname.startswith(prefix) or not g.param_calls or (g.is_async and not fi.is_async):
            continue
        gs = g.summary
        events = gs.events
        for name, ci in g.param_calls:
            if name not in wrapped or name in gs.params:
                continue
            ev = events[ci]
            if not any(events[h]["e"] == "acq" and events[h].get("r") == ref for h in ev["h"]):
                return False
            if own and (ev.get("a") or [None])[0] != {"r": "@self"}:
                return False   # the lock of the wrapper's self, but fn called on another object
            calls += 1
    return calls > 0


def _singleton_calls(model: ProgramModel, ci) -> list[tuple]:
    """[(calling function, event index, method fid, thread locks held there)] for the calls
    of a method of class ``ci`` on its singleton read through the class, in ``ci``'s module
    (P43, grpc's ``ChannelCache._singleton._evict_locked(key)`` inside ``with
    ChannelCache._lock:``), which the linker leaves unresolved. The singleton is a class
    attribute of ``ci`` whose class-level value is ``None`` and whose every assignment the
    summaries record (``ChannelCache._singleton = ChannelCache()``, or ``cls._singleton =
    cls()`` in a classmethod) is a constructor call the linker resolved to ``ci``'s own
    ``__init__``, at least one. The class must be a module-level class whose name the
    calling function does not rebind. (Assignments of non-call values to ``Cls.attr`` leave
    no event: a ``Cls._singleton = other`` would go unseen; the class-level ``None`` and
    constructor-only assignments are the evidence.)"""
    name = ci.name
    if ci.summary.qualname != name or not ci.summary.methods:
        return []
    cands = []
    funcs = model.module_functions(ci.module)
    prefix = name + "."
    for fi in funcs:
        if name in fi.summary.assigned:
            continue
        own_cls = fi.cls == ci.id and fi.summary.kind == "classmethod"
        for idx, ev in enumerate(fi.summary.events):
            if ev["e"] != "call":
                continue
            f = ev["f"]
            if not (f.startswith(prefix) or (own_cls and f.startswith("@cls."))):
                continue   # (the head test below, made before splitting every call's ref)
            parts = f.split(".")
            if (len(parts) == 3 and (parts[0] == name or (own_cls and parts[0] == "@cls"))
                    and parts[2] in ci.summary.methods and parts[1] not in ci.summary.methods):
                cands.append((fi, idx, parts[1], parts[2]))
    if not cands:
        return []
    ok: dict[str, bool] = {}
    init = f"{ci.id}.__init__"
    for attr in {c[2] for c in cands}:
        cls_attr = ci.summary.attrs.get(attr)
        good = cls_attr is not None and cls_attr.get("v") == {"const": None}
        made = 0
        for fi in funcs if good else ():
            own_cls = fi.cls == ci.id and fi.summary.kind == "classmethod"
            sites = None
            for idx, ev in enumerate(fi.summary.events):
                t = ev.get("t") if ev["e"] == "call" and ev.get("u") == "attr" else None
                if t != f"{name}.{attr}" and not (own_cls and t == f"@cls.{attr}"):
                    continue
                if sites is None:
                    sites = fi.sites()
                cs = sites.get(idx)
                if cs is None or cs.ext or [g for g, _r in cs.targets] != [init]:
                    good = False
                    break
                made += 1
            if not good:
                break
        ok[attr] = good and made > 0
    return [(fi, idx, f"{ci.module}.{ci.summary.methods[meth]}", _held_locks(model, fi, fi.summary.events[idx]["h"]))
            for fi, idx, attr, meth in cands if ok[attr]]


def _internal_helpers(model: ProgramModel, methods: list[FunctionInfo], referenced: set[str],
                      singleton: list | None = None):
    """Private helpers (``_name``) called only through ``self`` from this class's methods
    (or through the class's singleton, ``singleton``: see ``_singleton_calls``) and never
    used as a value (a thread target, a callback): they run only in the context of their
    callers, so their accesses are analysed once per calling context."""
    by_id = {fi.id: fi for fi in methods}
    calls_in: dict[str, list] = {fid: [] for fid in by_id}
    for _fi, _idx, g, locks in singleton or ():
        if g in calls_in:
            calls_in[g].append(bool(locks))
    outside: set[str] = set()
    cid = methods[0].cls if methods else None
    callers = _index(model).callers
    ho = _handoffs(model)
    base_ids = set(model.classes[cid].mro[1:]) if cid in model.classes else set()
    for g, ins in calls_in.items():
        for fi, cs, recv in callers.get(g, ()):
            if recv == "@self" and fi.id in by_id:
                ins.append(bool(_held_locks(model, fi, cs.held) or ho.at_call(fi, cs)))
            elif recv != "@self" and ho.on_receiver(fi, cs, recv):
                # another object's method calling it between that object's hand-off acquire
                # and release (``self.clh._do_lock()`` ... ``self.clh.do_write()``): it runs
                # holding this object's lock; not a caller that makes it an unknown entry
                continue
            elif recv == "@self" and fi.cls in base_ids and fi.summary.name in CTOR_NAMES:
                # a base class's constructor calling the (overridden) helper on itself: the
                # object is not shared yet, a construction context, not an outside caller
                ins.append(bool(_held_locks(model, fi, cs.held)))
            elif recv == "@self" and fi.cls in model.classes and cid in model.classes[fi.cls].mro:
                # a subclass calling the helper on itself: still a call from inside the
                # object (its contexts are the subclass's to analyse)
                ins.append(bool(_held_locks(model, fi, cs.held)))
            else:
                outside.add(g)
    out = set()
    for fid, fi in by_id.items():
        name = fi.summary.name
        if not calls_in[fid] or fid in outside or name in referenced or name in CTOR_NAMES:
            continue
        # a private helper; or a public method the class itself only ever calls with a lock
        # held (``process_data`` called under the mutex by ``process_once``)
        if _is_private(name) or (not name.startswith("__") and all(calls_in[fid])):
            out.add(fid)
    return out


def _imported_name(model: ProgramModel, fi_or_module, ref: str) -> str | None:
    """The dotted name ``ref`` (``asyncio.Event``, ``Event``) means through its module's
    imports, read from the import statements alone: for a type annotation, and for a
    constructor call the linker left unresolved (a module-level binding of the same name
    other than the ``None`` of a ``try: import m`` / ``except ImportError: m = None``, which
    the linker itself now reads through the import). None when the head is not an import of
    the module, or (in a function) is one of its locals."""
    if isinstance(fi_or_module, FunctionInfo):
        if ref.partition(".")[0] in fi_or_module.summary.assigned:
            return None
        module = fi_or_module.module
    else:
        module = fi_or_module
    ms = model.modules.get(module)
    head, _, rest = ref.partition(".")
    base = ms.import_target(head) if ms is not None else None
    if not base:
        return None
    return f"{base}.{rest}" if rest else base


def _local_constructors(model: ProgramModel, fi: FunctionInfo, sites: dict) -> dict[str, list]:
    """Local name -> [(event index, constructor name)] for every call whose result ``fi``
    binds to that local (``started = asyncio.Event()``): the name the linker gave the call,
    else what its module's imports say (see ``_imported_name``); "" when neither knows."""
    out: dict[str, list] = {}
    for idx, ev in enumerate(fi.summary.events):
        if ev["e"] != "call" or ev.get("u") != "local" or not isinstance(ev.get("t"), str):
            continue
        cs = sites.get(idx)
        names = [n for n in (cs.ext if cs is not None else ()) if n]
        if not names and not (cs is not None and cs.targets) and ev["f"][:1] != "@":
            n = _imported_name(model, fi, ev["f"])
            names = [n] if n else []
        out.setdefault(ev["t"], []).append((idx, names[0] if len(names) == 1 else ""))
    return out


def _annotated_safe(model: ProgramModel, ci, attr: str) -> bool:
    """``self.x: Optional[asyncio.Event] = None`` (the summary keeps ``asyncio.Event``):
    an attribute declared to hold a thread-safe object, whose every assignment stores
    ``None``, a value of unknown type (a local, a parameter: the declaration speaks for it)
    or a call of a thread-safe type; never an item write. Any other declaration, or a value
    of another known kind (a literal, a call of anything else), and it is not."""
    anns = []
    entries = []
    for c in ci.mro or [ci.id]:
        k = model.classes.get(c)
        if k is None:
            continue
        entries.extend((k, e) for e in k.inst_attrs.get(attr, ()))
        cls_attr = k.summary.attrs.get(attr)
        if cls_attr is not None:
            entries.append((k, (cls_attr.get("v"), cls_attr.get("ann"), 0, 0, None, False)))
    for k, (v, ann, _l, _c, _fid, cont) in entries:
        if cont:
            return False
        if ann:
            anns.append(_imported_name(model, k.module, ann))
        if v is None or v == {"const": None} or (isinstance(v, dict) and set(v) == {"r"}):
            continue
        call = v.get("call") if isinstance(v, dict) else None
        name = _imported_name(model, k.module, call) if isinstance(call, str) else None
        if not (name and name.startswith(THREAD_SAFE_TYPES)):
            return False
    return bool(anns) and all(a and a.startswith(THREAD_SAFE_TYPES) for a in anns)


# External bases a plain project class may have (nothing a container's methods come from).
PLAIN_BASES = frozenset({"object", "abc.ABC", "typing.Generic", "typing.Protocol"})

# Methods that make a class's instances a container of their own (a test of ``if x:`` or
# ``k in x`` reads the state its methods change): such a class is not "plain".
CONTAINER_DUNDERS = frozenset({"__len__", "__bool__", "__contains__", "__getitem__", "__setitem__",
                               "__delitem__", "__iter__"})


def _made_class(model: ProgramModel, fi: FunctionInfo, call_idx: int, hint=()) -> str | None:
    """The project class a constructor call (event ``call_idx`` of ``fi``) builds, as the
    linker resolved it: its one target is a project class's ``__init__`` (an instance of
    that class or of a subclass of it). A class with no ``__init__`` in its project MRO
    gives the call no linked site: then ``hint``, the classes the linker resolved the
    attribute's method calls to, decides when it is one class named as the call is.
    None when the linker did not say so."""
    cs = fi.sites().get(call_idx)
    if cs is None:
        name = fi.summary.events[call_idx]["f"].rpartition(".")[2]
        if len(hint) == 1:
            k = model.classes.get(next(iter(hint)))
            if (k is not None and k.name == name
                    and not any("__init__" in model.classes[c].summary.methods
                                for c in (k.mro or [k.id]) if c in model.classes)):
                return k.id
        return None
    if cs.ext or len(cs.targets) != 1:
        return None
    g, _recv = cs.targets[0]
    tf = model.functions.get(g)
    if tf is None or tf.summary.name != "__init__" or tf.cls not in model.classes:
        return None
    return tf.cls


def _attr_class(model: ProgramModel, ci, attr: str, hint=()) -> str | None:
    """The one project class every assignment of ``self.<attr>`` stores an instance of, as
    far as the linked model says: each instance assignment (in the class or its project
    bases) stores ``None`` or a constructor call the linker resolved to that class's
    ``__init__``: ``self.x = Cls(...)`` (the call bound to the attribute), or ``self.x =
    param or Cls(...)`` (billiard's ``semaphore or LaxBoundedSemaphore(n)``: the summary
    keeps no value for the ``or``, but the call is the one just before the write, on its
    line, its result used in an expression and bound to nothing: the caller's object, or
    the default built here, of the kind the default shows). A class-level default must be
    ``None``. Anything else (an item write, a literal, another call, a value of unknown
    kind, two classes) and None: the type is not known."""
    stores = _object_stores(model, ci, attr)
    if stores is None:
        return None
    found: set[str] = set()
    for v, line, col, fid in stores:
        fi = model.functions.get(fid)
        if fi is None or not (v is None or (isinstance(v, dict) and "call" in v)):
            return None
        events = fi.summary.events
        w = next((i for i, ev in enumerate(events) if ev["e"] == "wr" and ev["l"] == line
                  and ev["c"] == col and ev["r"] == f"@self.{attr}"), None)
        if not w:
            return None
        prev = events[w - 1]
        if prev["e"] != "call" or prev["l"] != line:
            return None
        if v is None:
            shape = prev.get("u") == "expr" and "t" not in prev
        else:
            shape = prev.get("u") == "attr" and prev.get("t") == f"@self.{attr}"
        made = _made_class(model, fi, w - 1, hint) if shape else None
        if made is None:
            return None
        found.add(made)
    return found.pop() if len(found) == 1 else None


def _object_stores(model: ProgramModel, ci, attr: str) -> list | None:
    """Every instance assignment of ``self.<attr>`` in ``ci`` and its project bases that
    stores something other than ``None``, as (value, line, col, writing function id); None
    when the attribute cannot be one object's handle: a class of the MRO is unknown, a
    class-level default is not ``None``, or an item of it is written (P41's and P42's
    common test: ``_attr_class``, ``_one_kept_thread``)."""
    out = []
    for c in ci.mro or [ci.id]:
        k = model.classes.get(c)
        if k is None:
            return None
        cls_attr = k.summary.attrs.get(attr)
        if cls_attr is not None and cls_attr.get("v") != {"const": None}:
            return None
        for v, _ann, line, col, fid, cont in k.inst_attrs.get(attr, ()):
            if cont:
                return None
            if v != {"const": None}:
                out.append((v, line, col, fid))
    return out


def _class_kind(model: ProgramModel, cid: str, lock_owners: set) -> str | None:
    """What a call of a mutator-named method of project class ``cid`` is: ``"safe"`` when
    the class reaches a thread-safe type (a subclass of ``threading.Semaphore``: its
    methods are the primitive's) or takes a thread lock itself; ``"call"`` when it is a
    plain class (no external base but ``object``/ABC/Generic, no container protocol): a
    method of an object, not a container's mutation; None otherwise (a ``list``/``dict``
    subclass, an unknown base: a container's mutation, as the name says)."""
    ci = model.classes.get(cid)
    if ci is None:
        return None
    mro = [model.classes[c] for c in (ci.mro or [cid]) if c in model.classes]
    ext = [b for k in mro for b in k.ext_bases]
    if any(b.startswith(THREAD_SAFE_TYPES) for b in ext) or any(k.id in lock_owners for k in mro):
        return "safe"
    if all(b in PLAIN_BASES for b in ext) and not any(CONTAINER_DUNDERS & set(k.summary.methods) for k in mro):
        return "call"
    return None


def _mutator_calls(model: ProgramModel, ci, methods: list[FunctionInfo], lock_owners: set) -> dict:
    """(fid, event index) -> (kind, method name) for the mutator-named calls on an attribute
    of ``self`` (``self.x.clear()``) that are calls of a project object's own method (P41):
    the attribute holds one project class (``_attr_class``), the method is that class's
    (found in its project MRO), and the linker's targets for the call, if any, are methods
    of classes of that MRO on that receiver. ``kind`` is ``_class_kind``'s: "safe" (not an
    access) or "call" (an in-place change made by a call). Calls not listed here are
    container mutations, as before."""
    out: dict = {}
    kinds: dict[str, tuple] = {}
    # attribute -> the classes whose methods the linker resolved its mutator calls to
    hints: dict[str, set] = {}
    for fi in methods:
        for cs in fi.calls:
            for g, recv in cs.targets:
                tf = model.functions.get(g)
                if (isinstance(recv, str) and recv.startswith("@self.") and recv.count(".") == 1
                        and tf is not None and tf.cls is not None and tf.summary.name in MUTATORS):
                    hints.setdefault(recv[6:], set()).add(tf.cls)
    for fi in methods:
        sites = None
        for idx, ev in enumerate(fi.summary.events):
            if ev["e"] != "call":
                continue
            f = ev["f"]
            parts = f.split(".")
            if len(parts) != 3 or parts[0] != "@self" or parts[2] not in MUTATORS:
                continue
            attr, meth = parts[1], parts[2]
            if attr not in kinds:
                k = _attr_class(model, ci, attr, hints.get(attr, ()))
                kinds[attr] = (k, _class_kind(model, k, lock_owners) if k else None)
            k, kind = kinds[attr]
            if kind is None:
                continue
            mro = model.classes[k].mro or [k]
            if kind != "safe" and not any(meth in model.classes[c].summary.methods
                                          for c in mro if c in model.classes):
                continue   # a plain class without that method: not what it seems
            if sites is None:
                sites = fi.sites()
            cs = sites.get(idx)
            ext_ok = kind == "safe" and all(n.startswith(THREAD_SAFE_TYPES) for n in cs.ext) if cs is not None else True
            if cs is not None and ((cs.ext and not ext_ok) or any(recv != f"@self.{attr}" or
                                                 (model.functions.get(g) is None or model.functions[g].cls not in mro)
                                                 for g, recv in cs.targets)):
                continue   # the linker saw something else there
            out[(fi.id, idx)] = (kind, meth)
    return out


def _resolve_lock_attr(model: ProgramModel, ci, lock_attr: str, declared: bool = False) -> str | None:
    mro = ci.mro or [ci.id]
    for c in mro:
        lid = f"{c}.{lock_attr}"
        if lid in model.locks:
            return lid
    if declared:
        # a declared guard whose lock is never taken anywhere: still that lock
        for c in mro:
            k = model.classes.get(c)
            if k is not None and (lock_attr in k.inst_attrs or lock_attr in k.summary.attrs):
                return f"{c}.{lock_attr}"
    return None


def _one_kept_thread(model: ProgramModel, ci, made: tuple, hand_offs: dict) -> bool:
    """Does the one ``Thread`` handed this target (``made``: (in a constructor, attribute
    it is kept in, making function, event index)) run it in one thread per object (P42)?
    The constructor case is decided by the caller. Here: the Thread is made in a method
    and bound at once to one attribute of ``self`` (``self.thread = Thread(target=...)``
    in ``start()``/``__enter__``), and that attribute is otherwise only ever ``None``
    (never another object, never an item). Keeping the one handle in one attribute is the
    class saying it runs one such thread at a time: a second concurrent ``start()`` would
    overwrite the handle and orphan the first thread (nothing could join it); like the
    constructor rule, a second start is what this assumes away. Not when the making
    method is itself handed to threads (it may run in several), is a static/class method
    or async, or when the Thread is made in a loop, or when the target is handed anywhere
    else (the caller counts hand-offs)."""
    _one, kept, fi, idx = made
    if kept is None or fi.is_async or fi.summary.kind in ("staticmethod", "classmethod"):
        return False
    if fi.summary.name in hand_offs:
        return False
    ev = fi.summary.events[idx]
    if "lp" in ev:
        return False   # made in a loop: one handle, several threads
    stores = _object_stores(model, ci, kept)
    return (stores is not None and len(stores) == 1
            and all(wfid == fi.id and isinstance(v, dict) and v.get("call") == ev["f"]
                    for v, _line, _col, wfid in stores))


def analyse_class(model: ProgramModel, cid: str, configured: set[str]) -> ClassRaces | None:
    ci = model.classes[cid]
    declared = cid in configured or ci.summary.qualname in configured
    for d in ci.summary.decorators:
        mk = _marker_names(model, ci.module, d)
        if mk and mk[0] in THREAD_SAFE_MARKERS:
            declared = True
    index = _index(model)
    if (not declared and cid not in index.lock_owners and cid not in index.hand_off_classes
            and not getattr(ci.summary, "guards", None)
            and not getattr(model.modules.get(ci.module), "guard_comments", None)):
        # the test below that most classes end at ("nothing can make it a candidate"),
        # made before listing the methods: no method takes a thread lock or hands a
        # callable on (a method's ``cls`` is its class's id, as ``lock_owners`` and
        # ``hand_off_classes`` are keyed), nothing declares it thread-safe or a guard
        return None
    methods = _class_methods(model, cid)
    if not methods:
        return None
    reasons = []
    if declared:
        reasons.append("declared thread-safe")
    owns = any(_thread_lock(model, a.lock) for fi in methods for acqs in fi.acqs.values() for a in acqs)
    # declared guards: class decorator / __guarded_by__ / comments (see lockwatch.annotations)
    guards: dict[str, tuple] = {}
    for lock_attr, attrs in (getattr(ci.summary, "guards", None) or {}).items():
        for a in attrs:
            guards[a] = (lock_attr, _resolve_lock_attr(model, ci, lock_attr, True),
                         Location(ci.path, ci.summary.line, ci.summary.col))
    ms = model.modules.get(ci.module)
    comments = getattr(ms, "guard_comments", None) or {}
    if comments:
        for attr, entries in ci.inst_attrs.items():
            for (_v, _ann, line, col, _fid, _cont) in entries:
                locks = comments.get(str(line))
                if locks:
                    guards.setdefault(attr, (locks[0], _resolve_lock_attr(model, ci, locks[0], True),
                                             Location(ci.path, line, col)))
        for attr, entry in ci.summary.attrs.items():
            locks = comments.get(str(entry.get("l")))
            if locks:
                guards.setdefault(attr, (locks[0], _resolve_lock_attr(model, ci, locks[0], True),
                                         Location(ci.path, entry.get("l", 0), entry.get("c", 1))))
    if not (owns or declared or guards) and not any(fi.id in _index(model).hand_off_fids for fi in methods):
        # nothing can make it a candidate (no lock, no declaration, no method that could
        # hand a method of self to a thread): the verdict below would be None (tested
        # first: most classes end here, and the test below costs more)
        return None
    method_names = set(ci.summary.methods) | {m.summary.name for m in methods}
    inherited = set(method_names) | set(ci.inst_attrs)
    for base in ci.mro[1:]:
        bc = model.classes.get(base)
        if bc is not None:
            inherited |= set(bc.summary.methods) | set(bc.inst_attrs)
    if {"acquire", "release"} <= inherited:
        # a synchronisation primitive itself (an RLock, a semaphore, a Condition whose
        # acquire/release are its lock's): its state is guarded by ownership protocols
        # ("the caller holds the lock") the lockset view cannot see
        return None
    threaded = False
    hand_offs: dict[str, list[bool]] = {}
    referenced: set[str] = set()
    safe_attrs: set[str] = set()
    for attr in ci.inst_attrs:
        if _resolve_lock_attr(model, ci, attr):
            safe_attrs.add(attr)
    for attr in ci.summary.attrs:
        if f"{cid}.{attr}" in model.locks:
            safe_attrs.add(attr)
    for attr in set(ci.inst_attrs) | set(ci.summary.attrs):
        if attr not in safe_attrs and _annotated_safe(model, ci, attr):
            safe_attrs.add(attr)
    lock_owners = _index(model).lock_owners
    for fi in methods:
        sites = fi.sites()
        for cs in fi.calls:
            # ``self.pools.clear()`` where pools is an instance of a project class that takes
            # its own lock (urllib3's RecentlyUsedContainer): calling it needs no outer lock
            for g, recv in cs.targets:
                tf = model.functions.get(g)
                if (tf is not None and tf.cls in lock_owners and tf.cls != cid and isinstance(recv, str)
                        and recv.startswith("@self.") and recv.count(".") == 1):
                    safe_attrs.add(recv.split(".")[1])
        made_locals: dict[str, list] | None = None
        for idx, ev in enumerate(fi.summary.events):
            e = ev["e"]
            if e == "rd":
                r = ev["r"]
                if r.startswith("@self.") and r.count(".") == 1 and r[6:] in method_names:
                    referenced.add(r[6:])
            elif e == "wr":
                v = ev.get("v")
                r = ev["r"]
                if (isinstance(v, dict) and set(v) == {"r"} and r.startswith("@self.") and r.count(".") == 1
                        and v["r"] in fi.summary.assigned and v["r"] not in fi.summary.params):
                    # ``started = asyncio.Event()`` then ``self._ev = started``
                    if made_locals is None:
                        made_locals = _local_constructors(model, fi, sites)
                    made = made_locals.get(v["r"])
                    if made and len(made) == 1 and made[0][0] < idx and made[0][1].startswith(THREAD_SAFE_TYPES):
                        safe_attrs.add(r[6:])
                elif v is None and idx and r.startswith("@self.") and r.count(".") == 1:
                    # ``self._putlock = semaphore or threading.Semaphore(n)``: the summary
                    # keeps no value for the ``or``; the call just before the write, on its
                    # line, used in an expression and bound to nothing, is the default built
                    # here (P41; as ``_attr_class`` reads a project class's)
                    prev = fi.summary.events[idx - 1]
                    pcs = sites.get(idx - 1)
                    if (prev["e"] == "call" and prev["l"] == ev["l"] and prev.get("u") == "expr"
                            and "t" not in prev and pcs is not None and pcs.ext and not pcs.targets
                            and "()." not in prev["f"]
                            and all(n.startswith(THREAD_SAFE_TYPES) and _constructor_name(n) for n in pcs.ext)):
                        safe_attrs.add(r[6:])
            elif e == "call":
                cs = sites.get(idx)
                names = cs.ext if cs is not None else ()
                t = ev.get("t")
                if ev.get("u") == "attr" and isinstance(t, str) and t.startswith("@self.") and t.count(".") == 1:
                    made = names
                    if not made and not (cs is not None and cs.targets) and ev["f"][:1] != "@":
                        # a constructor call the linker could not name (its module's name is
                        # also assigned at module level: a try-import's fallback)
                        n = _imported_name(model, fi, ev["f"])
                        made = (n,) if n else ()
                    if any(n.startswith(THREAD_SAFE_TYPES) for n in made):
                        safe_attrs.add(t.split(".")[1])
                hands_off = ("threading.Thread" in names or "threading.Timer" in names) or \
                    ev["f"].rpartition(".")[2] in HAND_OFF_METHODS
                if hands_off:
                    vals = list(ev.get("a") or []) + list((ev.get("k") or {}).values())
                    for v in vals:
                        r = (v or {}).get("r") if isinstance(v, dict) else None
                        if isinstance(r, str) and r.startswith("@self.") and r.split(".")[1] in method_names:
                            threaded = True
                            target = r.split(".")[1]
                            # one Thread per instance, made in the constructor: its target
                            # runs in exactly one thread
                            thread = any(n in ("threading.Thread", "threading.Timer") for n in names)
                            # (not in a loop: one hand-off event, several threads)
                            one = fi.summary.name in CTOR_NAMES and thread and "lp" not in ev
                            # a Thread made elsewhere and kept in one attribute of self
                            # (``self.thread = Thread(target=self._run)`` in ``start()``)
                            kept = (t[6:] if thread and ev.get("u") == "attr" and isinstance(t, str)
                                    and t.startswith("@self.") and t.count(".") == 1 else None)
                            hand_offs.setdefault(target, []).append((one, kept, fi, idx))
    if owns:
        reasons.append("takes a lock")
    if guards:
        reasons.append("declares guards")
    if not (owns or declared or guards or threaded):
        return None
    singleton = _singleton_calls(model, ci)
    internal = _internal_helpers(model, methods, referenced, singleton)
    mut_calls = _mutator_calls(model, ci, methods, lock_owners)
    cr = ClassRaces(cid, reasons, owns, declared, threaded, guards=guards, safe_attrs=safe_attrs)
    cr.single_thread_roots = {f"{ci.module}.{ci.summary.methods[m]}" for m, ones in hand_offs.items()
                              if len(ones) == 1 and m in ci.summary.methods
                              and (ones[0][0] or _one_kept_thread(model, ci, ones[0], hand_offs))}
    cr.thread_roots = {f"{ci.module}.{ci.summary.methods[m]}" for m in hand_offs if m in ci.summary.methods}
    by_id = {fi.id: fi for fi in methods}
    ctx_counter = [0]
    write_pos: dict = {}   # fid -> its write positions (``_write_positions``), per context walked

    ho = _handoffs(model)

    def walk(fi: FunctionInfo, outer: frozenset, chain: tuple, in_ctor: bool, stack: tuple) -> None:
        ctx_counter[0] += 1
        ctx = ctx_counter[0]
        # a method that releases a hand-off lock it was entered holding: not held after that
        drop = ho.released_from(fi, outer) if outer else {}
        _collect(model, cr, fi, outer, chain, in_ctor, ctx, method_names, safe_attrs, stack[0], drop, ho,
                 mut_calls, write_pos)
        if len(stack) > 6:
            return
        for cs in fi.calls:
            for g, recv in cs.targets:
                if g in internal and recv == "@self" and g not in stack:
                    step = Location(cs.loc[0], cs.loc[1], cs.loc[2], f"... calls {by_id[g].short}")
                    o = outer - {lk for lk, ri in drop.items() if cs.idx > ri} if drop else outer
                    walk(by_id[g], o | _held_locks(model, fi, cs.held) | ho.at_call(fi, cs),
                         chain + (step,), in_ctor, stack + (g,))

    for fi in methods:
        if fi.id in internal or fi.summary.kind in ("staticmethod", "classmethod") or fi.is_async:
            continue
        # run only where its every caller holds a hand-off lock (a public helper called only
        # between ``_do_lock()`` and ``_do_unlock()``, here or by the object owning this
        # one): entered holding it; never for a method also used as a value
        entry = ho.entry(fi.id) if ho.entries and fi.summary.name not in referenced else frozenset()
        walk(fi, entry, (), fi.summary.name in CTOR_NAMES, (fi.id,))
    for fi, idx, g, locks in singleton:
        # ``ChannelCache._singleton._evict_locked(key)``: a calling context of the helper,
        # holding what the caller holds there (P43)
        if g in internal:
            ev = fi.summary.events[idx]
            step = Location(fi.path, ev["l"], ev["c"], f"... calls {by_id[g].short}")
            walk(by_id[g], locks, (step,), fi.summary.name in CTOR_NAMES, (fi.id, g))
    return cr


def _write_positions(events: list) -> set:
    """Positions of writes and mutating calls: the receiver read at the same place is part
    of the write, not a separate read."""
    write_pos = set()
    for ev in events:
        if ev["e"] == "wr" or (ev["e"] == "call" and ev["f"].startswith("@self.")
                               and ev["f"].rsplit(".", 1)[-1] in MUTATORS):
            write_pos.add((ev["l"], ev["c"]))
    return write_pos


def _collect(model, cr, fi, outer, chain, in_ctor, ctx, method_names, safe_attrs, root,
             drop=None, ho=None, mut_calls=None, write_pos_memo=None) -> None:
    events = fi.summary.events
    spans = ho is not None and fi.id in ho.spans
    # a decorator holding a lock around the whole body (P49): held from before the first
    # statement to the end, as a caller's lock around a helper is (the calling context)
    deco = decorator_locks(model, fi) if fi.deco_acqs else frozenset()
    # the same for every context a helper is walked in: made once per function
    write_pos = write_pos_memo.get(fi.id) if write_pos_memo is not None else None
    if write_pos is None:
        write_pos = _write_positions(events)
        if write_pos_memo is not None:
            write_pos_memo[fi.id] = write_pos
    for idx, ev in enumerate(events):
        e = ev["e"]
        call = None
        r = ev.get("r") if e in ("rd", "wr") else ev.get("f") if e == "call" else None
        if not isinstance(r, str) or not r.startswith("@self."):
            continue
        parts = r.split(".")
        attr = parts[1]
        if attr in method_names and e != "wr":
            continue
        if attr.startswith("__") and attr.endswith("__"):
            continue   # __dict__, __class__: the object's machinery, not its state
        if e == "rd":
            if len(parts) != 2 or (ev["l"], ev["c"]) in write_pos:
                continue
            write, container = False, False
        elif e == "wr":
            if len(parts) == 2:
                write, container = True, False
            elif len(parts) == 3 and parts[2] == "[]":
                write, container = True, True
            else:
                continue
        else:
            if len(parts) != 3 or parts[2] not in MUTATORS:
                continue
            write, container = True, True
            kind = mut_calls.get((fi.id, idx)) if mut_calls else None
            if kind is not None:
                if kind[0] == "safe":
                    continue   # the method of a thread-safe object (P41): not this state's change
                call = kind[1]
        if attr in safe_attrs and (container or not write):
            continue
        direct = _held_locks(model, fi, ev["h"])
        if not direct and any(not fi.acqs.get(i) and str(events[i].get("r", "")).startswith("@self.")
                              for i in ev["h"]):
            # held through something on self the linker could not resolve (a lock wrapper
            # called with arguments, a custom context manager): maybe a lock, so not a
            # verdict of "unprotected"
            direct = frozenset({"?"})
        o = outer - {lk for lk, ri in drop.items() if idx > ri} if drop else outer
        if deco:
            o = o | deco
        marks = tuple(ev["h"])
        if spans:
            # between this function's own hand-off acquire and release calls
            handed = ho.at_event(fi, idx)
            if handed:
                direct = direct | handed
                marks += tuple(f"handoff:{lk}" for lk in sorted(handed))
        acc = Access(attr, write, container, fi.id, Location(fi.path, ev["l"], ev["c"]),
                     direct | o, marks, in_ctor,
                     ev.get("t") if e == "rd" else None, idx, o, chain, ctx, root, call)
        cr.accesses.setdefault(attr, []).append(acc)


def analyse(model: ProgramModel, config=None) -> dict[str, ClassRaces]:
    """Candidate class id -> its races analysis; computed once per model."""
    cached = getattr(model, "_races", None)
    if cached is not None:
        return cached
    configured = _configured_classes(config if config is not None else model.config)
    out: dict[str, ClassRaces] = {}
    for cid in sorted(model.classes):
        try:
            cr = analyse_class(model, cid, configured)
        except (KeyError, IndexError):
            continue   # an incompletely linked class: no verdict rather than a guess
        if cr is not None:
            out[cid] = cr
    try:
        model._races = out
    except AttributeError:
        pass
    return out


def method_short(model: ProgramModel, fid: str) -> str:
    fi = model.functions.get(fid)
    return fi.short if fi is not None else fid


def lock_names(locks) -> str:
    return ", ".join(sorted(short_name(x) if x != "?" else "a lock-like context" for x in locks)) or "no lock"


def real_locks(locks) -> list[str]:
    """Lock ids for a finding's ``locks`` (the unresolved marker left out)."""
    return sorted(x for x in locks if x != "?")


def call_text(model: ProgramModel, acc: Access) -> str:
    """``self.x.update()`` / ``self.x.add(...)`` for an access that is a call of the
    object's own method (``Access.call``): how a message names it."""
    fi = model.functions.get(acc.fid)
    ev = fi.summary.events[acc.idx] if fi is not None and 0 <= acc.idx < len(fi.summary.events) else {}
    args = "..." if ev.get("a") or ev.get("k") or ev.get("sa") or ev.get("sk") else ""
    return f"self.{acc.attr}.{acc.call}({args})"


# ---------------------------------------------------------------------- LW301 candidates


@dataclass
class Race:
    cid: str
    attr: str
    access: Access             # the unprotected access (primary location)
    witness: Access            # the conflicting access made under a lock (or another write)
    why: str                   # "write" | "read"


def _dcl_recheck(acc: Access, accesses: list[Access]) -> bool:
    """Double-checked locking in the method of ``acc``: an unlocked test of the attribute
    whose statement re-checks it under a lock. The locked re-check decides; the unlocked
    test, and the unlocked reads of the (set-once) result around it, are the fast path."""
    for t in accesses:
        if t.ctx != acc.ctx or t.write or t.locks or t.test_end is None:
            continue
        for b in accesses:
            if (b.ctx == acc.ctx and b.locks and not b.write and b.idx > t.idx
                    and (b.loc.line <= t.test_end or (b.test_end is not None and b.idx > acc.idx))):
                # the re-check inside the test's statement, or (early-return fast path,
                # ``if v := self._c.get(k): return v`` then ``with lock: if v := ...``)
                # a later test of the attribute under the lock; an unlocked read *after*
                # the locked part is not a fast path (multiprocessing Server.decref)
                return True
    return False


def unprotected(model: ProgramModel, config=None, skip: set | None = None) -> list[Race]:
    """RacerD's two reports: an unprotected write to state the class otherwise accesses
    under a lock (or of a declared thread-safe class), and an unprotected read of state
    written under a lock. One report per (method, attribute, read/write)."""
    out: list[Race] = []
    skip = skip or set()
    for cid, cr in analyse(model, config).items():
        if not (cr.owns_lock or cr.declared):
            continue
        for attr, accs in sorted(cr.accesses.items()):
            if attr in cr.guards:
                continue    # declared guards are LW303's
            shared = [a for a in accs if not a.ctor]
            # evidence of intent needs a lock the linker resolved: a context manager on self
            # it could not resolve (``"?"``) spares the accesses inside it, but is no proof
            # that the class locks this state (pika's reentrancy guard _acquire_event_dispatch)
            locked = [a for a in shared if a.locks - {"?"}]
            locked_w = [a for a in locked if a.write]
            if not locked and not cr.declared:
                continue
            seen = set()
            for a in shared:
                if a.locks:
                    continue
                # one report per method, attribute and read/write (whatever the context)
                key = (a.fid, a.write)
                if key in seen or (a.fid, attr) in skip:
                    continue
                if a.write:
                    # evidence of intent is a write under the lock: a lock that only happens
                    # to be held around a read (a listener set up before use) is no evidence
                    if cr.declared:
                        wit = (locked_w or locked or [b for b in shared if b.fid != a.fid and b.write]
                               or [a])   # declared thread-safe: two threads running this method
                    else:
                        wit = locked_w
                    if not wit:
                        continue
                    seen.add(key)
                    out.append(Race(cid, attr, a, _distinct_witness(model, a, wit), "write"))
                else:
                    # a plain load of an attribute that is only ever rebound is atomic (the
                    # old or the new value, by design stale at once): only report reads of
                    # state mutated in place under the lock (a half-updated container)
                    # (a locked call of the object's own method, ``self._matcher.update()``,
                    # changes the object, not the attribute: reading the reference is atomic)
                    if not any(w.container and not w.call for w in locked_w) or _dcl_recheck(a, accs):
                        continue
                    if model.functions[a.fid].summary.name in REPR_NAMES:
                        continue
                    # the read must race a locked write from another method (or a second
                    # thread running the same one)
                    seen.add(key)
                    out.append(Race(cid, attr, a, _distinct_witness(model, a, locked_w), "read"))
    return out


def _distinct_witness(model: ProgramModel, a: Access, cands: list[Access]) -> Access:
    """The witness for unprotected access ``a``: the first candidate made in another method
    than ``a``'s. A private helper reached both with and without the lock (P11: ``cancel``
    calls ``_cleanup`` holding the mutex, ``_dispatch_result`` calls it without) has its
    locked access in that same helper, often at the very place of the unlocked one: a
    message naming the helper on both sides (and citing one line twice) says nothing, so
    such a witness is shown as the locked context's call, in the method it starts from
    (``cancel``'s ``self._cleanup()``), when that method holds the witness's locks there.
    Otherwise the first candidate, as before."""
    for w in cands:
        if w.fid != a.fid:
            return w
    for w in cands:
        if w is a or not w.chain or not w.root:
            continue
        anchor = _locked_call(model, w)
        if anchor is not None and anchor[0] != a.fid:
            return replace(w, fid=anchor[0], loc=anchor[1], chain=())
    return cands[0]


def _locked_call(model: ProgramModel, w: Access):
    """(caller id, call Location): the first call on ``w``'s chain, from the method it
    starts from down, made while holding all of ``w``'s locks; None if there is none."""
    want = w.locks - {"?"}
    if not want:
        return None
    caller = model.functions.get(w.root)
    for k, step in enumerate(w.chain):
        if caller is None:
            return None
        where = (step.path, step.line, step.column)
        cs = next((c for c in caller.calls if tuple(c.loc[:3]) == where), None)
        if cs is None:
            return None
        if want <= _held_locks(model, caller, cs.held):
            return caller.id, Location(step.path, step.line, step.column)
        # down one level: the target that makes the next call of the chain (or is w's method)
        nxt = w.chain[k + 1] if k + 1 < len(w.chain) else None
        callee = None
        for g, _recv in cs.targets:
            gi = model.functions.get(g)
            if gi is None:
                continue
            if (nxt is None and g == w.fid) or (nxt is not None and any(
                    tuple(c.loc[:3]) == (nxt.path, nxt.line, nxt.column) for c in gi.calls)):
                callee = gi
                break
        caller = callee
    return None


# ---------------------------------------------------------------------- LW302 candidates


@dataclass
class CheckThenAct:
    cid: str
    attr: str
    check: Access
    act: Access


def check_then_act(model: ProgramModel, config=None) -> list[CheckThenAct]:
    """A read in an ``if`` test and a write of the same attribute in that ``if`` statement,
    with no lock held across both (and no locked re-check in between)."""
    out: list[CheckThenAct] = []
    for cid, cr in analyse(model, config).items():
        if not (cr.owns_lock or cr.declared or cr.threaded):
            continue
        for attr, accs in sorted(cr.accesses.items()):
            if attr in cr.safe_attrs:
                continue
            shared = [a for a in accs if not a.ctor]
            if shared and cr.single_thread_roots and all(a.root in cr.single_thread_roots for a in shared):
                continue    # confined to the instance's one worker thread
            # a class that only hands some methods to threads (no lock, no declaration):
            # only what those methods run can race with itself
            lockless = not (cr.owns_lock or cr.declared)
            by_ctx: dict[int, list[Access]] = {}
            for a in accs:
                if a.ctor:
                    continue
                if lockless and (a.root not in cr.thread_roots or a.root in cr.single_thread_roots):
                    continue
                by_ctx.setdefault(a.ctx, []).append(a)
            reported = set()
            for fa in by_ctx.values():
                tests = [a for a in fa if not a.write and a.test_end is not None]
                if not tests:
                    continue
                for w in fa:
                    if not w.write or w.call:
                        continue      # (a method call of a plain project object is no act: P41)
                    covering = [t for t in tests if t.idx < w.idx and t.test_end >= w.loc.line]
                    if not covering:
                        continue
                    inner = max(covering, key=lambda t: t.idx)
                    if set(inner.direct) & set(w.direct):
                        continue      # one lock held from the check to the act
                    if any(not r.write and inner.idx < r.idx < w.idx and set(r.direct) & set(w.direct)
                           for r in fa):
                        continue      # re-checked under the lock the act holds (try-lock DCL)
                    if w.outer:
                        continue      # the caller holds a lock around the whole helper
                    key = (w.fid, inner.idx)
                    if key not in reported:
                        reported.add(key)
                        out.append(CheckThenAct(cid, attr, inner, w))
                    break
    return out


def locks_taken_after(model: ProgramModel, check: Access, act: Access) -> frozenset:
    """The locks ``act`` (the change of a check-then-act) holds that its function acquires
    after the test (``check``) reads the attribute: taken between the test and the change,
    what LW302's message says "(taken after the test)" of. After is in the order of the
    function's events, the order it runs them in (a ``with`` on a later line, or later on
    the test's own line in a one-line ``if``). A lock held some other way (by a decorator
    around the whole body: P49; by every caller) is not among them."""
    fi = model.functions.get(act.fid)
    if fi is None or act.fid != check.fid:
        return frozenset()
    events = fi.summary.events
    first = check.idx
    out: set = set()
    for m in act.direct:
        if isinstance(m, int):
            if not first < m < len(events):
                continue
            got = {a.lock for a in fi.acqs.get(m, ()) if _thread_lock(model, a.lock)}
            if not got and str(events[m].get("r", "")).startswith("@self."):
                got = {"?"}    # an unresolved context manager on self (``Access.locks``)
            out |= got
        elif isinstance(m, str) and m.startswith("handoff:"):
            lk = m[len("handoff:"):]
            for a, b, l2, _r in _handoffs(model).spans.get(fi.id, ()):
                if l2 == lk and first < a < act.idx < b:
                    out.add(lk)
    return frozenset(out) & act.locks


# Constants an act may write back to the attribute its ``if`` tested that make it a reset:
# a flag cleared (``if self._dirty: ...; self._dirty = False``), a slot emptied (``if
# self._pending is not None: ...; self._pending = None``), a counter restarted.
_RESET_CONSTANTS = (None, False, 0)


def reset_value(model: ProgramModel, act: Access) -> str | None:
    """The constant (``"None"``, ``"False"``, ``"0"``) that ``act``, the write of a
    check-then-act, rebinds the tested attribute to when it is one of those, else None.

    The summary records what the write stores (the event's ``v``), not what the test
    compares with, so this is the reset shape as far as the write tells it: a branch that
    stores the "off" value is, in working code, the branch taken when the value was on
    (storing the value the test asked for would do nothing). Then a value another thread
    stores after the test is overwritten by the reset: a lost update, whoever passes the
    test."""
    if act.container or not act.write:
        return None
    fi = model.functions.get(act.fid)
    if fi is None or not 0 <= act.idx < len(fi.summary.events):
        return None
    ev = fi.summary.events[act.idx]
    v = ev.get("v") if ev["e"] == "wr" else None
    if not isinstance(v, dict) or "const" not in v or len(v) != 1:
        return None
    c = v["const"]
    for want in _RESET_CONSTANTS:
        # type-exact: 0 is not False, and a float 0.0 or a string is not a reset here
        if c is want or (type(c) is int and type(want) is int and c == want):
            return repr(want)
    return None


# ---------------------------------------------------------------------- LW303 candidates


@dataclass
class GuardViolation:
    cid: str
    attr: str
    lock_attr: str
    lock_id: str | None
    access: Access
    declared_at: Location


def _guarded_classes(model: ProgramModel, config=None) -> dict[str, ClassRaces]:
    """The races analysis of the classes that may declare a guard (``ClassRaces.guards``,
    all ``guard_violations`` reads), in ``analyse``'s order: the whole analysis when it was
    made already (LW301, LW302), else these classes only. Most programs declare no guard
    (LW303, a default check, would otherwise analyse every class of the program: the
    costliest part of the checks on a stdlib-sized one); a class's analysis does not
    depend on the others'."""
    cached = getattr(model, "_races", None)
    if cached is not None:
        return cached
    configured = _configured_classes(config if config is not None else model.config)
    out: dict[str, ClassRaces] = {}
    for cid in sorted(model.classes):
        ci = model.classes[cid]
        # where analyse_class finds guards: the class's declarations, its module's comments
        if not (getattr(ci.summary, "guards", None) or getattr(model.modules.get(ci.module), "guard_comments", None)):
            continue
        try:
            cr = analyse_class(model, cid, configured)
        except (KeyError, IndexError):
            continue
        if cr is not None:
            out[cid] = cr
    return out


def guard_violations(model: ProgramModel, config=None) -> list[GuardViolation]:
    out: list[GuardViolation] = []
    for cid, cr in _guarded_classes(model, config).items():
        for attr, (lock_attr, lock_id, decl) in sorted(cr.guards.items()):
            seen = set()
            for a in cr.accesses.get(attr, ()):
                if a.ctor:
                    continue
                if lock_id is not None and lock_id in a.locks or "?" in a.locks:
                    continue
                if lock_id is None and a.locks:
                    continue   # an unresolvable guard: any lock is accepted (no false alarm)
                if (a.fid, a.write) in seen:
                    continue
                seen.add((a.fid, a.write))
                out.append(GuardViolation(cid, attr, lock_attr, lock_id, a, decl))
    return out


# ---------------------------------------------------------------------- module globals


@dataclass
class GlobalCheckThenAct:
    module: str
    name: str
    fid: str
    check: Location
    act: Location


def _module_takes_lock(model: ProgramModel, module: str) -> bool:
    """Does the module show it means to be thread-safe: a function of it takes a thread
    lock that lives at module level (``_lock = threading.Lock()``)?"""
    return module in _index(model).lock_modules


def global_check_then_act(model: ProgramModel, config=None) -> list[GlobalCheckThenAct]:
    """``global _x; if _x is None: _x = make()`` in a module that takes a module-level
    lock elsewhere, with no lock held from the test to the assignment (and no re-check
    under the assignment's lock)."""
    out: list[GlobalCheckThenAct] = []
    cache: dict[str, bool] = {}
    for fid, fi in model.sorted_functions():
        if not fi.summary.globals_decl or fi.is_async:
            continue
        if fi.deco_acqs and decorator_locks(model, fi):
            continue   # the whole body runs holding a decorator's lock (P49): one critical section
        events = fi.summary.events
        tests = [(i, ev) for i, ev in enumerate(events) if ev["e"] == "grd" and ev.get("t")]
        if not tests:
            continue
        if fi.module not in cache:
            cache[fi.module] = _module_takes_lock(model, fi.module)
        if not cache[fi.module]:
            continue
        done = set()
        for wi, w in enumerate(events):
            if w["e"] != "gwr" or w["r"] in done:
                continue
            covering = [(i, ev) for i, ev in tests if ev["r"] == w["r"] and i < wi and ev["t"] >= w["l"]]
            if not covering:
                continue
            ci, c = max(covering, key=lambda x: x[0])
            wl = set(w["h"])
            if set(c["h"]) & wl:
                continue
            if any(ev["e"] == "grd" and ev["r"] == w["r"] and ci < i < wi and set(ev["h"]) & wl
                   for i, ev in enumerate(events)):
                continue   # re-checked under the lock the assignment holds
            done.add(w["r"])
            out.append(GlobalCheckThenAct(fi.module, w["r"], fid, Location(fi.path, c["l"], c["c"]),
                                          Location(fi.path, w["l"], w["c"])))
    return out
