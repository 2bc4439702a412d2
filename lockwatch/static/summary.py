"""Per-file summaries: what each function does with locks, calls, awaits and attributes,
in isolation, as plain JSON-ready data (the cache stores JSON, never pickle).

Names are not resolved here (that needs the whole program, see ``link.py``). Expressions
are recorded as *refs*: dotted chains whose parts are identifiers plus three markers,
``()`` (result of a call) and ``[]`` (an element of a container), e.g.
``threading.Lock.()``, ``@self._locks.[]``, ``ex.submit.()``. Bases:

- ``@self`` / ``@cls``: the method's first parameter; ``@super``: ``super()``;
- any other bare name: a local (see ``FunctionSummary.assigned``/``params``), an enclosing
  function's local, a module global or a builtin; the linker decides, in that order.
  Local aliases (``lk = self._lock``) are substituted when the summary is made.

A *value* (what an assignment stores, a call argument, a return) is a small dict:
``{"r": ref}``, ``{"call": ref, "a": [values], "k": {name: value}}``, ``{"const": x}``
(``None``/``True``/``False``/a number; any string literal is ``{"const": "str"}``, and a
str literal of at most ``STR_TEXT_MAX`` characters, implicit concatenations of plain
strings included, also keeps its text: ``{"const": "str", "s": text}``),
``{"cont": value}`` (a container of such elements), ``{"lambda": value}``,
``{"ann": ref}`` (only the declared type is known), ``{"elem": value}`` (a ``for`` loop variable:
an element of that iterable), ``{"flags": [ref, ...]}`` (``A | B | ...`` where an operand is
named like a constant, ``socket.AI_NUMERICHOST | _NUMERIC_ONLY``: the refs of its name and
attribute operands, for int-flag arguments).

Events (``FunctionSummary.events``, source order), each a dict with ``e`` (type), ``l``/``c``
(1-based line/column), ``h`` (indices of the ``acq`` events of this function whose lock
is held there) and, for an event inside the body (or ``while`` test) of a ``for``/``while``/
``async for`` loop of this function, ``lp``: the line of the innermost such loop; and, for
an event inside a branch of an ``if`` whose test is on a parameter of this function that
the function never rebinds (``if p:``, ``if not p:``, ``if p is None:``, ``p is not False``,
``p == True``, ``and``/``or``/``not`` of such tests), ``pg``: [[param, [constants]], ...],
outer ``if`` first: a call passing one of those constants (``True``/``False``/``None``) for
that parameter never reaches the event (``put(item, block=False)`` never reaches the
``not_full.wait()`` in the ``else`` of ``if not block:``; ``graph.compose`` drops such
effects at such a call). Defaults are not recorded: an omitted argument rules nothing out.
Since version 27 an entry may also be ``[param, {"isa": [class refs]}]``: the event is in the
``else`` of ``if isinstance(param, C):`` (or ``isinstance(param, (C, D))``, the refs sorted;
``or`` of such tests), or in the body of ``if not isinstance(...)``: a call passing an object
of a subclass of one of those classes never reaches it (P38: ``File(io.BytesIO(data))``
never opens its argument; ``graph.ConstantGuards``). Since version 28 the statements after an ``if`` on
a parameter in the function's top-level block, with no ``else``/``elif``, whose body ends in
``return`` or ``raise``, carry its ``else`` entries as if they were its ``else`` (``if
isinstance(fp, io.IOBase): ...; return`` then ``open(fp)``; ``if not block: return ...``
then ``not_full.wait()``; ``summarise_common.tag_after_exits``). Since version 34 the same holds
for such an ``if`` in the body of a ``with`` statement of that top-level block (or of such a
``with``), when the ``if`` body ends in ``return`` (a ``raise`` may be suppressed by the manager):
the statements after it in the body and after the ``with`` carry its ``else`` entries (P47).

- ``acq``: ``r`` ref of the lock-like object, ``m`` mode (``with``, ``awith``, ``acquire``,
  ``try`` (non-blocking or timed: held afterwards, adds no order edge), ``ctx``
  (``ExitStack.enter_context``)); since version 33 a ``with`` item that is a walrus,
  ``with (tl := self._lock):``, enters its value (and binds the name to it, an alias; P48);
- ``rel``: ``r`` ref released by ``.release()``;
- ``call``: ``f`` callee ref, ``a``/``k`` argument values, ``u`` result use (``discard``,
  ``local``, ``attr``, ``container``, ``return``, ``await``, ``arg``, ``with``, ``test`` (the
  condition of an ``if``/``while``/conditional expression/comprehension), ``expr``; an element
  of a list/tuple/set/dict display inherits discard/return/arg from the display),
  ``t`` the target ref when assigned; ``sa`` (only when set): the call has a ``*args``
  argument (left out of ``a``: positions after it are unknown); ``sk`` (only when set, since
  version 29): the call has a ``**kwargs`` argument (left out of ``k``: which parameters it
  binds is unknown, so no parameter is surely omitted; ``graph.ConstantGuards`` reads a
  parameter's literal default only at a call that surely omits it, P23); ``xc`` (only when not empty): what the handlers of the
  ``try`` statements whose body holds the call catch that says "this call may not block":
  sorted names from ``WOULD_BLOCK`` (last dotted part of the handler's type), and
  ``ERRNO_WOULD_BLOCK`` when a handler's body mentions ``EAGAIN``/``EWOULDBLOCK`` (an
  ``OSError`` handler testing ``errno``); LW201 reads it (non-blocking sockets); ``dn``
  (only when set): a ``result()``/``exception()`` call on a ref whose ``done()`` an
  enclosing ``if``/conditional expression tested true (``if fut.done():``, or after
  ``if not fut.done(): return`` in the same block), the ref not assigned since: it does not
  wait. Since version 35 also a ``wait()`` call on a ref whose ``poll() is None`` an enclosing
  ``if``/conditional expression tested false (``if p.poll() is not None:``, after ``if
  p.poll() is None: return``), or that a ``while`` loop with that test and no ``break`` just
  left (``while p.poll() is None: await asyncio.sleep(0.1)``; a ``while not fut.done():`` loop
  likewise marks its future done after it): a ``subprocess.Popen`` whose exit ``poll()`` saw
  and recorded, whose ``wait()`` returns at once (P46). ``dw`` (only when set, since version
  35, on a ``wait()`` call not marked ``dn``): [[ref, awaited], ...], the receivers of the
  ``ref.poll()`` calls so tested (``awaited`` 1 when the test awaits it: ``while await
  self.poll() is None:``), that call not a ``poll()`` of the very receiver of the ``wait()``:
  the linker reads ``ref.poll`` and decides whether it is a project wrapper returning the
  ``poll()`` of that receiver (jupyter_client's ``async def poll(self): ... ret =
  self.process.poll() ... return ret``; ``Linker._polled_by_wrapper``). An assignment to the
  ref, to what it is part of or to a part of it ends the mark; ``pb`` (only when set): the indices of the ``try`` acquisitions whose success leads
  to the call (it sits in the body of ``if lock.acquire(False):``; LW111: a thread holding
  that non-reentrant lock never makes it); ``ne`` (only when set, in an ``async def``): [ref]
  of a queue that a ``while q.empty():`` / ``while not q.qsize():`` loop just left
  non-empty, on the first call after that loop in its block (nothing but reads in between:
  no await, write, lock operation; same loop depth; a call whose use is ``return``/
  ``local``/``discard``; a loop without ``break`` or ``else``); the ref need not be the
  call's receiver (``return self._get_and_raise()``): on the loop's thread nothing else has
  run since the test, so a ``get()`` of that queue made by this call finds the item (P27);
- every event (since version 31) may carry ``oi``: it sits in the body of a one-shot lazy
  initialiser of that ref (``@self.x``, or the name of a global), the innermost if nested:
  ``if self.x is None:`` / ``if not self.x:`` / ``if g is None:`` / ``if not g:`` (``g``
  declared ``global`` in the function), with no ``else``/``elif``, whose own top-level body
  assigns that same ref (``self.x = ...``, ``g = ...``, annotated or not; not a loop, ``try``,
  ``with`` or nested def of the body; not a falsy literal: ``None``, ``False``, ``0``,
  ``""``, an empty display), with no ``return``/``break``/``continue`` anywhere in the body:
  once the body has run, the test is false. The body then runs once per object (process)
  unless the ref is unset elsewhere, which the reader decides (``asyncflow.once_only``:
  LW201 neither reports nor follows such a call, P24). The events of the test itself are
  not marked;
- ``await``: an ``await``, or an ``async for`` step (of a loop; since version 30 also of a
  list/set/dict comprehension, at the comprehension's target: a generator expression's
  steps run in its own frame, when it is iterated, and record nothing), or, since version
  30, entering an ``async with`` whose manager has no ref (``async with (a if c else b):``;
  one that has a ref is an ``acq`` of mode ``awith``). Since version 30 the expressions of
  an f-string implicitly concatenated with other strings (``"a" f"{await x}"``) give their
  events (``await``, ``call``, ``rd``, ...) and reads as those of a lone f-string do;
- ``exit``: a ``break``/``return``/``raise`` (``x``) inside a loop body; ``err`` when it is a
  ``raise`` or sits in an ``except`` handler inside that loop (a loop that stops on error);
  a ``break``/``return`` in a handler also carries ``hx``, the last dotted names of the
  types that handler catches (``*`` for a bare ``except``), and ``tb``, [line of the
  ``try``, line of the handler] (LW401: ``except queue.Empty: break`` around the drain call
  means drained, not stopped on an error);
- ``rd`` / ``wr``: read or write of ``@self.x`` / ``name.x``; writes carry ``v`` (value)
  and/or ``ann`` (annotation ref); since version 32 a write whose value starts on a later
  line than its target (``self.a = (  # comment`` / ``threading.Lock()`` / ``)``, as
  formatters wrap a long line) also carries ``vp``: [line, column] of the value, where the
  linker sites a lock created there (SPEC, lock identity: the factory call's line, the
  tracer's join key; module globals, class attributes and locals already record the value's
  position as their ``l``/``c``). The event's own ``l``/``c`` stay the target's. A read made by the test of an ``if`` carries ``t``: the
  last line of that ``if`` statement (else branches included), so that a check-then-act
  (the test reads, the branch writes) is visible without the syntax tree.
- ``grd`` / ``gwr``: read or write, in a function, of a module global it declares
  ``global`` (``r`` the name); ``grd`` in an ``if`` test carries ``t`` like ``rd``
  (module-level lazy initialisation, see ``lockwatch.static.races``).

Race declarations (see ``lockwatch.annotations``): ``ClassSummary.guards`` maps a lock
attribute name to the attributes it guards, from a ``guarded_by("_lock", "a", ...)`` class
decorator or a literal ``__guarded_by__ = {"_lock": ["a", ...]}``;
``ModuleSummary.guard_comments`` maps a line to the lock names of a ``# guarded_by: _lock``
comment on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Bump whenever the layout or the meaning of any field changes: the cache key uses it.
SUMMARY_VERSION = 35

# Bump whenever the layout of a summary *in a cache entry* (``ModuleSummary.to_entry``)
# changes; the cache key uses it too. Kept apart from SUMMARY_VERSION, which is part of
# ``to_dict()`` (what a summary says), so a new entry layout leaves every summary's
# ``to_dict()`` byte for byte as it was. Format 1 was ``to_dict()`` itself.
ENTRY_FORMAT = 2

# Longest str literal whose text a value keeps (``{"const": "str", "s": text}``): file
# modes, numeric addresses, names; longer ones (messages, docstrings, SQL) are only
# ``{"const": "str"}``, which no consumer needs more of, and would swell the cache.
STR_TEXT_MAX = 64

# Exceptions a call raises instead of waiting when its socket/file is non-blocking: a call
# inside a ``try`` that catches one is written for a non-blocking object (events' ``xc``).
WOULD_BLOCK = frozenset({"BlockingIOError", "InterruptedError", "SSLWantReadError",
                         "SSLWantWriteError"})
WOULD_BLOCK_ERRNOS = frozenset({"EAGAIN", "EWOULDBLOCK"})
ERRNO_WOULD_BLOCK = "errno:EAGAIN"

# Methods that wait only while their object is not finished: a call of one on a ref whose
# completion a test saw on the way there (a future's ``done()``, a process's ``poll()`` not
# None) is marked (call events' ``dn``; ``dw`` for a ``wait()`` after a project ``poll()``).
DONE_CALLS = frozenset({"result", "exception", "wait"})


def done_forgotten(d: str, r: str) -> bool:
    """Does an assignment to ref ``r`` end the completion fact ``d`` the summarisers keep
    while walking (a ref whose ``done()``/``poll()`` was seen; ``"~<aw><ref>"`` for the
    receiver of a ``poll()`` that may be a project wrapper, which reads what ``ref`` holds:
    any assignment to a part of it ends that one too)?"""
    if d[0] == "~":
        x = d[2:]
        return x == r or x.startswith(r + ".") or r.startswith(x + ".")
    return d == r or d.startswith(r + ".")


@dataclass
class FunctionSummary:
    qualname: str                 # Python-style: "C.m", "f.<locals>.g", "<module>"
    name: str
    line: int
    col: int
    is_async: bool = False
    cls: str | None = None        # qualname of the class whose body defines it
    kind: str = "function"        # function | method | staticmethod | classmethod | property | setter
    parent: str | None = None     # qualname of the enclosing function (closures)
    params: list[str] = field(default_factory=list)
    vararg: str | None = None
    self_name: str | None = None
    decorators: list[dict] = field(default_factory=list)   # values
    assigned: list[str] = field(default_factory=list)      # local names (incl. params)
    globals_decl: list[str] = field(default_factory=list)
    locals: dict[str, dict] = field(default_factory=dict)  # name -> value (last non-alias)
    returns: list[dict] = field(default_factory=list)      # values returned
    return_ann: str | None = None
    events: list[dict] = field(default_factory=list)
    exit_held: list[int] = field(default_factory=list)     # acq indices still held at return
    # release analysis (LW121): {"i" acq index, "r", "l", "c", "status" (ok, early-exit,
    # partial, no-finally, missing), "at" line or None, "ac" its column (since version 27;
    # only with "at") of the statement that may leave holding it}; a ``break`` holding the lock is
    # followed to the statements after its loop when they release it (P28)
    acquire_sites: list[dict] = field(default_factory=list)
    orders: bool = False          # sorted()/min()/max()/id()/ordering comparison seen
    # names read (loaded) as values in the body, aliases also under their target's base name,
    # lambda bodies included: "is this local used or handed on?" (dangling tasks, threads)
    reads: list[str] = field(default_factory=list)
    attr_reads: list[str] = field(default_factory=list)  # names read only as `name.attr`/`name.m()`/`name.attr = v`
    # the parameters named in some event's "pg", sorted: a call passing none of them a
    # constant rules nothing out (the composition asks this first, for every call)
    guard_params: list[str] = field(default_factory=list)
    # parameter -> value of its default when that is a literal ({"const": ...}; P23's
    # ``def get_ip(host="8.8.8.8")``); parameters without one, or with another default, absent
    defaults: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FunctionSummary:
        return cls(**d)


@dataclass
class ClassSummary:
    qualname: str
    name: str
    line: int
    col: int
    bases: list[str] = field(default_factory=list)          # refs
    decorators: list[dict] = field(default_factory=list)
    attrs: dict[str, dict] = field(default_factory=dict)    # class-level name -> {"v","ann","l","c"}
    methods: dict[str, str] = field(default_factory=dict)   # name -> function qualname
    parent_func: str | None = None
    guards: dict[str, list[str]] = field(default_factory=dict)  # lock attr -> guarded attrs

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassSummary:
        return cls(**d)


@dataclass
class ModuleSummary:
    module: str
    path: str
    is_package: bool = False
    # local name -> ["module", dotted] | ["from", dotted_module, attr]
    imports: dict[str, list] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    globals: dict[str, dict] = field(default_factory=dict)  # name -> {"v","ann","l","c"}
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    suppressions: dict[str, list[str] | None] = field(default_factory=dict)  # str(line) -> codes
    guard_comments: dict[str, list[str]] = field(default_factory=dict)  # str(line) -> lock names

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SUMMARY_VERSION,
            "module": self.module,
            "path": self.path,
            "is_package": self.is_package,
            "imports": self.imports,
            "star_imports": self.star_imports,
            "globals": self.globals,
            "functions": {k: f.to_dict() for k, f in self.functions.items()},
            "classes": {k: c.to_dict() for k, c in self.classes.items()},
            "suppressions": self.suppressions,
            "guard_comments": self.guard_comments,
        }

    def to_entry(self) -> dict[str, Any]:
        """The summary as a cache entry holds it (what a worker sends, what a warm run reads):
        ``to_dict()``, except that each function and class is a row, the list of its field
        values in the order of the header that comes with them (``function_fields``,
        ``class_fields``). The field names would otherwise be repeated for each function
        (~16k in the stdlib): a fifth of the entry's bytes, and with ``from_dict``'s keyword
        calls most of the cost of encoding and decoding it that is not the events. Everything inside a field (events,
        values) is as in ``to_dict()``. ``from_entry`` (or ``from_dict``) reads it back."""
        return {
            "version": SUMMARY_VERSION,
            "format": ENTRY_FORMAT,
            "module": self.module,
            "path": self.path,
            "is_package": self.is_package,
            "imports": self.imports,
            "star_imports": self.star_imports,
            "globals": self.globals,
            "suppressions": self.suppressions,
            "guard_comments": self.guard_comments,
            "function_fields": FUNCTION_FIELDS,
            "functions": _rows(self.functions, FUNCTION_FIELDS),
            "class_fields": CLASS_FIELDS,
            "classes": _rows(self.classes, CLASS_FIELDS),
        }

    @classmethod
    def from_entry(cls, d: dict[str, Any]) -> ModuleSummary:
        """The summary of ``to_entry()``'s dict, as decoded from JSON: its ``to_dict()`` is the
        original's. Raises ValueError/TypeError/KeyError for anything else (another version,
        another header, a row of the wrong length): the entry is then not used."""
        if d["version"] != SUMMARY_VERSION or d["format"] != ENTRY_FORMAT:
            raise ValueError(f"summary version {d['version']}/{d['format']} != {SUMMARY_VERSION}/{ENTRY_FORMAT}")
        if d["function_fields"] != _FUNCTION_HEADER or d["class_fields"] != _CLASS_HEADER:
            raise ValueError("the entry's field headers are not this version's")
        # The dataclasses' own __init__ with positional arguments: no intermediate dict, and
        # instances as compact as the summariser's (measured faster than filling __dict__).
        functions = _from_rows(d["functions"], FunctionSummary, len(FUNCTION_FIELDS), "function")
        classes = _from_rows(d["classes"], ClassSummary, len(CLASS_FIELDS), "class")
        return cls(module=d["module"], path=d["path"], is_package=d["is_package"],
                   imports=d["imports"], star_imports=d["star_imports"], globals=d["globals"],
                   functions=functions, classes=classes, suppressions=d["suppressions"],
                   guard_comments=d["guard_comments"])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModuleSummary:
        """The summary of ``to_dict()``'s dict, or of ``to_entry()``'s (told apart by its
        ``format``)."""
        if "format" in d:
            return cls.from_entry(d)
        if d.get("version") != SUMMARY_VERSION:
            raise ValueError(f"summary version {d.get('version')} != {SUMMARY_VERSION}")
        return cls(
            module=d["module"],
            path=d["path"],
            is_package=d.get("is_package", False),
            imports=d.get("imports", {}),
            star_imports=d.get("star_imports", []),
            globals=d.get("globals", {}),
            functions={k: FunctionSummary.from_dict(f) for k, f in d.get("functions", {}).items()},
            classes={k: ClassSummary.from_dict(c) for k, c in d.get("classes", {}).items()},
            suppressions=d.get("suppressions", {}),
            guard_comments=d.get("guard_comments", {}),
        )

    def suppression_map(self) -> dict[int, frozenset[str] | None]:
        """The form :mod:`lockwatch.suppress` works with."""
        return {int(k): (None if v is None else frozenset(v)) for k, v in self.suppressions.items()}

    def import_target(self, name: str) -> str | None:
        """The dotted name a module-level import binds ``name`` to, from the import statement
        alone: ``m`` for ``import m`` (or ``import m as name``), ``m.a`` for ``from m import a``;
        None when no import binds it. (Whether another binding of the same name wins is the
        caller's question.)"""
        imp = self.imports.get(name)
        if not imp:
            return None
        if imp[0] == "module":
            return imp[1]
        return f"{imp[1]}.{imp[2]}" if len(imp) > 2 else None


# The entry layout's headers: the dataclasses' fields, in order (a row is ``to_dict()``'s values).
FUNCTION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FunctionSummary))
CLASS_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ClassSummary))
_FUNCTION_HEADER = list(FUNCTION_FIELDS)  # as JSON decodes the header
_CLASS_HEADER = list(CLASS_FIELDS)


def _rows(objs: dict[str, Any], header: tuple[str, ...]) -> dict[str, list]:
    """name -> the values of ``obj.to_dict()`` (``obj.__dict__``), checked to be keyed by
    ``header`` in order: an attribute set outside ``__init__`` would otherwise be lost, or
    shift the row, without a word."""
    rows = {}
    for k, o in objs.items():
        d = o.__dict__
        if tuple(d) != header:
            raise ValueError(f"{type(o).__name__} {k!r} has fields {list(d)}, not {list(header)}")
        rows[k] = list(d.values())
    return rows


def _from_rows(rows: dict, new, width: int, what: str) -> dict:
    """``{key: new(*row)}`` for an entry's rows, each checked against the header's width."""
    out = {}
    for k, r in rows.items():
        if type(r) is not list or len(r) != width:
            raise ValueError(f"{what} row {k!r} does not match the header")
        out[k] = new(*r)
    return out
