"""One walk over CPython's own syntax tree (``ast``) per file -> :class:`ModuleSummary`.

The main summariser (``summarise.py`` picks it; ``summarise_cst`` is the fallback for syntax
newer than the running interpreter). It is a port of the libcst walk in ``summarise_cst.py``
and must give the *same* summary on every file both can read
(``tests/test_summarise_equivalence.py`` holds it to that): same events, refs, values and
held sets, and the positions libcst's ``PositionProvider`` gives. Why: on the CPython stdlib
``ast`` parses ~8x faster than libcst and has positions for free, where libcst's
``PositionProvider`` alone costs twice its parse (see ``docs/architecture.md``).

Where the two trees differ, this walk rebuilds libcst's view:

- ``None``/``True``/``False`` are ``Name`` nodes in libcst (so they are "read" and can be
  aliased, ``x = None`` in a function makes ``x`` an alias of ``None``): ``_nid`` spells them
  as names;
- libcst groups ``a; b`` on one line into one statement line, which matters to the release
  analysis (what comes *after* an acquire): ``_lines`` groups ast statements the same way;
- ``elif`` is its own node in libcst, ``else: if`` is not; ast has one form for both, the
  source text tells them apart;
- call arguments keep source order in libcst (``f(k=1, *a)``); ast splits positional and
  keyword arguments: ``_call_args`` merges them back;
- an implicitly concatenated string is a different node in libcst (``"a" "b"`` is not a
  plain string): ``_simple_string`` reads the source to tell; both walks look inside
  ``"a" f"{x}"`` (a ``JoinedStr`` in ast, a ``ConcatenatedString`` in libcst);
- positions: ast columns are UTF-8 byte offsets (converted to characters on non-ASCII
  lines); a parenthesised tuple or generator expression starts after its ``(`` in libcst;
  function and class positions are those of the name, found in the source; an ``except ...
  as name`` has no node for the name in ast, so it is found in the source too.

Speed (the walk runs once per file of every cold scan; ``benchmarks/bench_summarise.py
--ab BASE`` measures it against a commit, summaries compared): node types are tested in
order of frequency, name refs are inlined where names are read, events are built without
``**kw``, bodies are walked by statement line without building ``_Line`` objects, the value
of an assigned or returned call is the one its call event was made with. Some shortcuts
rest on facts of the whole file, checked once: without ``:=`` in the source no expression
can rebind a name, so a call's arguments are walked and valued in one pass (and a target's
ref taken before the value's walk still holds); without ``;`` no two statements share a
line; an ASCII file that never spells ``EAGAIN``/``EWOULDBLOCK`` (``release``) has no such
name, so except handlers' bodies (``finally`` blocks) are not searched for them.
``tests/test_summarise_fastpaths.py`` and ``tests/test_summarise_speed_paths.py`` cover
each shortcut.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize

from lockwatch.static.literals import IP_START as _IP_START
from lockwatch.static.literals import bool_constants as _bool_constants
from lockwatch.static.literals import const_truth
from lockwatch.static.literals import str_value as _str_value
from lockwatch.static.summarise_common import IDENT as _IDENT
from lockwatch.static.summarise_common import NE_USES as _NE_USES
from lockwatch.static.summarise_common import NO_RAISE_METHODS as _NO_RAISE
from lockwatch.static.summarise_common import ORDERING_CALLS as _ORDERING_CALLS
from lockwatch.static.summarise_common import (
    ParseError,
    drop_rebound_guards,
    isinstance_classes,
    new_summary,
    tag_after_exits,
    tag_guarded,
    tag_once,
)
from lockwatch.static.summarise_common import element_use as _element_use
from lockwatch.static.summarise_common import flags_value as _flags_value
from lockwatch.static.summarise_common import intersect as _intersect
from lockwatch.static.summarise_common import intersect_all as _intersect_all
from lockwatch.static.summarise_common import (
    lazy_import_shares_binding as _lazy_import_shares_binding,
)
from lockwatch.static.summarise_common import once_ref_ok as _once_ref_ok
from lockwatch.static.summarise_common import only_reads as _only_reads
from lockwatch.static.summary import DONE_CALLS as _DONE_POLLS
from lockwatch.static.summary import (
    ERRNO_WOULD_BLOCK,
    WOULD_BLOCK,
    WOULD_BLOCK_ERRNOS,
    ClassSummary,
    FunctionSummary,
    ModuleSummary,
)
from lockwatch.static.summary import STR_TEXT_MAX as _STR_MAX
from lockwatch.static.summary import done_forgotten as _done_forgotten

__all__ = ["summarise_tree"]

_Name = ast.Name
_Attribute = ast.Attribute
_Call = ast.Call
_Subscript = ast.Subscript
_Constant = ast.Constant
_Starred = ast.Starred
_Tuple = ast.Tuple
_List = ast.List
_Set = ast.Set
_Dict = ast.Dict
_FunctionDef = ast.FunctionDef
_AsyncFunctionDef = ast.AsyncFunctionDef
_ClassDef = ast.ClassDef
_Lambda = ast.Lambda
_If = ast.If
_Return = ast.Return
_Raise = ast.Raise
_Compare = ast.Compare
_UnaryOp = ast.UnaryOp
_BoolOp = ast.BoolOp
_Not = ast.Not
_GeneratorExp = ast.GeneratorExp
_TryStar = getattr(ast, "TryStar", ast.Try)
_TRY = (ast.Try, _TryStar)
# the last statements of an ``if`` body that leave the function on every path (tag_after_exits)
_LEAVES = (ast.Return, ast.Raise)
# inside a ``with`` (whose manager may suppress an exception) only a return surely leaves
_RETURN = (ast.Return,)
_WITH = (ast.With, ast.AsyncWith)
_NO_DONE = ((), ())
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, _TryStar,
             ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, getattr(ast, "Match", ast.If))
# the parser makes exact node types: a set lookup of ``type(st)`` is ``isinstance``
_COMPOUND_TYPES = frozenset(_COMPOUND)
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp)
_ORDER_OPS = (ast.Lt, ast.Gt, ast.LtE, ast.GtE)
_ORDER_OP_TYPES = frozenset(_ORDER_OPS)
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"\w+")
_SKIP_WS = re.compile(r"[ \t\f]*(?:\\\r?\n?[ \t\f]*)*")


# FunctionSummary's leading fields, given by position (the dataclass binds positional
# arguments ~1.5 us faster per function than keywords); by name should summary.py reorder them
_FS_HEAD = ("qualname", "name", "line", "col", "is_async", "cls", "kind", "parent", "params",
            "vararg", "self_name", "decorators")
_FS_BY_POSITION = tuple(f.name for f in dataclasses.fields(FunctionSummary))[:len(_FS_HEAD)] == _FS_HEAD


def summarise_tree(tree: ast.Module, source: str, path: str, module: str,
                   is_package: bool = False) -> ModuleSummary:
    """``tree`` is ``compile(source, path, "exec", ast.PyCF_ONLY_AST)`` of this ``source``."""
    ms = new_summary(source, path, module, is_package)
    b = _Builder(ms, source)
    b.bconst = _bool_constants(source, tree)
    try:
        b.run(tree)
    except RecursionError:
        raise ParseError("nesting too deep to summarise") from None
    return ms


def _nid(node) -> str | None:
    """The identifier of a name as libcst sees it (``None``/``True``/``False`` included)."""
    t = type(node)
    if t is _Name:
        return node.id
    if t is _Constant:
        v = node.value
        if v is None or v is True or v is False:
            return str(v)
    return None


def _is_kw_const(node) -> bool:
    if type(node) is not _Constant:
        return False
    v = node.value
    return v is None or v is True or v is False


def _call_args(call) -> list:
    """``(keyword or None, starred, value)`` per argument, in source order (as libcst)."""
    out = []
    starred_pos = False
    for a in call.args:
        if type(a) is _Starred:
            starred_pos = True
            out.append((None, True, a.value, a))
        else:
            out.append((None, False, a, a))
    kws = call.keywords
    if kws:
        for k in kws:
            out.append((k.arg, k.arg is None, k.value, k))
        if starred_pos:
            # ``f(k=1, *a)``: a starred argument may follow keywords
            out.sort(key=lambda x: (x[3].lineno, x[3].col_offset))
    return out


def _n_args(call) -> int:
    return len(call.args) + len(call.keywords)


def _first_arg_value(call):
    args = _call_args(call)
    return args[0][2]


class _Line:
    """Simple statements sharing one line (``a; b``): one statement line, as in libcst."""

    __slots__ = ("body",)

    def __init__(self, body: list):
        self.body = body


def _lines(stmts) -> list:
    out = []
    last = None
    last_end = 0
    for st in stmts:
        if type(st) in _COMPOUND_TYPES:
            out.append(st)
            last = None
        elif last is not None and last_end == st.lineno:
            last.body.append(st)
            last_end = st.end_lineno
        else:
            last = _Line([st])
            out.append(last)
            last_end = st.end_lineno
    return out


_stmts_of = _lines


class _Func:
    """Walk state of one function (or of the module body, ``is_module``)."""

    __slots__ = (
        "alias",
        "attr_reads",
        "ctx_acqs",
        "done",
        "exits",
        "fin",
        "handlers",
        "held",
        "hx",
        "is_module",
        "local_names",
        "loop_after",
        "loops",
        "ne",
        "outer_self",
        "pg_after",
        "top_with",
        "pg_seen",
        "probe",
        "reads",
        "s",
        "self_name",
        "self_ref",
        "top",
        "xc",
    )

    def __init__(self, s: FunctionSummary, is_module: bool = False):
        self.s = s
        self.alias: dict[str, str] = {}
        self.held: tuple = ()
        self.fin: list[set] = []          # refs released by enclosing ``finally`` blocks
        self.is_module = is_module
        self.local_names: set[str] = set(s.params)
        if s.vararg:
            self.local_names.add(s.vararg)
        self.exits: list[tuple] = []      # held sets at each return
        self.ctx_acqs: list[int] = []
        self.reads: set[str] = set()
        self.attr_reads: set[str] = set()
        # the enclosing method's ``self`` seen from a closure (a callback defined in a method)
        self.outer_self: str | None = None
        # enclosing loops of this function: (loop line, except-handler depth at the loop),
        # and the current except-handler depth (events carry "lp"; see summary.py)
        self.loops: list[tuple[int, int]] = []
        # the loops being walked, innermost last: (its body, the block holding the loop,
        # the index where what follows the loop starts): where a ``break`` goes on (LW121)
        self.loop_after: list[tuple] = []
        # (queue ref, number of events, loop depth) right after an async def's ``while
        # q.empty():`` loop: the next call carries "ne" if only reads come between, in the
        # same loop depth, and it is a statement's own call (P27); None otherwise
        self.ne: tuple | None = None
        self.handlers = 0
        # would-block exceptions caught around the current point (call events carry "xc")
        self.xc: tuple[str, ...] = ()
        # refs whose ``done()`` is known true here (call events of ``result()`` on them
        # carry "dn"): set by an enclosing ``if``, kept to the end of the current block
        self.done: tuple[str, ...] = ()
        # the except handler being walked: (caught names, try line, handler line); a loop
        # exit in it carries them (events' "hx"/"tb")
        self.hx: tuple | None = None
        # ``if lock.acquire(False):`` bodies being walked: the try-acquire events whose
        # success leads here (call events carry "pb")
        self.probe: tuple = ()
        # an ``if`` on a parameter was seen (its branches' events carry "pg"; summary.py)
        self.pg_seen = False
        # the function's top-level statements (None for the module), and the early exits
        # on a parameter seen in them: (events so far, else rules) (tag_after_exits)
        self.top: list | None = None
        # the ``with`` statement whose body is ``top`` (P47), None for the function's own body
        self.top_with = None
        self.pg_after: list[tuple] = []
        # how a read of the method's first parameter is spelt (set before the walk, fixed)
        self.self_name = s.self_name
        self.self_ref = "@cls" if s.kind == "classmethod" else "@self"


class _Builder:
    def __init__(self, ms: ModuleSummary, source: str):
        self.ms = ms
        self.source = source
        self.ascii = source.isascii()
        # errno_names, release_names: asked at the first ``try`` that needs them
        self._errno_names: bool | None = None
        self._release_names: bool | None = None
        # Can an expression rebind a name (``:=``, the only binding inside an expression)?
        # If not, refs stay the same while one expression is walked.
        self.walrus = ":=" in source
        # Can two statements share a line (``a; b``)? Not without a ``;`` in the text.
        self.semi = ";" in source
        # names declared ``nonlocal`` so far: a nested function may rebind such a parameter
        self.nonlocal_names: set[str] = set()
        self._lines_cache: list[str] | None = None
        self.f: _Func | None = None
        self.cls: ClassSummary | None = None
        # module names that are a True/False literal for the whole file (P25, literals.py)
        self.bconst: dict[str, bool] = {}

    # ------------------------------------------------------------------ source text
    @property
    def errno_names(self) -> bool:
        """Can a name in this file be EAGAIN/EWOULDBLOCK? Not if the text never spells them
        (ASCII only: a non-ASCII identifier may NFKC-normalise to one). Saves walking
        every except handler's body."""
        if self._errno_names is None:
            self._errno_names = not self.ascii or any(n in self.source for n in WOULD_BLOCK_ERRNOS)
        return self._errno_names

    @property
    def release_names(self) -> bool:
        """Can a call in this file be a ``.release()``? Likewise (most files never spell it):
        saves walking every ``finally`` block for releases."""
        if self._release_names is None:
            self._release_names = not self.ascii or "release" in self.source
        return self._release_names

    @property
    def lines(self) -> list[str]:
        if self._lines_cache is None:
            src = self.source
            self._lines_cache = _LINE_SPLIT.split(src) if "\r" in src else src.split("\n")
        return self._lines_cache

    def ccol(self, line: int, bcol: int) -> int:
        """ast's UTF-8 byte column -> character column (libcst counts characters)."""
        if self.ascii:
            return bcol
        try:
            text = self.lines[line - 1]
        except IndexError:
            return bcol
        if text.isascii():
            return bcol
        return len(text.encode("utf-8", "surrogatepass")[:bcol].decode("utf-8", "replace"))

    def _text_at(self, line: int, col: int) -> str:
        try:
            return self.lines[line - 1][col:]
        except IndexError:
            return ""

    def _skip_space(self, line: int, col: int) -> tuple[int, int]:
        """Forward over blanks, comments and line breaks (inside brackets) to the next token."""
        lines = self.lines
        while line <= len(lines):
            text = lines[line - 1]
            m = _SKIP_WS.match(text, col)
            col = m.end()
            if col < len(text) and text[col] != "#":
                return line, col
            line, col = line + 1, 0
        return line, col

    def _segment(self, node) -> str:
        lines = self.lines
        l0, l1 = node.lineno, node.end_lineno
        c0, c1 = self.ccol(l0, node.col_offset), self.ccol(l1, node.end_col_offset)
        if l0 == l1:
            return lines[l0 - 1][c0:c1]
        return "\n".join([lines[l0 - 1][c0:], *lines[l0:l1 - 1], lines[l1 - 1][:c1]])

    def _simple_string(self, node) -> bool:
        """A str/bytes constant written as one literal (libcst ``SimpleString``), not an
        implicit concatenation (libcst ``ConcatenatedString``)."""
        if type(node) is not _Constant or not isinstance(node.value, (str, bytes)):
            return False
        return _string_token_count(self._segment(node)) == 1

    def name_loc(self, node, keyword: str) -> tuple[int, int, str]:
        """Position (1-based, characters) and spelling of the name of a def/class."""
        line = node.lineno
        col = node.col_offset if self.ascii else self.ccol(line, node.col_offset)
        text = self.lines[line - 1]
        k = col + len(keyword)
        if text.startswith(keyword, col) and text[k:k + 1] == " ":
            # the usual ``def name``: one space, then the name (what the general case finds)
            if self.ascii:
                # in an ASCII file the name is spelt as ast has it
                name = node.name
                if text.startswith(name, k + 1):
                    return line, k + 2, name
            else:
                m = _WORD.match(text, k + 1)
                if m is not None:
                    return line, k + 2, m.group(0)
        if keyword == "def" and text.startswith("async", col):
            line, col = self._skip_space(line, col + 5)
            text = self.lines[line - 1]
        line, col = self._skip_space(line, col + len(keyword))
        m = _WORD.match(self.lines[line - 1], col) if line <= len(self.lines) else None
        if m is None:
            return node.lineno, self.ccol(node.lineno, node.col_offset) + 1, node.name
        return line, col + 1, m.group(0)

    def _handler_name(self, h) -> _Name:
        """A synthetic ``Name`` at the ``as`` target of an except handler."""
        name = h.name
        line, col = (h.type.end_lineno, self.ccol(h.type.end_lineno, h.type.end_col_offset)) if h.type else (h.lineno, 0)
        pat = re.compile(r"\bas\s+(" + re.escape(name) + r")\b")
        lines = self.lines
        for ln in range(line, min(line + 5, len(lines) + 1)):
            m = pat.search(lines[ln - 1], col if ln == line else 0)
            if m:
                text = lines[ln - 1]
                bcol = len(text[:m.start(1)].encode("utf-8", "surrogatepass"))
                return _Name(id=name, ctx=ast.Store(), lineno=ln, col_offset=bcol,
                             end_lineno=ln, end_col_offset=bcol + len(name))
        return _Name(id=name, ctx=ast.Store(), lineno=h.lineno, col_offset=h.col_offset,
                     end_lineno=h.lineno, end_col_offset=h.col_offset)

    # ------------------------------------------------------------------ helpers
    def loc(self, node) -> tuple[int, int]:
        t = type(node)
        if t is _Tuple or t is _GeneratorExp:
            # libcst's position of a parenthesised tuple/generator excludes its "(" (and
            # ``()`` starts at its ")")
            line = node.lineno
            c = self.ccol(line, node.col_offset)
            if self._text_at(line, c)[:1] == "(":
                line, c = self._skip_space(line, c + 1)
            return line, c + 1
        if self.ascii:
            return node.lineno, node.col_offset + 1
        line = node.lineno
        return line, self.ccol(line, node.col_offset) + 1

    def run(self, tree: ast.Module) -> None:
        s = FunctionSummary(qualname="<module>", name="<module>", line=1, col=1)
        self.ms.functions["<module>"] = s
        self.f = _Func(s, is_module=True)
        self._block(tree.body)
        s.reads = sorted(self.f.reads)
        s.attr_reads = sorted(self.f.attr_reads)

    # Events are built inline (no ``**kw``): one per lock operation, call and attribute
    # access, the walk's most repeated allocation. Key order is the summary's JSON order.
    def _ev_start(self, kind: str, node) -> dict:
        """The common head of an event: kind, position, held set, enclosing loop."""
        t = type(node)
        if self.ascii and t is not _Tuple and t is not _GeneratorExp:
            line, col = node.lineno, node.col_offset + 1
        else:
            line, col = self.loc(node)
        f = self.f
        if f.loops:
            return {"e": kind, "l": line, "c": col, "h": [*f.held], "lp": f.loops[-1][0]}
        return {"e": kind, "l": line, "c": col, "h": [*f.held]}

    def _ev(self, kind: str, node, **kw) -> int:
        ev = self._ev_start(kind, node)
        if kw:
            ev.update(kw)
        f = self.f
        if f.xc and kind == "call":
            ev["xc"] = list(f.xc)
        events = f.s.events
        events.append(ev)
        return len(events) - 1

    def _ev_wr(self, node, r: str, v) -> dict:
        """A ``wr`` event (``r``, ``v``) in one display; returned for an ``ann`` to be added."""
        t = type(node)
        if self.ascii and t is not _Tuple and t is not _GeneratorExp:
            line, col = node.lineno, node.col_offset + 1
        else:
            line, col = self.loc(node)
        f = self.f
        if f.loops:
            ev = {"e": "wr", "l": line, "c": col, "h": [*f.held], "lp": f.loops[-1][0], "r": r, "v": v}
        else:
            ev = {"e": "wr", "l": line, "c": col, "h": [*f.held], "r": r, "v": v}
        f.s.events.append(ev)
        return ev

    def _value_pos(self, ev: dict, value_node) -> None:
        """``vp`` on a ``wr`` whose value starts on another line than its target (a wrapped
        ``self.x = (\n    threading.Lock()\n)``): a lock is named by its factory call's line."""
        if value_node is not None:
            line, col = self.loc(value_node)
            if line != ev["l"]:
                ev["vp"] = [line, col]

    def _ev_r(self, kind: str, node, r: str) -> int:
        """An event whose only field is ``r`` (``rd``, ``grd``, ``gwr``, ``rel``), in one
        display (``_ev_start`` inlined)."""
        t = type(node)
        if self.ascii and t is not _Tuple and t is not _GeneratorExp:
            line, col = node.lineno, node.col_offset + 1
        else:
            line, col = self.loc(node)
        f = self.f
        events = f.s.events
        if f.loops:
            events.append({"e": kind, "l": line, "c": col, "h": [*f.held], "lp": f.loops[-1][0], "r": r})
        else:
            events.append({"e": kind, "l": line, "c": col, "h": [*f.held], "r": r})
        return len(events) - 1

    def _read(self, name: str, attr: bool = False) -> None:
        """A load of a name: as a value (``reads``) or only to reach an attribute or call a
        method on it (``attr_reads``); the difference tells "handed on" from "used here"."""
        f = self.f
        if f is None:
            return
        out = f.attr_reads if attr else f.reads
        out.add(name)
        if f.is_module:
            return   # no aliases at module level
        r = f.alias.get(name)
        if r is None:
            if name == f.self_name:
                r = f.self_ref
            elif name == f.outer_self and name not in f.local_names:
                r = "@self"
            else:
                return
        if r != name:
            out.add(r.partition(".")[0])   # an alias: a use of what it stands for

    def _load(self, node) -> str:
        """A name read as a value (``_expr`` of a ``Name``, ``self.f`` set): the read, a
        ``grd`` event for a global the function declares; returns the name's ref."""
        n = node.id
        f = self.f
        f.reads.add(n)
        if f.is_module:
            return n
        r = f.alias.get(n)   # ``_name_ref`` inlined
        if r is None:
            if n == f.self_name:
                r = f.self_ref
            elif n == f.outer_self and n not in f.local_names:
                r = "@self"
            else:
                r = n
        if r != n:
            f.reads.add(r.partition(".")[0])   # an alias: a use of what it stands for
        if n in f.s.globals_decl:
            self._ev_r("grd", node, n)
        return r

    def _recv(self, node) -> None:
        """The receiver of an attribute access or method call."""
        t = type(node)
        if t is _Name:
            self._read(node.id, True)
        elif t is _Constant and _is_kw_const(node):
            self._read(str(node.value), True)
        else:
            self._expr(node, "expr")

    # ------------------------------------------------------------------ refs and values
    def _name_ref(self, n: str) -> str:
        f = self.f
        if f is None or f.is_module:
            return n
        r = f.alias.get(n)
        if r is not None:
            return r
        if n == f.self_name:
            return f.self_ref
        if n == f.outer_self and n not in f.local_names:
            return "@self"
        return n

    def chain(self, node) -> str | None:
        """Dotted ref of a name/attribute/call/subscript chain, aliases substituted."""
        t = type(node)
        if t is _Name:
            n = node.id
            f = self.f
            if f is None or f.is_module:
                return n
            r = f.alias.get(n)   # ``_name_ref`` inlined (the walk's most frequent call)
            if r is None:
                if n == f.self_name:
                    return f.self_ref
                if n == f.outer_self and n not in f.local_names:
                    return "@self"
                return n
            return r
        if t is _Attribute:
            v = node.value
            if type(v) is _Name:
                n = v.id
                f = self.f
                if f is None or f.is_module:
                    return f"{n}.{node.attr}"
                r = f.alias.get(n)   # ``_name_ref`` inlined
                if r is None:
                    if n == f.self_name:
                        r = f.self_ref
                    elif n == f.outer_self and n not in f.local_names:
                        r = "@self"
                    else:
                        r = n
                return f"{r}.{node.attr}"
            base = self.chain(v)
            return None if base is None else f"{base}.{node.attr}"
        if t is _Call:
            fn = node.func
            fid = _nid(fn)
            if fid == "super":
                return "@super"
            if fid == "type" and _n_args(node) == 1:
                inner = self.chain(_first_arg_value(node))
                if inner == "@self":
                    return "@cls"
            base = self.chain(fn)
            return None if base is None else f"{base}.()"
        if t is _Subscript:
            f = self.f
            v = node.value
            if (f is not None and type(v) is _Name and f.s.vararg == v.id and not f.s.params):
                idx = node.slice
                if type(idx) is _Constant and type(idx.value) is int and idx.value == 0:
                    return "@self"   # ``args[0]`` in a method-decorator wrapper
            base = self.chain(v)
            return None if base is None else f"{base}.[]"
        if t is _Constant:
            n = _nid(node)
            if n is not None:
                return self._name_ref(n)
        return None

    def ann_ref(self, node) -> str | None:
        """A type annotation -> ref of the class (``Optional[X]``/``X | None`` -> X)."""
        if node is None:
            return None
        t = type(node)
        if t is _Constant and not _is_kw_const(node):
            if not self._simple_string(node):
                return None
            text = node.value if isinstance(node.value, str) else ""
            text = text.strip()
            if text.startswith("Optional[") and text.endswith("]"):
                text = text[9:-1].strip()
            return text if _IDENT.match(text or "") else None
        if t is ast.BinOp and type(node.op) is ast.BitOr:
            for side in (node.left, node.right):
                if _nid(side) != "None":
                    return self.ann_ref(side)
            return None
        if t is _Subscript:
            base = self.chain(node.value)
            if base and base.split(".")[-1] == "Optional":
                sl = node.slice
                if type(sl) is _Tuple and not self._parenthesised_tuple(sl):
                    sl = sl.elts[0] if sl.elts else None
                if sl is not None and type(sl) is not ast.Slice:
                    return self.ann_ref(sl)
            return None
        if t is _Name or t is _Attribute or _is_kw_const(node):
            r = self.chain(node)
            if r is None or r.startswith("@"):
                return None
            return r
        return None

    def _parenthesised_tuple(self, node) -> bool:
        return self._text_at(node.lineno, self.ccol(node.lineno, node.col_offset))[:1] == "("

    def value(self, node, depth: int = 0) -> dict | None:
        if depth > 3:
            return None
        # node types in order of frequency; ``None`` (no node) matches none of them
        t = type(node)
        if t is _Name:
            n = node.id
            f = self.f
            if f is None or f.is_module:
                return {"r": n}
            r = f.alias.get(n)   # ``_name_ref`` inlined
            if r is None:
                if n == f.self_name:
                    r = f.self_ref
                elif n == f.outer_self and n not in f.local_names:
                    r = "@self"
                else:
                    r = n
            return {"r": r}
        if t is _Constant:
            v = node.value
            if v is None or v is True or v is False:
                return {"const": v}
            tv = type(v)
            if tv is int or tv is float:
                return {"const": v}
            if tv is str:
                # the text of a short literal: file modes, numeric addresses (catalog);
                # literals.str_value inlined but for the address check
                if len(v) > _STR_MAX:
                    return {"const": "str"}
                if v[:1] in _IP_START and ("." in v or ":" in v):
                    return _str_value(v)   # (an address has a "." or a ":")
                return {"const": "str", "s": v}
            if tv is bytes:
                return {"const": "str"}
            return None
        if t is _Call:
            fr = self.chain(node.func)
            if fr == "@super":
                return {"r": "@super"}
            args, kws = [], {}
            if node.keywords:
                for kw, star, v, _ in _call_args(node):
                    if kw is not None:
                        kws[kw] = self.value(v, depth + 1)
                    elif not star:
                        args.append(self.value(v, depth + 1))
            else:
                args = [self.value(a, depth + 1) for a in node.args if type(a) is not _Starred]
            return {"call": fr, "a": args, "k": kws}
        if t is _Attribute or t is _Subscript:
            r = self.chain(node)
            return {"r": r} if r else None
        if t is _Tuple or t is _List or t is _Set:
            els = [e for e in node.elts if type(e) is not _Starred]
            return {"cont": self.value(els[0], depth + 1) if els else None}
        if t is _Dict:
            els = [v for k, v in zip(node.keys, node.values) if k is not None]
            return {"cont": self.value(els[0], depth + 1) if els else None}
        if t is ast.JoinedStr:
            return {"const": "str"}
        if t is ast.UnaryOp and type(node.op) is ast.USub:
            o = node.operand
            if type(o) is _Constant and type(o.value) is int:
                return {"const": -o.value}
            return None
        if t in _COMPS:
            return {"cont": self.value(node.elt, depth + 1)}
        if t is ast.DictComp:
            return {"cont": self.value(node.value, depth + 1)}
        if t is _Lambda:
            return {"lambda": self.value(node.body, depth + 1)}
        if t is ast.Await:
            return self.value(node.value, depth)
        if t is ast.BinOp and type(node.op) is ast.BitOr:
            return self._flags(node)
        return None

    def _flags(self, node) -> dict | None:
        """``A | B | ...`` -> ``{"flags": refs}`` (see ``summarise_common.flags_value``)."""
        refs, todo = [], [node]
        while todo:
            n = todo.pop()
            t = type(n)
            if t is ast.BinOp and type(n.op) is ast.BitOr:
                todo.append(n.right)
                todo.append(n.left)
            elif t is _Name or t is _Attribute:
                refs.append(self.chain(n))
        return _flags_value(refs)

    # ------------------------------------------------------------------ statements
    def _block(self, stmts: list) -> bool:
        """Walk a body (ast statements); True when it always ends in return/raise/break/
        continue. Statements are walked by statement line, as ``_lines`` groups them, without
        building the lines: each statement is handed the body and the index where the rest
        after its line starts (``_rest``: what the release analysis looks at). A ``done()``
        fact learnt in the body (after ``if not fut.done(): return``) ends with it."""
        small = self._small
        semi = self.semi
        n = len(stmts)
        j = 0
        f = self.f
        d0 = f.done if f is not None else ()
        try:
            while j < n:
                st = stmts[j]
                try:
                    t = type(st)
                    if t is _FunctionDef:
                        j += 1
                        self._funcdef(st)
                        continue
                    if t in _COMPOUND_TYPES:
                        j += 1
                        if self._stmt(st, stmts, j):
                            return True
                        continue
                    # a statement line: simple statements each starting where the last ends
                    # (``a; b``: a file without ``;`` has none, and is spared the positions)
                    k = j + 1
                    if semi and k < n:
                        end = st.end_lineno
                        while k < n:
                            nx = stmts[k]
                            if nx.lineno != end or type(nx) in _COMPOUND_TYPES:
                                break
                            end = nx.end_lineno
                            k += 1
                    if k == j + 1:
                        j = k
                        if small(st, stmts, k):
                            return True
                    else:
                        line = stmts[j:k]
                        j = k
                        for sm in line:
                            if small(sm, stmts, k):
                                return True
                except RecursionError:
                    continue   # absurdly nested statement: skip it, keep the rest of the file
            return False
        finally:
            if f is not None:
                f.done = d0
                f.ne = None

    _suite = _block

    def _is_elif(self, st) -> bool:
        line = st.lineno
        try:
            return self.lines[line - 1].startswith("elif", self.ccol(line, st.col_offset))
        except IndexError:
            return False

    def _stmt(self, st, stmts, i) -> bool:
        """A compound statement; ``stmts[i:]`` is the rest of its body after it."""
        t = type(st)
        if t is _FunctionDef or t is _AsyncFunctionDef:
            self._funcdef(st)
            return False
        if t is _ClassDef:
            self._classdef(st)
            return False
        if self.cls is not None and self.f is None:
            # class-body control flow (``if TYPE_CHECKING:``, ``try:``): collect definitions
            subs = _sub_suites(self, st)
            if t is _If:
                k = _const_truth(st.test, self.bconst) if self.bconst else None
                if k is False or _never_true(st.test):
                    subs = subs[1:]   # ``if False:`` never defines its body's methods
                elif k is True or _always_true(st.test):
                    subs = subs[:1]
            for sub in subs:
                self._suite(sub)
            return False
        if t is _If:
            return self._if(st, stmts, i)
        if t is ast.For or t is ast.AsyncFor or t is ast.While:
            return self._loop(st, stmts, i)
        if t is ast.With or t is ast.AsyncWith:
            return self._with(st, stmts)
        if t in _TRY:
            return self._try(st)
        if t.__name__ == "Match":
            self._expr(st.subject)
            f = self.f
            h0 = f.held
            outs = []
            for case in st.cases:
                f.held = h0
                if not self._suite(case.body):
                    outs.append(f.held)
            f.held = _intersect_all(outs, h0)
            return False
        return False

    def _small(self, small, stmts, i) -> bool:
        """A simple statement; ``stmts[i:]`` is the rest of its body after its line."""
        f = self.f
        if self.cls is not None and f is None:
            self._class_small(small)
            return False
        t = type(small)
        if t is ast.Expr:
            v = small.value
            if type(v) is _Call:
                self._call(v, "discard", None, stmts, i)
            else:
                self._expr(v, "discard")
            return False
        if t is ast.Assign:
            targets = small.targets
            target = targets[0] if len(targets) == 1 else None
            use, tg = "expr", None
            tt = type(target)
            if tt is _Name:
                use, tg = ("local", target.id)
            elif tt is _Attribute:
                use, tg = "attr", self.chain(target)
            elif tt is _Subscript:
                use, tg = "container", self.chain(target)
            value = small.value
            if type(value) is _Call:
                # the call's value as its event has it: the first target need not redo it
                pre = self._call(value, use, tg, stmts, i, True)
            else:
                self._expr(value, use, tg, stmts, i)
                pre = None
            if target is not None and tg is not None and use != "local" and not self.walrus:
                # one target whose ref is ``tg``: walking the value (no ``:=`` in the file)
                # cannot have changed it
                self._assign(target, value, None, pre, tg)
                return False
            for tgt in targets:
                self._assign(tgt, value, None, pre)
                pre = None
            return False
        if t is ast.AnnAssign:
            if small.value is not None:
                use = "local" if type(small.target) is _Name else "attr"
                self._expr(small.value, use)
            self._assign(small.target, small.value, ann=small.annotation)
            return False
        if t is ast.AugAssign:
            self._expr(small.value, "expr")
            tg = small.target
            tt = type(tg)
            if tt is _Attribute:
                self._expr(tg, "expr")
                r = self.chain(tg)
                if r and self._tracked_attr(r):
                    self._ev_wr(tg, r, None)
            elif tt is _Name:
                if not f.is_module and tg.id in f.s.globals_decl:
                    self._ev_r("grd", tg, tg.id)
                    self._ev_r("gwr", tg, tg.id)
                self._kill(tg.id)
            else:
                self._expr(tg, "expr")
            return False
        if t is _Return:
            value = small.value
            if value is not None:
                if type(value) is _Call:
                    v = self._call(value, "return", want=True)
                    if v is None:
                        v = self.value(value)
                else:
                    self._expr(value, "return")
                    v = self.value(value)
                if v is not None:
                    f.s.returns.append(v)
            f.exits.append(f.held)
            self._loop_exit(small, "return")
            return True
        if t is _Raise:
            if small.exc is not None:
                self._expr(small.exc, "expr")
            self._loop_exit(small, "raise")
            return True
        if t is ast.Break:
            self._loop_exit(small, "break")
            return True
        if t is ast.Continue:
            return True
        if t is ast.Import:
            for alias in small.names:
                dotted = alias.name
                if alias.asname is not None:
                    self._import(alias.asname, ["module", dotted])
                else:
                    top = dotted.split(".")[0]
                    self._import(top, ["module", top])
            return False
        if t is ast.ImportFrom:
            base = self._from_base(small)
            if base is None:
                return False
            if len(small.names) == 1 and small.names[0].name == "*":
                if f.is_module:
                    self.ms.star_imports.append(base)
                return False
            for alias in small.names:
                name = alias.name
                self._import(alias.asname or name, ["from", base, name])
            return False
        if t is ast.Global:
            f.s.globals_decl.extend(small.names)
            return False
        if t is ast.Delete:
            for tg in small.targets:
                self._expr(tg, "expr")
            return False
        if t is ast.Assert:
            self._expr(small.test, "expr")
            return False
        if t is ast.Nonlocal:
            self.nonlocal_names.update(small.names)
            return False
        return False

    def _import(self, local: str, target: list) -> None:
        f = self.f
        if f is None or f.is_module:
            self.ms.imports[local] = target
        elif local in f.s.globals_decl:
            # ``global x; import x``: binds the module's name, as a module-level import would
            self.ms.imports.setdefault(local, target)
        elif _lazy_import_shares_binding(self.ms, local, target, f.handlers > 0):
            f.local_names.discard(local)
        else:
            self._kill(local)   # P33: see summarise_common.lazy_import_shares_binding

    def _from_base(self, node: ast.ImportFrom) -> str | None:
        mod = node.module or ""
        level = node.level or 0
        if level == 0:
            return mod
        parts = self.ms.module.split(".")
        if not self.ms.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        base = ".".join(p for p in parts if p)
        if mod:
            base = f"{base}.{mod}" if base else mod
        return base or None

    # ------------------------------------------------------------------ assignments
    def _kill(self, name: str) -> None:
        f = self.f
        if f.is_module:
            self.ms.globals[name] = {"v": None}
            return
        if name in f.s.globals_decl:
            return
        f.alias.pop(name, None)
        f.s.locals[name] = {}
        f.local_names.add(name)

    def _tracked_attr(self, r: str) -> bool:
        if r.count(".") != 1:
            return False
        base = r.partition(".")[0]
        return base == "@self" or base == "@cls" or (self.f is not None and base in self.f.local_names)

    def _assign(self, target, value_node, ann=None, pre=None, ref=None) -> None:
        """``pre``: ``value(value_node)`` when the caller has it (``_call``'s), else None;
        ``ref``: ``chain(target)`` of an attribute or subscript target, when known."""
        f = self.f
        t = type(target)
        if f is not None and f.done:
            _forget_done(f, self.chain(target))
        if t is _Name:
            name = target.id
            v = pre if pre is not None else None if value_node is None else self.value(value_node)
            if ann is not None and v is None:
                ar = self.ann_ref(ann)
                v = {"ann": ar} if ar else None
            if f.is_module or name in f.s.globals_decl:
                line, col = self.loc(value_node if value_node is not None else target)
                if not f.is_module:
                    self._ev_r("gwr", target, name)
                prev = self.ms.globals.get(name)
                if not f.is_module and prev is not None and prev.get("v") is not None:
                    return   # ``global x; x = ...`` in a function: keep the module-level value
                self.ms.globals[name] = {"v": v, "l": line, "c": col}
                return
            f.local_names.add(name)
            vt = type(value_node)
            if (vt is _Name or vt is _Attribute or vt is _Subscript or _is_kw_const(value_node)) and ann is None:
                if vt is not _Constant and name != f.outer_self:
                    # ``value`` made this very ref (``{"r": chain}``), and adding ``name`` to
                    # the locals changes no ref unless it is the enclosing method's ``self``
                    r = v["r"] if v is not None else None
                else:
                    r = self.chain(value_node)
                if r is not None and r != name:
                    f.alias[name] = r
                    f.s.locals.pop(name, None)
                    return
            f.alias.pop(name, None)
            if v:
                line, col = self.loc(value_node if value_node is not None else target)
                f.s.locals[name] = {**v, "l": line, "c": col}
            else:
                f.s.locals[name] = {}
            return
        if t is _Attribute:
            self._recv(target.value)
            r = self.chain(target) if ref is None else ref
            if r and (self._tracked_attr(r) or f.is_module):
                # (without ``:=`` the receiver's walk cannot have changed a ref since ``pre``)
                ev = self._ev_wr(target, r, self.value(value_node) if pre is None or self.walrus else pre)
                if ann is not None:
                    ev["ann"] = self.ann_ref(ann)
                self._value_pos(ev, value_node)
            return
        if t is _Subscript:
            r = self.chain(target) if ref is None else ref
            self._expr(target.value, "expr")
            if r and r.endswith(".[]") and self._tracked_attr(r[:-3]):
                self._value_pos(self._ev_wr(target, r, self.value(value_node)), value_node)
            return
        if t is _Tuple or t is _List:
            pairs = _unpack_pairs(target, value_node)
            for el, val in pairs or ((el, None) for el in target.elts):
                self._assign(el.value if type(el) is _Starred else el, val)
            return
        if t is _Starred:
            self._assign(target.value, None)

    # ------------------------------------------------------------------ compound statements
    def _acquire_test(self, test):
        """``if lock.acquire(...)`` / ``if not lock.acquire(...)`` -> (call, negated)."""
        neg = False
        node = test
        if type(node) is ast.UnaryOp and type(node.op) is ast.Not:
            neg, node = True, node.operand
        if type(node) is ast.Await:
            node = node.value
        if type(node) is _Call and type(node.func) is _Attribute and node.func.attr == "acquire":
            return node, neg
        return None

    def _if(self, st: ast.If, stmts, i) -> bool:
        test = st.test
        tt = type(test)
        k = _const_truth(test, self.bconst) if self.bconst else None
        if k is False or (tt is _Constant and _never_true(test)):
            # ``if False:`` / ``if 0:``: a disabled block, or the other half of generated
            # sync/async twins (psycopg-pool's ``if False:  # ASYNC``; pymongo's ``if
            # _IS_SYNC:`` in a module that says ``_IS_SYNC = False``, P25); its body never runs
            o = st.orelse
            if not o:
                return False
            if len(o) == 1 and type(o[0]) is _If and self._is_elif(o[0]):
                return self._if(o[0], None, 0)
            return self._suite(o)
        if k is True or (tt is _Constant and _always_true(test)):
            # ``if not _IS_SYNC:`` there, or a literal ``if True:`` (psycopg's generated async
            # modules keep the sync twin in its ``else:``, P34): the else (elifs included)
            # never runs
            return self._suite(st.body)
        f = self.f
        h0 = f.held
        # (only a call, ``not``, ``await`` can be an acquire test)
        at = self._acquire_test(test) if tt is _Call or tt is _UnaryOp or tt is ast.Await else None
        h_body = h_else = h0
        p0 = f.probe
        p_body = p0
        if at is not None:
            call, neg = at
            idx = self._acquire(call, push=False, awaited=_is_awaited(test))
            if idx is not None:
                if neg:
                    h_else = h0 + (idx,)
                    rest = _lines(stmts[i:]) if stmts is not None else []
                    self._release_site(idx, call, rest, block=stmts)
                else:
                    h_body = h0 + (idx,)
                    self._release_site(idx, call, _lines(st.body))
                    if f.s.events[idx].get("m") == "try":
                        p_body = p0 + (idx,)
        else:
            events = f.s.events
            n0 = len(events)
            self._expr(test, "test")
            if len(events) > n0:
                # reads in the test, marked with the statement's end (check-then-act)
                end = st.end_lineno
                for ev in events[n0:]:
                    if ev["e"] in ("rd", "grd"):
                        ev["t"] = end
            if (tt is _Compare or tt is _BoolOp or tt is _UnaryOp) and _has_ordering_compare(test):
                f.s.orders = True
        d0 = f.done
        d_body, d_else = (self._done_tests(test) if tt is _Call or tt is _UnaryOp or tt is _BoolOp or tt is _Compare
                          else _NO_DONE)
        rules = None
        params = f.s.params
        if params:
            # (most tests name no parameter: ruled out here without the call)
            if tt is _Compare:
                left = test.left
                if type(left) is _Name and left.id in params:
                    rules = _param_rules(test, params, f.self_name)
            elif tt is _Name:
                if test.id in params:
                    rules = _param_rules(test, params, f.self_name)
            elif tt is _UnaryOp or tt is _BoolOp or tt is _Call:
                rules = _param_rules(test, params, f.self_name)
        events = f.s.events
        f.held = h_body
        if d_body:
            f.done = d0 + d_body
        f.probe = p_body
        n0 = len(events)
        # (only ``x is None`` / ``not x`` with no else can open a one-shot initialiser)
        oi = self._once_ref(st) if not st.orelse and (tt is _Compare or tt is _UnaryOp) else None
        tb = self._suite(st.body)
        if rules and rules[0]:
            tag_guarded(f, n0, rules[0])
        if oi is not None:
            tag_once(f, n0, oi)
        f.probe = p0
        hb = f.held
        f.held = h_else
        f.done = d0 + d_else
        te = False
        orelse = st.orelse
        if orelse:
            n0 = len(events)
            if len(orelse) == 1 and type(orelse[0]) is _If and self._is_elif(orelse[0]):
                te = self._if(orelse[0], None, 0)
            else:
                te = self._suite(orelse)
            if rules and rules[1]:
                tag_guarded(f, n0, rules[1])
        elif (tb and rules and rules[1] and stmts is not None and stmts is f.top
              and type(st.body[-1]) in (_LEAVES if f.top_with is None else _RETURN)):
            f.pg_after.append((len(events), rules[1]))
        # what follows runs only where the branch that always leaves did not
        f.done = d0 + (d_else if tb else ()) + (d_body if te else ())
        he = f.held
        if tb and te:
            f.held = h0
            return True
        f.held = he if tb else hb if te else _intersect(hb, he)
        return False

    def _once_target(self, node) -> str | None:
        """The ref of ``self.x`` (the method's own object) or of a name the function declares
        ``global``, as a one-shot initialiser tests and assigns it; None for anything else."""
        t = type(node)
        if t is _Attribute:
            if type(node.value) is not _Name:
                return None
        elif t is not _Name:
            return None
        r = self.chain(node)
        if t is _Name and r != node.id:
            return None
        return r if _once_ref_ok(r, self.f.s.globals_decl) else None

    def _once_ref(self, st: ast.If) -> str | None:
        """P24: is ``st`` (an ``if`` with no ``else``/``elif``) a one-shot initialiser, and of
        what? ``if self.x is None:`` / ``if not self.x:`` / ``if g is None:`` / ``if not g:``
        (``g`` declared ``global`` here) whose own top-level body assigns that same ref
        (``=`` or an annotated ``=``, not a falsy literal: ``None``, ``False``, ``0``, ``""``,
        an empty display), with no ``return``/``break``/``continue`` anywhere in the body
        (outside nested defs: the assignment is reached unless something raises). Its body
        then runs once per object (per process), unless the ref is unset again elsewhere:
        the reader's question (``asyncflow.once_only``). The ref, or None."""
        test = st.test
        tt = type(test)
        if tt is _Compare:
            ops = test.ops
            c = test.comparators[0]
            if len(ops) != 1 or type(ops[0]) is not ast.Is or type(c) is not _Constant or c.value is not None:
                return None
            node = test.left
        elif type(test.op) is _Not:
            node = test.operand
        else:
            return None
        r = self._once_target(node)
        if r is None:
            return None
        assigned = False
        for b in st.body:
            tb = type(b)
            if tb is ast.Assign:
                targets = b.targets
            elif tb is ast.AnnAssign and b.value is not None:
                targets = (b.target,)
            else:
                continue
            if not _falsy_literal(b.value) and any(self._once_target(t) == r for t in targets):
                assigned = True
                break
        if not assigned:
            return None
        for b in st.body:
            for n in _walk(b):
                if type(n) in _JUMPS:
                    return None
        return r

    def _done_tests(self, test) -> tuple[tuple, tuple]:
        """Refs whose ``done()`` is true when ``test`` is true, and when it is false:
        ``fut.done()``, ``not fut.done()``, joined by ``and`` (true) or ``or`` (false);
        ``p.poll() is not None`` / ``p.poll() is None`` (``_poll_test``)."""
        t = type(test)
        if t is _Compare:
            return self._poll_test(test)
        if t is _Call:
            fn = test.func
            if type(fn) is _Attribute and fn.attr == "done" and not test.args and not test.keywords:
                r = self.chain(fn.value)
                if r is not None and "()" not in r:
                    return (r,), ()
            return (), ()
        if t is ast.UnaryOp and type(test.op) is ast.Not:
            a, b = self._done_tests(test.operand)
            return b, a
        if t is ast.BoolOp:
            out = ()
            for v in test.values:
                a, b = self._done_tests(v)
                out += a if type(test.op) is ast.And else b
            return (out, ()) if type(test.op) is ast.And else ((), out)
        return (), ()

    def _poll_test(self, test) -> tuple[tuple, tuple]:
        """``X.poll() is not None`` (true: X's process has exited, ``poll()`` recorded its
        status) or ``X.poll() is None`` (false), ``X`` a ref without calls, the call maybe
        awaited: (X, "~<awaited>X") on that side, the second for a ``poll()`` that may be a
        project wrapper (events' ``dw``, P46)."""
        ops = test.ops
        if len(ops) != 1:
            return _NO_DONE
        op = type(ops[0])
        c = test.comparators[0]
        if (op is not ast.Is and op is not ast.IsNot) or type(c) is not ast.Constant or c.value is not None:
            return _NO_DONE
        call = test.left
        aw = 0
        if type(call) is ast.Await:
            call, aw = call.value, 1
        if type(call) is not _Call or call.args or call.keywords:
            return _NO_DONE
        fn = call.func
        if type(fn) is not _Attribute or fn.attr != "poll":
            return _NO_DONE
        r = self.chain(fn.value)
        if r is None or "()" in r:
            return _NO_DONE
        refs = (r, f"~{aw}{r}")
        return (refs, ()) if op is ast.IsNot else ((), refs)

    def _loop(self, st, stmts=None, i=0) -> bool:
        """``stmts[i:]``: what follows the loop in its block."""
        f = self.f
        f.loops.append((st.lineno, f.handlers))
        t = type(st)
        try:
            if t is not ast.While:
                f.loops.pop()  # the iterable is evaluated once
                self._expr(st.iter, "expr")
                f.loops.append((st.lineno, f.handlers))
                if t is ast.AsyncFor:
                    self._ev("await", st)
                self._assign(st.target, None)
                if type(st.target) is _Name and not f.is_module:
                    iv = self.value(st.iter)
                    if iv is not None:
                        # ``for t in self._threads``: t is an element of that container
                        f.s.locals[st.target.id] = {"elem": iv}
            else:
                self._expr(st.test, "test")
            h0 = f.held
            f.loop_after.append((st.body, stmts, i))
            try:
                tb = self._suite(st.body)
            finally:
                f.loop_after.pop()
        finally:
            f.loops.pop()
        hb = f.held
        f.held = h0 if tb else _intersect(h0, hb)
        if t is ast.While and not f.is_module:
            # left by its test turning false (no break): what that says holds after it
            d_after = self._done_tests(st.test)[1]
            if d_after and not _has_break(st.body):
                f.done += d_after
        if st.orelse:
            h1 = f.held
            if self._suite(st.orelse):
                f.held = h1
        elif t is ast.While and f.s.is_async and not f.is_module:
            q = self._empty_test(st.test)
            if q is not None and not _has_break(st.body):
                f.ne = (q, len(f.s.events), len(f.loops))
        return False

    def _empty_test(self, test) -> str | None:
        """The queue ref of a loop test true while it is empty: ``q.empty()``, ``not
        q.qsize()`` (a ref without calls or elements: the same object at the ``get()``)."""
        if type(test) is _UnaryOp and type(test.op) is _Not:
            test, meth = test.operand, "qsize"
        else:
            meth = "empty"
        if type(test) is not _Call or test.args or test.keywords:
            return None
        fn = test.func
        if type(fn) is not _Attribute or fn.attr != meth:
            return None
        r = self.chain(fn.value)
        if r is None or "()" in r or "[]" in r:
            return None
        return r

    def _loop_exit(self, node, how: str) -> None:
        # Leaving a loop: "err" when it is a raise or happens in an except handler inside
        # the loop (a consumer loop that stops on an error).
        f = self.f
        if f.loops:
            err = how == "raise" or f.handlers > f.loops[-1][1]
            if err and how != "raise" and f.hx is not None:
                self._ev("exit", node, x=how, err=err, hx=list(f.hx[0]), tb=[f.hx[1], f.hx[2]])
            else:
                self._ev("exit", node, x=how, err=err)

    def _with(self, st, stmts=None) -> bool:
        f = self.f
        h0 = f.held
        mode = "awith" if type(st) is ast.AsyncWith else "with"
        pushed = []
        ctx_before = len(f.ctx_acqs)
        for item in st.items:
            node = item.context_expr
            # ``with (tl := self._lock):`` enters the walrus's value; the name is an alias of it
            # (P48: ddtrace keeps the lock for a nested function)
            walrus = None
            if type(node) is ast.NamedExpr:
                walrus, node = node.target, node.value
            t = type(node)
            if t is _Call:
                self._call(node, "with")
            elif t is _Attribute:
                self._recv(node.value)
            else:
                self._expr(node, "with")
            r = self.chain(node)
            if r is not None:
                idx = self._ev("acq", node, r=r, m=mode)
                f.held = f.held + (idx,)
                pushed.append(idx)
            elif mode == "awith" and t is not ast.Await:
                # ``async with (a if c else b):``: no lock to name, but entering awaits
                # ``__aenter__`` (an awaited manager already made its await event)
                self._ev("await", node)
            if walrus is not None:
                self._assign(walrus, node)
            if item.optional_vars is not None:
                self._assign(item.optional_vars, node)
        # A ``with`` in the function's top-level block (or in such a ``with``) runs its body
        # once, straight through: an ``if p: return`` there leaves the function as it would
        # at the top level, so what follows, in the body and after the ``with``, runs only
        # where its ``else`` would (P47: pyrate-limiter's ``_force_async`` under the lock)
        top = f is not None and stmts is not None and stmts is f.top
        if top:
            top0, with0 = f.top, f.top_with
            f.top, f.top_with = st.body, st
        try:
            t = self._suite(st.body)
        finally:
            if top:
                f.top, f.top_with = top0, with0
        drop = set(pushed) | set(f.ctx_acqs[ctx_before:])
        del f.ctx_acqs[ctx_before:]
        f.held = tuple(x for x in f.held if x not in drop) if not t else h0
        return t

    def _try(self, st) -> bool:
        f = self.f
        h0 = f.held
        fin_rel = set()
        if st.finalbody and self.release_names:
            fin_rel = _released_refs(self, _lines(st.finalbody))
        f.fin.append(fin_rel)
        outs = []
        xc0 = f.xc
        handlers = st.handlers
        if handlers:
            f.xc = _merge_xc(xc0, _would_block_caught(handlers, self.errno_names))
        try:
            tb = self._suite(st.body)
        finally:
            f.xc = xc0
        hb = f.held
        if not tb:
            if st.orelse:
                if not self._suite(st.orelse):
                    outs.append(f.held)
            else:
                outs.append(hb)
        for h in st.handlers:
            f.held = h0
            if h.type is not None:
                self._expr(h.type, "expr")
            if h.name is not None:
                self._assign(self._handler_name(h), None)
            f.handlers += 1
            hx0 = f.hx
            f.hx = (_caught_names(h.type), st.lineno, h.lineno)
            try:
                if not self._suite(h.body):
                    outs.append(f.held)
            finally:
                f.handlers -= 1
                f.hx = hx0
        f.fin.pop()
        if st.finalbody:
            f.held = _intersect_all(outs, h0)
            tf = self._suite(st.finalbody)
            return tf or not outs
        if not outs:
            f.held = h0
            return True
        f.held = _intersect_all(outs, h0)
        return False

    # ------------------------------------------------------------------ definitions
    def _funcdef(self, node) -> None:
        outer_f, outer_cls = self.f, self.cls
        line, col, name = self.name_loc(node, "def")
        in_class = outer_cls is not None and outer_f is None
        decos = []
        kind = "method" if in_class else "function"
        for d in node.decorator_list:
            if outer_f is not None:
                self._expr(d, "expr")
            v = self.value(d) if outer_f is not None else self._class_value(d)
            if v is not None:
                decos.append(v)
            dr = _dotted_or_none(d)
            if dr in ("staticmethod",):
                kind = "staticmethod"
            elif dr in ("classmethod",):
                kind = "classmethod"
            elif dr in ("property", "functools.cached_property", "cached_property"):
                kind = "property"
            elif dr and dr.endswith((".setter", ".deleter")):
                kind = "setter"
        if in_class:
            qual = f"{outer_cls.qualname}.{name}"
        elif outer_f is not None and not outer_f.is_module:
            qual = f"{outer_f.s.qualname}.<locals>.{name}"
        else:
            qual = name
        if kind == "setter":
            qual += ".<setter>"
        p = node.args
        posonly = p.posonlyargs
        pargs = (*posonly, *p.args) if posonly else p.args
        positional = [x.arg for x in pargs]
        kwonly = p.kwonlyargs
        params = positional + [x.arg for x in kwonly] if kwonly else positional
        vararg = p.vararg.arg if p.vararg is not None else None
        fields = (qual, name, line, col, type(node) is _AsyncFunctionDef,
                  outer_cls.qualname if in_class else None,
                  kind if in_class else "function",
                  outer_f.s.qualname if outer_f is not None and not outer_f.is_module else None,
                  params, vararg, None, decos)
        s = FunctionSummary(*fields) if _FS_BY_POSITION else FunctionSummary(**dict(zip(_FS_HEAD, fields)))
        if in_class and kind != "staticmethod" and positional:
            s.self_name = positional[0]
        elif not in_class and positional and positional[0] == "self":
            s.self_name = "self"   # wrapper defined outside a class, e.g. in a decorator
        returns = node.returns
        s.return_ann = self.ann_ref(returns) if returns is not None else None
        defaults = p.defaults
        if defaults or kwonly:
            _literal_defaults(self, s, pargs[len(pargs) - len(defaults):], defaults)
            _literal_defaults(self, s, kwonly, p.kw_defaults)
        self_name = s.self_name
        for prms in (pargs, kwonly):
            for prm in prms:
                a = prm.annotation
                if a is not None:
                    pn = prm.arg
                    if pn != self_name:
                        ar = self.ann_ref(a)
                        if ar:
                            s.locals[pn] = {"ann": ar}
        self.ms.functions[qual] = s
        if in_class and kind != "setter":
            outer_cls.methods[name] = qual
        inner = _Func(s)
        if outer_f is not None and not outer_f.is_module and not in_class:
            os_ = outer_f.s
            if os_.self_name and os_.kind != "classmethod" and os_.self_name not in outer_f.local_names - set(os_.params):
                inner.outer_self = os_.self_name
            else:
                inner.outer_self = outer_f.outer_self
            if inner.outer_self in s.params or inner.outer_self == s.vararg:
                inner.outer_self = None
        self.f, self.cls = inner, None
        inner.top = node.body
        try:
            ended = self._block(node.body)
            exits = inner.exits + ([] if ended else [inner.held])
            s.exit_held = list(_intersect_all(exits, ()))
            s.assigned = sorted(inner.local_names)
            s.reads = sorted(inner.reads)
            s.attr_reads = sorted(inner.attr_reads)
            if inner.pg_after:
                tag_after_exits(inner)
            if inner.pg_seen:
                drop_rebound_guards(inner, self.nonlocal_names)
        finally:
            self.f, self.cls = outer_f, outer_cls
        if outer_f is not None and not outer_f.is_module and not in_class:
            outer_f.local_names.add(name)
            outer_f.s.locals[name] = {"r": "<def>" + qual.replace(".", ":")}

    def _class_value(self, node):
        saved = self.f
        self.f = None
        try:
            return self.value(node)
        finally:
            self.f = saved

    def _classdef(self, node: ast.ClassDef) -> None:
        outer_f, outer_cls = self.f, self.cls
        line, col, name = self.name_loc(node, "class")
        if outer_cls is not None and outer_f is None:
            qual = f"{outer_cls.qualname}.{name}"
        elif outer_f is not None and not outer_f.is_module:
            qual = f"{outer_f.s.qualname}.<locals>.{name}"
        else:
            qual = name
        bases = []
        for a in node.bases:
            if type(a) is _Starred:
                a = a.value
            r = self.chain(a) if outer_f is not None else self._class_chain(a)
            if r:
                bases.append(r)
        decos = [v for v in (self._class_value(d) for d in node.decorator_list) if v]
        cs = ClassSummary(qualname=qual, name=name, line=line, col=col, bases=bases, decorators=decos,
                          parent_func=outer_f.s.qualname if outer_f is not None and not outer_f.is_module else None)
        for dn in node.decorator_list:
            if type(dn) is _Call and (_dotted_or_none(dn.func) or "").split(".")[-1] == "guarded_by":
                names = self._string_args(dn)
                if len(names) >= 2:
                    cs.guards.setdefault(names[0], []).extend(names[1:])
        self.ms.classes[qual] = cs
        self.f, self.cls = None, cs
        try:
            self._block(node.body)
        finally:
            self.f, self.cls = outer_f, outer_cls
        if outer_f is not None and outer_f.is_module:
            self.ms.globals.setdefault(name, {"v": None})
            self.ms.globals[name] = {"v": {"r": "<class>" + qual.replace(".", ":")}, "l": line, "c": col}
        elif outer_f is not None:
            outer_f.local_names.add(name)
            outer_f.s.locals[name] = {"r": "<class>" + qual.replace(".", ":")}

    def _string_args(self, call) -> list[str]:
        return [v.value for _, _, v, _ in _call_args(call)
                if self._simple_string(v) and isinstance(v.value, str)]

    def _guards_literal(self, node) -> dict[str, list[str]]:
        """``{"_lock": ["a", "b"]}`` (lists, tuples, sets or a single string) -> guards."""
        out: dict[str, list[str]] = {}
        if type(node) is not _Dict:
            return out
        for k, v in zip(node.keys, node.values):
            if k is None or not self._simple_string(k):
                continue
            key = k.value
            vt = type(v)
            items = ([e.value if type(e) is _Starred else e for e in v.elts]
                     if vt is _List or vt is _Tuple or vt is _Set else [v])
            names = [x.value for x in items if self._simple_string(x) and isinstance(x.value, str)]
            if isinstance(key, str) and names:
                out.setdefault(key, []).extend(names)
        return out

    def _class_chain(self, node):
        saved = self.f
        self.f = None
        try:
            return self.chain(node)
        finally:
            self.f = saved

    def _class_small(self, small) -> None:
        cs = self.cls
        t = type(small)
        if t is ast.Assign or t is ast.AnnAssign:
            targets = small.targets if t is ast.Assign else [small.target]
            ann = small.annotation if t is ast.AnnAssign else None
            val = small.value
            for tg in targets:
                if type(tg) is _Name:
                    line, col = self.loc(val if val is not None else tg)
                    entry = {"v": self._class_value(val), "l": line, "c": col}
                    if ann is not None:
                        entry["ann"] = self._class_ann(ann)
                    cs.attrs[tg.id] = entry
                    if tg.id == "__guarded_by__":
                        for k, names in self._guards_literal(val).items():
                            cs.guards.setdefault(k, []).extend(names)

    def _class_ann(self, ann):
        saved = self.f
        self.f = None
        try:
            return self.ann_ref(ann)
        finally:
            self.f = saved

    # ------------------------------------------------------------------ expressions
    def _acquire(self, call, push: bool = True, awaited: bool = False) -> int | None:
        r = self.chain(call.func.value)
        for _, _, v, _ in _call_args(call):
            self._expr(v, "arg")
        if r is None:
            return None
        mode = "acquire" if _acquire_blocking(call) else "try"
        # ``aw``: awaited here (an async lock's acquire() only acquires when awaited)
        idx = self._ev("acq", call, r=r, m=mode, aw=awaited)
        if push:
            self.f.held = self.f.held + (idx,)
        return idx

    def _release(self, call) -> None:
        f = self.f
        r = self.chain(call.func.value)
        if r is None:
            return
        self._ev_r("rel", call, r)
        ev = f.s.events
        for j in range(len(f.held) - 1, -1, -1):
            if ev[f.held[j]]["r"] == r:
                f.held = f.held[:j] + f.held[j + 1:]
                break

    def _call(self, node, use: str, target=None, stmts=None, i=0, want=False) -> dict | None:
        """The walk of a call; ``want``: also return ``value(node)`` when the walk made it
        (None when it did not: an acquire, release, ``enter_context``, an unknown callee)."""
        f = self.f
        ne = f.ne
        if ne is not None:
            f.ne = None   # the first call after the loop takes it, whatever it is
        fn = node.func
        ft = type(fn)
        if ft is _Attribute:
            meth = fn.attr
            if meth == "acquire":
                self._recv(fn.value)
                idx = self._acquire(node, awaited=use == "await")
                if idx is not None and stmts is not None and use in ("discard", "local"):
                    self._release_site(idx, node, _lines(stmts[i:]), target if use == "local" else None, stmts)
                return
            if meth == "release" and not node.args and not node.keywords:
                self._recv(fn.value)
                self._release(node)
                return
            if meth == "enter_context" and _n_args(node) == 1:
                self._recv(fn.value)
                arg = _first_arg_value(node)
                self._expr(arg, "arg")
                r = self.chain(arg)
                if r is not None:
                    idx = self._ev("acq", node, r=r, m="ctx")
                    f.held = f.held + (idx,)
                    f.ctx_acqs.append(idx)
                return
            fr = None
            rv = fn.value
            if type(rv) is _Name:
                # ``x.m(...)``: ``_recv`` inlined; the callee's ref is known now when no
                # argument can rebind a name (no ``:=`` in the file)
                n = rv.id
                f.attr_reads.add(n)
                ref = self._name_ref(n)
                if ref != n:
                    f.attr_reads.add(ref.partition(".")[0])
                if not self.walrus:
                    fr = f"{ref}.{meth}"
            else:
                self._recv(rv)
        elif ft is _Name:
            # ``f(...)``: ``_read`` inlined, the callee's ref known now as for ``x.m(...)``
            fid = fn.id
            f.reads.add(fid)
            ref = self._name_ref(fid)
            if ref != fid:
                f.reads.add(ref.partition(".")[0])
            fr = None if self.walrus else ref
            if fid in _ORDERING_CALLS:
                f.s.orders = True
        else:
            fr = None
            fid = _nid(fn)
            if fid is not None:
                self._read(fid)
                if fid in _ORDERING_CALLS:
                    f.s.orders = True
            else:
                self._expr(fn, "expr")
        pos = node.args
        expr = self._expr
        value = self.value
        star_pos = star_kw = False
        if node.keywords:
            cargs = _call_args(node)
            for c in cargs:
                expr(c[2], "arg")
            if fr is None:
                fr = self.chain(fn)
            if fr is None:
                return
            args, kws = [], {}
            for kw, star, v, an in cargs:
                if kw is not None:
                    kws[kw] = value(v, 1)
                elif not star:
                    args.append(value(v, 1))
                elif type(an) is _Starred:
                    star_pos = True   # ``*a`` (``**k`` is a keyword node)
                else:
                    star_kw = True    # ``**k``: which parameters it binds is not known
        elif self.walrus:
            # positional arguments only: source order is list order. All the arguments
            # are walked before any value is read (a ``:=`` may rebind a name).
            for a in pos:
                expr(a.value if type(a) is _Starred else a, "arg")
            fr = self.chain(fn)
            if fr is None:
                return
            args = [value(a, 1) for a in pos if type(a) is not _Starred]
            star_pos = len(args) != len(pos)
            kws = {}
        else:
            # no ``:=`` in the file: walking an argument changes no ref, so each argument
            # is walked and valued in one go (a name: one ``_load`` gives both)
            args = []
            for a in pos:
                ta = type(a)
                if ta is _Name:
                    args.append({"r": self._load(a)})
                elif ta is _Constant:
                    v = a.value   # ``_expr`` of a constant inlined: only keyword constants are read
                    if v is None or v is True or v is False:
                        self._read(str(v))
                    args.append(value(a, 1))
                elif ta is _Starred:
                    expr(a.value, "arg")
                    star_pos = True
                else:
                    expr(a, "arg")
                    args.append(value(a, 1))
            if fr is None:
                fr = self.chain(fn)
                if fr is None:
                    return
            kws = {}
        # the event in one display (``_ev_start`` inlined: a call is the most common event)
        if self.ascii:
            line, col = node.lineno, node.col_offset + 1
        else:
            line, col = self.loc(node)
        held = f.held
        if f.loops:
            ev = {"e": "call", "l": line, "c": col, "h": [*held], "lp": f.loops[-1][0],
                  "f": fr, "a": args, "k": kws, "u": use}
        else:
            ev = {"e": "call", "l": line, "c": col, "h": [*held], "f": fr, "a": args, "k": kws, "u": use}
        if target is not None:
            ev["t"] = target
        if star_pos:
            ev["sa"] = 1
        if star_kw:
            ev["sk"] = 1
        if f.xc:
            ev["xc"] = list(f.xc)
        if f.done:
            recv, _, meth = fr.rpartition(".")
            if meth in _DONE_POLLS:
                if recv in f.done:
                    ev["dn"] = 1
                elif meth == "wait":
                    dw = [[d[2:], int(d[1])] for d in f.done if d[0] == "~"]
                    if dw:
                        ev["dw"] = dw
        if f.probe:
            ev["pb"] = list(f.probe)
        if ne is not None and use in _NE_USES and len(f.loops) == ne[2] and _only_reads(f.s.events, ne[1], len(f.s.events)):
            ev["ne"] = [ne[0]]
        f.s.events.append(ev)
        if want and fr != "@super":
            return {"call": fr, "a": [*args], "k": {**kws} if kws else {}}
        return None

    def _expr(self, node, use: str = "expr", target=None, stmts=None, i=0) -> None:
        # node types in order of frequency (stdlib: names and constants are 60% of calls)
        t = type(node)
        if t is _Name:
            if self.f is not None:
                self._load(node)
            return
        if t is _Constant:
            v = node.value
            if v is None or v is True or v is False:
                self._read(str(v))
            return
        if t is _Call:
            self._call(node, use, target, stmts, i)
            return
        if t is _Attribute:
            v = node.value
            if type(v) is _Name:
                # ``x.attr`` (most attribute loads): ``_tracked_attr`` of ``chain`` inlined
                n = v.id
                f = self.f
                if f is None:
                    return   # no reads to record, no events (class body)
                if f.is_module:
                    ref = n
                else:
                    ref = f.alias.get(n)   # ``_name_ref`` inlined
                    if ref is None:
                        if n == f.self_name:
                            ref = f.self_ref
                        elif n == f.outer_self and n not in f.local_names:
                            ref = "@self"
                        else:
                            ref = n
                if "." not in ref and (ref == "@self" or ref == "@cls" or ref in f.local_names):
                    # the read event, ``_ev_r`` inlined (the commonest event after calls)
                    if self.ascii:
                        line, col = node.lineno, node.col_offset + 1
                    else:
                        line, col = self.loc(node)
                    r = f"{ref}.{node.attr}"
                    if f.loops:
                        ev = {"e": "rd", "l": line, "c": col, "h": [*f.held], "lp": f.loops[-1][0], "r": r}
                    else:
                        ev = {"e": "rd", "l": line, "c": col, "h": [*f.held], "r": r}
                    f.s.events.append(ev)
                f.attr_reads.add(n)   # ``_read(n, True)`` inlined
                if ref != n:
                    f.attr_reads.add(ref.partition(".")[0])
                return
            r = self.chain(node)
            if r is not None and self._tracked_attr(r):
                self._ev_r("rd", node, r)
                n = _nid(v)
                if n is not None:
                    self._read(n, attr=True)
                return
            self._recv(v)
            return
        if node is None:
            return
        if t is ast.Compare:
            self._expr(node.left, "expr")
            for c in node.comparators:
                self._expr(c, "expr")
            return
        if t is ast.BinOp:
            self._expr(node.left, "expr")
            self._expr(node.right, "expr")
            return
        if t is _Subscript:
            self._expr(node.value, "expr")
            sl = node.slice
            if type(sl) is _Tuple:
                for el in sl.elts:
                    if type(el) is not ast.Slice:
                        self._expr(el, "expr")
            elif type(sl) is not ast.Slice:
                self._expr(sl, "expr")
            return
        if t is _Tuple or t is _List or t is _Set:
            eu = _element_use(use)
            for el in node.elts:
                self._expr(el.value if type(el) is _Starred else el, eu)
            return
        if t is ast.UnaryOp:
            self._expr(node.operand, "expr")
            return
        if t is ast.BoolOp:
            for v in node.values:
                self._expr(v, "expr")
            return
        if t is _Dict:
            eu = _element_use(use)
            for k, v in zip(node.keys, node.values):
                if k is not None:
                    self._expr(k, "expr")
                self._expr(v, eu)
            return
        if t is ast.JoinedStr:
            # an implicit concatenation ("a" f"{x}") is one JoinedStr too: its parts run
            # here like a lone f-string's (awaits, calls, reads)
            for part in node.values:
                if type(part) is ast.FormattedValue:
                    self._expr(part.value, "expr")
            return
        if t is ast.IfExp:
            self._expr(node.test, "test")
            f = self.f
            if f is None:
                self._expr(node.body, use)
                self._expr(node.orelse, use)
                return
            d0 = f.done
            d_body, d_else = self._done_tests(node.test)
            f.done = d0 + d_body
            self._expr(node.body, use)
            f.done = d0 + d_else
            self._expr(node.orelse, use)
            f.done = d0
            return
        if t is ast.Await:
            self._expr(node.value, "await")
            self._ev("await", node)
            return
        if t is ast.Yield or t is ast.YieldFrom:
            if node.value is not None:
                self._expr(node.value, "expr")
            self._ev("yield", node)
            return
        if t is _Lambda:
            # deferred code (see the linker for callables passed as arguments), but the
            # names it reads are still uses of those names
            self._lambda_reads(node.body)
            return
        if t in _COMPS or t is ast.DictComp:
            # an ``async for`` of a list/set/dict comprehension steps by awaiting in this
            # function's frame (at its target); a generator expression's runs in its own
            # frame, when something iterates it, so it records nothing here
            steps = t is not _GeneratorExp
            for comp in node.generators:
                self._expr(comp.iter, "expr")
                if comp.is_async and steps:
                    self._ev("await", comp.target)
                for c in comp.ifs:
                    self._expr(c, "test")
            if t is ast.DictComp:
                self._expr(node.key, "expr")
                self._expr(node.value, "container")
            else:
                self._expr(node.elt, "container")
            return
        if t is ast.NamedExpr:
            self._expr(node.value, "local")
            self._assign(node.target, node.value)
            return
        if t is _Starred:
            self._expr(node.value, use)
            return
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, ast.expr):
                self._expr(ch, "expr")

    def _lambda_reads(self, body) -> None:
        """Every name libcst would see under a lambda body (attribute names aside)."""
        stack = [body]
        while stack:
            n = stack.pop()
            t = type(n)
            if t is _Name:
                self._read(n.id)
            elif t is _Constant:
                k = _nid(n)
                if k is not None:
                    self._read(k)
            elif t is _Attribute:
                k = _nid(n.value)
                if k is not None:
                    self._read(k, attr=True)
                else:
                    stack.append(n.value)
            elif t is ast.keyword:
                if n.arg is not None:
                    self._read(n.arg)
                stack.append(n.value)
            elif t is ast.arguments:
                for a in (*n.posonlyargs, *n.args, n.vararg, *n.kwonlyargs, n.kwarg):
                    if a is not None:
                        self._read(a.arg)
                stack.extend(n.defaults)
                stack.extend(d for d in n.kw_defaults if d is not None)
            else:
                stack.extend(ast.iter_child_nodes(n))

    # ------------------------------------------------------------------ release analysis (LW121)
    def _release_site(self, idx: int, call, rest: list, result: str | None = None, block=None) -> None:
        """``result``: the local the acquire's result went to (``ok = lock.acquire(...)``);
        ``block``: the statement list holding the acquire (``rest`` is the end of it)."""
        f = self.f
        ev = f.s.events[idx]
        r = ev["r"]
        if any(r in fr for fr in f.fin):
            status, at = "ok", None
        else:
            after = None
            la = f.loop_after
            if block is not None and la and la[-1][0] is block:
                # the acquire sits directly in a loop's body: a ``break`` goes on after it
                _, outer, j = la[-1]
                after = _lines(outer[j:]) if outer is not None else []
            status, at = _release_status(self, rest, r, result, after)
        site = {"i": idx, "r": r, "l": ev["l"], "c": ev["c"], "status": status, "at": None}
        if at is not None:
            # the statement that may leave with the lock held: its line and column
            site["at"], site["ac"] = self.loc(at)
        f.s.acquire_sites.append(site)


