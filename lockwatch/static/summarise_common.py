"""What the two summarisers (``summarise_ast``, ``summarise_cst``) share: the error type,
the per-file comment scans (suppressions, ``# guarded_by:``) and the small pure helpers of
the held-set logic. One copy, so that the two walks cannot drift apart on these."""

from __future__ import annotations

import io
import re
import tokenize

from lockwatch.static.summary import ModuleSummary
from lockwatch.suppress import suppressions_in


class ParseError(Exception):
    """The file could not be summarised (syntax error, nesting too deep for the parser)."""


ORDERING_CALLS = {"sorted", "min", "max", "id"}
# Methods that cannot raise when called with no argument (a predicate reading a flag): the
# release analysis (LW121) does not count such a call as one that can skip a release
# (paramiko's ``lock.acquire()`` then ``if self.clear_to_send.is_set(): break``, P28).
NO_RAISE_METHODS = frozenset({"is_set"})
# P27: the uses of a call that runs once where it stands (not an argument, a comprehension's
# element, a lambda's body): the calls that can take events' ``ne`` mark
NE_USES = frozenset({"return", "local", "discard"})
IDENT = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$")


def new_summary(source: str, path: str, module: str, is_package: bool) -> ModuleSummary:
    """An empty summary with the comment-level facts filled in (no syntax tree needed)."""
    ms = ModuleSummary(module=module, path=path, is_package=is_package)
    sup = suppressions_in(source)
    ms.suppressions = {str(k): (None if v is None else sorted(v)) for k, v in sup.items()}
    ms.guard_comments = guard_comments(source)
    return ms


_GUARD_COMMENT = re.compile(r"#\s*guarded_by\s*:\s*(?:self\.)?([A-Za-z_][A-Za-z_0-9]*)")


