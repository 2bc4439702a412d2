"""Link per-file summaries into one :class:`ProgramModel`: imports (aliases, relative,
re-exports, star), classes and bases across modules, attribute types, lock classes, and
the targets of every call, acquisition, property read and decorator.

Values are evaluated abstractly; an abstract value is a tuple:

- ``("mod", name)`` project module; ``("ext", dotted)`` anything outside the project;
- ``("cls", cid)`` project class; ``("inst", cid|None, path)`` an instance of it;
  ``("inst", cid, path, lock_id)`` an instance of a *lock wrapper* class (see
  :meth:`Linker.wrapper_inner`) stored under a definition, which names its lock class;
- ``("super", cid, path)`` what ``super()`` gives in a method of ``cid``;
- ``("func", fid, recv)`` project function, bound to receiver path ``recv`` (or None);
- ``("exti", type, path)`` instance of a known external type; ``("extm", type, m, path)``;
  a datagram socket carries a fourth part, ``("exti", "socket.socket", path, "dgram")``
  (``"udgram"`` for a Unix-domain one), kept on its methods, ``("extm", "socket.socket", m,
  path, "dgram")``; so does an object of a
  type the catalog names by behaviour (``catalog.RENAMED_TYPES``) whose constructor call the
  linker evaluated: the public class it was built as, ``("exti", "queue.BoundedQueue", path,
  "multiprocessing.Queue")`` (see :func:`public_class`), or, for a file whose mode is a
  parameter of the function being linked, ``("param", fid, ...)`` (``Linker._param_public``:
  the message binds it at the witness chain's call; never kept as a call's ``recv_class``);
- ``("lock", lock_id, path, cond)``; ``("lockc", lock_id, path)`` a container of locks;
  ``("lockm", lock_id, path, cond, method)``;
- ``("create", sort, value, cond, field)`` a freshly created lock (not yet named by a
  definition), with a sixth part, the lock class of its creation site, when a project
  factory function made it (``_create_lock()``: see :meth:`Linker._factory_made`);
  ``("createc", sort, value)`` a container of them; ``("winst", cid)`` a
  lock wrapper made per instance by a dataclass ``field(default_factory=Wrapper)``;
- ``("const", x)``; ``("lambda", value)``;
- ``("extu", (type, ...), path)`` an instance of one of several known external types: what a
  project function returns when its returns give different ones (jupyter_client's
  ``_get_future``: an ``asyncio.Future`` when a loop runs, else a ``concurrent.futures.Future``),
  the first returned first. A method of it is taken as the first type's method only when it
  may block for every type; else as that of a type for which it does not (P45: precision
  first; see :meth:`Linker._union_member`).

Everything the linker cannot follow evaluates to ``None``: precision first.
"""

from __future__ import annotations

import builtins
import json

from lockwatch.findings import display_path
from lockwatch.static import catalog
from lockwatch.static.model import (
    Acq,
    CallSite,
    ClassInfo,
    FunctionInfo,
    ProgramModel,
    short_name,
)
from lockwatch.static.summary import ModuleSummary

_BUILTINS = set(dir(builtins))
_MAX_PATH_PARTS = 5
_MAX_DEPTH = 40
_IN_PROGRESS = object()
# ``try: import m`` / ``except ImportError: m = None``: the module name is bound to the module
# or to None, and the code that uses it runs only when the import succeeded (the ``None`` is
# the "not installed" case). Such a global is resolved through its import.
_NONE = {"const": None}
_MISSING = object()
# (take, give back) method pairs through which a class wraps a lock held in its attribute
_WRAPPER_PAIRS = (("__enter__", "__exit__"), ("__aenter__", "__aexit__"), ("acquire", "release"))
_WRAPPER_METHODS = frozenset(n for pair in _WRAPPER_PAIRS for n in pair) | {"__init__"}


def reroot(path: str, recv: str | None) -> str:
    """A callee-relative path seen from the caller that called it on ``recv``."""
    if path == "@global":
        return path
    if path.startswith("@self"):
        if recv is not None and recv.startswith("?^"):
            # a closure variable: still an unknown instance to every check that needs one
            # (the "?" prefix), but the handler checks can tell it is the enclosing scope's
            out = recv + path[5:]
            return out if out.count(".") < _MAX_PATH_PARTS + 3 else "?"
        if recv is None or recv == "?" or recv.startswith("?"):
            return "?"
        out = recv + path[5:]
        return out if out.count(".") < _MAX_PATH_PARTS else "?"
    return "?"