# ---------------------------------------------------------------------- module helpers
def _literal_defaults(b: _Builder, s: FunctionSummary, args, defaults) -> None:
    """``s.defaults``: the parameters whose default is a literal (a constant or ``-int``),
    and its value."""
    for a, d in zip(args, defaults):
        t = type(d)
        if t is _Constant or (t is _UnaryOp and type(d.op) is ast.USub):
            v = b.value(d)
            if v is not None:
                s.defaults[a.arg] = v


def _caught_names(t) -> list:
    """Last dotted names of the exception types an ``except`` clause catches (``*``: bare)."""
    if t is None:
        return ["*"]
    out = []
    for e in (t.elts if type(t) is _Tuple else (t,)):
        te = type(e)
        out.append(e.id if te is _Name else e.attr if te is _Attribute else "?")
    return out


def _forget_done(f, r) -> None:
    """``r`` (or what it is part of) is assigned: its ``done()`` fact no longer holds."""
    if r:
        f.done = tuple(d for d in f.done if not _done_forgotten(d, r))


def _string_token_count(text: str) -> int:
    """String literals in the source of one expression (implicit concatenation: 2+)."""
    n = depth = 0
    fstart = getattr(tokenize, "FSTRING_START", None)   # 3.12+: f-strings are token runs
    fend = getattr(tokenize, "FSTRING_END", None)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == fstart:
                n += depth == 0
                depth += 1
            elif tok.type == fend:
                depth -= 1
            elif tok.type == tokenize.STRING and depth == 0:
                n += 1   # not a string nested in an f-string's braces (PEP 701)
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return n