def guard_comments(source: str) -> dict[str, list[str]]:
    """``# guarded_by: _lock`` comments (real comments only, by tokenizing): line -> locks."""
    if "guarded_by" not in source:
        return {}
    out: dict[str, list[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                m = _GUARD_COMMENT.search(tok.string)
                if m:
                    out.setdefault(str(tok.start[0]), []).append(m.group(1))
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return out


def intersect(a: tuple, b: tuple) -> tuple:
    if a == b or not a:
        return tuple(a)   # the usual case: both branches end holding what they started with
    return tuple(x for x in a if x in b)


def intersect_all(outs: list, default: tuple) -> tuple:
    if not outs:
        return default
    acc = outs[0]
    for o in outs[1:]:
        acc = intersect(acc, o)
    return acc


def element_use(use: str) -> str:
    """What happens to an element of a container display, given what happens to the
    container: stored, dropped (``[create_task(c)]`` as a statement), returned or passed."""
    if use in ("local", "attr", "container"):
        return "container"
    if use in ("discard", "return", "arg"):
        return use
    return "expr"


# ``A | B`` where an operand is named like a constant (``socket.AI_NUMERICHOST``,
# ``_NUMERIC_ONLY``): a combination of int flags; its value keeps the operands' refs
# (``{"flags": [...]}``) so that a check can ask which flags a call was passed. A ``|`` of
# other names (set or dict union) keeps no value.
_FLAG_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")


def flags_value(refs: list) -> dict | None:
    """The value of a ``|`` chain whose name/attribute operands have these refs."""
    if any(r is not None and _FLAG_NAME.match(r.rpartition(".")[2]) for r in refs):
        return {"flags": [r for r in refs if r is not None]}
    return None


# P16: the guards of branches on parameters, kept identical for both walks

def tag_guarded(f, start: int, rules: tuple) -> None:
    """(``f``: either walk's function state: ``s``, ``pg_seen``, ``alias``, ``local_names``.)
    The events from ``start`` on were made in a branch that ``rules`` rule out: they carry
    them in "pg" ahead of those of inner ``if``s (tagged first, when their walk ended)."""
    f.pg_seen = True
    for ev in f.s.events[start:]:
        pg = [[p, dict(c) if type(c) is dict else list(c)] for p, c in rules]
        inner = ev.get("pg")
        ev["pg"] = pg + inner if inner else pg


def tag_after_exits(f) -> None:
    """(``f``: either walk's function state, with ``pg_after``.) An ``if`` on a parameter
    in the function's top-level block, with no ``else``, whose body ends in ``return`` or
    ``raise`` (so every path through it leaves the function: no enclosing ``try`` or loop at
    the top level can catch or continue it): the statements after it in that block run only
    where its ``else`` would, and their events carry the ``else`` rules (P38's second shape,
    ``if isinstance(fp, io.IOBase): ...; return`` then ``open(fp)``; ``if not block: return
    ...`` then ``wait()``). Called once the body is walked; the later ``if`` first, so an
    earlier one's rules come ahead, outer first as for nested ones."""
    for start, rules in reversed(f.pg_after):
        tag_guarded(f, start, rules)


# P24: the body of a once-only lazy initialiser (events' "oi", summary.py)

def tag_once(f, start: int, ref: str) -> None:
    """(``f``: either walk's function state.) The events from ``start`` on were made in the
    body of a one-shot initialiser of ``ref`` (``@self.x``, or a global's name): they carry
    it in "oi". An inner initialiser's body was tagged first (its walk ended first) and
    keeps its own ref: its events run only while *that* ref is unset."""
    for ev in f.s.events[start:]:
        if "oi" not in ev:
            ev["oi"] = ref


def once_ref_ok(ref: str | None, globals_decl: list) -> bool:
    """Is ``ref`` (a tested or assigned expression's ref, as a walk's ``chain`` makes it)
    one a one-shot initialiser can test: ``@self.x`` (one attribute of the method's own
    object), or the bare name of a module global the function declares ``global``?"""
    if ref is None:
        return False
    if ref.startswith("@self."):
        return ref.count(".") == 1
    return ref in globals_decl


def isinstance_classes(refs: list) -> list | None:
    """The class refs of an ``isinstance`` test's second argument (a dotted name or a tuple
    of them), sorted; None when one of them is something else (a call, a subscript, a
    starred tuple: what it holds is not known here)."""
    if not refs or any(r is None or not all(p.isidentifier() for p in r.split(".")) for r in refs):
        return None
    return sorted(set(refs))


def drop_rebound_guards(f, nonlocal_names: set) -> None:
    """Sets ``guard_params``. A guard holds only for a parameter the function never rebinds (an assignment, a
    ``for``/``with``/``except`` target, an import, a ``nonlocal`` in a nested function):
    drop the others from the events' "pg". The walk's end state tells: a rebound parameter
    is an alias, or has a local value other than its annotation, or is no longer local."""
    s = f.s
    named = set()
    rebound = set()
    for ev in s.events:
        for n, _ in ev.get("pg", ()):
            named.add(n)
            loc = s.locals.get(n)
            if (n in f.alias or n not in f.local_names or n in nonlocal_names
                    or (loc is not None and list(loc) != ["ann"])):
                rebound.add(n)
    s.guard_params = sorted(named - rebound)
    if not rebound:
        return
    for ev in s.events:
        pg = ev.get("pg")
        if pg is not None:
            keep = [x for x in pg if x[0] not in rebound]
            if keep:
                ev["pg"] = keep
            else:
                del ev["pg"]


def lazy_import_shares_binding(ms: ModuleSummary, local: str, target: list, in_handler: bool) -> bool:
    """May a function-local import of ``local`` (to ``target``) be read through the module's
    binding of that name? True registers it module-wide when the module has none yet (a lazy
    import that other functions reach, e.g. after ``global``); False means the module (or an
    earlier import) binds the name to something else, and the caller makes the name unknown
    in the function: a local value cannot spell an import, and the other binding would be
    wrong there (P33: ``from asyncio import sleep`` in a coroutine of a module that imports
    ``time.sleep``; SQLAlchemy's ``create_engine`` imported from the sync or the async package
    under ``if asyncio:``/``else:``).

    Two targets share the binding when they are equal or import one name from a package and
    from one of its submodules (``from distributed import Worker`` against the module's
    ``from distributed.worker import Worker``: a package re-exporting its own class). In an
    ``except`` handler the first binding stays: ``try: import fast / except ImportError:
    import slow`` names one API twice."""
    prev = ms.imports.get(local)
    if prev is None:
        if local in ms.globals or local in ms.functions or local in ms.classes:
            return False
        ms.imports[local] = target
        return True
    if in_handler or prev == target:
        return True
    if prev[0] == target[0] == "from" and prev[2] == target[2]:
        a, b = prev[1], target[1]
        return a.startswith(b + ".") or b.startswith(a + ".")
    return False


def only_reads(events: list, start: int, end: int) -> bool:
    """Are ``events[start:end]`` attribute/global reads only (no call, await, write, lock
    operation, loop exit)? (P27: nothing between a ``while q.empty():`` loop and the call
    marked ``ne``.)"""
    for k in range(start, end):
        e = events[k]["e"]
        if e != "rd" and e != "grd":
            return False
    return True