class Linker:
    def __init__(self, summaries: dict[str, ModuleSummary], config=None):
        self.config = config
        self.extra_factories = dict(getattr(config, "lock_factories", None) or {})
        self.m = ProgramModel(config=config)
        self.m.modules = dict(summaries)
        self._glob_cache: dict = {}
        self._inst_cache: dict = {}
        self._cls_attr_cache: dict = {}
        self._ret_cache: dict = {}
        self._linked: set = set()
        self._depth = 0
        # evaluation memo, one dict per scope (function, class, module): see ``_scope``
        self._eval_memo: dict = {}
        self._ctx_cache: dict = {}
        self._module_ctx: dict = {}
        self._method_index: dict | None = None
        self._subclasses: dict | None = None
        self._attr_call_sites: list = []   # (fi, cs, class id, attr) for ``self.attr(...)``
        self._fnarg_sites: list = []       # call sites with ``fnargs``, for the above
        self._nested: dict | None = None
        self._extra_blocking = frozenset(getattr(config, "blocking_calls", None) or ())
        self._property_names: set = set()
        self._wrapper_cache: dict = {}
        # what ``_link_stored_callbacks`` added to call sites, (function, call site, targets
        # before, appended to the function's calls?), and the functions with isinstance guards
        # (``_name_guard_classes``): an incremental re-link (``incremental.py``) undoes and
        # redoes these global passes
        self._stored_added: list = []
        self._guarded: set = set()
        # decorators whose nested functions ``_wrapper_locks`` read (their linked facts are
        # the decorated functions' acquisitions)
        self._deco_fids: set = set()
        # (fid, line, col) of a ``self.x = ...`` write whose value starts on a later line
        # -> the value's (line, col): a lock is named by its factory call's line (SPEC, Lock
        # identity), which is where the tracer sees it created; the write keeps its own
        # position for everything else (races, coroutine stores)
        self._value_pos: dict[tuple[str, int, int], tuple[int, int]] = {}
        self._overrides_cache: dict = {}
        self._display: dict = {}
        # P36: un-awaited calls of coroutine functions (``_coroutine_object``)
        self._call_positions: dict = {}   # function id -> {(line, col, callee ref): use}
        self._coro_locals: dict = {}      # (function id, local) -> a coroutine object?

    # ------------------------------------------------------------------ build
    def build(self) -> ProgramModel:
        m = self.m
        for mod, ms in sorted(m.modules.items()):
            m.paths[mod] = self._display_path(ms.path)
            for q, cs in ms.classes.items():
                cid = f"{mod}.{q}"
                m.classes[cid] = ClassInfo(cid, mod, m.paths[mod], cs)
            for q, fs in ms.functions.items():
                fid = f"{mod}.{q}"
                m.functions[fid] = FunctionInfo(
                    fid, mod, q, m.paths[mod], fs, cls=f"{mod}.{fs.cls}" if fs.cls else None)
        for cid in sorted(m.classes):
            self._bases(cid)
        for cid in sorted(m.classes):
            m.classes[cid].mro = self._mro(cid)
        self._property_names = {fi.summary.name for fi in m.functions.values() if fi.kind == "property"}
        classes = m.classes
        for fi in m.functions.values():
            if fi.cls and fi.cls in classes:
                self._collect_inst_attrs(fi, classes[fi.cls])
        fids = sorted(m.functions)
        for fid in fids:
            self.link_function(fid)
        self._link_stored_callbacks()
        self._name_guard_classes()
        self._define_all_locks()
        # the call graph in two bulk calls (one networkx call per node and edge was a
        # noticeable cost); nodes in the order add_node/add_edge would have made them
        functions = m.functions
        nodes: dict = {}
        edges: list = []
        node = nodes.setdefault
        edge = edges.append
        for fid in fids:   # (no function was added since)
            node(fid)
            for cs in functions[fid].calls:
                for tgt, _recv in cs.targets:
                    if tgt in functions:
                        node(tgt)
                        edge((fid, tgt))
                for _i, h, _r in cs.fnargs or ():
                    if h in functions:
                        node(h)
                        edge((fid, h))
        m.call_graph.add_nodes_from(nodes)
        m.call_graph.add_edges_from(edges)
        for fid, fi in m.functions.items():
            if fi.summary.name == "__del__" and fi.cls:
                m.callbacks.append((fid, "@self", (fi.path, fi.line, fi.col, f"{fi.short} is a finalizer"), "__del__"))
        return m

    def _display_path(self, path: str) -> str:
        # one relpath per file, not one per lock definition bound there
        d = self._display.get(path)
        if d is None:
            d = self._display[path] = display_path(path)
        return d

    def _define_all_locks(self) -> None:
        """Every lock definition gets its lock class, used or not (the runtime joins on
        creation sites, and unused locks are still worth listing)."""
        for mod in sorted(self.m.modules):
            for name in sorted(self.m.modules[mod].globals):
                self.resolve_global(mod, name)
        for cid in sorted(self.m.classes):
            ci = self.m.classes[cid]
            for attr in sorted(ci.summary.attrs):
                self._class_attr_value(cid, attr, "@self")
            for attr in sorted(ci.inst_attrs):
                self._inst_attr_value(cid, attr, "@self")

    def _scope(self, ms: ModuleSummary, fi: FunctionInfo | None, ci: ClassInfo | None):
        """An evaluation context: (module summary, function, class, memo). The memo is the
        dict of finished evaluations in that scope (ref -> (value, implicit calls)), shared
        by every context naming the same (function, class, module): a ref means the same
        in all of them, and looking it up there costs one dict access."""
        key = (fi.id if fi is not None else None, ci.id if ci is not None else None, ms.module)
        memo = self._eval_memo.get(key)
        if memo is None:
            memo = self._eval_memo[key] = {}
        return (ms, fi, ci, memo)

    def _module_scope(self, ms: ModuleSummary):
        """The context of module-level code (made once per module, as ``_ctx``)."""
        ctx = self._module_ctx.get(ms.module)
        if ctx is None:
            ctx = self._module_ctx[ms.module] = self._scope(ms, self.m.functions.get(f"{ms.module}.<module>"), None)
        return ctx

    def _ctx(self, fi: FunctionInfo):
        # a function's context depends on the classes and functions only, all known before
        # any evaluation: made once per function
        ctx = self._ctx_cache.get(fi.id)
        if ctx is None:
            ctx = self._ctx_cache[fi.id] = self._make_ctx(fi)
        return ctx

    def _make_ctx(self, fi: FunctionInfo):
        ci = self.m.classes.get(fi.cls) if fi.cls else None
        if ci is None and fi.summary.parent:
            # a closure defined in a method sees the method's ``self`` (summarised as @self)
            p = self.m.functions.get(f"{fi.module}.{fi.summary.parent}")
            hops = 0
            while p is not None and hops < 20:
                if p.cls:
                    ci = self.m.classes.get(p.cls)
                    break
                p = self.m.functions.get(f"{p.module}.{p.summary.parent}") if p.summary.parent else None
                hops += 1
        return self._scope(self.m.modules[fi.module], fi, ci)

    def _bases(self, cid: str) -> None:
        ci = self.m.classes[cid]
        ms = self.m.modules[ci.module]
        ctx = self._scope(ms, self._enclosing_fn(ci), None)
        for b in ci.summary.bases:
            v = self.eval_ref(b, ctx)
            if v is None:
                continue
            if v[0] == "cls" and v[1] != cid:
                ci.bases.append(v[1])
            elif v[0] == "ext":
                ci.ext_bases.append(v[1])

    def _enclosing_fn(self, ci: ClassInfo):
        pf = ci.summary.parent_func
        return self.m.functions.get(f"{ci.module}.{pf}") if pf else None

    def _mro(self, cid: str) -> list[str]:
        out, stack, seen = [], [cid], set()
        # depth-first, left to right, each class once: close enough to C3 for lookups,
        # and immune to cycles in (broken) inheritance
        while stack:
            c = stack.pop(0)
            if c in seen or c not in self.m.classes:
                continue
            seen.add(c)
            out.append(c)
            stack = list(self.m.classes[c].bases) + stack
        return out

    def _collect_inst_attrs(self, fi: FunctionInfo, ci: ClassInfo) -> None:
        """The instance attributes method ``fi`` of class ``ci`` writes (``self.x = ...``)."""
        for ev in fi.summary.events:
            if ev["e"] != "wr":
                continue
            r = ev["r"]
            if not r.startswith("@self."):
                continue
            parts = r.split(".")
            vp = ev.get("vp")
            if vp is not None:
                self._value_pos[(fi.id, ev["l"], ev["c"])] = (vp[0], vp[1])
            if len(parts) == 2:
                ci.inst_attrs.setdefault(parts[1], []).append((ev.get("v"), ev.get("ann"), ev["l"], ev["c"], fi.id, False))
            elif len(parts) == 3 and parts[2] == "[]":
                ci.inst_attrs.setdefault(parts[1], []).append((ev.get("v"), None, ev["l"], ev["c"], fi.id, True))

    # ------------------------------------------------------------------ name resolution
    def resolve_global(self, mod: str, name: str, seen=None):
        key = (mod, name)
        c = self._glob_cache.get(key, None)
        if c is _IN_PROGRESS:
            return None
        if key in self._glob_cache:
            return c
        self._glob_cache[key] = _IN_PROGRESS
        try:
            v = self._resolve_global(mod, name, seen or set())
        except RecursionError:
            v = None
        self._glob_cache[key] = v
        return v

    def _resolve_global(self, mod: str, name: str, seen):
        ms = self.m.modules.get(mod)
        if ms is None:
            return ("ext", f"{mod}.{name}")
        qualified = f"{mod}.{name}"
        if qualified in _CATALOGUED:
            # the public API the catalog describes wins over its implementation, also when
            # that implementation is being scanned (the stdlib's own threading.py)
            return ("ext", qualified)
        if name in ms.functions and "." not in name:
            return ("func", f"{mod}.{name}", None)
        if name in ms.classes:
            g = ms.globals.get(name)
            if g is None or (g.get("v") or {}).get("r") == f"<class>{name}":
                return ("cls", f"{mod}.{name}")
        if name in ms.globals and not (name in ms.imports and ms.globals[name].get("v") == _NONE):
            g = ms.globals[name]
            v = g.get("v")
            if v is None:
                return None
            val = self.eval_value(v, self._module_scope(ms))
            return self._bind_definition(val, f"{mod}.{name}", "@global", ms, g.get("l", 0), g.get("c", 0))
        if name in ms.imports:
            imp = ms.imports[name]
            if imp[0] == "module":
                return ("mod", imp[1]) if imp[1] in self.m.modules else ("ext", imp[1])
            return self.module_attr(imp[1], imp[2])
        for star in ms.star_imports:
            if star in self.m.modules:
                if (star, name) in seen:
                    continue
                seen.add((star, name))
                v = self._resolve_global(star, name, seen)
                if v is not None:
                    return v
            else:
                d = f"{star}.{name}"
                if d in catalog.LOCK_FACTORIES or d in catalog.KNOWN_TYPES or d in catalog.BLOCKING:
                    return ("ext", d)
        return None

    def module_attr(self, mod: str, attr: str):
        sub = f"{mod}.{attr}"
        if mod in self.m.modules:
            v = self.resolve_global(mod, attr)
            if v is not None:
                return v
            if sub in self.m.modules:
                return ("mod", sub)
            return None
        if sub in self.m.modules:
            return ("mod", sub)
        return ("ext", _normalise_ext(sub))

    def _bind_definition(self, val, def_id, path, ms, line, col, container=False):
        """A value stored under a definition: a created lock gets its lock class here."""
        if val is None:
            return None
        k = val[0]
        if k == "create":
            sort, value, cond = val[1], val[2], val[3]
            self.m.add_lock(def_id, sort, self._display_path(ms.path), line, col, value, container,
                            inner=_origin(val))
            return ("lock", def_id, path if not container else "?", cond or sort in catalog.CONDITION_SORTS) if not container else ("lockc", def_id, path)
        if k == "createc":
            _, sort, value = val
            self.m.add_lock(def_id, sort, self._display_path(ms.path), line, col, value, True)
            return ("lockc", def_id, path)
        if k == "inst" and val[2] == "?":
            w = self._bind_wrapper(val, def_id, path, self._display_path(ms.path), line, col)
            return w if w is not None else ("inst", val[1], path) + val[3:]
        if k == "cont":
            w = self._bind_wrapper(val[1], def_id, "?", self._display_path(ms.path), line, col, container=True)
            if w is not None:
                return ("cont", w)
        if k in ("exti", "extu") and val[2] == "?":
            return (k, val[1], path) + val[3:]
        return val

    # ------------------------------------------------------------------ lock wrappers
    def wrapper_inner(self, cid: str | None) -> tuple[str, str] | None:
        """``(inner lock id, attribute)`` when ``cid`` is a *lock wrapper*: a project class
        whose ``__enter__``/``__aenter__``/``acquire`` leaves held a lock kept in one of its
        own attributes, which the matching ``__exit__``/``__aexit__``/``release`` gives back
        (httpcore's ``_synchronization.Lock``). Every wrapper instance would otherwise be
        the one lock class ``Wrapper._lock``; lockdep keys a lock class by its creation site,
        and for a wrapper the meaningful one is where the *wrapper* is stored
        (``self._init_lock = Lock()``), so the definitions binding a fresh wrapper instance
        give it a lock class of its own (see ``_bind_wrapper``).

        Only a pure wrapper: when another method of the class also takes the inner lock
        (directly or by ``with self:``), renaming the acquisitions through ``__enter__``
        would split one lock into two names and hide its self-deadlocks."""
        if cid is None or cid not in self.m.classes:
            return None
        c = self._wrapper_cache.get(cid, _MISSING)
        if c is _IN_PROGRESS:
            return None
        if c is not _MISSING:
            return c
        self._wrapper_cache[cid] = _IN_PROGRESS
        try:
            r = self._find_wrapper_inner(cid)
        except RecursionError:
            r = None
        self._wrapper_cache[cid] = r
        return r

    def _find_wrapper_inner(self, cid: str):
        taken: set = set()
        released: set = set()
        for take, give in _WRAPPER_PAIRS:
            tfid = self.find_method(cid, take)
            gfid = self.find_method(cid, give)
            if tfid is None or gfid is None:
                continue
            t = self.link_function(tfid)
            g = self.link_function(gfid)
            released |= g.released
            for i in t.summary.exit_held:
                for a in t.acqs.get(i, ()):
                    if a.path.startswith("@self.") and a.path.count(".") == 1:
                        taken.add((a.lock, a.path[6:]))
        inner = {(lock, attr) for lock, attr in taken if lock in released}
        if len(inner) != 1:
            return None
        lock, attr = next(iter(inner))
        lc = self.m.locks.get(lock)
        if lc is None or lc.container:
            return None
        own = (f"@self.{attr}", "@self")
        for c in self.m.classes[cid].mro:
            ci = self.m.classes[c]
            for mname, q in ci.summary.methods.items():
                if mname in _WRAPPER_METHODS:
                    continue
                f = self.m.functions.get(f"{ci.module}.{q}")
                if f is not None and any(ev["e"] == "acq" and ev.get("r") in own for ev in f.summary.events):
                    return None
        return lock, attr

    def _bind_wrapper(self, val, def_id, path, display, line, col, container=False):
        """A fresh wrapper instance stored under ``def_id``: its lock class, named by that
        definition, of the inner lock's sort (reentrant or not, async or not, counting)."""
        if val is None or val[0] != "inst" or len(val) > 3 or val[2] != "?":
            return None
        wi = self.wrapper_inner(val[1])
        if wi is None:
            return None
        inner = self.m.locks[wi[0]]
        self.m.add_lock(def_id, inner.sort, display, line, col, inner.value, container,
                        wrapper=val[1], inner=inner.id)
        return ("inst", val[1], path, def_id)

    # ------------------------------------------------------------------ evaluation
    def eval_ref(self, ref: str | None, ctx, implicit=None):
        if not ref:
            return None
        memo = ctx[3]
        hit = memo.get(ref)
        if hit is not None:
            if implicit is not None and hit[1]:
                implicit.extend(hit[1])
            return hit[0]
        depth = self._depth
        if depth >= _MAX_DEPTH:
            return None   # too deep (never memoised: only depth 0 is)
        mine: list = []   # the implicit calls (property reads) on the way
        self._depth = depth + 1
        try:
            if "." not in ref:
                v = self._base(ref, ctx)
            else:
                parts = ref.split(".")
                v = self._base(parts[0], ctx)
                for p in parts[1:] if v is not None else ():
                    v = self._step(v, p, mine)
                    if v is None:
                        break
        except RecursionError:
            v = None
        finally:
            self._depth = depth
        if depth == 0:
            # memoise only complete evaluations (inner ones may have been cut by a guard)
            memo[ref] = (v, tuple(mine) if mine else ())
        if mine and implicit is not None:
            implicit.extend(mine)
        return v

    def _base(self, name: str, ctx):
        ms, fi, ci, _memo = ctx
        first = name[:1]
        if first == "@":
            if name == "@self":
                if ci is not None:
                    return ("inst", ci.id, "@self")
                return ("inst", None, "@self")
            if name == "@cls":
                return ("cls", ci.id) if ci is not None else None
            if name == "@super":
                return ("super", ci.id, "@self") if ci is not None else None
        elif first == "<":
            if name.startswith("<def>"):     # qualname with ':' for '.', see summarise
                return ("func", f"{ms.module}.{name[5:].replace(':', '.')}", None)
            if name.startswith("<class>"):
                return ("cls", f"{ms.module}.{name[7:].replace(':', '.')}")
        f = fi
        own = True
        while f is not None and f.qualname != "<module>":
            s = f.summary
            if name in s.globals_decl:
                break
            if name in s.locals:
                return self._local(f, name, s.locals[name], own)
            if name in s.assigned or name in s.params or name == s.vararg:
                return None
            f = self.m.functions.get(f"{f.module}.{s.parent}") if s.parent else None
            own = False
        if fi is None and ci is not None and name in ci.summary.attrs:
            return self.class_attr(ci.id, name)
        v = self._glob_cache.get((ms.module, name), _MISSING)
        if v is _MISSING or v is _IN_PROGRESS:
            v = self.resolve_global(ms.module, name)
        if v is None and name in _BUILTINS:
            return ("ext", name)
        return v

    def _local(self, f: FunctionInfo, name: str, val: dict, own: bool):
        if not val:
            return None
        # a variable of an enclosing function, seen from a closure: "?^<function>.<name>"
        path = f"%{name}" if own else f"?^{f.id}:{name}"
        ctx = self._ctx(f)
        if "ann" in val and len(val) <= 3 and "call" not in val:
            return self._instantiate(self.eval_ref(val["ann"], ctx), path)
        if "elem" in val:
            c = self.eval_value(val["elem"], ctx)
            if c is not None and c[0] == "cont" and c[1] is not None:
                e = c[1]
                if e[0] in ("inst", "exti", "extu"):
                    return (e[0], e[1], "?") + e[3:]
                return None
            if c is not None and c[0] == "lockc":
                return ("lock", c[1], "?", False)
            return None
        if "call" in val and self._coroutine_local(f, name, val, ctx):
            return None   # ``coro = connect()``: a coroutine object, not what it returns (P36)
        v = self.eval_value(val, ctx)
        if v is None:
            return None
        if v[0] in ("create", "createc") or (v[0] in ("inst", "cont") and self._fresh_wrapper(v)):
            ms = self.m.modules[f.module]
            return self._bind_definition(v, f"{f.id}.{name}", path, ms, val.get("l", f.line), val.get("c", 1))
        if v[0] in ("inst", "exti", "extu") and v[2] == "?":
            return (v[0], v[1], path) + v[3:]
        return v

    def _fresh_wrapper(self, v) -> bool:
        """A new wrapper instance (or a container of them) not yet stored anywhere."""
        if v[0] == "cont":
            v = v[1]
        return (v is not None and v[0] == "inst" and len(v) == 3 and v[2] == "?"
                and self.wrapper_inner(v[1]) is not None)

    def _instantiate(self, t, path):
        if t is None:
            return None
        if t[0] == "cls":
            return ("inst", t[1], path)
        if t[0] == "ext":
            d = t[1]
            if d in catalog.KNOWN_TYPES:
                return ("exti", catalog.KNOWN_TYPES[d], path)
            if d.rsplit(".", 1)[-1] in ("Future",) and d.startswith("concurrent"):
                return ("exti", "concurrent.futures.Future", path)
        return None

    def _step(self, v, p: str, implicit):
        k = v[0]
        if k == "inst":
            if p in ("()", "[]"):
                return None
            return self.inst_attr(v[1], v[2], p, implicit)
        if k == "mod":
            if p in ("()", "[]"):
                return None
            return self.module_attr(v[1], p)
        if k == "ext":
            if p == "()":
                # ``open(p, "rb").read``: this call's arguments are not in the ref; the
                # public class comes from the call event itself (``_link_call``)
                return self._call_ext(v[1], [], {}, args_known=False)
            if p == "[]":
                return None
            return ("ext", _normalise_ext(f"{v[1]}.{p}"))
        if k == "cls":
            if p == "()":
                return ("inst", v[1], "?")
            if p == "[]":
                return None
            return self.class_attr(v[1], p)
        if k == "super":
            if p in ("()", "[]"):
                return None
            return self.inst_attr(v[1], v[2], p, implicit, skip_first=True)
        if k == "exti":
            if p in ("()", "[]"):
                return None
            return ("extm", v[1], p, v[2]) + v[3:]
        if k == "extu":
            if p in ("()", "[]"):
                return None
            return ("extm", self._union_member(v[1], p), p, v[2])
        if k == "extm":
            if p == "()":
                return self._call_extm(v[1], v[2], [], {})
            return None
        if k == "func":
            if p == "()":
                return self.call_result(v[1], v[2])
            return None
        if k == "lock":
            if p in ("()", "[]"):
                return None
            return ("lockm", v[1], v[2], v[3], p)
        if k == "lockc":
            if p == "[]":
                lc = self.m.locks.get(v[1])
                return ("lock", v[1], "?", bool(lc and lc.sort in catalog.CONDITION_SORTS))
            return None
        if k == "cont":
            if p == "[]" and v[1] is not None and v[1][0] in ("inst", "exti", "extu"):
                return (v[1][0], v[1][1], "?") + v[1][3:]
            return None
        return None

    def _call_ext(self, d: str, args, kws, args_known: bool = True):
        sort = catalog.lock_sort(d, self.extra_factories)
        if sort:
            return self._creation(d, sort, args, kws)
        if d in catalog.DEFAULTDICT:
            if args:
                fv = self.eval_value(args[0], self._cur_ctx)
                s = self._factory_sort(fv)
                if s:
                    return ("createc", s, None)
                if fv is not None and fv[0] == "cls" and self.wrapper_inner(fv[1]) is not None:
                    return ("cont", ("inst", fv[1], "?"))   # defaultdict(WrapperLock)
            return None
        if d in catalog.DATACLASS_FIELD:
            df = kws.get("default_factory")
            fv = self.eval_value(df, self._cur_ctx) if df else None
            s = self._factory_sort(fv)
            if s:
                return ("create", s, None, False, True)
            if fv is not None and fv[0] == "cls" and self.wrapper_inner(fv[1]) is not None:
                return ("winst", fv[1])   # field(default_factory=WrapperLock): one per instance
            return None
        t = catalog.KNOWN_TYPES.get(d)
        if t:
            if d in catalog.BOUNDABLE_QUEUES:
                ms = kws.get("maxsize") if "maxsize" in kws else (args[0] if args else None)
                c = ms.get("const") if isinstance(ms, dict) else None
                if ms is not None and not (isinstance(c, int) and c <= 0):
                    t = "queue.BoundedQueue"
            if d == "socket.socket" and catalog.socket_is_datagram(args, kws):
                return ("exti", t, "?", "udgram" if catalog.socket_is_unix(args, kws) else "dgram")
            pub = (public_class(t, d, None, args, kws) or self._param_public(t, d, args, kws)) if args_known else None
            return ("exti", t, "?", pub) if pub else ("exti", t, "?")
        return None

    _cur_ctx = None

    def _creation(self, d, sort, args, kws):
        value = None
        cond = sort in catalog.CONDITION_SORTS
        if sort in catalog.SEMAPHORE_SORTS:
            kw, pos = catalog.SEMAPHORE_VALUE_ARG.get(d, ("value", 0))
            a = kws.get(kw) if kw in kws else (args[pos] if len(args) > pos else None)
            if a is not None:
                value = a["const"] if isinstance(a, dict) and isinstance(a.get("const"), int) else -1
        if cond:
            a = kws.get("lock") if "lock" in kws else (args[0] if args else None)
            if a is not None and self._cur_ctx is not None:
                inner = self.eval_value(a, self._cur_ctx)
                if inner is not None and inner[0] == "lock":
                    return ("lock", inner[1], inner[2], True)
                if inner is not None and inner[0] == "create":
                    return ("create", inner[1], inner[2], True, False) + inner[5:]
        return ("create", sort, value, cond, False)

    def _call_extm(self, t, meth, args, kws):
        full = f"{t}.{meth}"
        sort = catalog.lock_sort(full, self.extra_factories)
        if sort:
            return self._creation(full, sort, args, kws)
        r = catalog.KNOWN_RETURNS.get((t, meth))
        if r:
            pub = public_class(r, None, meth, args, kws)
            return ("exti", r, "?", pub) if pub else ("exti", r, "?")
        return None

    def _factory_sort(self, v):
        if v is None:
            return None
        if v[0] == "ext":
            return catalog.lock_sort(v[1], self.extra_factories)
        if v[0] == "lambda" and v[1] is not None and v[1][0] == "create":
            return v[1][1]
        if v[0] == "func":
            r = self.call_result(v[1], v[2])
            # a factory that returns a lock it made in a local (``_factory_made``) is not
            # taken as a default_factory/defaultdict factory: it was not before that lock
            # got its storing definition's name, and taking it adds findings (pymongo's
            # ``field(default_factory=_create_lock)``), a detection change left for review
            if r is not None and r[0] == "create" and _origin(r) is None:
                return r[1]
        return None

    def eval_value(self, v, ctx):
        if not v:
            return None
        self._depth += 1
        saved = self._cur_ctx
        self._cur_ctx = ctx
        try:
            if self._depth > _MAX_DEPTH:
                return None
            if "r" in v:
                return self.eval_ref(v["r"], ctx)
            if "call" in v:
                fv = self.eval_ref(v["call"], ctx)
                if fv is None:
                    return None
                args, kws = v.get("a") or [], v.get("k") or {}
                k = fv[0]
                if k == "ext":
                    return self._call_ext(fv[1], args, kws)
                if k == "extm":
                    return self._call_extm(fv[1], fv[2], args, kws)
                if k == "cls":
                    return ("inst", fv[1], "?")
                if k == "func":
                    sort = self.extra_factories.get(fv[1])
                    if sort:
                        return ("create", sort if sort in catalog.SORTS else "lock", None,
                                sort in catalog.CONDITION_SORTS, False)
                    r = self.call_result(fv[1], fv[2])
                    if r is not None and r[0] == "exti" and r[1] in catalog.RENAMED_TYPES:
                        pub = self._helper_public(fv[1], r[1], args, kws)
                        if pub is not None:
                            return r[:3] + (pub,)
                    return r
                return None
            if "const" in v:
                return ("const", v["const"])
            if "cont" in v:
                inner = self.eval_value(v["cont"], ctx)
                if inner is None:
                    return None
                if inner[0] == "create":
                    return ("createc", inner[1], inner[2])
                if inner[0] == "lock":
                    return ("lockc", inner[1], "?")
                if inner[0] in ("inst", "exti", "extu"):
                    return ("cont", inner)   # a container of known objects
                return None
            if "lambda" in v:
                return ("lambda", self.eval_value(v["lambda"], ctx))
            if "ann" in v:
                return self._instantiate(self.eval_ref(v["ann"], ctx), "?")
            return None
        except RecursionError:
            return None
        finally:
            self._cur_ctx = saved
            self._depth -= 1

    # ------------------------------------------------------------------ classes
    def find_method(self, cid: str | None, name: str, skip_first: bool = False) -> str | None:
        if cid is None or cid not in self.m.classes:
            return None
        mro = self.m.classes[cid].mro
        for c in (mro[1:] if skip_first else mro):
            q = self.m.classes[c].summary.methods.get(name)
            if q:
                return f"{self.m.classes[c].module}.{q}"
        return None

    def class_attr(self, cid: str, attr: str):
        if cid not in self.m.classes:
            return None
        for c in self.m.classes[cid].mro:
            ci = self.m.classes[c]
            q = ci.summary.methods.get(attr)
            if q:
                return ("func", f"{ci.module}.{q}", None)
            if attr in ci.summary.attrs:
                return self._class_attr_value(c, attr, "@global")
            nested = f"{c}.{attr}"
            if nested in self.m.classes:
                return ("cls", nested)
        for c in self.m.classes[cid].mro:
            for b in self.m.classes[c].ext_bases:
                return ("ext", f"{b}.{attr}")
        return None

    def _class_attr_value(self, cid: str, attr: str, recv: str):
        key = (cid, attr)
        c = self._cls_attr_cache.get(key)
        if c is _IN_PROGRESS:
            return None
        if key not in self._cls_attr_cache:
            self._cls_attr_cache[key] = _IN_PROGRESS
            ci = self.m.classes[cid]
            entry = ci.summary.attrs[attr]
            ms = self.m.modules[ci.module]
            ctx = self._scope(ms, self._enclosing_fn(ci), ci)
            val = self.eval_value(entry.get("v"), ctx) if entry.get("v") else None
            tmpl = None
            if val is not None and val[0] == "create" and val[4]:
                # dataclass field(default_factory=Lock): one lock per instance
                self.m.add_lock(f"{cid}.{attr}", val[1], ci.path, entry.get("l", 0), entry.get("c", 0), val[2],
                                inner=_origin(val))
                tmpl = ("lock", f"{cid}.{attr}", f"@self.{attr}", val[1] in catalog.CONDITION_SORTS)
            elif val is not None and val[0] == "winst":
                tmpl = self._bind_wrapper(("inst", val[1], "?"), f"{cid}.{attr}", f"@self.{attr}", ci.path,
                                          entry.get("l", 0), entry.get("c", 0))
            elif val is not None:
                tmpl = self._bind_definition(val, f"{cid}.{attr}", "@global", ms, entry.get("l", 0), entry.get("c", 0))
            elif entry.get("ann"):
                tmpl = self._instantiate(self.eval_ref(entry["ann"], self._scope(ms, None, None)), f"@self.{attr}")
            self._cls_attr_cache[key] = tmpl
        tmpl = self._cls_attr_cache[key]
        return _reroot_value(tmpl, recv)

    def inst_attr(self, cid, path, attr, implicit, skip_first=False):
        classes = self.m.classes
        ci = classes.get(cid) if cid is not None else None
        if ci is None:
            return None
        mro = ci.mro
        for c in (mro[1:] if skip_first else mro):
            ci = classes[c]
            q = ci.summary.methods.get(attr)
            if q:
                fid = f"{ci.module}.{q}"
                fi = self.m.functions.get(fid)
                kind = fi.kind if fi is not None else None
                if kind == "property":
                    if implicit is not None:
                        implicit.append((fid, path))
                    return self.call_result(fid, path)
                if kind == "staticmethod":
                    return ("func", fid, None)
                return ("func", fid, path)
            if attr in ci.inst_attrs:
                v = self._inst_attr_value(c, attr, path)
                if v is not None:
                    return v
            if attr in ci.summary.attrs:
                return self._class_attr_value(c, attr, path)
        for c in mro:
            for b in classes[c].ext_bases:
                t = catalog.KNOWN_TYPES.get(b, b)
                return ("extm", t, attr, path)
        return None

    def _inst_attr_value(self, cid, attr, path):
        key = (cid, attr)
        c = self._inst_cache.get(key)
        if c is _IN_PROGRESS:
            return None
        if key not in self._inst_cache:
            self._inst_cache[key] = _IN_PROGRESS
            self._inst_cache[key] = self._inst_template(cid, attr)
        return _reroot_value(self._inst_cache[key], path)

    def _inst_template(self, cid, attr):
        ci = self.m.classes[cid]
        ms = self.m.modules[ci.module]
        entries = sorted(ci.inst_attrs[attr], key=lambda e: (e[4] != f"{cid}.__init__", e[2], e[3]))
        fallback = None
        lock_id = f"{cid}.{attr}"
        for v, ann, line, col, fid, container in entries:
            fi = self.m.functions.get(fid)
            if fi is None:
                continue
            ctx = self._ctx(fi)
            val = self.eval_value(v, ctx) if v else None
            if (val is not None and not container and "call" in v
                    and self._coroutine_object(fi, v["call"], ctx, store=(line, col, f"@self.{attr}"))):
                val = None   # ``self._coro = self.__connect()``: a coroutine object (P36)
            if val is not None:
                k = val[0]
                line, col = self._value_pos.get((fid, line, col), (line, col))
                if k == "create":
                    if container:
                        self.m.add_lock(lock_id, val[1], ci.path, line, col, val[2], True)
                        return ("lockc", lock_id, f"@self.{attr}")
                    self.m.add_lock(lock_id, val[1], ci.path, line, col, val[2], inner=_origin(val))
                    return ("lock", lock_id, f"@self.{attr}", bool(val[3]))
                if k == "createc":
                    self.m.add_lock(lock_id, val[1], ci.path, line, col, val[2], True)
                    return ("lockc", lock_id, f"@self.{attr}")
                if k == "lock" and not container:
                    return val if val[2].startswith("@") else ("lock", val[1], f"@self.{attr}", val[3])
                if k in ("inst", "cont") and self._fresh_wrapper(val):
                    # a wrapper lock stored here (an element of this container when
                    # ``self._locks[k] = Wrapper()``), as a created lock would be
                    if container or k == "cont":
                        w = self._bind_wrapper(val[1] if k == "cont" else val, lock_id, "?", ci.path, line, col, True)
                        return ("cont", w)
                    return self._bind_wrapper(val, lock_id, f"@self.{attr}", ci.path, line, col)
                if k in ("inst", "exti", "extu") and fallback is None and not container:
                    fallback = val if val[2].startswith("@self") else (k, val[1], f"@self.{attr}") + val[3:]
                if k == "cont" and fallback is None and not container:
                    fallback = val
            if ann and fallback is None:
                fallback = self._instantiate(self.eval_ref(ann, ctx), f"@self.{attr}")
        if fallback is None and attr in ci.summary.attrs and ci.summary.attrs[attr].get("ann"):
            fallback = self._instantiate(self.eval_ref(ci.summary.attrs[attr]["ann"], self._scope(ms, None, None)), f"@self.{attr}")
        return fallback

    def call_result(self, fid: str, recv: str | None):
        key = fid
        c = self._ret_cache.get(key)
        if c is _IN_PROGRESS:
            return None
        if key not in self._ret_cache:
            self._ret_cache[key] = _IN_PROGRESS
            self._ret_cache[key] = self._return_template(fid)
        return _reroot_value(self._ret_cache[key], recv)

    def _return_template(self, fid):
        fi = self.m.functions.get(fid)
        if fi is None:
            return None
        ctx = self._ctx(fi)
        s = fi.summary
        first = None
        types: list = []   # the known external types returned, once the first return is one
        for rv in s.returns:
            if "call" in rv and self._coroutine_object(fi, rv["call"], ctx, returned=True):
                continue   # ``return connect()``: hands back a coroutine object (P36)
            v = self.eval_value(rv, ctx)
            if v is None:
                continue
            if first is not None:
                # the first known return is an external instance: the other types returned
                # join it (P45); a project instance or a lock returned later does not
                if v[0] in ("exti", "extu"):
                    for t in (v[1],) if v[0] == "exti" else v[1]:
                        if t not in types:
                            types.append(t)
                continue
            if v[0] in ("create", "createc", "lock", "exti", "inst", "extu"):
                if v[0] in ("inst", "exti", "extu") and v[2].startswith("%"):
                    if v[0] == "inst" and len(v) == 4 and self._fresh_local(fi, v[2][1:], v[3]):
                        return ("inst", v[1], "?")   # a fresh lock wrapper: named where stored
                    v = (v[0], v[1], "?") + v[3:]
                    if v[0] == "inst":
                        return v
                if v[0] == "lock" and v[2].startswith("%"):
                    made = self._factory_made(fi, v)
                    return made if made is not None else ("lock", v[1], "?", v[3])
                if v[0] not in ("exti", "extu"):
                    return v
                first = v
                types = [v[1]] if v[0] == "exti" else list(v[1])
        if first is not None:
            return first if len(types) == 1 else ("extu", tuple(types), first[2])
        if s.return_ann:
            return self._instantiate(self.eval_ref(s.return_ann, ctx), "?")
        return None

    def _union_member(self, types: tuple, meth: str) -> str:
        """The type whose ``meth`` a call on an object of one of ``types`` (an "extu") is
        taken as: the first type when ``meth`` may block for every one of them (a blocking
        call of LW131's catalog, of the configuration's, or of LW201's loop catalog), else the
        first type for which it does not. An ``asyncio.Future``'s ``exception()`` never
        waits, so that of a future that may be either is not a blocking call (P45)."""
        # asyncflow imports this module: its catalog is read once both are loaded
        from lockwatch.static.asyncflow import LOOP_BLOCKING

        extra = self._extra_blocking
        for t in types:
            name = f"{t}.{meth}"
            if name not in catalog.BLOCKING and name not in LOOP_BLOCKING and name not in extra:
                return t
        return types[0]

    def _factory_made(self, fi: FunctionInfo, v):
        """A lock a project factory function creates in a local and returns
        (pymongo's ``lock = threading.Lock(); _forkable_locks.add(lock); return lock``):
        each call makes a new lock, so the call's result is a fresh lock, named by the
        definition that stores it (``Topology._lock``), as ``threading.Lock()`` itself would
        be; its sixth part is the factory's local lock class, whose creation site is the one
        the runtime tracer sees. Not when the function may hand back a lock it keeps (a
        registry: the local also bound from elsewhere, or stored into a container or an
        attribute): those stay the factory's one lock class. A fresh lock wrapper instance
        returned the same way is handled alike (``_return_template``)."""
        if not self._fresh_local(fi, v[2][1:], v[1]):
            return None
        lc = self.m.locks.get(v[1])
        if lc is None or lc.container or lc.wrapper is not None:
            return None
        return ("create", lc.sort, lc.value, v[3], False, lc.inner or lc.id)

    def _fresh_local(self, fi: FunctionInfo, name: str, lock_id: str) -> bool:
        """Is local ``name`` of ``fi``, the definition of lock class ``lock_id``, bound once
        (by its creation) and kept nowhere else (no container or attribute store)?"""
        if lock_id != f"{fi.id}.{name}":
            return False
        val = fi.summary.locals.get(name) or {}
        for ev in fi.summary.events:
            if ev["e"] == "call" and ev.get("t") == name and (ev["l"], ev["c"]) != (val.get("l"), val.get("c")):
                return False   # ``lock = _locks.get(key)`` before the creation
            if ev["e"] == "wr" and (ev.get("v") or {}).get("r") == name:
                return False   # ``self._locks[key] = lock``
        return True

    # ------------------------------------------------------------------ functions
    def link_function(self, fid: str) -> FunctionInfo | None:
        fi = self.m.functions.get(fid)
        if fi is None or fid in self._linked:
            return fi
        self._linked.add(fid)
        ctx = self._ctx(fi)
        s = fi.summary
        path = fi.path
        property_names = self._property_names
        # calls of a parameter, kept for the decorator wrappers (``_wrapper_locks``):
        # gathered in the same pass over the events, stored once the function is linked
        param_calls: list | None = [] if (s.params or s.parent) else None
        for idx, ev in enumerate(s.events):
            e = ev["e"]
            try:
                if e == "call":
                    if param_calls is not None:
                        name = ev["f"]
                        if "." not in name and not name.startswith("@"):
                            if name in s.params and name not in s.locals:
                                param_calls.append((name, idx))
                            elif name not in s.assigned and s.parent:
                                # a parameter of an enclosing function (decorator wrappers)
                                param_calls.append((name, idx))
                    self._link_call(fi, ctx, idx, ev)
                elif e == "rd":
                    r = ev["r"]
                    if r.rpartition(".")[2] not in property_names:
                        continue   # only a property read runs code
                    implicit: list = []
                    self.eval_ref(r, ctx, implicit)
                    if implicit:
                        fi.calls.append(CallSite(idx, (path, ev["l"], ev["c"], ""), tuple(ev["h"]), targets=implicit, use="read"))
                elif e == "acq":
                    self._link_acq(fi, ctx, idx, ev)
                elif e == "rel":
                    v = self.eval_ref(ev["r"], ctx)
                    if v is not None and v[0] == "lock":
                        fi.released.add(v[1])
                    elif v is not None and v[0] == "inst" and len(v) > 3:
                        fi.released.add(v[3])   # a wrapper lock's ``release()``
            except RecursionError:
                continue
        if param_calls:
            fi.param_calls.extend(param_calls)
        try:
            self._link_decorators(fi, ctx)
        except RecursionError:
            pass
        return fi

    def _link_acq(self, fi, ctx, idx, ev) -> None:
        implicit: list = []
        ref = ev["r"]
        mode = ev["m"]
        blocking = mode in ("with", "awith", "acquire", "ctx")
        loc = (fi.path, ev["l"], ev["c"], "")
        out: list[Acq] = []
        v = self.eval_ref(ref, ctx, implicit)
        if v is not None and v[0] == "lock":
            lc = self.m.locks.get(v[1])
            if (lc is not None and lc.is_async and mode in ("acquire", "try")
                    and ev.get("aw") is False):
                lc = None   # ``lock.acquire()`` of an async lock, not awaited: nothing acquired here
            if lc is not None and not lc.counting:
                out.append(Acq(v[1], v[2], blocking, loc, (), bool(v[3]), mode))
        elif v is not None and v[0] == "inst" and v[1] is not None:
            meth = {"with": "__enter__", "awith": "__aenter__", "ctx": "__enter__"}.get(mode, "acquire")
            mfid = self.find_method(v[1], meth)
            rename = self._wrapper_rename(v)
            if mfid:
                out.extend(self._held_after(mfid, v[2], loc, blocking, mode, "exit", rename))
                implicit.append((mfid, v[2]))
            if mode in ("with", "awith"):
                xfid = self.find_method(v[1], "__aexit__" if mode == "awith" else "__exit__")
                if xfid:
                    implicit.append((xfid, v[2]))
        elif ref.endswith(".()"):
            fv = self.eval_ref(ref[:-3], ctx)
            if fv is not None and fv[0] == "func" and self._is_contextmanager(fv[1]):
                out.extend(self._held_after(fv[1], fv[2], loc, blocking, mode, "yield"))
        if out:
            fi.acqs[idx] = out
        if implicit:
            fi.calls.append(CallSite(idx, loc, tuple(ev["h"]), targets=implicit, use="with",
                                     rename=rename if v is not None and v[0] == "inst" else None))

    def _wrapper_rename(self, v):
        """For an instance of a lock wrapper stored under a definition: (inner lock id, its
        path in the wrapper's methods, the definition's lock class)."""
        if len(v) < 4:
            return None
        wi = self.wrapper_inner(v[1])
        return (wi[0], f"@self.{wi[1]}", v[3]) if wi is not None else None

    def _held_after(self, mfid, recv, loc, blocking, mode, how, rename=None) -> list[Acq]:
        """Locks a wrapper method leaves held (``__enter__``/``acquire``: at return;
        a @contextmanager: at its first ``yield``), seen from the caller. With ``rename``
        (a lock wrapper instance), its inner lock is the wrapper definition's lock class,
        held on the wrapper instance itself."""
        callee = self.link_function(mfid)
        if callee is None:
            return []
        s = callee.summary
        if how == "exit":
            held = s.exit_held
        else:
            held = next((ev["h"] for ev in s.events if ev["e"] == "yield"), [])
        out = []
        for i in held:
            for a in callee.acqs.get(i, ()):
                lock, path = a.lock, reroot(a.path, recv)
                if rename is not None and (a.lock, a.path) == rename[:2]:
                    lock, path = rename[2], (recv or "?")
                step = (a.loc[0], a.loc[1], a.loc[2], f"{callee.short} takes {short_name(lock)}")
                out.append(Acq(lock, path, blocking and a.blocking, loc,
                               (step,) + a.via, a.cond, mode))
        return out

    def _is_contextmanager(self, fid) -> bool:
        fi = self.m.functions.get(fid)
        if fi is None:
            return False
        ctx = self._ctx(fi)
        outer = self._decorator_ctx(fi, ctx)
        for d in fi.summary.decorators:
            v = self.eval_value(d, outer)
            if v is not None and v[0] == "ext" and v[1] in catalog.CONTEXT_MANAGER_DECORATORS:
                return True
        return False

    def _decorator_ctx(self, fi, ctx):
        ms = ctx[0]
        if fi.summary.parent:
            return self._scope(ms, self.m.functions.get(f"{fi.module}.{fi.summary.parent}"), None)
        if fi.cls:
            return self._scope(ms, None, self.m.classes.get(fi.cls))
        return self._module_scope(ms)

    def _link_call(self, fi, ctx, idx, ev) -> None:
        # the CallSite is made only for a call that links to something (most calls of a
        # program, to builtins and unresolved names, do not): its fields are gathered first
        targets: list = []
        f = ev["f"]
        cut = f.find(".().")
        if cut > 0 and self._coroutine_object(fi, f[:cut], ctx, at=(ev["l"], ev["c"])):
            return   # ``connect().close()``: a method of the coroutine object (P36)
        v = self.eval_ref(f, ctx, targets)
        if v is None:
            v = self._duck_method(fi, f, ev.get("u") == "await")
            if v is None and not targets and not (
                    ctx[2] is not None and f.startswith("@self.") and f.count(".") == 1):
                return   # a call of nothing known, no property read on the way, not stored
        args = ev.get("a") or []
        kws = ev.get("k") or {}
        ext: list = []
        virtual: set = set()
        fnargs: list = []
        blocking = None
        lockm = None
        recv_class = None
        extra_blocking = self._extra_blocking
        if v is not None:
            k = v[0]
            if k == "func":
                recv = v[2]
                if recv is None and args and args[0] and args[0].get("r") == "@self":
                    recv = "@self"   # Base.method(self, ...)
                elif (recv is None and v[1].startswith(fi.id + ".<locals>.") and v[1] in self.m.functions
                      and self.m.functions[v[1]].summary.self_name is None):
                    recv = "@self"   # a closure shares its defining method's receiver
                targets.append((v[1], recv if recv is not None else "?"))
                if v[1] in extra_blocking:
                    blocking = v[1]
                if f.startswith("@self.") and f.count(".") == 1 and ctx[2] is not None:
                    # virtual dispatch: a subclass may override the method self calls
                    for ofid in self._overrides(ctx[2].id, f[6:]):
                        if ofid != v[1]:
                            targets.append((ofid, "@self"))
                            virtual.add(ofid)
                elif recv is not None and recv != "@self" and self._is_abstract(v[1]):
                    # an abstract method has no body to run: on a receiver typed as the
                    # base class, the call runs one of the project's overrides
                    base = self.m.functions[v[1]]
                    for ofid in self._overrides(base.cls, v[1].rsplit(".", 1)[1]):
                        if ofid != v[1]:
                            targets.append((ofid, recv))
                            virtual.add(ofid)
            elif k == "cls":
                init = self.find_method(v[1], "__init__")
                if init:
                    targets.append((init, "?"))
                if v[1] in extra_blocking:
                    blocking = v[1]
            elif k == "ext":
                # wrapping an open descriptor is no external blocking call (P26; catalog)
                if v[1] not in catalog.FD_OPENERS or not self._wraps_open_fd(v[1], args, kws, ctx):
                    ext.append(v[1])
            elif k == "extm":
                # connect() of a datagram socket to a numeric address sends nothing and waits
                # for nothing (P23), nor does a Unix-domain one's to a path (P44): not an
                # external blocking call
                # nor is the ``wait()`` of a process a project ``poll()`` wrapper saw exit (P46)
                if not (v[2] == "connect" and (v[4:] == ("udgram",) or (
                        v[4:] == ("dgram",) and not catalog.datagram_connect_waits(args, kws)))) and not (
                        "dw" in ev and f"{v[1]}.{v[2]}" in catalog.DONE_POLLED and self._polled_by_wrapper(ctx, ev)):
                    ext.append(f"{v[1]}.{v[2]}")
                if v[1] in catalog.RENAMED_TYPES:
                    recv_class = v[4] if len(v) > 4 else None
                    if isinstance(recv_class, tuple) and recv_class[1] != fi.id:
                        recv_class = None   # another function's parameter (a helper's return)
                    if recv_class is None and f.endswith(f".().{v[2]}"):
                        recv_class = self._chained_public(fi, ctx, idx, f[:-len(v[2]) - 4])
                    if isinstance(recv_class, tuple):
                        # decided by a parameter (``_param_public``): kept by place if this
                        # function's, for the message that knows the caller
                        if recv_class[1] == fi.id:
                            self.m.recv_params[(fi.path, ev["l"], ev["c"])] = recv_class
                        recv_class = None
            elif k == "lockm":
                lockm = (v[1], v[2], v[3], v[4])
        loc = (fi.path, ev["l"], ev["c"], "")
        for name in ext:
            # (is_blocking is false for a name in neither list: most calls, to builtins)
            if ((name in extra_blocking or name in catalog.BLOCKING)
                    and catalog.is_blocking(name, args, kws, extra_blocking)
                    and not numeric_only_lookup(self.m, fi, ev, name)):
                # ``if fut.done(): fut.result()``: the result of a done future is there
                if not (ev.get("dn") and name in catalog.DONE_POLLED):
                    blocking = name
            if name in catalog.CALLBACK_REGISTRARS:
                i = catalog.CALLBACK_REGISTRARS[name]
                if i < len(args):
                    cb = self.eval_value(args[i], ctx)
                    if cb is not None and cb[0] == "func":
                        self.m.callbacks.append((cb[1], cb[2] or "?", loc, name))
        # callables handed to a project function that may call them (only those can bind)
        if targets:
            for i, a in enumerate(args):
                if a and "r" in a:
                    av = self.eval_ref(a["r"], ctx)
                    if av is not None and av[0] == "func":
                        fnargs.append((i, av[1], av[2] or "?"))
            for kname, a in kws.items():
                if a and "r" in a:
                    av = self.eval_ref(a["r"], ctx)
                    if av is not None and av[0] == "func":
                        fnargs.append((kname, av[1], av[2] or "?"))
        stored = v is None and ctx[2] is not None and f.startswith("@self.") and f.count(".") == 1
        linked = bool(targets or ext or lockm or blocking or fnargs)
        if not (stored or linked):
            return
        cs = CallSite(idx, loc, tuple(ev["h"]), targets, ext, blocking, lockm, fnargs,
                      ev.get("u", "expr"), args, kws, virtual, recv_class=recv_class)
        if stored:
            # ``self.listener(...)``: a callable stored in an attribute, bound after linking
            self._attr_call_sites.append((fi, cs, ctx[2].id, f[6:]))
        if linked:
            fi.calls.append(cs)
            if fnargs:
                self._fnarg_sites.append(cs)

    def _polled_by_wrapper(self, ctx, ev) -> bool:
        """A ``wait()`` call marked ``dw`` (after a loop or ``if`` that saw ``x.poll()`` not
        None): is one of those ``x.poll`` a project method (awaited when async, as the test
        was) that returns the ``poll()`` of the very object ``wait()`` is called on, or a
        constant? jupyter_client's ``while await self.poll() is None: ...`` then
        ``self.process.wait()``, its ``poll`` returning ``self.process.poll()``: the process
        has exited and been reaped, ``wait()`` returns its status at once (P46)."""
        recv = ev["f"].rpartition(".")[0]
        for x, aw in ev["dw"]:
            fv = self.eval_ref(f"{x}.poll", ctx)
            if fv is None or fv[0] != "func":
                continue
            g = self.m.functions.get(fv[1])
            if g is None or g.summary.self_name is None or g.summary.is_async != bool(aw):
                continue
            polled = _returned_polls(g.summary)
            if polled and all(x + r[5:] == recv for r in polled):
                return True
        return False

    def _coroutine_local(self, f: FunctionInfo, name: str, val: dict, ctx) -> bool:
        """``_coroutine_object`` for local ``name`` of ``f`` (bound to the call ``val``):
        answered once per local, as a local is evaluated at every use (a chain of locals
        each built from the one before would evaluate the chain twice per link)."""
        key = (f.id, name)
        r = self._coro_locals.get(key)
        if r is None:
            self._coro_locals[key] = False   # (while in progress: the value, as before)
            r = self._coro_locals[key] = self._coroutine_object(f, val["call"], ctx, at=(val.get("l"), val.get("c")))
        return r

    def _coroutine_object(self, fi: FunctionInfo, ref: str, ctx, at=None, store=None,
                          returned: bool = False) -> bool:
        """Is this call of ``ref`` in ``fi`` a call of a project ``async def`` that is not
        awaited? Its value is then a coroutine object, whose ``close``/``send``/``throw``
        and attributes are not those of what the coroutine returns (aiormq's
        ``self._coro = self.__connect()`` ... ``self._coro.close()``, P36): an unknown
        receiver. The summary's values drop the ``await``, so the call event tells: only a
        call event found for the very value, and not awaited, says so (else, as before, the
        value is the result).

        ``at``: the value's position (a local's value, or the outer call of a chain
        ``ref().m()``): an awaited value starts at its ``await``, before the call, so a call
        event of ``ref`` at that same position is the un-awaited call itself. ``store``:
        ``(line, col, target)`` of ``self.x = ref(...)``: the nearest call of ``ref`` before
        that write stored into the attribute (``u == "attr"``), not awaited first.
        ``returned``: ``return ref(...)`` (``u == "return"``) with no awaited call of ``ref``
        in the function that could be the returned one."""
        events = fi.summary.events
        if at is not None:
            # (the event first: the evaluation below is the costly part)
            idx = self._call_positions.get(fi.id)
            if idx is None:
                idx = self._call_positions[fi.id] = {
                    (ev["l"], ev["c"], ev.get("f")): ev.get("u") for ev in events if ev["e"] == "call"}
            u = idx.get((at[0], at[1], ref), "await")
            if u == "await":
                return False
        fv = self.eval_ref(ref, ctx)
        if fv is None or fv[0] != "func":
            return False
        g = self.m.functions.get(fv[1])
        if g is None or not g.is_async:
            return False
        if at is not None:
            return True
        if store is not None:
            line, col, target = store
            for j, ev in enumerate(events):
                if ev["e"] == "wr" and ev["l"] == line and ev["c"] == col and ev.get("r") == target:
                    break
            else:
                return False
            for k in range(j - 1, -1, -1):
                e = events[k]
                if e["e"] == "call" and e.get("f") == ref:
                    return e.get("u") == "attr" and e.get("t") == target
            return False
        if returned:
            us = {ev.get("u") for ev in events if ev["e"] == "call" and ev.get("f") == ref}
            return "return" in us and "await" not in us
        return False

    def _chained_public(self, fi: FunctionInfo, ctx, idx: int, inner: str) -> str | None:
        """``open(p, "rb").read()``: the public class of what the call ``inner(...)`` built,
        a method being called on its result at once. The ref of the chain has no arguments;
        the constructor call is the nearest call event of ``inner`` before this one (linked
        just before), with its arguments."""
        events = fi.summary.events
        for j in range(idx - 1, -1, -1):
            e = events[j]
            if e["e"] == "call" and e.get("f") == inner:
                break
        else:
            return None
        cv = self.eval_ref(inner, ctx)
        if cv is None:
            return None
        args, kws = e.get("a") or [], e.get("k") or {}
        if cv[0] == "ext":
            t = catalog.KNOWN_TYPES.get(cv[1])
            return public_class(t, cv[1], None, args, kws) or self._param_public(t, cv[1], args, kws, ctx)
        if cv[0] == "extm":
            return public_class(catalog.KNOWN_RETURNS.get((cv[1], cv[2])), None, cv[2], args, kws)
        if cv[0] == "func":
            r = self.call_result(cv[1], cv[2])
            if r is not None and r[0] == "exti" and r[1] in catalog.RENAMED_TYPES:
                return self._helper_public(cv[1], r[1], args, kws) or (r[3] if len(r) > 3 else None)
        return None

    def _helper_public(self, fid: str, t: str, args, kws) -> str | None:
        """A project helper that returns what it builds (asyncssh's ``open_file(path, mode)``
        returns ``open(..., mode, buffering=buffering)``), called with ``args``/``kws``: the
        public class of its result (of catalog type ``t``), from its one returned
        constructor call with the helper's parameters replaced by this call's arguments
        (its defaults where not given). A module-level function only; None otherwise."""
        g = self.m.functions.get(fid)
        if g is None or g.cls is not None or g.summary.parent:
            return None
        rets = [rv for rv in g.summary.returns if isinstance(rv, dict) and isinstance(rv.get("call"), str)]
        if len(rets) != 1:
            return None
        rv = rets[0]
        cv = self.eval_ref(rv["call"], self._ctx(g))
        if cv is None or cv[0] != "ext":
            return None
        rargs = [bind_argument(a, g, args, kws) for a in rv.get("a") or []]
        rkws = {k: bind_argument(a, g, args, kws) for k, a in (rv.get("k") or {}).items()}
        return public_class(t, cv[1], None, rargs, rkws) or self._param_public(t, cv[1], rargs, rkws)

    def _param_public(self, t: str | None, ctor: str, args, kws, ctx=None) -> tuple | None:
        """A file opened with a mode that is a parameter of the function being linked
        (asyncssh's ``read_file(filename, mode='rb')`` calls ``open_file(filename, mode)``):
        its class depends on the caller, so it is kept as ``("param", fid, type, ctor,
        args and kws as JSON)`` for a message that knows the caller (the witness chain:
        ``asyncflow.public_call_name``); the call site's ``recv_class`` stays None. None when
        no argument is such a parameter."""
        ctx = ctx if ctx is not None else self._cur_ctx
        fi = ctx[1] if ctx is not None else None
        if fi is None or t not in catalog.FILE_TYPES:
            return None
        params = fi.summary.params
        if not any(isinstance(a, dict) and set(a) == {"r"} and a["r"] in params
                   for a in (*args, *kws.values())):
            return None
        return ("param", fi.id, t, ctor, json.dumps([args, kws], sort_keys=True))

    def _wraps_open_fd(self, d: str, args, kws, ctx) -> bool:
        """``open(fd)``/``io.open(fd)`` whose file argument is certainly a descriptor: an
        int literal, ``x.fileno()``, ``os.dup(...)``... (see ``catalog.FD_OPENERS``). A name
        bound to one is not followed (it may be a path)."""
        if d not in catalog.FD_OPENERS:
            return False
        a = kws.get("file") if "file" in kws else (args[0] if args else None)
        if not isinstance(a, dict):
            return False
        c = a.get("const", _MISSING)
        if c is not _MISSING:
            return type(c) is int
        ref = a.get("call")
        if not isinstance(ref, str):
            return False
        if ref.endswith(".fileno") and not a.get("a") and not a.get("k"):
            return True
        fv = self.eval_ref(ref, ctx)
        return fv is not None and fv[0] == "ext" and fv[1] in catalog.FD_RESULTS

    def _link_stored_callbacks(self) -> None:
        """A project function handed to a method that stores it in ``self.<attr>``
        (``client.attach(server.on_request)`` with ``self._listener = listener``) is what
        ``self.<attr>(...)`` calls in that class: the call gets it as a target."""
        if not self._attr_call_sites:
            return
        # (parameter, attribute) pairs each method stores (``self.<attr> = <param>``), found
        # for the methods that call sites hand a function to, not for every method
        stores: dict[str, list] = {}

        def param_stores(gid: str) -> list:
            got = stores.get(gid)
            if got is None:
                got = stores[gid] = []
                g = self.m.functions.get(gid)
                if g is not None and g.cls is not None and g.summary.params:   # (a store of a parameter needs one)
                    for ev in g.summary.events:
                        if ev["e"] != "wr" or not ev.get("r", "").startswith("@self.") or ev["r"].count(".") != 1:
                            continue
                        v = ev.get("v") or {}
                        if set(v) == {"r"} and v["r"] in g.summary.params:
                            got.append((v["r"], ev["r"][6:]))
            return got

        stored: dict[tuple[str, str], set] = {}
        # every call site with function arguments is in its function's calls (``_link_call``)
        for cs in self._fnarg_sites:
            for gid, _recv in cs.targets:
                gstores = param_stores(gid)
                if not gstores:
                    continue
                g = self.m.functions[gid]
                params = g.summary.params
                off = 1 if g.summary.self_name else 0
                for where, hid, _hrecv in cs.fnargs:
                    pname = where if isinstance(where, str) else (
                        params[where + off] if where + off < len(params) else None)
                    for p, attr in gstores:
                        if p == pname:
                            stored.setdefault((g.cls, attr), set()).add(hid)
        added = self._stored_added
        for fi, cs, cid, attr in self._attr_call_sites:
            mro = self.m.classes[cid].mro if cid in self.m.classes else [cid]
            hids = sorted({h for c in mro for h in stored.get((c, attr), ())})
            before = len(cs.targets)
            for h in hids[:8]:
                if h in self.m.functions and all(t != h for t, _ in cs.targets):
                    cs.targets.append((h, "?"))
            appended = bool(hids) and cs not in fi.calls
            if appended:
                fi.calls.append(cs)
            if appended or len(cs.targets) != before:
                added.append((fi, cs, before, appended))

    def _name_guard_classes(self) -> None:
        """P38: the classes ``graph.ConstantGuards`` compares, resolved here, where names
        are resolved (``FunctionInfo.named_classes``): the refs of a function's own
        ``isinstance`` guards (``pg`` ``{"isa": refs}``), and the constructor calls passed
        as arguments to a call of such a function (``File(io.BytesIO(data))``). Run once
        every call site has its targets (stored callbacks included)."""
        functions = self.m.functions
        self._guarded = set()
        for fi in functions.values():
            self._name_own_guard_classes(fi)
        if not self._guarded:
            return
        for fi in functions.values():
            self._name_argument_classes(fi)

    def name_guard_classes_of(self, fi: FunctionInfo) -> None:
        """``_name_guard_classes`` again for one function (re-linked, or whose call sites
        the stored-callback pass changed), once the whole program is linked: the same
        refs in the same order, so the same ``named_classes``."""
        fi.named_classes = {}
        self._name_own_guard_classes(fi)
        if self._guarded:
            self._name_argument_classes(fi)

    def _name_own_guard_classes(self, fi: FunctionInfo) -> None:
        """The refs of ``fi``'s own ``isinstance`` guards; ``fi`` joins ``_guarded``."""
        if not fi.summary.guard_params:
            return   # no guard on a parameter at all (most functions)
        refs = {r for ev in fi.summary.events for _p, c in ev.get("pg", ()) if type(c) is dict
                for r in c["isa"]}
        if refs:
            self._guarded.add(fi.id)
            self._name_classes(fi, refs)

    def _name_argument_classes(self, fi: FunctionInfo) -> None:
        """The constructor calls ``fi`` passes to a function of ``_guarded``."""
        guarded = self._guarded
        refs = set()
        for cs in fi.calls:
            if any(g in guarded for g, _recv in cs.targets):
                for a in (*cs.args, *cs.kws.values()):
                    if isinstance(a, dict) and isinstance(a.get("call"), str):
                        refs.add(a["call"])
        if refs:
            self._name_classes(fi, refs)

    def _name_classes(self, fi: FunctionInfo, refs: set) -> None:
        ctx = self._ctx(fi)
        named = fi.named_classes
        for ref in sorted(refs):
            if ref not in named:
                named[ref] = self._class_named(fi, ref, ctx)

    def _class_named(self, fi: FunctionInfo, ref: str, ctx) -> tuple | None:
        """What the dotted name ``ref`` in ``fi`` names when it is surely a class: ("cls",
        class id) or ("ext", dotted name); None otherwise (a name the function or an
        enclosing one binds, which may hold anything; a function, a module, an instance,
        anything computed or unknown)."""
        parts = ref.split(".")
        if not all(p.isidentifier() for p in parts):
            return None
        head = parts[0]
        f = fi
        while f is not None and f.qualname != "<module>":
            fs = f.summary
            if (head in fs.globals_decl or head in fs.locals or head in fs.assigned
                    or head in fs.params or head == fs.vararg):
                return None
            f = self.m.functions.get(f"{f.module}.{fs.parent}") if fs.parent else None
        try:
            v = self.eval_ref(ref, ctx)
        except RecursionError:
            return None
        if v is None or v[0] not in ("cls", "ext"):
            return None
        return (v[0], v[1])

    def _is_abstract(self, fid: str) -> bool:
        fi = self.m.functions.get(fid)
        if fi is None or fi.cls is None or not fi.summary.decorators:
            return False
        outer = self._decorator_ctx(fi, self._ctx(fi))
        for d in fi.summary.decorators:
            v = self.eval_value(d, outer)
            if v is not None and v[0] == "ext" and v[1] in catalog.ABSTRACT_DECORATORS:
                return True
        return False

    def _overrides(self, cid: str, name: str) -> list[str]:
        """Methods ``name`` defined by subclasses of ``cid`` (project classes)."""
        # the classes and their MROs are complete before the first call: one answer each
        key = (cid, name)
        out = self._overrides_cache.get(key)
        if out is None:
            out = self._overrides_cache[key] = self._find_overrides(cid, name)
        return out

    def _find_overrides(self, cid: str, name: str) -> list[str]:
        if self._subclasses is None:
            sub: dict = {}
            for c, ci in self.m.classes.items():
                for base in ci.mro[1:]:
                    sub.setdefault(base, []).append(c)
            self._subclasses = sub
        out = []
        for c in sorted(self._subclasses.get(cid, ())):
            q = self.m.classes[c].summary.methods.get(name)
            if q:
                out.append(f"{self.m.classes[c].module}.{q}")
        return out[:8]

    def _duck_method(self, fi: FunctionInfo, ref: str, awaited: bool = False):
        """``param.m()`` on an unannotated parameter: when exactly one project class defines
        a method ``m`` (a distinctive name: not private, not a dunder, not a name that
        builtins or common protocols use), take that class's method. Duck typing as the
        code intends it; a name two classes share resolves to nothing. An ``await``ed call
        takes only a coroutine method: awaiting the result says the receiver's ``m`` is one
        (fsspec's ``await session.head(url)`` on an aiohttp session is not the project's
        sync ``AbstractFileSystem.head``)."""
        if ref.count(".") != 1:
            return None
        parts = ref.split(".")
        if parts[0] not in fi.summary.params or parts[0] in fi.summary.locals:
            return None
        name = parts[1]
        if name.startswith("_") or name in _COMMON_METHODS:
            return None
        if self._method_index is None:
            idx: dict = {}
            for ci in self.m.classes.values():
                for mname, q in ci.summary.methods.items():
                    idx.setdefault(mname, []).append(f"{ci.module}.{q}")
            self._method_index = idx
        fids = self._method_index.get(name, ())
        if len(fids) != 1:
            return None
        target = self.m.functions.get(fids[0])
        if target is None or target.kind in ("staticmethod", "classmethod", "property"):
            return None
        if awaited and not target.is_async:
            return None
        return ("func", fids[0], f"%{parts[0]}")

    def _link_decorators(self, fi: FunctionInfo, ctx) -> None:
        s = fi.summary
        if not s.decorators:
            return
        outer = self._decorator_ctx(fi, ctx)
        for d in s.decorators:
            binds = {}
            if "call" in d:
                dv = self.eval_ref(d["call"], outer)
                if dv is None or dv[0] != "func":
                    continue
                factory = self.m.functions.get(dv[1])
                if factory is None:
                    continue
                params = factory.summary.params
                for i, a in enumerate(d.get("a") or []):
                    if i < len(params):
                        binds[params[i]] = a
                for kname, a in (d.get("k") or {}).items():
                    binds[kname] = a
            elif "r" in d:
                dv = self.eval_ref(d["r"], outer)
                if dv is None or dv[0] != "func":
                    continue
            else:
                continue
            fi.deco_acqs.extend(self._wrapper_locks(dv[1], binds, fi, ctx, outer))

    def _wrapper_locks(self, dfid: str, binds: dict, fi: FunctionInfo, ctx, outer) -> list[Acq]:
        """Locks a decorator's wrapper holds while it calls the wrapped function."""
        prefix = dfid + ".<locals>."
        out: list[Acq] = []
        deco = self.m.functions.get(dfid)
        if deco is None:
            return out
        self._deco_fids.add(dfid)
        chain_params = set(deco.summary.params)
        if self._nested is None:
            nested: dict = {}
            for f in self.m.functions:
                i = f.find(".<locals>.")
                while i >= 0:
                    nested.setdefault(f[:i], []).append(f)
                    i = f.find(".<locals>.", i + 1)
            self._nested = {k: sorted(v) for k, v in nested.items()}
        for wid in self._nested.get(dfid, ()):
            if not wid.startswith(prefix):
                continue
            w = self.link_function(wid)
            ws = w.summary
            anc_params = set(chain_params)
            p = ws.parent
            while p and f"{w.module}.{p}" != dfid:
                pf = self.m.functions.get(f"{w.module}.{p}")
                if pf is None:
                    break
                anc_params |= set(pf.summary.params)
                p = pf.summary.parent
            for name, idx in w.param_calls:
                if name not in anc_params or name in binds:
                    continue
                ev = ws.events[idx]
                for hi in ev["h"]:
                    aev = ws.events[hi]
                    ref = aev["r"]
                    base = ref.split(".")[0]
                    v = None
                    if ref.startswith("@self"):
                        v = self.eval_ref(ref, ctx)
                    elif base in binds:
                        bv = self.eval_value(binds[base], outer)
                        for part in ref.split(".")[1:]:
                            if bv is None:
                                break
                            bv = self._step(bv, part, None)
                        v = bv
                    else:
                        for a in w.acqs.get(hi, ()):
                            v = ("lock", a.lock, a.path if a.path == "@global" else "?", a.cond)
                    if v is None or v[0] != "lock":
                        continue
                    lc = self.m.locks.get(v[1])
                    if lc is None or lc.counting:
                        continue
                    step = (w.path, aev["l"], aev["c"], f"decorator {short_name(dfid)} takes {short_name(v[1])}")
                    out.append(Acq(v[1], v[2], aev["m"] in ("with", "awith", "acquire", "ctx"),
                                   (fi.path, fi.line, fi.col, ""), (step,), bool(v[3]), "decorator"))
                if out:
                    return out
        return out


