"""The one linked program model every check queries (built by ``link.py``, completed by
``graph.py``). Checks never walk syntax trees or resolve imports themselves.

Instance paths: a lock (or object) reached in a function is named by *how* it was reached,
relative to the function: ``@self._lock`` (through the receiver), ``%x._lock`` (through a
local or parameter ``x``), ``@global`` (a module- or class-level lock: one instance), ``?``
(unknown: a fresh object, a container element, something computed). Two acquisitions with
equal known paths are the same instance; different paths are different instances of the
same lock class; ``?`` never equals anything (precision first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from lockwatch.findings import display_path
from lockwatch.static.catalog import (
    ASYNC_SORTS,
    REENTRANT_SORTS,
    RENAMED_TYPES,
    SEMAPHORE_SORTS,
)
from lockwatch.static.summary import ClassSummary, FunctionSummary, ModuleSummary

# A step of a witness chain: (path, line, column, note).
Step = tuple


@dataclass
class LockClass:
    id: str                 # qualified definition name, e.g. "pkg.pool.Pool._lock"
    path: str               # file of the creation (display path)
    line: int
    col: int
    sort: str               # lock | rlock | semaphore | condition | async-lock | ...
    value: int | None = None  # semaphore initial value when known
    container: bool = False   # one lock class for every element of a container
    # a project lock wrapper class (``__enter__`` takes ``self._lock``) stored at this
    # definition: the class id of the wrapper, and the id of its inner lock class, whose
    # creation site (inside the wrapper) is the one the runtime tracer sees
    wrapper: str | None = None
    inner: str | None = None

    @property
    def reentrant(self) -> bool:
        return self.sort in REENTRANT_SORTS

    @property
    def is_async(self) -> bool:
        return self.sort in ASYNC_SORTS

    @property
    def counting(self) -> bool:
        """A semaphore that admits more than one holder: never a deadlock candidate."""
        # value None: the default (1); -1: not a constant (assume a counting semaphore)
        return self.sort in SEMAPHORE_SORTS and self.value is not None and self.value != 1

    @property
    def creation(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def short(self) -> str:
        return short_name(self.id)


def short_name(qualified: str) -> str:
    """``pkg.pool.Pool._lock`` -> ``Pool._lock``; ``pkg.mod._lock`` -> ``mod._lock``."""
    parts = [p for p in qualified.split(".") if p != "<locals>"]
    return ".".join(parts[-2:]) if len(parts) >= 2 else qualified


@dataclass
class Acq:
    """One resolved acquisition (or a lock held through a wrapper)."""

    lock: str
    path: str
    blocking: bool
    loc: Step                # where the function takes it (with/acquire/call/def line)
    via: tuple = ()          # steps from ``loc`` to the real acquisition (wrappers)
    cond: bool = False       # reached through a Condition
    mode: str = "with"


@dataclass
class CallSite:
    idx: int                         # event index, -1 for implicit calls
    loc: Step
    held: tuple                      # acq event indices held there
    targets: list = field(default_factory=list)   # [(fid, receiver path)]
    ext: list = field(default_factory=list)       # external dotted names
    blocking: str | None = None      # catalog name when the call itself blocks
    lockm: tuple | None = None       # (lock id, path, cond, method) for calls on a lock
    fnargs: list = field(default_factory=list)    # [(arg index, fid, receiver path)]
    use: str = "expr"
    args: list = field(default_factory=list)
    kws: dict = field(default_factory=dict)
    virtual: set = field(default_factory=set)     # target fids reached by virtual dispatch only
    # ``with wrapper:`` on a lock wrapper stored under a definition: (inner lock id, its path
    # in the wrapper's methods, the definition's lock class), so that the effects of the
    # implicit ``__enter__`` call name the lock as the acquisition does
    rename: tuple | None = None
    # a method call on an object of a type the catalog names by behaviour
    # (``catalog.RENAMED_TYPES``): the public class the linker saw it built as, from the
    # constructor call it evaluated (``multiprocessing.Queue``, ``io.BufferedReader``); None
    # when that is not known (an annotation, a parameter, a non-literal file mode)
    recv_class: str | None = None


@dataclass
class ClassInfo:
    id: str
    module: str
    path: str
    summary: ClassSummary
    bases: list[str] = field(default_factory=list)      # project class ids
    ext_bases: list[str] = field(default_factory=list)  # dotted external names
    mro: list[str] = field(default_factory=list)
    # instance attribute -> [(value, ann, line, col, fid, container_write)]
    inst_attrs: dict[str, list] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.summary.name


@dataclass
class FunctionInfo:
    id: str
    module: str
    qualname: str
    path: str
    summary: FunctionSummary
    cls: str | None = None
    # filled by the linker
    acqs: dict[int, list[Acq]] = field(default_factory=dict)
    calls: list[CallSite] = field(default_factory=list)
    deco_acqs: list[Acq] = field(default_factory=list)
    released: set[str] = field(default_factory=set)
    param_calls: list[tuple[str, int]] = field(default_factory=list)
    # the classes P38's isinstance guards need (``graph.ConstantGuards``), as the linker
    # resolves them in this function: a class ref written here (an ``isinstance`` test's in
    # its own guards, a constructor call passed to a guarded function) -> ("cls", class id),
    # ("ext", dotted name) or None (a name the function binds, anything not surely a class)
    named_classes: dict[str, tuple | None] = field(default_factory=dict)
    # filled by graph.compose
    acq_eff: dict[tuple[str, str], tuple] = field(default_factory=dict)
    block_eff: dict[str, tuple] = field(default_factory=dict)
    # made on first use by the checks (``asyncflow.call_sites``): (len(calls), idx -> CallSite)
    sites_index: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def line(self) -> int:
        return self.summary.line

    @property
    def col(self) -> int:
        return self.summary.col

    @property
    def is_async(self) -> bool:
        return self.summary.is_async

    @property
    def kind(self) -> str:
        return self.summary.kind

    @property
    def short(self) -> str:
        q = self.qualname.replace(".<locals>", "")
        if q == "<module>":
            return f"{self.module} (module level)"
        return q

    def sites(self) -> dict[int, CallSite]:
        """Event index -> linked CallSite (implicit calls, idx -1, left out). Kept on the
        function (several checks ask for every function); made again if calls were added."""
        cached = self.sites_index
        if cached is not None and cached[0] == len(self.calls):
            return cached[1]
        sites = {cs.idx: cs for cs in self.calls if cs.idx >= 0}
        self.sites_index = (len(self.calls), sites)
        return sites

    def held_acqs(self, held: tuple | list) -> list[Acq]:
        out = list(self.deco_acqs)
        for i in held:
            out.extend(self.acqs.get(i, ()))
        return out


@dataclass
class ProgramModel:
    modules: dict[str, ModuleSummary] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)            # module -> display path
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    locks: dict[str, LockClass] = field(default_factory=dict)
    call_graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    # (callback fid, receiver path, registration step, registrar)
    callbacks: list[tuple] = field(default_factory=list)
    # filled by graph.build_lock_graph
    lock_graph: Any = None
    self_edges: list = field(default_factory=list)       # graph.SelfEdge
    blocking_sites: list = field(default_factory=list)   # graph.BlockingSite
    config: Any = None
    # filled by link: (path, line, column) of a call on a file whose mode is a parameter of
    # the function making it -> the undecided public class ("param", fid, ...), which
    # ``asyncflow.public_call_name`` decides at the call of that function in a witness chain
    recv_params: dict[tuple, tuple] = field(default_factory=dict)

    def lock(self, lock_id: str) -> LockClass | None:
        return self.locks.get(lock_id)

    def suppression_maps(self) -> dict[str, dict]:
        """Display path -> line -> suppressed codes, for every module with a suppression
        comment: what the engine applies to the findings (and LW131 to the calls it merges)."""
        out = self.__dict__.get("_suppression_maps")
        if out is None:
            out = self.__dict__["_suppression_maps"] = {
                display_path(ms.path): ms.suppression_map() for ms in self.modules.values() if ms.suppressions}
        return out

    def _sites_index(self) -> tuple:
        """One pass over every linked call site of the program, shared by ``callers``
        (races, LW303, LW204, LW211), the external-name part of ``call_events``,
        ``handed_on`` (races) and ``effect_fids``/``fnarg_fids`` (the lock graph):
        (len(functions), functions, id(function) -> its position in functions, by external
        name, callee fid -> callers, fids handed on as callables, fids with an effect of
        their own, fids with a call site handing on a callable). Built on first use; built
        again if functions were added. (Touching every call site or event costs about as
        much as what is done with it: a check or stage that needs a few of them reads this
        index rather than walking the whole program again.)"""
        idx = self.__dict__.get("_sites_idx")
        if idx is not None and idx[0] == len(self.functions):
            return idx
        by_ext: dict[str, list] = {}
        callers: dict[str, list] = {}
        handed: set = set()
        own: set = set()
        fnarg_fids: set = set()
        funcs = list(self.functions.values())
        for n, fi in enumerate(funcs):
            if fi.acqs or fi.deco_acqs:
                own.add(fi.id)
            for cs in fi.calls:
                for g, recv in cs.targets:
                    hits = callers.get(g)
                    if hits is None:
                        callers[g] = [(fi, cs, recv)]
                    else:
                        hits.append((fi, cs, recv))
                if cs.ext and cs.idx >= 0:
                    for name in cs.ext:
                        by_ext.setdefault(name, []).append((n, cs.idx))
                if cs.fnargs:
                    fnarg_fids.add(fi.id)
                    for _i, g, _r in cs.fnargs:
                        handed.add(g)
                if cs.blocking or cs.lockm:
                    own.add(fi.id)
        pos = {id(fi): n for n, fi in enumerate(funcs)}
        idx = self.__dict__["_sites_idx"] = (len(self.functions), funcs, pos, by_ext, callers, handed, own,
                                             fnarg_fids)
        return idx

    def _events_index(self) -> tuple:
        """One pass over every event of the program, shared by the checks that look for a
        few calls by name (``call_events``), ``acq_events`` (LW211) and ``write_events``
        (LW201's once-only test): (len(functions), by called ref's last name -> [(position
        in functions, event index)], acquisition events, write events). Built on first use;
        built again if functions were added."""
        idx = self.__dict__.get("_events_idx")
        if idx is not None and idx[0] == len(self.functions):
            return idx
        by_last: dict[str, list] = {}
        acq_events: list = []
        write_events: list = []
        for n, fi in enumerate(self.functions.values()):
            for i, ev in enumerate(fi.summary.events):
                e = ev["e"]
                if e == "call":
                    key = (ev.get("f") or "").rpartition(".")[2]
                    hits = by_last.get(key)
                    if hits is None:
                        by_last[key] = [(n, i)]
                    else:
                        hits.append((n, i))
                elif e == "wr" or e == "gwr":
                    write_events.append((fi, i, ev))
                elif e == "acq":
                    acq_events.append((fi, i, ev))
        idx = self.__dict__["_events_idx"] = (len(self.functions), by_last, acq_events, write_events)
        return idx

    def call_events(self, ext=(), last=(), targets=None) -> list[tuple[FunctionInfo, int, dict]]:
        """The call events (function, event index, event) that may concern a check, in
        model order (functions as in ``functions``, then event order): those whose linked
        call site names one of the external names ``ext``, or calls a project function for
        which ``targets(fid)`` is true, or whose called ref ends with a name in ``last``.
        A superset the check filters as it would every event: the checks that look for a
        few calls (thread and task creation, queue methods) need not walk every event of
        the program each. One index for all of them, built on first use."""
        _, funcs, pos, by_ext, callers, *_rest = self._sites_index()
        hits: set = set()
        for name in ext:
            hits.update(by_ext.get(name, ()))
        if last:
            by_last = self._events_index()[1]
            for name in last:
                hits.update(by_last.get(name, ()))
        if targets is not None:
            for g, where in callers.items():
                if targets(g):
                    hits.update((pos[id(fi)], cs.idx) for fi, cs, _recv in where if cs.idx >= 0)
        out = []
        for n, i in sorted(hits):
            fi = funcs[n]
            ev = fi.summary.events[i]
            if ev["e"] == "call":
                out.append((fi, i, ev))
        return out

    def callers(self) -> dict[str, list[tuple[FunctionInfo, CallSite, str]]]:
        """Callee fid -> [(calling function, call site, receiver path)] for every linked
        call site (implicit ones included), in model order. Read-only: shared."""
        return self._sites_index()[4]

    def handed_on(self) -> set[str]:
        """The fids some linked call site hands on as a callable argument (``fnargs``: a
        thread target, a callback). Read-only: shared."""
        return self._sites_index()[5]

    def effect_fids(self) -> set[str]:
        """The functions with an effect of their own: an acquisition (a decorator's
        included), a blocking call, a call on a lock (what ``graph.compose`` starts from).
        Read-only: shared."""
        return self._sites_index()[6]

    def fnarg_fids(self) -> set[str]:
        """The functions with a call site that hands on a callable (``fnargs``).
        Read-only: shared."""
        return self._sites_index()[7]

    def acq_events(self) -> list[tuple[FunctionInfo, int, dict]]:
        """Every acquisition event (function, event index, event) of the program, in model
        order. Read-only: shared."""
        return self._events_index()[2]

    def write_events(self) -> list[tuple[FunctionInfo, int, dict]]:
        """Every write event (``wr`` and ``gwr``: function, event index, event) of the
        program, in model order. Read-only: shared."""
        return self._events_index()[3]

    def public_call_name(self, path: str, line: int, col: int, name: str) -> str:
        """The name a message gives the blocking call of catalog ``name`` made at
        ``path:line:col``: for the types the catalog names by behaviour
        (``catalog.RENAMED_TYPES``) the class the linker saw the receiver built as
        (``CallSite.recv_class``: ``multiprocessing.Queue.put``, ``io.BufferedReader.read``),
        else the type's public default (``queue.Queue.put``). Every other name is returned
        as it is. Text only: the catalog name stays the finding's key."""
        t, _, meth = name.rpartition(".")
        default = RENAMED_TYPES.get(t)
        if default is None:
            return name
        idx = self.__dict__.get("_recv_classes")
        if idx is None or idx[0] != len(self.functions):
            # the few linked calls that name a receiver's class, by place and catalog name;
            # the first in model order wins (as one place holds one call of a name)
            by: dict = {}
            for fi in self.functions.values():
                for cs in fi.calls:
                    if cs.recv_class is not None:
                        for n in cs.ext:
                            by.setdefault((cs.loc[0], cs.loc[1], cs.loc[2], n), cs.recv_class)
            idx = self.__dict__["_recv_classes"] = (len(self.functions), by)
        cls = idx[1].get((path, line, col, name))
        return f"{cls or default}.{meth}"

    def module_functions(self, module: str) -> list[FunctionInfo]:
        """The functions of ``module``, in the order of ``functions``. Built once for all
        modules (the checks ask per function: a scan of every function each time was
        quadratic on a stdlib-sized model); rebuilt if functions were added since."""
        idx = self.__dict__.get("_by_module")
        if idx is None or idx[0] != len(self.functions):
            by: dict[str, list[FunctionInfo]] = {}
            for f in self.functions.values():
                by.setdefault(f.module, []).append(f)
            idx = self.__dict__["_by_module"] = (len(self.functions), by)
        return idx[1].get(module, [])

    def sorted_functions(self) -> list[tuple[str, FunctionInfo]]:
        """(fid, function) for every function, in the order of fid: the order findings and
        graph witnesses are made in. Sorted once for the lock graph and the checks that walk every function
        (LW102, LW121, LW201, LW202, races); sorted again if functions were added since.
        Read-only: shared."""
        idx = self.__dict__.get("_sorted_functions")
        if idx is None or idx[0] != len(self.functions):
            functions = self.functions
            idx = self.__dict__["_sorted_functions"] = (len(functions), [(f, functions[f]) for f in sorted(functions)])
        return idx[1]

    def async_functions(self) -> list[tuple[str, FunctionInfo]]:
        """(fid, function) for every ``async def``, in the order of fid: ``sorted_functions``
        filtered once for the checks that look at coroutines only (LW201, LW202, LW204; a
        few hundred of the stdlib's 16k functions). Read-only: shared."""
        idx = self.__dict__.get("_async_functions")
        if idx is None or idx[0] != len(self.functions):
            idx = self.__dict__["_async_functions"] = (
                len(self.functions), [(f, fi) for f, fi in self.sorted_functions() if fi.summary.is_async])
        return idx[1]

    def acquiring_functions(self) -> list[tuple[str, FunctionInfo]]:
        """(fid, function) for every function with an acquisition the linker resolved
        (``acqs``), in the order of fid: ``sorted_functions`` filtered once, through the
        functions with an effect of their own (``effect_fids``, a superset), for the checks
        that look at acquisitions only (LW102, LW121). Read-only: shared."""
        idx = self.__dict__.get("_acquiring_functions")
        if idx is None or idx[0] != len(self.functions):
            functions = self.functions
            idx = self.__dict__["_acquiring_functions"] = (
                len(functions), [(f, functions[f]) for f in sorted(self.effect_fids()) if functions[f].acqs])
        return idx[1]

    def function(self, fid: str) -> FunctionInfo | None:
        return self.functions.get(fid)

    def add_lock(self, lock_id: str, sort: str, path: str, line: int, col: int,
                 value: int | None = None, container: bool = False,
                 wrapper: str | None = None, inner: str | None = None) -> LockClass:
        lc = self.locks.get(lock_id)
        if lc is None:
            lc = LockClass(lock_id, path, line, col, sort, value, container, wrapper, inner)
            self.locks[lock_id] = lc
        return lc