def _is_awaited(test) -> bool:
    if type(test) is ast.UnaryOp:
        test = test.operand
    return type(test) is ast.Await


def _cst_names(node):
    """Identifiers libcst holds as ``Name`` nodes under an expression (attribute names,
    keyword-argument names and lambda parameters included)."""
    stack = [node]
    while stack:
        n = stack.pop()
        t = type(n)
        if t is _Name:
            yield n.id
        elif t is _Constant:
            k = _nid(n)
            if k is not None:
                yield k
        elif t is _Attribute:
            yield n.attr
            stack.append(n.value)
        elif t is ast.keyword:
            if n.arg is not None:
                yield n.arg
            stack.append(n.value)
        elif t is ast.arguments:
            for a in (*n.posonlyargs, *n.args, n.vararg, *n.kwonlyargs, n.kwarg):
                if a is not None:
                    yield a.arg
            stack.extend(n.defaults)
            stack.extend(d for d in n.kw_defaults if d is not None)
        else:
            stack.extend(ast.iter_child_nodes(n))


def _unpack_pairs(target, value) -> list | None:
    """``a, b = X(), Y()``: (target element, value) pairs, when the two sides match one
    to one and no value reads a name being assigned (``a, b = b, a`` is left unknown)."""
    vt = type(value)
    if not (vt is _Tuple or vt is _List) or len(value.elts) != len(target.elts):
        return None
    if any(type(e) is _Starred for e in (*target.elts, *value.elts)):
        return None
    names = {el.id for el in target.elts if type(el) is _Name}
    for v in value.elts:
        for n in _cst_names(v):
            if n in names:
                return None
    return list(zip(target.elts, value.elts))