# Method names too common to identify a class by (containers, files, threads, sockets...).
_COMMON_METHODS = frozenset(
    n for t in (dict, list, set, str, bytes, int, object, type(iter([])))
    for n in dir(t)
) | {"close", "open", "run", "start", "stop", "join", "get", "put", "send", "recv", "read", "write",
     "flush", "wait", "set", "clear", "is_set", "acquire", "release", "locked", "notify",
     "notify_all", "result", "cancel", "done", "submit", "shutdown", "connect", "accept", "bind",
     "listen", "fileno", "seek", "tell", "readline", "readlines", "writelines", "reset", "update",
     "add", "remove", "discard", "pop", "append", "extend", "insert", "keys", "values", "items",
     "copy", "next", "call", "handle", "process", "execute", "emit", "format", "filter", "apply",
     "load", "dump", "dumps", "loads", "parse", "render", "validate", "save", "delete", "create",
     "init", "setup", "teardown", "name", "value", "data", "size", "length"}

_CATALOGUED = (set(catalog.LOCK_FACTORIES) | set(catalog.KNOWN_TYPES) | set(catalog.BLOCKING)
               | set(catalog.CALLBACK_REGISTRARS) | catalog.CONTEXT_MANAGER_DECORATORS
               | catalog.DEFAULTDICT | catalog.DATACLASS_FIELD)


