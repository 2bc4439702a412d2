"""Facts both summarisers read off literals and module constants, in one place so that the
ast walk and the libcst walk cannot disagree about them.

- ``str_value``: the value of a str literal (``{"const": "str", "s": text}`` for a short
  one, plus ``"ip": text`` when the text is a numeric IPv4/IPv6 address: the mark
  ``catalog.numeric_host`` reads, P23);
- ``bool_constants``: module names that are a ``True``/``False`` literal for the whole
  file (pymongo's generated ``_IS_SYNC = False``, P25), so that an ``if`` on one is
  treated like P17's ``if False:``.

Neither imports or runs the scanned code.
"""

from __future__ import annotations

import ast
import re
import warnings

from lockwatch.static.summary import STR_TEXT_MAX

__all__ = ["bool_constants", "const_truth", "str_value"]

# the shapes ``ipaddress.ip_address`` can accept (dotted quad; anything with a ':' made of
# hex digits, dots and an optional ``%scope``): most strings fail this before the parse
_IP_SHAPE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%\w+)?")


# first characters of an address-shaped literal (the walks skip the check for the others)
IP_START = frozenset("0123456789abcdefABCDEF:")


def str_value(text: str) -> dict:
    """The value dict of a str literal whose text is ``text``."""
    if len(text) > STR_TEXT_MAX:
        return {"const": "str"}
    if text[:1] in IP_START and could_be_ip(text) and _IP_SHAPE.fullmatch(text) and is_ip_address(text):
        return {"const": "str", "s": text, "ip": text}
    return {"const": "str", "s": text}


def could_be_ip(text: str) -> bool:
    """Both shapes of ``_IP_SHAPE`` hold a ``.`` or a ``:``: a cheap test before the regex."""
    return "." in text or ":" in text


def is_ip_address(text: str) -> bool:
    """A numeric IPv4/IPv6 address (what ``ipaddress.ip_address`` accepts)."""
    import ipaddress  # only for address-shaped literals: the walk's startup stays lean

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- P25

# an ``if``/``elif`` whose test starts with the name (``not`` and parentheses allowed): a
# text screen that leaves out nearly every candidate before the whole tree is walked
_IF_HEAD = r"\b(?:el)?if[ \t(]+(?:not[ \t(]+)?{}\b"
# ``global NAME`` somewhere (a lazily set flag, the usual case): ruled out before the walk
_GLOBAL = r"\bglobal[ \t][^\n]*\b{}\b"


def ast_candidates(tree: ast.Module) -> set[str]:
    """Private names (``_IS_SYNC``) a top-level statement of ``tree`` sets to ``True``/``False``
    (``_NAME = False``, ``_NAME: bool = False``): the candidates of ``bool_constants``. A public
    module flag is often a setting other modules assign (``logging.raiseExceptions = False``,
    ``mock.FILTER_DIR``, ``cookiejar.debug``), which no walk of this file sees. The libcst walk finds the
    same ones in its own tree (``summarise_cst._bool_candidates``)."""
    out = set()
    for st in tree.body:
        t = type(st)
        if t is ast.Assign:
            if len(st.targets) != 1:
                continue
            target = st.targets[0]
        elif t is ast.AnnAssign:
            target = st.target
        else:
            continue
        v = st.value
        if (type(v) is ast.Constant and type(v.value) is bool and type(target) is ast.Name
                and target.id[:1] == "_"):
            out.add(target.id)
    return out