def _sub_suites(b: _Builder, st) -> list:
    """Statement lists under a compound statement, in libcst's order (body, else,
    finally, handlers; an ``elif`` chain flattened)."""
    t = type(st)
    if t is _If:
        out = [st.body]
        o = st.orelse
        if o:
            if len(o) == 1 and type(o[0]) is _If and b._is_elif(o[0]):
                out.extend(_sub_suites(b, o[0]))
            else:
                out.append(o)
        return out
    if t in _TRY:
        out = [st.body]
        if st.orelse:
            out.append(st.orelse)
        if st.finalbody:
            out.append(st.finalbody)
        out.extend(h.body for h in st.handlers)
        return out
    if t is ast.For or t is ast.AsyncFor or t is ast.While:
        return [st.body, st.orelse] if st.orelse else [st.body]
    if t in _WITH or t in _DEFS:
        return [st.body]
    return []


def _would_block_caught(handlers, errno_names: bool = True) -> list[str]:
    """What ``summary.WOULD_BLOCK`` names the handlers catch (their last dotted part), plus
    ``ERRNO_WOULD_BLOCK`` when a handler's body mentions ``EAGAIN``/``EWOULDBLOCK``
    (``errno_names`` False: the file cannot, see ``_Builder.errno_names``)."""
    out = []
    for h in handlers:
        types = h.type.elts if type(h.type) is _Tuple else [h.type] if h.type is not None else []
        for t in types:
            last = _dotted(t).rsplit(".", 1)[-1]
            if last in WOULD_BLOCK:
                out.append(last)
        if errno_names and _mentions_errno(h.body):
            out.append(ERRNO_WOULD_BLOCK)
    return out