def _reroot_value(tmpl, recv):
    if tmpl is None:
        return None
    k = tmpl[0]
    if k == "lock":
        return ("lock", tmpl[1], reroot(tmpl[2], recv) if tmpl[2].startswith("@self") else tmpl[2], tmpl[3])
    if k in ("lockc", "inst", "exti", "extu"):
        p = tmpl[2]
        return (k, tmpl[1], reroot(p, recv) if p.startswith("@self") else p) + tmpl[3:]
    return tmpl


def _returned_polls(s) -> set | None:
    """The receivers (``@self...`` refs) of the ``poll()`` calls whose result function summary
    ``s`` returns, directly or through a local last bound to it, when each of its returns is
    one of those or a constant; None when some return is anything else."""
    out = set()
    for rv in s.returns:
        if "const" in rv:
            continue
        if set(rv) == {"r"} and rv["r"] in s.locals and rv["r"] not in s.params:
            rv = s.locals[rv["r"]]
        f = rv.get("call") or ""
        if not f.endswith(".poll") or rv.get("a") or rv.get("k"):
            return None
        r = f[:-5]
        if "()" in r or "[]" in r or not (r == "@self" or r.startswith("@self.")):
            return None
        out.add(r)
    return out or None


# ``getaddrinfo(host, port, family, type, proto, flags)`` with ``AI_NUMERICHOST`` in the flags
# does no name lookup: it parses a numeric address, or fails at once with EAI_NONAME (trio
# tries that first and only then resolves in a thread). Flag position, flag names. Read by
# the linker (not a blocking call site: LW131) and by LW201's fallback (``asyncflow``).
NUMERIC_LOOKUPS = {"socket.getaddrinfo": (5, "flags", "AI_NUMERICHOST")}
_FLAG_DEPTH = 3


