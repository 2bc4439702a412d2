"""Runtime race check on chosen classes: an Eraser-style lockset per instance attribute.

Opt-in and local: only *watched* classes pay anything. A class is watched when it is named
in ``[tool.lockwatch.runtime] watch-classes`` (``"pkg.mod.Class"``; patched when its module
is imported, or at once if it already is), when it carries ``@lockwatch.thread_safe`` or
declares guards (``@lockwatch.guarded_by`` / ``__guarded_by__``) and ``races = true``, or
when :func:`watch_class` is called. Watching replaces the class's ``__setattr__`` and
``__getattribute__`` with thin wrappers (subclasses inherit them); :func:`stop` puts the
originals back.

Per (instance, attribute), Eraser's states (Savage et al., 1997):

- *exclusive*: only the first thread has touched it (construction, thread-confined use):
  nothing is checked;
- *shared* / *shared-modified*: a second thread touched it; from then on the candidate
  lockset is intersected with the locks the accessing thread holds. An empty lockset once
  the attribute has been written while shared is a race: LW301, with the stacks of the
  two threads' accesses.

Declared guards are asserted on every access outside a constructor: the named lock of the
instance (or the lock under a ``Condition``) must be held by the current thread (LW303).

The locks a thread holds are the tracer's held stack (:mod:`lockwatch.runtime.primitives`,
read only): locks created before the tracer was installed are invisible, so start the
tracer first (``lockwatch run`` and :func:`lockwatch.watch` do).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import weakref
from collections.abc import Iterable

from lockwatch.findings import Finding, Location, display_path, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.primitives import Lock as _TracedLock
from lockwatch.runtime.primitives import RLock as _TracedRLock
from lockwatch.runtime.primitives import my_held

_WRAPPERS = (_TracedLock, _TracedRLock)

get_ident = state.get_ident
_getattribute = object.__getattribute__

CTOR_NAMES = frozenset({"__init__", "__new__", "__post_init__", "__setstate__", "__del__"})
_STACK_DEPTH = 8


class _Rule:
    """Code, kind and default severity of the rule pages (lockwatch/rules/lw30x_*.py),
    repeated here: the tracer must not import the static analyser (networkx)."""

    def __init__(self, code: str, severity: str):
        self.code, self.kind, self.severity = code, "unprotected-shared-state", severity


_LW301 = _Rule("LW301", "warning")
_LW303 = _Rule("LW303", "error")
_HERE = os.path.dirname(os.path.abspath(__file__))
_LOCKWATCH_DIR = os.path.dirname(_HERE)


class _Var:
    """Eraser state of one attribute of one instance."""

    __slots__ = ("lockset", "modified", "owner", "reported", "shared", "sites")

    def __init__(self, owner: int):
        self.owner = owner
        self.shared = False
        self.modified = False
        self.lockset: frozenset | None = None   # None: not yet refined (all locks)
        self.sites: dict[int, tuple] = {}       # thread -> (write, frames, name) of a first access
        self.reported = False


# ---------------------------------------------------------------- module state
_active = False
_patched: dict[type, tuple] = {}          # class -> (had __setattr__, orig, had __getattribute__, orig)
_guards: dict[type, dict[str, str]] = {}  # watched class -> attr -> lock attr
_guarded: set[type] = set()               # watched classes that declare guards
_vars: dict[int, dict[str, _Var]] = {}    # id(instance) -> attr -> state
_refs: dict[int, object] = {}             # id(instance) -> weakref keeping _vars clean
_pending: dict[str, set[str]] = {}        # module -> class names still to watch
_findings: list[Finding] = []
_seen: set[tuple] = set()
_finder = None
watch_markers = False


def _frames(depth: int) -> tuple:
    """(path, line, function) of the user's frames, innermost first, lockwatch skipped."""
    out = []
    try:
        f = sys._getframe(depth)
    except ValueError:
        return ()
    while f is not None and len(out) < _STACK_DEPTH:
        co = f.f_code
        if not co.co_filename.startswith(_LOCKWATCH_DIR):
            out.append((co.co_filename, f.f_lineno, co.co_name))
        f = f.f_back
    return tuple(out)


def _fmt(frames: tuple) -> list[str]:
    return [f"{display_path(p)}:{ln} in {fn}" for p, ln, fn in frames]