def _mentions_errno(stmts) -> bool:
    """A name or attribute ``EAGAIN``/``EWOULDBLOCK`` used in the statements."""
    for st in stmts:
        for n in ast.walk(st):
            t = type(n)
            if (t is _Name and n.id in WOULD_BLOCK_ERRNOS) or (t is _Attribute and n.attr in WOULD_BLOCK_ERRNOS):
                return True
    return False


def _merge_xc(outer: tuple, new: list) -> tuple:
    return tuple(sorted(set(outer).union(new))) if new else outer


def _dotted(node) -> str:
    n = _nid(node)
    if n is not None:
        return n
    if type(node) is _Attribute:
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _dotted_or_none(node) -> str | None:
    if type(node) is _Attribute or _nid(node) is not None:
        d = _dotted(node)
        return d or None
    return None


def _const_bool(node):
    if type(node) is not _Constant:
        return None
    v = node.value
    if v is True or v is False:
        return v
    if type(v) is int:
        return v != 0
    return None


def _is_minus_one_or_none(node) -> bool:
    if type(node) is _Constant and node.value is None:
        return True
    return (type(node) is ast.UnaryOp and type(node.op) is ast.USub
            and type(node.operand) is _Constant and type(node.operand.value) is int and node.operand.value == 1)


def _acquire_blocking(call) -> bool:
    """True for a plain blocking acquire; False for ``blocking=False``, a timeout, or
    anything not known at a glance (a try-lock adds no order edge: precision first)."""
    pos = 0
    for kw, star, v, _ in _call_args(call):
        if star:
            return False
        if kw is None:
            if pos == 0:
                if _const_bool(v) is not True:
                    return False
            elif pos == 1 and not _is_minus_one_or_none(v):
                return False
            pos += 1
        elif kw == "blocking" and _const_bool(v) is not True or kw == "timeout" and not _is_minus_one_or_none(v):
            return False
    return True