def _bound_value(model: ProgramModel, fi: FunctionInfo | None, module: str, name: str,
                 depth: int) -> tuple:
    """What the bare name ``name`` is bound to where ``fi`` (or, with ``fi`` None, module
    ``module``'s top level) reads it: a local's last value, else a module global's, through a
    ``from m import name`` of a project module. (value, scope fi, scope module); value None
    when unknown (a parameter, an import from outside the project)."""
    if fi is not None:
        s = fi.summary
        if name in s.params or name == s.vararg:
            return None, None, module
        if name in s.assigned:
            return s.locals.get(name), fi, module
    ms = model.modules.get(module)
    if ms is None:
        return None, None, module
    g = ms.globals.get(name)
    if g is not None:
        return g.get("v"), None, module
    imp = ms.imports.get(name)
    if imp and imp[0] == "from" and depth < _FLAG_DEPTH:
        return _bound_value(model, None, imp[1], imp[2], depth + 1)
    return None, None, module


def _has_flag(model: ProgramModel, fi: FunctionInfo | None, module: str, v, flag: str,
              depth: int = 0) -> bool:
    """Does value ``v`` (an argument, or what a name is bound to) include int flag ``flag``:
    the flag itself (``socket.AI_NUMERICHOST``, ``AI_NUMERICHOST``), a ``|`` with it, or a
    name bound to one of those (``_NUMERIC_ONLY = AI_NUMERICHOST | AI_NUMERICSERV``)?"""
    if not isinstance(v, dict) or depth > _FLAG_DEPTH:
        return False
    refs = v.get("flags") or ([v["r"]] if v.get("r") else [])
    for r in refs:
        if r.rpartition(".")[2] == flag:
            return True
        if "." not in r and not r.startswith("@"):
            bound, scope, mod = _bound_value(model, fi, module, r, depth)
            if bound is not None and _has_flag(model, scope, mod, bound, flag, depth + 1):
                return True
    return False


