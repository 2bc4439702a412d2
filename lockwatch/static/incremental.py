"""A program's analysis kept between runs, for a resident process (``lockwatch daemon``).

``Analysis.full`` runs the pipeline's analysis stages (link -> graph -> checks -> suppressions
-> selection) on a set of module summaries and keeps what it built, the linker's state
included; ``Analysis.update`` gives the analysis of a new set of summaries (some modules
edited, added or removed). The report of ``update`` must always equal the report ``full``
would give on the same summaries: a resident process that answered differently from a plain
scan would be a second tool to trust (``benchmarks/bench_incremental.py`` compares them).

How ``update`` re-links less (docs/scale.md, "Incremental update"). A module's summary is
split into what only the linking of its own functions reads and its *interface*: everything
the linking of any other function can read (imports, globals, classes, each function's
signature, returns, the locals those reach (all locals of a function with closures), the
``self.x = ...`` writes that give instance attributes their types, the call events those
values name, whether it has isinstance guards, the ``self`` locks a method takes when its
class may be a lock wrapper; and the whole summary of the functions whose linked facts
others read: ``__enter__``/``acquire``..., functions with a decorator that may make a context
manager, the nested functions of decorators). Positions in the interface are compared by rank
(code that only moved keeps its interface), except in those whole summaries. When every
edited module keeps its interface, only the functions whose summaries changed are linked
again, into the linker state of the previous analysis: their memo entries dropped, the
edited modules' instance attributes collected again and their lock classes moved to their
new sites, the global passes (stored callbacks, isinstance class names) undone and redone,
the call graph rebuilt from per-function edge lists. A module-level function added or
removed is no interface change when nothing ever resolved its name (no entry for it in the
linker's global cache, no module star-imports its module, no call site targets it), nor is a
new module without classes that no module imports. Anything else falls back to the full
analysis, and ``stats["reason"]`` says why. The lock graph and the rules still run whole on
the updated model.

The linker state moves to the new analysis: after a successful ``update`` the old one keeps
its report, but its model's functions and classes are shared with (and their composed
effects rebuilt for) the new one, and its own ``update`` runs the full analysis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lockwatch.config import Config
from lockwatch.findings import InputError, Report
from lockwatch.static.link import _WRAPPER_PAIRS
from lockwatch.static.summary import FunctionSummary, ModuleSummary

# Fields of a function summary that only the linking of that function reads (the rules read
# them from the model, which is rebuilt): everything else is part of its interface.
_OWN_FIELDS = frozenset({"events", "exit_held", "acquire_sites", "orders", "reads", "attr_reads",
                         "guard_params", "locals"})
# Methods whose linked facts the linker reads when linking others (lock wrappers): the
# linker's own (take, give back) pairs.
_WRAPPER_NAMES = frozenset(n for pair in _WRAPPER_PAIRS for n in pair)


class _Fallback(Exception):
    """The edit is not one the incremental path can prove equal: run the full analysis."""


@dataclass
class _State:
    """What the full link leaves behind that an incremental update builds on."""
    linker: object
    edges: dict            # fid -> call-graph successors, in the order ``Linker.build`` adds them
    sorted_fids: list      # the program's functions, sorted (the call graph's walk order)
    owner: object = None   # the Analysis that may use it (it moves on with each update)


@dataclass
class Analysis:
    summaries: dict[str, ModuleSummary]
    config: Config
    errors: list[InputError]
    report: Report
    model: object = None              # the ProgramModel the report was made from
    stats: dict = field(default_factory=dict)
    _state: _State | None = field(default=None, repr=False, compare=False)

    @classmethod
    def full(cls, summaries: dict[str, ModuleSummary], config: Config,
             errors: list[InputError] | None = None, reason: str | None = None) -> Analysis:
        from lockwatch.static.engine import gc_paused
        from lockwatch.static.link import Linker

        t = time.perf_counter()
        with gc_paused():
            linker = Linker(dict(summaries), config)
            model = linker.build()
            edges = {fid: _edges(fi) for fid, fi in model.functions.items()}
            report = _report(model, config, errors)
        stats = {"mode": "full", "seconds": time.perf_counter() - t, "modules": len(summaries)}
        if reason:
            stats["reason"] = reason
        a = cls(dict(summaries), config, list(errors or []), report, model, stats)
        a._state = _State(linker, edges, sorted(model.functions), a)
        return a

    def update(self, summaries: dict[str, ModuleSummary],
               errors: list[InputError] | None = None) -> Analysis:
        """The analysis of ``summaries`` (the whole program as it is now), made from this
        one where that is known to give the same report, else from scratch."""
        from lockwatch.static.engine import gc_paused

        state = self._state
        if state is None or state.owner is not self:
            return Analysis.full(summaries, self.config, errors,
                                 reason="no linker state (moved on to a newer analysis)")
        t = time.perf_counter()
        try:
            plan = _plan(self, summaries)
        except _Fallback as e:
            return Analysis.full(summaries, self.config, errors, reason=str(e))
        except Exception as e:  # noqa: BLE001 (a defect here must not cost the answer: run full)
            self._state = None
            return Analysis.full(summaries, self.config, errors,
                                 reason=f"incremental update failed: {type(e).__name__}: {e}")
        state.owner = None   # from here on the state is being changed: never reuse it from self
        self._state = None
        try:
            with gc_paused():
                model, report, info = _apply(self, state, plan, summaries, errors)
        except _Fallback as e:
            return Analysis.full(summaries, self.config, errors, reason=str(e))
        except Exception as e:  # noqa: BLE001
            return Analysis.full(summaries, self.config, errors,
                                 reason=f"incremental update failed: {type(e).__name__}: {e}")
        stats = {"mode": "incremental", "seconds": time.perf_counter() - t,
                 "modules": len(summaries), **info}
        a = Analysis(dict(summaries), self.config, list(errors or []), report, model, stats)
        state.owner = a
        a._state = state
        return a

    def changed_modules(self, summaries: dict[str, ModuleSummary]) -> set[str]:
        """Modules added, removed, or whose summary is not the one this analysis used."""
        old = self.summaries
        changed = {m for m in summaries.keys() ^ old.keys()}
        changed |= {m for m in summaries.keys() & old.keys() if summaries[m] is not old[m]
                    and summaries[m] != old[m]}
        return changed


def _report(model, config: Config, errors) -> Report:
    """graph -> checks -> suppressions -> selection (the engine's own tail)."""
    from lockwatch.static.engine import report_from_model

    return report_from_model(model, config, errors)


def _edges(fi) -> list:
    """``fi``'s call-graph successors in the order ``Linker.build`` adds its edges (targets of
    each call site, then the callables it hands on), repeats left in (they add nothing)."""
    out = []
    for cs in fi.calls:
        for tgt, _recv in cs.targets:
            out.append(tgt)
        for _i, h, _r in cs.fnargs or ():
            out.append(h)
    return out


# ---------------------------------------------------------------------------- the plan
@dataclass
class _Plan:
    relink: set           # fids whose summary changed, interface kept
    added: set            # fids of functions that are new (pure additions)
    removed: set          # fids of functions that are gone (pure removals)
    new_modules: list     # modules that are new (pure additions)
    changed: set          # modules whose summary changed
    posmap: dict          # module -> {old position: new position} of its interface


def _plan(a: Analysis, summaries: dict[str, ModuleSummary]) -> _Plan:
    """Which functions to link again, or _Fallback: reads only, changes nothing."""
    L = a._state.linker
    old = a.summaries
    changed = a.changed_modules(summaries)
    plan = _Plan(set(), set(), set(), [], changed, {})
    if not changed:
        return plan
    star_imported = {s for ms in old.values() for s in ms.star_imports}
    for mod in sorted(changed):
        if mod not in summaries:
            raise _Fallback(f"module removed: {mod}")
        if mod not in old:
            _plan_new_module(L, old, summaries[mod], star_imported, plan)
            continue
        o, n = old[mod], summaries[mod]
        for k in ("path", "is_package", "imports", "star_imports"):
            if getattr(o, k) != getattr(n, k):
                raise _Fallback(f"{mod}: {k} changed")
        both = sorted(o.functions.keys() & n.functions.keys())
        # the interfaces, with each position replaced by its rank among the module's
        # interface positions: an edit that only moves code keeps the interface
        po, pn = _Positions(), _Positions()
        _module_interface(L, o, both, po)
        _module_interface(L, n, both, pn)
        po.freeze()
        pn.freeze()
        io = _module_interface(L, o, both, po)
        inn = _module_interface(L, n, both, pn)
        if io != inn:
            raise _Fallback(f"{mod}: {_first_difference(io, inn)} changed")
        plan.posmap[mod] = dict(zip(po.order, pn.order))
        new_tops = {q for q in n.functions.keys() - o.functions.keys() if "." not in q}
        gone_tops = {q for q in o.functions.keys() - n.functions.keys() if "." not in q}
        for q in both:
            if o.functions[q] != n.functions[q]:
                plan.relink.add(f"{mod}.{q}")
        for q in n.functions.keys() - o.functions.keys():
            top = q.split(".", 1)[0]
            if top not in new_tops:
                raise _Fallback(f"{mod}.{q}: new function inside an existing scope")
            if q == top:
                _check_unreferenced(L, o, n, q, star_imported, "new")
            plan.added.add(f"{mod}.{q}")
        for q in o.functions.keys() - n.functions.keys():
            top = q.split(".", 1)[0]
            if top not in gone_tops:
                raise _Fallback(f"{mod}.{q}: function removed from an existing scope")
            if q == top:
                _check_unreferenced(L, o, n, q, star_imported, "removed")
            plan.removed.add(f"{mod}.{q}")
    # a removed function must have no callers left outside what is removed or re-linked
    pred = L.m.call_graph.pred
    for fid in plan.removed:
        for caller in pred.get(fid, ()):
            if caller not in plan.removed and caller not in plan.relink:
                raise _Fallback(f"removed function {fid} is called from {caller}")
        if any(cb[0] == fid for cb in L.m.callbacks):
            raise _Fallback(f"removed function {fid} is a registered callback")
    return plan


class _Positions:
    """Positions (line, column) seen while building a module's interface, then (frozen)
    each position's rank among them: two versions of a module whose interfaces are equal
    with ranks for positions differ only by code moved, with every order between the
    interface's positions kept (``_inst_template`` sorts a class's attribute writes by
    position; ``_coroutine_object`` and ``_fresh_local`` match positions)."""

    def __init__(self):
        self.seen: set = set()
        self.rank: dict | None = None
        self.order: list = []

    def __call__(self, line, col):
        p = (line, col)
        if self.rank is None:
            self.seen.add(p)
            return p
        return self.rank[p]

    def freeze(self):
        self.order = sorted(self.seen, key=lambda p: tuple((x is None, x if isinstance(x, int) else 0) for x in p))
        self.rank = {p: i for i, p in enumerate(self.order)}


def _placed(d: dict, P, lk: str = "l", ck: str = "c"):
    """A dict with a position (a global's or class attribute's entry, a local's value):
    its other items, and the position's rank."""
    return (tuple(sorted((k, repr(v)) for k, v in d.items() if k not in (lk, ck))), P(d.get(lk), d.get(ck)))


def _module_interface(L, ms: ModuleSummary, both: list, P) -> tuple:
    globals_ = {name: _placed(g, P) for name, g in ms.globals.items()}
    classes = {}
    for q, cs in ms.classes.items():
        d = {k: v for k, v in cs.__dict__.items() if k not in ("line", "col", "attrs")}
        classes[q] = (repr(sorted(d.items())), P(cs.line, cs.col),
                      {name: _placed(e, P) for name, e in cs.attrs.items()})
    parents = {f.parent for f in ms.functions.values() if f.parent}
    functions = {}
    for q in both:
        fs = ms.functions[q]
        fid = f"{ms.module}.{q}"
        if _role_full(L, ms, fid, fs):
            functions[q] = ("whole", fs)
        else:
            functions[q] = _interface(L, ms.module, fs, P, q in parents)
    return (("globals", globals_), ("classes", classes), ("functions", functions))


def _first_difference(a: tuple, b: tuple) -> str:
    # functions first: an interface position gained or lost moves the ranks of every later
    # position, and so may make later globals and classes differ too
    for (name, x), (_n, y) in sorted(zip(a, b), key=lambda p: p[0][0] != "functions"):
        if x != y:
            if isinstance(x, dict):
                for k in sorted(x.keys() | y.keys()):
                    if x.get(k) != y.get(k):
                        if name == "functions":
                            return f"interface of {k}" if x.get(k, ("",))[0] != "whole" else f"{k} (read whole by other links)"
                        return f"{ {'globals': 'global', 'classes': 'class'}.get(name, name)} {k}"
            return name
    return "interface"


def _plan_new_module(L, old: dict, ms: ModuleSummary, star_imported: set, plan: _Plan) -> None:
    """A new module is a pure addition when nothing in the program could have named it: no
    import of it (or of something under it), no star import of it, no resolution of it as
    an attribute of its package; and it brings no class (subclasses, overrides, duck-typed
    method names and property names are whole-program facts)."""
    mod = ms.module
    if ms.classes:
        raise _Fallback(f"new module {mod} defines classes")
    if mod in star_imported:
        raise _Fallback(f"new module {mod} is star-imported")
    pre = mod + "."
    for other in old.values():
        for imp in other.imports.values():
            d = imp[1]
            if d == mod or d.startswith(pre) or (imp[0] == "from" and len(imp) > 2 and f"{d}.{imp[2]}" == mod):
                raise _Fallback(f"new module {mod} is imported by {other.module}")
        for s in other.star_imports:
            if s == mod or s.startswith(pre):
                raise _Fallback(f"new module {mod} is star-imported by {other.module}")
    parent, _, last = mod.rpartition(".")
    if parent and (parent, last) in L._glob_cache:
        raise _Fallback(f"new module {mod}: {parent}.{last} was resolved")
    plan.new_modules.append(mod)
    for q in ms.functions:
        plan.added.add(f"{mod}.{q}")


def _check_unreferenced(L, o: ModuleSummary, n: ModuleSummary, q: str, star_imported: set,
                        what: str) -> None:
    """A module-level function added or removed without changing any other link: its name
    never resolved in its module (no entry in the linker's global cache: no code of the
    module, no import and no attribute access ever asked for it), the module not
    star-imported, the name bound by nothing else there."""
    mod = o.module
    fs = (n if what == "new" else o).functions[q]
    if fs.kind != "function" or fs.cls is not None or fs.parent is not None:
        raise _Fallback(f"{what} function {mod}.{q} is not a plain module-level function")
    if mod in star_imported:
        raise _Fallback(f"{what} function {mod}.{q}: its module is star-imported")
    if (mod, q) in L._glob_cache:
        raise _Fallback(f"{what} function {mod}.{q}: its name was resolved")
    for ms in (o, n):
        if q in ms.globals or q in ms.imports or q in ms.classes:
            raise _Fallback(f"{what} function {mod}.{q}: the name is bound otherwise too")


_SAFE_DECORATORS = frozenset({"property", "staticmethod", "classmethod", "abstractmethod",
                               "abc.abstractmethod", "functools.cache", "functools.cached_property"})


def _role_full(L, ms: ModuleSummary, fid: str, fs: FunctionSummary) -> bool:
    """Functions whose whole summary (or linked facts) another function's linking reads:
    lock wrapper methods (``__enter__``, ``acquire``...: ``_held_after``,
    ``wrapper_inner``), functions with a decorator that may make a context manager (any
    but a few plain builtins: ``_held_after`` follows a ``@contextmanager``'s first
    ``yield``), and the nested functions of a decorator whose wrappers ``_wrapper_locks``
    read (``Linker._deco_fids``)."""
    if fs.cls and fs.name in _WRAPPER_NAMES:
        return True
    for d in fs.decorators:
        r = d.get("r") if isinstance(d, dict) and len(d) == 1 else None
        if not isinstance(r, str):
            return True
        head = r.split(".", 1)[0]
        if head in ms.globals or head in ms.imports and r not in ("abc.abstractmethod", "functools.cache",
                                                                  "functools.cached_property"):
            return True
        if not (r in _SAFE_DECORATORS or (r.count(".") == 1 and r.endswith((".setter", ".getter", ".deleter")))):
            return True
        # (the decorator is evaluated in the enclosing scope: a class or function there
        # binding the name makes it something else)
        cs = ms.classes.get(fs.cls) if fs.cls else None
        parent = ms.functions.get(fs.parent) if fs.parent else None
        if (cs is not None and head in cs.attrs) or (parent is not None and head in parent.assigned):
            return True
    if fs.parent:
        return any(fid.startswith(d + ".<locals>.") for d in L._deco_fids)
    return False


def _refs_in(v, heads: set, calls: set) -> None:
    """The head names of the refs in value ``v`` and the refs it calls (nested values too)."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("r", "ann") and isinstance(x, str):
                heads.add(x.split(".", 1)[0])
            elif k == "call" and isinstance(x, str):
                heads.add(x.split(".", 1)[0])
                calls.add(x)
            else:
                _refs_in(x, heads, calls)
    elif isinstance(v, list):
        for x in v:
            _refs_in(x, heads, calls)


def _exported(fs: FunctionSummary) -> tuple[dict, set]:
    """The locals of ``fs`` that its returns and ``self.x = ...`` values reach (other
    functions evaluate those in its scope), and the refs those values call."""
    heads: set = set()
    calls: set = set()
    _refs_in(fs.returns, heads, calls)
    if fs.return_ann:
        heads.add(fs.return_ann.split(".", 1)[0])
    for ev in fs.events:
        if ev["e"] == "wr":
            _refs_in(ev.get("v"), heads, calls)
            _refs_in(ev.get("ann"), heads, calls)
    # the locals those values reach (a local's value may name another local)
    reached: dict = {}
    todo = [h for h in heads if h in fs.locals]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached[name] = fs.locals[name]
        more: set = set()
        _refs_in(fs.locals[name], more, calls)
        todo.extend(h for h in more if h in fs.locals and h not in reached)
    return reached, calls


def _interface(L, mod: str, fs: FunctionSummary, P, is_parent: bool) -> tuple:
    """What the linking of other functions can read of function ``fs`` (see the module's
    docstring), positions as ``P`` gives them: equal interfaces mean no other function's
    links change. A function with closures exports all its locals (closures read them)."""
    sig = tuple((k, v) for k, v in fs.__dict__.items() if k not in _OWN_FIELDS and k not in ("line", "col"))
    reached, calls = _exported(fs)
    if is_parent:
        reached = fs.locals
    locals_ = sorted((name, _placed(v, P) if isinstance(v, dict) else repr(v)) for name, v in reached.items())
    writes = []
    returned = {rv["r"] for rv in fs.returns if isinstance(rv, dict) and isinstance(rv.get("r"), str)}
    guarded = False
    self_acqs = set()
    for ev in fs.events:
        e = ev["e"]
        if e == "wr":
            vp = ev.get("vp")
            writes.append(("wr", ev.get("r"), ev.get("v"), ev.get("ann"), P(ev.get("l"), ev.get("c")),
                           P(vp[0], vp[1]) if vp else None))
        elif e == "call":
            if ev.get("f") in calls or ev.get("t") in returned:
                writes.append(("call", ev.get("f"), ev.get("u"), ev.get("t"), P(ev.get("l"), ev.get("c"))))
        elif e == "acq" and fs.cls:
            r = ev.get("r") or ""
            if r == "@self" or (r.startswith("@self.") and r.count(".") == 1):
                self_acqs.add(r)
        if not guarded and "pg" in ev:
            guarded = any(type(c) is dict and c.get("isa") for _p, c in ev["pg"])
    acqs = tuple(sorted(self_acqs)) if self_acqs and _may_wrap(L, f"{mod}.{fs.cls}") else ()
    return ("f", sig, P(fs.line, fs.col), locals_, writes, guarded, acqs)


def _may_wrap(L, cid: str) -> bool:
    """Could ``cid`` or a subclass be a lock wrapper (``Linker.wrapper_inner`` reads the
    ``self`` locks every method of its MRO takes)? Only a class with a take/give pair."""
    subs = L.__dict__.get("_incremental_subclasses")
    if subs is None or subs[0] is not L.m.classes:
        by: dict = {}
        for c, ci in L.m.classes.items():
            for base in ci.mro:
                by.setdefault(base, []).append(c)
        subs = L.__dict__["_incremental_subclasses"] = (L.m.classes, by)
    for c in subs[1].get(cid) or [cid]:
        for take, give in _WRAPPER_PAIRS:
            if L.find_method(c, take) and L.find_method(c, give):
                return True
    return False


# ---------------------------------------------------------------------------- the update
def _apply(a: Analysis, state: _State, plan: _Plan, summaries: dict, errors):
    from lockwatch.static.model import FunctionInfo, LockClass, ProgramModel

    L = state.linker
    old_m = L.m
    config = a.config
    if not plan.changed:
        # same program: same model and findings (the errors may differ)
        report = Report("static", list(a.report.findings), list(errors or []))
        return old_m, report, {"relinked": 0, "added": 0, "removed": 0}
    for fid in plan.relink | plan.removed:
        fi = old_m.functions[fid]
        if any(n in _REGISTRARS for cs in fi.calls for n in cs.ext):
            # the callbacks list is in link order, which a re-link does not keep
            raise _Fallback(f"{fid} registers a callback")
    m = ProgramModel(config=config)
    m.modules = dict(summaries)
    m.paths = dict(old_m.paths)
    for mod in plan.new_modules:
        m.paths[mod] = L._display_path(summaries[mod].path)
    m.classes = old_m.classes
    m.locks = dict(old_m.locks)
    gone = plan.relink | plan.removed
    m.recv_params = {k: v for k, v in old_m.recv_params.items() if v[1] not in gone}
    m.callbacks = [cb for cb in old_m.callbacks if cb[3] != "__del__"]
    fresh = plan.relink | plan.added
    functions: dict = {}
    old_functions = old_m.functions
    for mod, ms in sorted(m.modules.items()):
        path = m.paths[mod]
        for q, fs in ms.functions.items():
            fid = f"{mod}.{q}"
            if fid in fresh:
                functions[fid] = FunctionInfo(fid, mod, q, path, fs, cls=f"{mod}.{fs.cls}" if fs.cls else None)
            else:
                functions[fid] = old_functions[fid]
    m.functions = functions
    L.m = m

    # forget what the linker knows of the functions linked again or gone
    L._linked.difference_update(gone)
    for fid in gone:
        L._ctx_cache.pop(fid, None)
        L._call_positions.pop(fid, None)
        L._guarded.discard(fid)
    for key in [k for k in L._eval_memo if k[0] in gone]:
        del L._eval_memo[key]
    for key in [k for k in L._coro_locals if k[0] in gone]:
        del L._coro_locals[key]
    if plan.added or plan.removed:
        L._nested = None
    # the lock classes of their locals: sited by the local, named again when linked (a
    # lock a function keeps in a local is only reached through it: see ``_role_full``)
    for fid in gone:
        fi = old_functions[fid]
        fs = fi.summary
        kept = ()
        if fid in plan.relink:
            parent = any(f.parent == fs.qualname for f in a.summaries[fi.module].functions.values())
            kept = fs.locals if parent else _exported(fs)[0]
        for name in fs.locals:
            if name not in kept:
                m.locks.pop(f"{fid}.{name}", None)
    # code moved in an edited module: its classes' summaries, the instance attributes their
    # methods write (with positions), and the sites of the lock classes defined there
    for mod, posmap in plan.posmap.items():
        ms = summaries[mod]
        mine = [functions[f"{mod}.{q}"] for q in ms.functions]
        for q, cs in ms.classes.items():
            ci = m.classes[f"{mod}.{q}"]
            if ci.summary != cs:
                ci.summary = cs
            ci.inst_attrs = {}
        fids = {fi.id for fi in mine} | {f"{mod}.{q}" for q in a.summaries[mod].functions}
        for key in [k for k in L._value_pos if k[0] in fids]:
            del L._value_pos[key]
        for fi in mine:
            if fi.cls and fi.cls in m.classes:
                L._collect_inst_attrs(fi, m.classes[fi.cls])
        if f"{mod}.<module>" in gone:
            L._module_ctx.pop(mod, None)
        path = m.paths[mod]
        for lid, lc in list(m.locks.items()):
            if lc.path != path:
                continue
            to = posmap.get((lc.line, lc.col))
            if to is None:
                if lid.rpartition(".")[0] in plan.relink:
                    raise _Fallback(f"lock {lid}: its site is no interface position")
                continue
            if to != (lc.line, lc.col):
                m.locks[lid] = LockClass(lc.id, lc.path, to[0], to[1], lc.sort, lc.value, lc.container,
                                         lc.wrapper, lc.inner)
    # undo the stored-callback pass, drop the gone functions' sites
    touched = set()
    for fi, cs, before, appended in reversed(L._stored_added):
        del cs.targets[before:]
        if appended:
            for i in range(len(fi.calls) - 1, -1, -1):
                if fi.calls[i] is cs:
                    del fi.calls[i]
                    break
        touched.add(fi.id)
    L._stored_added = []
    gone_sites = {id(cs) for fid in gone for cs in old_functions[fid].calls}
    L._attr_call_sites = [s for s in L._attr_call_sites if s[0].id not in gone]
    L._fnarg_sites = [cs for cs in L._fnarg_sites if id(cs) not in gone_sites]
    n_callbacks = len(m.callbacks)

    for fid in sorted(fresh):
        L.link_function(fid)
    if len(m.callbacks) != n_callbacks:
        raise _Fallback("a re-linked function registers a callback")
    for mod in plan.new_modules:   # ``_define_all_locks`` for the new module's globals
        for name in sorted(summaries[mod].globals):
            L.resolve_global(mod, name)
    L._link_stored_callbacks()
    for fi, _cs, _before, _appended in L._stored_added:
        touched.add(fi.id)
    touched &= functions.keys()
    for fid in sorted(fresh | touched):
        L.name_guard_classes_of(functions[fid])

    # the call graph, as ``Linker.build`` makes it
    edges = state.edges
    for fid in plan.removed:
        edges.pop(fid, None)
    for fid in fresh | touched:
        edges[fid] = _edges(functions[fid])
    if plan.added or plan.removed:
        state.sorted_fids = sorted(functions)
    m.call_graph = _edit_call_graph(old_m.call_graph, functions, edges, state.sorted_fids, fresh | touched,
                                    plan.removed)
    for fid, fi in functions.items():
        if fi.summary.name == "__del__" and fi.cls:
            m.callbacks.append((fid, "@self", (fi.path, fi.line, fi.col, f"{fi.short} is a finalizer"), "__del__"))
    # the composed effects are the graph stage's: start them afresh on every function
    for fi in functions.values():
        if fi.acq_eff:
            fi.acq_eff = {}
        if fi.block_eff:
            fi.block_eff = {}
        fi.sites_index = None
    t = time.perf_counter()
    report = _report(m, config, errors)
    return m, report, {"relinked": len(plan.relink), "added": len(plan.added),
                       "removed": len(plan.removed), "touched": len(touched),
                       "graph_checks_seconds": time.perf_counter() - t}


def _edit_call_graph(G, functions: dict, edges: dict, fids: list, changed: set, removed: set):
    """``G`` (the previous call graph, taken over) made the graph ``Linker.build`` would make
    now: the removed functions' nodes gone, the successors of ``changed`` (new functions
    included) made again, and the nodes in build's order (each function in sorted order,
    a call target where first met before its own turn). ``graph.compose`` reads the order
    of the nodes and of each node's successors (``adjacency``), not of predecessors."""
    N, S, P = G._node, G._succ, G._pred
    for fid in removed:
        if fid in N:
            for tgt in S[fid]:
                if tgt != fid:
                    del P[tgt][fid]
            for u in P[fid]:
                if u != fid:
                    del S[u][fid]
            del N[fid], S[fid], P[fid]
    for fid in changed:
        if fid not in N:
            N[fid] = {}
            S[fid] = {}
            P[fid] = {}
    for fid in sorted(changed):
        for tgt in S[fid]:
            del P[tgt][fid]
        succ: dict = {}
        for tgt in edges[fid]:
            if tgt in functions and tgt not in succ:
                d = {}
                succ[tgt] = d
                P[tgt][fid] = d
        S[fid] = succ
    order: dict = {}
    add = order.setdefault
    for fid in fids:
        add(fid)
        for tgt in edges[fid]:
            if tgt in functions:
                add(tgt)
    if list(order) != list(N):
        for d in (N, S, P):
            items = [(k, d[k]) for k in order]
            d.clear()
            d.update(items)
    cache = getattr(G, "__networkx_cache__", None)
    if cache:
        cache.clear()
    return G


def _registrars():
    from lockwatch.static import catalog

    return frozenset(catalog.CALLBACK_REGISTRARS)


_REGISTRARS = _registrars()