def _has_ordering_compare(test) -> bool:
    stack = [test]
    while stack:
        n = stack.pop()
        t = type(n)
        if t is ast.Compare:
            left = n.left
            ops = n.ops
            if len(ops) == 1:
                # (most tests: one operator, seldom an ordering one)
                if type(ops[0]) in _ORDER_OP_TYPES and _same_shape_keys(left, n.comparators[0]):
                    return True
            else:
                a = left
                for op, comp in zip(ops, n.comparators):
                    if type(op) in _ORDER_OP_TYPES and _same_shape_keys(a, comp):
                        return True
                    a = comp
            tl = type(left)
            if tl is ast.Compare or tl is ast.BoolOp or tl is ast.UnaryOp:
                stack.append(left)
        elif t is ast.BoolOp:
            stack.extend(n.values)
        elif t is ast.UnaryOp:
            stack.append(n.operand)
    return False


def _same_shape_keys(a, b) -> bool:
    """An ordering between two objects: ``a < b``, ``id(a) < id(b)``, ``a.key < b.key``
    (not ``src.balance < amount``)."""
    na, nb = _nid(a), _nid(b)
    if na is not None and nb is not None:
        return na != nb
    ta, tb = type(a), type(b)
    if ta is _Call and tb is _Call:
        fa, fb = _nid(a.func), _nid(b.func)
        return fa is not None and fb is not None and fa == fb and fa in ("id", "hash", "key")
    if ta is _Attribute and tb is _Attribute:
        return a.attr == b.attr and _dotted(a.value) != _dotted(b.value)
    return False