def numeric_only_lookup(model: ProgramModel, fi: FunctionInfo, ev: dict, name: str) -> bool:
    """Is this call of catalog ``name`` a lookup told to accept numeric addresses only?"""
    spec = NUMERIC_LOOKUPS.get(name)
    if spec is None:
        return False
    pos, kw, flag = spec
    args, kws = ev.get("a") or [], ev.get("k") or {}
    v = kws.get(kw) if kw in kws else (args[pos] if len(args) > pos else None)
    return _has_flag(model, fi, fi.module, v, flag)


def bind_argument(a, g: FunctionInfo, args, kws):
    """A value ``a`` of function ``g``'s body with ``g``'s parameter (``{"r": p}``) replaced
    by what a call passing ``args``/``kws`` binds it to: the keyword, else the argument at
    its position, else the parameter's literal default; ``a`` itself when it is not a bare
    parameter or nothing is known."""
    params = g.summary.params
    if not (isinstance(a, dict) and set(a) == {"r"} and a["r"] in params):
        return a
    p = a["r"]
    if p in kws:
        return kws[p]
    i = params.index(p)
    if i < len(args):
        return args[i]
    return (g.summary.defaults or {}).get(p, a)


def public_class(t: str, ctor: str | None, by_method: str | None, args, kws) -> str | None:
    """The public class of an object of catalog type ``t`` built by the call ``ctor(args,
    kws)`` (a dotted external constructor) or by the method ``by_method`` of a known type
    (``ctx.Queue()``), for the types the catalog names by behaviour (``RENAMED_TYPES``:
    ``multiprocessing.Queue(1000)`` -> ``multiprocessing.Queue``, ``open(p, "rb")`` ->
    ``io.BufferedReader``); None for other types or when not known (a non-literal mode)."""
    if t not in catalog.RENAMED_TYPES:
        return None
    if t not in catalog.FILE_TYPES:
        return catalog.made_class(t, ctor, by_method)
    return catalog.file_class(ctor, args, kws)


def _origin(val):
    """The factory-made lock's creation lock class of a ``create`` value, if any."""
    return val[5] if val is not None and val[0] == "create" and len(val) > 5 else None


def _normalise_ext(d: str) -> str:
    """Spellings of the same external thing -> the catalog's name."""
    if d.startswith(("concurrent.futures.thread.", "concurrent.futures.process.")):
        return "concurrent.futures." + d.rsplit(".", 1)[-1]
    if d.startswith("concurrent.futures._base."):
        return "concurrent.futures." + d.rsplit(".", 1)[-1]
    if d.startswith("builtins."):
        return d[9:]
    return d


def link(summaries: dict[str, ModuleSummary], config=None) -> ProgramModel:
    """Module name -> summary, into the linked model (call graph included)."""
    return Linker(summaries, config).build()