def _instance_vars(obj) -> dict[str, _Var]:
    k = id(obj)
    d = _vars.get(k)
    if d is None:
        d = _vars[k] = {}
        try:
            _refs[k] = weakref.ref(obj, lambda _r, k=k: (_vars.pop(k, None), _refs.pop(k, None)))
        except TypeError:
            _refs[k] = None   # not weak-referenceable: kept until stop()
    return d


def _thread_name() -> str:
    t = threading._active.get(get_ident())
    return f"thread {t.name!r}" if t is not None else f"thread {get_ident()}"


def _traced(lock) -> bool:
    # the wrappers borrow the raw types' module and name; compare the types themselves
    return type(lock) in _WRAPPERS


def _access(obj, name: str, write: bool, cls: type) -> None:
    tid = get_ident()
    vs = _vars.get(id(obj))
    if vs is None:
        vs = _instance_vars(obj)
    v = vs.get(name)
    ocls = type(obj)
    guards = _guards[ocls] if ocls in _guarded else _guards[cls] if cls in _guarded else None
    if guards is not None:
        lock_attr = guards.get(name)
        if lock_attr is not None:
            _check_guard(obj, name, write, lock_attr, my_held(), cls)
    if v is not None and v.owner == tid and not v.shared:
        # fast path: still exclusive to this thread (construction, confined use)
        if write and not v.sites[tid][0]:
            v.sites[tid] = (True, _frames(3), _thread_name())
        return
    hl = my_held()
    if v is None:
        v = vs[name] = _Var(tid)
        v.sites[tid] = (write, _frames(3), _thread_name())
        return
    sites = v.sites
    first = sites.get(tid)
    if first is None or (write and not first[0]):
        sites[tid] = (write, _frames(3), _thread_name())
    if not v.shared:
        if tid == v.owner:
            return
        if first is None:
            # a thread new to this attribute takes it over: a hand-off (queue, executor
            # result, constructor in one thread and use in another) is not sharing until
            # an earlier thread comes back to it
            v.owner = tid
            return
        v.shared = True
    held = frozenset(hl)
    v.lockset = held if v.lockset is None else (v.lockset & held)
    if write:
        v.modified = True
    if v.modified and not v.lockset and not v.reported:
        live = threading._active
        if not any(t in live for t in sites if t != tid):
            # every other thread that touched it has ended (joined): what follows is
            # ordered after them, so the attribute is this thread's alone again
            v.owner, v.shared, v.modified, v.lockset = tid, False, False, None
            v.sites = {tid: sites[tid]}
            return
        v.reported = True
        _report_race(obj, name, write, tid, v, cls)


def _check_guard(obj, name, write, lock_attr, hl, cls) -> None:
    try:
        f = sys._getframe(3)
        if f.f_code.co_name in CTOR_NAMES:
            return
    except ValueError:
        return
    try:
        lk = _getattribute(obj, lock_attr)
    except AttributeError:
        return   # the lock does not exist (yet): nothing to assert against
    if not (_traced(lk) or _traced(getattr(lk, "_lock", None))):
        return   # a lock the tracer does not see (created before install): cannot tell
    if not hl:
        held = False
    else:
        inner = getattr(lk, "_lock", None)   # a Condition's lock
        held = any(w is lk or w is inner for w in hl)
    if held:
        return
    frames = _frames(3)
    key = ("LW303", cls, name, frames[:1], write)
    if key in _seen:
        return
    _seen.add(key)
    rule = _LW303
    verb = "writes" if write else "reads"
    path, line = (display_path(frames[0][0]), frames[0][1]) if frames else ("<unknown>", 0)
    msg = (f"{state.agent_name(get_ident())} {verb} {cls.__name__}.{name} without holding "
           f"self.{lock_attr}, which is declared to guard it")
    _findings.append(Finding(
        code=rule.code, kind=rule.kind, severity=rule.severity, message=msg, path=path, line=line,
        stacks=[_fmt(frames)],
        fingerprint=make_fingerprint(rule.code, cls.__module__, cls.__qualname__, name, lock_attr, verb),
        extra={"attribute": f"{cls.__module__}.{cls.__qualname__}.{name}"},
    ))