_JUMPS = frozenset({ast.Return, ast.Break, ast.Continue})


def _falsy_literal(node) -> bool:
    """``None``, ``False``, ``0``, ``""``, ``b""`` or an empty list/tuple/set/dict display:
    a value that leaves ``if not x:`` (or ``if x is None:``) true for the next call."""
    t = type(node)
    if t is _Constant:
        return not node.value
    if t is _List or t is _Tuple or t is _Set:
        return not node.elts
    if t is _Dict:
        return not node.keys
    return False


def _walk(node):
    """Nodes under a statement (or statement line), not entering nested defs/lambdas."""
    stack = [node]
    while stack:
        n = stack.pop()
        t = type(n)
        if t is _Line:
            stack.extend(n.body)
            continue
        if t in _DEFS:
            continue
        yield n
        stack.extend(ast.iter_child_nodes(n))


def _release_calls_in(b: _Builder, node, out: set) -> None:
    """Refs whose ``.release()`` is called in the statements (not in nested defs)."""
    if not b.release_names:
        return
    for n in _walk(node):
        if type(n) is _Call:
            fn = n.func
            if type(fn) is _Attribute and fn.attr == "release":
                r = b.chain(fn.value)
                if r:
                    out.add(r)


def _released_refs(b: _Builder, stmts) -> set:
    out: set = set()
    for st in stmts:
        _release_calls_in(b, st, out)
    return out


def _top_release(b: _Builder, st, r: str) -> bool:
    if type(st) is not _Line:
        return False
    out: set = set()
    _release_calls_in(b, st, out)
    return r in out


def _has_call(st) -> bool:
    """Can the statement raise mid-way? Calls (not ``ev.is_set()``: ``NO_RAISE_METHODS``),
    and ``yield``: a generator is resumed with ``throw()`` (a ``@contextmanager`` re-raises
    the with-body's exception at its yield)."""
    for n in _walk(st):
        t = type(n)
        if t is _Call:
            fn = n.func
            if not (type(fn) is _Attribute and fn.attr in _NO_RAISE and not n.args and not n.keywords):
                return True
        elif t is ast.Yield or t is ast.YieldFrom:
            return True
    return False


_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def _has_break(body: list) -> bool:
    """Is there a ``break`` of the loop whose body this is (not of a nested loop)?"""
    stack = list(body)
    while stack:
        n = stack.pop()
        t = type(n)
        if t is ast.Break:
            return True
        if t in _DEFS:
            continue
        if t in _LOOPS:
            stack.extend(n.orelse)   # a break in a nested loop's ``else`` is this loop's
            continue
        stack.extend(ast.iter_child_nodes(n))
    return False