def bool_constants(source: str, tree: ast.Module | None = None, cands: set[str] | None = None) -> dict[str, bool]:
    """Private module names bound exactly once in the whole file, by a top-level ``_NAME =
    True`` / ``_NAME = False`` (or annotated) statement, and tested by some ``if``: name -> value.

    Any other binding of the name anywhere in the file (an assignment, augmented or
    annotated assignment, ``for``/``with``/``except`` target, import, ``def``, ``class``,
    parameter, ``global``/``nonlocal``, ``del``, walrus, match capture, also in a class body
    or a function where it would only shadow the global) rules the name out, as does a
    ``from m import *`` anywhere. Not seen: ``globals()[...] = ...`` and ``setattr`` on the
    module object from elsewhere. ``tree`` is the file's ``ast`` (parsed here if not given;
    a file ``ast`` cannot read has none); ``cands``: ``ast_candidates(tree)`` when not given
    (the caller's top-level ``NAME = True|False`` names, from whichever tree it has)."""
    if cands is None:
        if tree is None:
            tree = _parse(source)
            if tree is None:
                return {}
        cands = ast_candidates(tree)
    if not cands:
        return {}
    cands = {n for n in cands if _screen(n, source)}
    if not cands:
        return {}
    if tree is None:
        tree = _parse(source)
        if tree is None:
            return {}
    defs: dict[str, int] = {}
    value: dict[str, bool] = {}
    for st in tree.body:
        t = type(st)
        if t is ast.Assign and len(st.targets) == 1:
            target = st.targets[0]
        elif t is ast.AnnAssign and st.value is not None:
            target = st.target
        else:
            continue
        if (type(target) is ast.Name and target.id in cands and type(st.value) is ast.Constant
                and type(st.value.value) is bool):
            defs[target.id] = defs.get(target.id, 0) + 1
            value[target.id] = st.value.value
    names = {n for n, k in defs.items() if k == 1}
    if not names:
        return {}
    bindings = dict.fromkeys(names, 0)
    for node in ast.walk(tree):
        t = type(node)
        if t is ast.Name:
            if node.id in bindings and type(node.ctx) is not ast.Load:
                bindings[node.id] += 1
        elif t is ast.ImportFrom and any(a.name == "*" for a in node.names):
            return {}
        elif t is ast.Global or t is ast.Nonlocal:
            for n in node.names:
                if n in bindings:
                    bindings[n] += 2
        elif t is ast.alias:
            for n in (node.asname, node.name.partition(".")[0]):
                if n in bindings:
                    bindings[n] += 2
        elif t is ast.arg:
            if node.arg in bindings:
                bindings[node.arg] += 2
        else:
            # def/class/except-as/match captures/type parameters: a ``name`` (or ``rest``)
            for attr in ("name", "rest"):
                n = getattr(node, attr, None)
                if type(n) is str and n in bindings:
                    bindings[n] += 2
    return {n: value[n] for n, k in bindings.items() if k == 1}


def _screen(name: str, source: str) -> bool:
    """Some ``if`` tests ``name`` and no ``global`` statement names it (the two text patterns
    above). Neither pattern spans a line break, so they are searched in the lines holding
    ``name`` only, found with ``str.find``: the same answer as over the whole text, without
    the regex engine stepping through every character of a large file."""
    lines = []
    at = source.find(name)
    while at >= 0:
        start = source.rfind("\n", 0, at) + 1
        end = source.find("\n", at)
        if end < 0:
            end = len(source)
        lines.append(source[start:end])
        at = source.find(name, end)
    text = "\n".join(lines)
    n = re.escape(name)
    return bool(re.search(_IF_HEAD.format(n), text)) and not re.search(_GLOBAL.format(n), text)


def _parse(source: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # odd escapes in real code
        try:
            return compile(source, "<lockwatch>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def const_truth(test, consts: dict[str, bool], name_of, not_operand, and_or) -> bool | None:
    """What an ``if`` test on a module constant evaluates to, when known without running
    anything: ``NAME``, ``not NAME``, and an ``and`` (``or``) whose first operand is known
    false (true), which decides it before any other operand runs. None otherwise.

    The tree accessors make it serve both walks: ``name_of(node)`` the identifier of a bare
    name or None, ``not_operand(node)`` the operand of a ``not`` or None, ``and_or(node)``
    ``("and"|"or", first operand)`` or None."""
    n = name_of(test)
    if n is not None:
        return consts.get(n)
    o = not_operand(test)
    if o is not None:
        v = const_truth(o, consts, name_of, not_operand, and_or)
        return None if v is None else not v
    ao = and_or(test)
    if ao is not None:
        op, first = ao
        v = const_truth(first, consts, name_of, not_operand, and_or)
        if op == "and" and v is False:
            return False
        if op == "or" and v is True:
            return True
    return None