def _report_race(obj, name, write, tid, v: _Var, cls) -> None:
    now = _frames(4)
    key = ("LW301", cls, name, now[:1])
    if key in _seen:
        return
    _seen.add(key)
    others = [s for t, s in v.sites.items() if t != tid]
    # prefer another thread's write made outside a constructor
    others.sort(key=lambda s: (bool(s[1]) and s[1][0][2] in CTOR_NAMES, not s[0]))
    other_write, other_frames, them = others[0] if others else (False, (), "another thread")
    rule = _LW301
    me = _thread_name()
    path, line = (display_path(now[0][0]), now[0][1]) if now else ("<unknown>", 0)
    related = []
    if other_frames:
        p, ln, fn = other_frames[0]
        related.append(Location(display_path(p), ln, 1,
                                f"{them} {'writes' if other_write else 'reads'} it in {fn}"))
    msg = (f"{cls.__name__}.{name} is {'written' if write else 'read'} by {me} and "
           f"{'written' if other_write else 'accessed'} by {them} with no lock held in common "
           f"(lockset empty)")
    _findings.append(Finding(
        code=rule.code, kind=rule.kind, severity=rule.severity, message=msg, path=path, line=line,
        related=related, stacks=[_fmt(now), _fmt(other_frames)],
        fingerprint=make_fingerprint(rule.code, cls.__module__, cls.__qualname__, name),
        extra={"attribute": f"{cls.__module__}.{cls.__qualname__}.{name}"},
    ))


# ---------------------------------------------------------------- in-place mutation

# Methods that mutate their receiver (list, dict, set, bytearray): ``self._items.append(x)``
# reads the attribute, but what follows writes the object it holds.
MUTATORS = frozenset({
    "append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "add",
    "discard", "setdefault", "sort", "reverse", "difference_update", "intersection_update",
    "symmetric_difference_update",
})
_SUBSCR_WRITES = frozenset({"STORE_SUBSCR", "DELETE_SUBSCR"})
_SUBSCR_STOPS = ("CALL", "PRECALL", "RETURN", "STORE_FAST", "STORE_ATTR", "STORE_NAME",
                 "STORE_GLOBAL", "POP_TOP", "LOAD_ATTR", "LOAD_METHOD", "JUMP", "POP_JUMP",
                 "YIELD", "GET_ITER", "FOR_ITER")
_site_kind: dict[tuple, bool] = {}      # (code, offset of the LOAD_ATTR) -> mutates?
_code_index: dict = {}                  # code -> (instructions, offset -> index)


def _mutating_load(frame) -> bool:
    """Is the attribute load the caller is executing the start of an in-place mutation
    (``self._d[k] = v``, ``del self._d[k]``, ``self._d[k] += 1``, ``self._l.append(x)``)?
    Decided once per load site from the bytecode that follows it."""
    code = frame.f_code
    key = (code, frame.f_lasti)
    kind = _site_kind.get(key)
    if kind is None:
        kind = _site_kind[key] = _classify(code, frame.f_lasti)
    return kind


def _classify(code, offset: int) -> bool:
    import dis

    entry = _code_index.get(code)
    if entry is None:
        instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
        entry = _code_index[code] = (instrs, {ins.offset: n for n, ins in enumerate(instrs)})
    instrs, where = entry
    n = where.get(offset)
    if n is None or n + 1 >= len(instrs):
        return False
    nxt = instrs[n + 1]
    if nxt.opname in ("LOAD_METHOD", "LOAD_ATTR") and nxt.argval in MUTATORS:
        return True
    for ins in instrs[n + 1:n + 11]:
        if ins.opname in _SUBSCR_WRITES:
            return True
        if ins.opname.startswith(_SUBSCR_STOPS):
            return False
    return False


# ---------------------------------------------------------------- patching


def _make_hooks(cls: type, orig_set, orig_get):
    def __setattr__(self, name, value, _orig=orig_set, _cls=cls):
        _orig(self, name, value)
        if _active and name[:2] != "__":
            try:
                _access(self, name, True, _cls)
            except Exception as e:  # noqa: BLE001 - never break the program
                state.internal_error("lockset", e)

    def __getattribute__(self, name, _orig=orig_get, _cls=cls):
        value = _orig(self, name)
        if _active and name[:2] != "__":
            try:
                d = _getattribute(self, "__dict__")
            except AttributeError:
                return value
            if name in d:
                try:
                    _access(self, name, _mutating_load(sys._getframe(1)), _cls)
                except Exception as e:  # noqa: BLE001 - never break the program
                    state.internal_error("lockset", e)
        return value

    return __setattr__, __getattribute__