def _held_breaks(b: _Builder, st, r: str, called: bool) -> list:
    """The ``break`` statements of the loop being walked inside ``st`` (an ``if``/``try``
    of its body; nested loops keep theirs) that no release of ``r`` precedes in their own
    block: for each, can a call raise on the way to it (``called``: before ``st``)? A
    ``with``/``match`` is not entered: its breaks are left out, as before P28."""
    out: list = []

    def walk_block(stmts, called) -> None:
        for s in stmts:
            t = type(s)
            if t is _FunctionDef or t is _AsyncFunctionDef or t is _ClassDef:
                continue
            if _top_release(b, s, r):
                return
            if t is _Line:
                for small in s.body:
                    if type(small) is ast.Break:
                        out.append(called)
                        return
                    if _has_call(small):
                        called = True
                continue
            if t is _If:
                c = called or _has_call(s.test)
                walk_block(_lines(s.body), c)
                walk_block(_lines(s.orelse), c)
            elif t in _TRY:
                if s.finalbody and r in _released_refs(b, _lines(s.finalbody)):
                    return   # released on every way out of it, breaks included
                walk_block(_lines(s.body), called)
                for h in s.handlers:
                    walk_block(_lines(h.body), True)   # some call in the body raised
                walk_block(_lines(s.orelse), called or _has_call(_Line(s.body)))
            if _has_call(s):
                called = True

    walk_block([st], called)
    return out


def _branch_escapes_unreleased(b: _Builder, st, r: str) -> list:
    """Return/raise statements in a compound statement not preceded (in their own block)
    by a release of ``r``: paths that leave with the lock held."""
    bad = []

    def walk_block(stmts):
        released = False
        for s in stmts:
            t = type(s)
            if t is _FunctionDef or t is _AsyncFunctionDef or t is _ClassDef:
                continue
            if _top_release(b, s, r):
                released = True
            if released:
                continue
            if t is _Line:
                for small in s.body:
                    if type(small) is _Return or type(small) is _Raise:
                        bad.append(small)
                continue
            if t in _TRY and s.finalbody and r in _released_refs(b, _lines(s.finalbody)):
                released = True
                continue
            for sub in _sub_suites(b, s):
                walk_block(_lines(sub))
    walk_block([st])
    return bad


def _release_status(b: _Builder, rest: list, r: str, result: str | None = None,
                    after: list | None = None, called: bool | None = None):
    """Can the release of ``r`` be skipped after an acquire followed by ``rest``?
    ``result``: the local holding the acquire's result, if any. ``after``: when the acquire
    sits directly in a loop's body, the statements after that loop, where a ``break``
    holding the lock goes on (P28: ``if ready: break`` into ``try: ... finally:
    lock.release()``); that path is judged only when ``after`` releases ``r`` (else it
    hands the lock on, or leaks it: left alone, as before). ``called`` is set when judging
    such a path (``rest`` is then ``after``): whether a call that can raise ran since the
    acquire; a ``try`` whose ``finally`` releases is "no-finally" after one. Returns the
    status and the statement that may leave with ``r`` held (or None): the caller records
    its line and column."""
    if after is not None and r not in _released_refs(b, after):
        after = None
    if r not in _released_refs(b, rest) and after is None:
        return "missing", None   # not released here at all: an acquirer, or a leak
    saw_call = bool(called)
    for k, st in enumerate(rest):
        t = type(st)
        if t is _FunctionDef or t is _AsyncFunctionDef or t is _ClassDef:
            continue
        if t is _If and result and not st.orelse and _tests_false(st.test, result):
            continue   # ``if not ok: raise``: that path never took the lock
        if t in _TRY and st.finalbody and r in _released_refs(b, _lines(st.finalbody)):
            if called is not None and saw_call:
                return "no-finally", None
            return "ok", None
        if after is not None and (t is _If or t in _TRY):
            for c in _held_breaks(b, st, r, saw_call):
                status, at = _release_status(b, after, r, None, None, c)
                if status != "ok":
                    return status, at
        if _released_only_on_reraise(b, st, r):
            # ``try: ... except: lock.release(); raise``: the exception path is covered;
            # whether normal paths release is the question for the statements after it
            if r not in _released_refs(b, rest[k + 1:]):
                return "missing", None   # held on every normal return: an acquirer by design
            saw_call = True
            continue
        if _top_release(b, st, r):
            return ("no-finally", None) if saw_call else ("ok", None)
        if t is _Line:
            for small in st.body:
                ts = type(small)
                if ts is _Return or ts is _Raise:
                    return "early-exit", small
                if ts is ast.Break and after is not None:
                    return _release_status(b, after, r, None, None, saw_call)
                if _has_call(small):
                    saw_call = True
            continue
        # compound statement
        if t in _WITH and r in _released_refs(b, [st]):
            # release inside a with body: treat like straight-line code in it
            status, at = _release_status(b, _lines(st.body), r)
            return status if status != "ok" or not saw_call else "no-finally", at
        bad = _branch_escapes_unreleased(b, st, r)
        if bad:
            return "early-exit", bad[0]
        rel_inside = r in _released_refs(b, [st])
        if rel_inside:
            if t is _If and _all_branches_release(b, st, r):
                return ("no-finally", None) if saw_call else ("ok", None)
            if t is _If and _releasing_branches_leave(b, st, r):
                # ``if closed: lock.release(); return``: that path is closed; every other
                # path goes on holding the lock, and the rest decides for them
                status, at = _release_status(b, rest[k + 1:], r, result, after,
                                             saw_call if called is not None else None)
                if status == "missing":
                    return "partial", st
                if status == "ok" and (saw_call or _calls_before_release(b, st, r)):
                    return "no-finally", None
                return status, at
            return "partial", st
        if _has_call(st):
            saw_call = True
    return "missing", None


def _released_only_on_reraise(b: _Builder, st, r: str) -> bool:
    """A ``try`` whose only releases of ``r`` are in handlers that end by re-raising."""
    if type(st) not in _TRY or not st.handlers:
        return False
    if r in _released_refs(b, _lines(st.body)):
        return False
    if st.orelse and r in _released_refs(b, _lines(st.orelse)):
        return False
    if st.finalbody and r in _released_refs(b, _lines(st.finalbody)):
        return False
    releasing = [h for h in st.handlers if r in _released_refs(b, _lines(h.body))]
    if not releasing:
        return False
    for h in releasing:
        stmts = _lines(h.body)
        last = stmts[-1] if stmts else None
        if not (type(last) is _Line and type(last.body[-1]) is _Raise):
            return False
        if not any(_top_release(b, x, r) for x in stmts):
            return False   # released inside a nested branch only: leave it to the general rules
    return True


# ``if`` tests on a parameter (events' "pg"): the constants a call can pass for it, and those
# of them under which a test on it is true
_PG_CONSTS = (True, False, None)
_PG_FALSY = [False, None]


def _param_rules(test, params: list, self_name) -> tuple[tuple, tuple]:
    """For ``if test:``, which constant arguments rule out each branch: (body, else), each a
    tuple of (param, [constants]) pairs. The test is a parameter (``p``, ``not p``), a
    comparison of one with ``True``/``False``/``None`` (``is``, ``is not``, ``==``, ``!=``),
    or ``and`` (body) / ``or`` (else) of such tests; anything else rules nothing out."""
    t = type(test)
    if t is _Name:
        n = test.id
        if n in params and n != self_name:
            return ((n, _PG_FALSY),), ((n, [True]),)
        return (), ()
    if t is _UnaryOp:
        if type(test.op) is _Not:
            body, other = _param_rules(test.operand, params, self_name)
            return other, body
        return (), ()
    if t is _Compare:
        if len(test.ops) != 1:
            return (), ()
        left, right, op = test.left, test.comparators[0], type(test.ops[0])
        if (type(left) is not _Name or left.id not in params or left.id == self_name
                or type(right) is not _Constant or op not in _PG_OPS):
            return (), ()
        c = right.value
        if not (c is True or c is False or c is None):
            return (), ()
        n = left.id
        # ``p is c`` is false for every other constant, true only for c
        body, other = ((n, [x for x in _PG_CONSTS if x is not c]),), ((n, [c]),)
        return (body, other) if op is ast.Is or op is ast.Eq else (other, body)
    if t is _Call:
        # ``isinstance(p, C)`` / ``isinstance(p, (C, D))``: an argument made by a subclass
        # of one of them never reaches the else (P38); the body is not ruled out by it
        func, args = test.func, test.args
        if (type(func) is not _Name or func.id != "isinstance" or len(args) != 2 or test.keywords
                or type(args[0]) is not _Name or args[0].id not in params or args[0].id == self_name):
            return (), ()
        cls = args[1]
        refs = [_dotted_or_none(e) for e in (cls.elts if type(cls) is _Tuple else (cls,))]
        refs = isinstance_classes(refs)
        return ((), ((args[0].id, {"isa": refs}),)) if refs else ((), ())
    if t is _BoolOp:
        body, other = (), ()
        for v in test.values:
            b, o = _param_rules(v, params, self_name)
            body += b
            other += o
        # ``a and b``: the body needs every operand true; ``a or b``: the else, every one false
        return (body, ()) if type(test.op) is ast.And else ((), other)
    return (), ()


_PG_OPS = (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)


def _name_of(node):
    return node.id if type(node) is _Name else None


def _not_operand(node):
    return node.operand if type(node) is _UnaryOp and type(node.op) is _Not else None


def _and_or(node):
    if type(node) is not _BoolOp:
        return None
    return ("and" if type(node.op) is ast.And else "or"), node.values[0]


def _const_truth(test, consts: dict) -> bool | None:
    """The value of an ``if`` test on a module constant, if known (``literals.const_truth``)."""
    return const_truth(test, consts, _name_of, _not_operand, _and_or)


def _never_true(test) -> bool:
    """``False``, ``0``, ``None`` written as the test: the branch is dead code."""
    if type(test) is not ast.Constant:
        return False
    v = test.value
    return v is False or v is None or (type(v) is int and v == 0)


def _always_true(test) -> bool:
    """``True`` or a non-zero integer written as the test: its ``else`` is dead code."""
    if type(test) is not ast.Constant:
        return False
    v = test.value
    return v is True or (type(v) is int and v != 0)


def _tests_false(test, name: str) -> bool:
    """``not name``, ``name is False``, ``name == False``."""
    t = type(test)
    if t is ast.UnaryOp:
        return type(test.op) is ast.Not and type(test.operand) is _Name and test.operand.id == name
    if t is ast.Compare and len(test.ops) == 1 and type(test.ops[0]) in (ast.Is, ast.Eq):
        right = test.comparators[0]
        return (type(test.left) is _Name and test.left.id == name
                and type(right) is ast.Constant and right.value is False)
    return False


def _if_branches(b: _Builder, st: ast.If) -> tuple[list, bool]:
    """The statement lists of an if/elif/else chain, and whether it has an ``else``."""
    out = [st.body]
    o = st.orelse
    while o:
        if len(o) == 1 and type(o[0]) is _If and b._is_elif(o[0]):
            out.append(o[0].body)
            o = o[0].orelse
        else:
            out.append(o)
            return out, True
    return out, False


def _calls_before_release(b: _Builder, st: ast.If, r: str) -> bool:
    """Can the ``if`` raise while ``r`` is held: a call in a test, in a branch that does
    not release, or before the release in one that does."""
    node = st
    while True:
        if _has_call(node.test):
            return True
        o = node.orelse
        if len(o) == 1 and type(o[0]) is _If and b._is_elif(o[0]):
            node = o[0]
            continue
        break
    for body in _if_branches(b, st)[0]:
        for x in _lines(body):
            if _top_release(b, x, r):
                break
            if _has_call(x):
                return True
    return False


def _releasing_branches_leave(b: _Builder, st: ast.If, r: str) -> bool:
    """Every branch that releases ``r`` does so in its own straight-line code and then
    returns or raises, and some path (a branch without a release, or no ``else``) falls
    through still holding it."""
    branches, has_else = _if_branches(b, st)
    through = not has_else
    for body in branches:
        stmts = _lines(body)
        if r not in _released_refs(b, stmts):
            through = True
            continue
        last = stmts[-1] if stmts else None
        if not (type(last) is _Line and type(last.body[-1]) in (_Return, _Raise)):
            return False
        if not any(_top_release(b, x, r) for x in stmts) or \
                any(type(x) is not _Line and r in _released_refs(b, [x]) for x in stmts):
            return False
    return through


def _all_branches_release(b: _Builder, st: ast.If, r: str) -> bool:
    if r not in _released_refs(b, _lines(st.body)):
        return False
    o = st.orelse
    if not o:
        return False
    if len(o) == 1 and type(o[0]) is _If and b._is_elif(o[0]):
        return _all_branches_release(b, o[0], r)
    return r in _released_refs(b, _lines(o))