def watch_class(cls: type) -> None:
    """Watch instances of ``cls`` (and of its subclasses) from now on."""
    if not isinstance(cls, type) or cls in _patched:
        return
    for base in cls.__mro__[1:]:
        if base in _patched:
            _set_guards(cls)
            return   # the base's wrappers already see these instances
    orig_set = cls.__setattr__
    orig_get = cls.__getattribute__
    s, g = _make_hooks(cls, orig_set, orig_get)
    _patched[cls] = ("__setattr__" in cls.__dict__, cls.__dict__.get("__setattr__"),
                     "__getattribute__" in cls.__dict__, cls.__dict__.get("__getattribute__"))
    try:
        cls.__setattr__ = s
        cls.__getattribute__ = g
    except TypeError:   # a built-in or extension type
        _patched.pop(cls, None)
        return
    _set_guards(cls)


def _set_guards(cls: type) -> None:
    g = _declared(cls)
    _guards[cls] = g
    if g:
        _guarded.add(cls)


def _declared(cls: type) -> dict[str, str]:
    from lockwatch.annotations import declared_guards

    return declared_guards(cls)


def _guards_for(obj_cls: type) -> dict[str, str]:
    return _guards.get(obj_cls, {})


def _on_mark(cls: type) -> None:
    if watch_markers:
        watch_class(cls)


class _PostImport:
    """A meta-path finder that watches configured classes right after their module runs."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _pending:
            return None
        for f in sys.meta_path:
            if f is self or not hasattr(f, "find_spec"):
                continue
            try:
                spec = f.find_spec(fullname, path, target)
            except Exception:  # noqa: BLE001, S112 - another finder's failure is not ours to report
                continue
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader, fullname)
                return spec
        return None


class _Loader:
    def __init__(self, inner, name):
        self._inner = inner
        self._name = name

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        _watch_pending(self._name, module)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _watch_pending(modname: str, module) -> None:
    for qual in sorted(_pending.pop(modname, ())):
        obj = module
        for part in qual.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type):
            watch_class(obj)
        else:
            state.errors.append(f"lockset: watch-classes: {modname}.{qual} is not a class")


def watch_name(dotted: str) -> None:
    """Watch ``pkg.mod.Class`` (or ``pkg.mod.Outer.Inner``) now or when its module loads."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod = ".".join(parts[:i])
        qual = ".".join(parts[i:])
        if mod in sys.modules:
            _pending.setdefault(mod, set()).add(qual)
            _watch_pending(mod, sys.modules[mod])
            return
    # not imported yet: the longest importable prefix is unknown until then; guess the
    # usual "module.Class" split and resolve at import time
    mod, _, qual = dotted.rpartition(".")
    _pending.setdefault(mod, set()).add(qual)
    if importlib.util.find_spec is None:  # pragma: no cover
        return


def start(classes: Iterable[type | str] = (), markers: bool = True) -> None:
    """Begin checking: the given classes (objects or dotted names), and, with ``markers``,
    every class marked with ``thread_safe``/``guarded_by`` (already defined or defined later)."""
    global _active, _finder, watch_markers
    from lockwatch import annotations

    watch_markers = markers
    _active = True
    for c in classes:
        if isinstance(c, str):
            watch_name(c)
        else:
            watch_class(c)
    if markers:
        for c in list(annotations._marked):
            watch_class(c)
    annotations._on_mark = _on_mark
    if _pending and _finder is None:
        _finder = _PostImport()
        sys.meta_path.insert(0, _finder)


def stop() -> None:
    """Stop checking and restore every patched class exactly."""
    global _active, _finder
    from lockwatch import annotations

    _active = False
    annotations._on_mark = None
    for cls, (had_s, s, had_g, g) in list(_patched.items()):
        for name, had, orig in (("__setattr__", had_s, s), ("__getattribute__", had_g, g)):
            try:
                if had:
                    setattr(cls, name, orig)
                else:
                    delattr(cls, name)
            except (TypeError, AttributeError):
                pass
    _patched.clear()
    _guards.clear()
    _guarded.clear()
    _site_kind.clear()
    _code_index.clear()
    _vars.clear()
    _refs.clear()
    _pending.clear()
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None


def active() -> bool:
    return _active


def findings(since: int = 0) -> list[Finding]:
    return list(_findings[since:])


def count() -> int:
    return len(_findings)


def reset() -> None:
    del _findings[:]
    _seen.clear()
    _vars.clear()
    _refs.clear()
