"""One libcst pass per file -> :class:`ModuleSummary` (see ``summary.py`` for the layout).

The fallback summariser: ``summarise.py`` uses ``summarise_ast`` (CPython's own parser, ~20x
cheaper with positions) and comes here only for files the running interpreter cannot parse
but libcst can (syntax newer than the interpreter). It is also the reference the ast walk
is tested against (``tests/test_summarise_equivalence.py``): change both together.

Pure function of its inputs: nothing here knows about other modules, so the result can be
cached per file content. Only ``PositionProvider`` metadata is used (the scope and
qualified-name providers cost ~10x, see NOTES.md); names are resolved later by the linker.

The walk is a hand-written recursive descent over statement and expression nodes rather
than a ``CSTVisitor``: we need to thread "which locks are held here" through branches,
``try``/``finally`` and ``with`` bodies, which a visitor's flat callbacks make awkward.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

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
from lockwatch.static.summary import done_forgotten as _done_forgotten

__all__ = ["ParseError", "summarise_module"]


def summarise_module(source: str, path: str, module: str, is_package: bool = False) -> ModuleSummary:
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        raise ParseError(f"syntax error at line {e.raw_line}: {e.message}") from None
    except RecursionError:
        raise ParseError("nesting too deep to parse") from None
    try:
        positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
    except RecursionError:
        raise ParseError("nesting too deep to compute positions") from None
    ms = new_summary(source, path, module, is_package)
    b = _Builder(ms, positions)
    cands = _bool_candidates(tree)
    if cands:
        b.bconst = _bool_constants(source, None, cands)
    try:
        b.run(tree)
    except RecursionError:
        raise ParseError("nesting too deep to summarise") from None
    return ms


def _string_args(call: cst.Call) -> list[str]:
    out = []
    for a in call.args:
        v = a.value
        if isinstance(v, cst.SimpleString) and isinstance(v.evaluated_value, str):
            out.append(v.evaluated_value)
    return out


def _guards_literal(node) -> dict[str, list[str]]:
    """``{"_lock": ["a", "b"]}`` (lists, tuples, sets or a single string) -> guards."""
    out: dict[str, list[str]] = {}
    if not isinstance(node, cst.Dict):
        return out
    for el in node.elements:
        if not isinstance(el, cst.DictElement) or not isinstance(el.key, cst.SimpleString):
            continue
        key = el.key.evaluated_value
        v = el.value
        items = [e.value for e in v.elements] if isinstance(v, (cst.List, cst.Tuple, cst.Set)) else [v]
        names = [x.evaluated_value for x in items
                 if isinstance(x, cst.SimpleString) and isinstance(x.evaluated_value, str)]
        if isinstance(key, str) and names:
            out.setdefault(key, []).extend(names)
    return out


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
        # the loops being walked, innermost last: (its body's statements, the block holding
        # the loop, the loop's index there): where a ``break`` goes on (LW121)
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


class _Builder:
    def __init__(self, ms: ModuleSummary, positions):
        self.ms = ms
        self.pos = positions
        self.f: _Func | None = None
        self.cls: ClassSummary | None = None
        # names declared ``nonlocal`` so far: a nested function may rebind such a parameter
        self.nonlocal_names: set[str] = set()
        # module names that are a True/False literal for the whole file (P25, literals.py)
        self.bconst: dict[str, bool] = {}

    # ------------------------------------------------------------------ helpers
    def loc(self, node) -> tuple[int, int]:
        try:
            p = self.pos[node].start
            return p.line, p.column + 1
        except KeyError:
            return 0, 0

    def run(self, tree: cst.Module) -> None:
        s = FunctionSummary(qualname="<module>", name="<module>", line=1, col=1)
        self.ms.functions["<module>"] = s
        self.f = _Func(s, is_module=True)
        self._block(tree.body)
        s.reads = sorted(self.f.reads)
        s.attr_reads = sorted(self.f.attr_reads)

    def _ev(self, kind: str, node, **kw) -> int:
        line, col = self.loc(node)
        ev = {"e": kind, "l": line, "c": col, "h": list(self.f.held)}
        if self.f.loops:
            ev["lp"] = self.f.loops[-1][0]
        ev.update(kw)
        if self.f.xc and kind == "call":
            ev["xc"] = list(self.f.xc)
        self.f.s.events.append(ev)
        return len(self.f.s.events) - 1

    def _value_pos(self, i: int, value_node) -> None:
        """``vp`` on a ``wr`` whose value starts on another line than its target (see
        ``summary``): a lock is named by its factory call's line."""
        if value_node is not None:
            ev = self.f.s.events[i]
            line, col = self.loc(value_node)
            if line != ev["l"]:
                ev["vp"] = [line, col]

    def _read(self, node: cst.Name, attr: bool = False) -> None:
        """A load of a name: as a value (``reads``) or only to reach an attribute or call a
        method on it (``attr_reads``); the difference tells "handed on" from "used here"."""
        f = self.f
        if f is None:
            return
        out = f.attr_reads if attr else f.reads
        out.add(node.value)
        r = self.chain(node)
        if r and r != node.value:
            out.add(r.split(".")[0])   # an alias: a use of what it stands for

    def _recv(self, node) -> None:
        """The receiver of an attribute access or method call."""
        if isinstance(node, cst.Name):
            self._read(node, attr=True)
        else:
            self._expr(node, "expr")

    # ------------------------------------------------------------------ refs and values
    def chain(self, node) -> str | None:
        """Dotted ref of a name/attribute/call/subscript chain, aliases substituted."""
        if isinstance(node, cst.Name):
            n = node.value
            f = self.f
            if f is not None and not f.is_module:
                if n in f.alias:
                    return f.alias[n]
                s = f.s
                if n == s.self_name:
                    return "@cls" if s.kind == "classmethod" else "@self"
                if n == f.outer_self and n not in f.local_names:
                    return "@self"
            return n
        if isinstance(node, cst.Attribute):
            base = self.chain(node.value)
            return None if base is None else f"{base}.{node.attr.value}"
        if isinstance(node, cst.Call):
            fn = node.func
            if isinstance(fn, cst.Name) and fn.value == "super":
                return "@super"
            if isinstance(fn, cst.Name) and fn.value == "type" and len(node.args) == 1:
                inner = self.chain(node.args[0].value)
                if inner == "@self":
                    return "@cls"
            base = self.chain(fn)
            return None if base is None else f"{base}.()"
        if isinstance(node, cst.Subscript):
            f = self.f
            if (f is not None and isinstance(node.value, cst.Name) and f.s.vararg == node.value.value
                    and not f.s.params and len(node.slice) == 1):
                idx = node.slice[0].slice
                if isinstance(idx, cst.Index) and isinstance(idx.value, cst.Integer) and idx.value.value == "0":
                    return "@self"   # ``args[0]`` in a method-decorator wrapper
            base = self.chain(node.value)
            return None if base is None else f"{base}.[]"
        return None

    def ann_ref(self, node) -> str | None:
        """A type annotation -> ref of the class (``Optional[X]``/``X | None`` -> X)."""
        if node is None:
            return None
        if isinstance(node, cst.Annotation):
            node = node.annotation
        if isinstance(node, (cst.SimpleString,)):
            text = node.evaluated_value if isinstance(node.evaluated_value, str) else ""
            text = text.strip()
            if text.startswith("Optional[") and text.endswith("]"):
                text = text[9:-1].strip()
            return text if _IDENT.match(text or "") else None
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            for side in (node.left, node.right):
                if not (isinstance(side, cst.Name) and side.value == "None"):
                    return self.ann_ref(side)
            return None
        if isinstance(node, cst.Subscript):
            base = self.chain(node.value)
            if base and base.split(".")[-1] == "Optional" and node.slice:
                sl = node.slice[0].slice
                if isinstance(sl, cst.Index):
                    return self.ann_ref(sl.value)
            return None
        if isinstance(node, (cst.Name, cst.Attribute)):
            r = self.chain(node)
            if r is None or r.startswith("@"):
                return None
            return r
        return None

    def value(self, node, depth: int = 0) -> dict | None:
        if node is None or depth > 3:
            return None
        if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)):
            if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
                return {"const": {"True": True, "False": False, "None": None}[node.value]}
            r = self.chain(node)
            return {"r": r} if r else None
        if isinstance(node, cst.Call):
            fr = self.chain(node.func)
            if fr == "@super":
                return {"r": "@super"}
            args, kws = [], {}
            for a in node.args:
                if a.keyword is not None:
                    kws[a.keyword.value] = self.value(a.value, depth + 1)
                elif not a.star:
                    args.append(self.value(a.value, depth + 1))
            return {"call": fr, "a": args, "k": kws}
        if isinstance(node, cst.Integer):
            try:
                return {"const": int(node.value.replace("_", ""), 0)}
            except ValueError:
                return None
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
            v = self.value(node.expression, depth)
            return {"const": -v["const"]} if v else None
        if isinstance(node, cst.Float):
            try:
                return {"const": float(node.value.replace("_", ""))}
            except ValueError:
                return None
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            return {"cont": self.value(node.elt, depth + 1)}
        if isinstance(node, cst.DictComp):
            return {"cont": self.value(node.value, depth + 1)}
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            els = [e for e in node.elements if isinstance(e, cst.Element)]
            return {"cont": self.value(els[0].value, depth + 1) if els else None}
        if isinstance(node, cst.Dict):
            els = [e for e in node.elements if isinstance(e, cst.DictElement)]
            return {"cont": self.value(els[0].value, depth + 1) if els else None}
        if isinstance(node, cst.Lambda):
            return {"lambda": self.value(node.body, depth + 1)}
        if isinstance(node, cst.Await):
            return self.value(node.expression, depth)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            # the text of a short str literal (an implicit concatenation of plain strings is
            # one ``ast.Constant``: the same text); bytes and f-string parts give None
            v = node.evaluated_value
            return _str_value(v) if type(v) is str else {"const": "str"}
        if isinstance(node, cst.FormattedString):
            return {"const": "str"}
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return self._flags(node)
        return None

    def _flags(self, node) -> dict | None:
        """``A | B | ...`` -> ``{"flags": refs}`` (see ``summarise_common.flags_value``)."""
        refs, todo = [], [node]
        while todo:
            n = todo.pop()
            if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.BitOr):
                todo.append(n.right)
                todo.append(n.left)
            elif isinstance(n, (cst.Name, cst.Attribute)):
                refs.append(self.chain(n))
        return _flags_value(refs)

    # ------------------------------------------------------------------ statements
    def _suite(self, suite) -> bool:
        if isinstance(suite, cst.IndentedBlock):
            return self._block(suite.body)
        if isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                if self._small(small, (), 0):
                    return True
            return False
        return False

    def _block(self, stmts) -> bool:
        """Walk statements; True when the block always ends in return/raise/break/continue.
        A ``done()`` fact learnt in the block (after ``if not fut.done(): return``) ends
        with it."""
        f = self.f
        d0 = f.done if f is not None else ()
        try:
            for i, st in enumerate(stmts):
                try:
                    if self._stmt(st, stmts, i):
                        return True
                except RecursionError:
                    continue   # absurdly nested statement: skip it, keep the rest of the file
            return False
        finally:
            if f is not None:
                f.done = d0
                f.ne = None

    def _stmt(self, st, stmts, i) -> bool:
        if isinstance(st, cst.SimpleStatementLine):
            for small in st.body:
                if self._small(small, stmts, i):
                    return True
            return False
        if isinstance(st, cst.FunctionDef):
            self._funcdef(st)
            return False
        if isinstance(st, cst.ClassDef):
            self._classdef(st)
            return False
        if self.cls is not None and self.f is None:
            # class-body control flow (``if TYPE_CHECKING:``, ``try:``): collect definitions
            subs = _sub_suites(st)
            if isinstance(st, cst.If):
                k = _const_truth(st.test, self.bconst) if self.bconst else None
                if k is False or _never_true(st.test):
                    subs = subs[1:]   # ``if False:`` never defines its body's methods
                elif k is True or _always_true(st.test):
                    subs = subs[:1]
            for sub in subs:
                self._suite(sub)
            return False
        if isinstance(st, cst.If):
            return self._if(st, stmts, i)
        if isinstance(st, (cst.For, cst.While)):
            return self._loop(st, stmts, i)
        if isinstance(st, cst.With):
            return self._with(st, stmts)
        if isinstance(st, (cst.Try, cst.TryStar)):
            return self._try(st)
        if isinstance(st, cst.Match):
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
        f = self.f
        if self.cls is not None and f is None:
            self._class_small(small)
            return False
        if isinstance(small, cst.Expr):
            v = small.value
            if isinstance(v, cst.Call):
                self._call(v, "discard", stmts=stmts, i=i)
            else:
                self._expr(v, "discard")
            return False
        if isinstance(small, cst.Assign):
            target = small.targets[0].target if len(small.targets) == 1 else None
            use, t = "expr", None
            if isinstance(target, cst.Name):
                use, t = ("local", target.value)
            elif isinstance(target, cst.Attribute):
                use, t = "attr", self.chain(target)
            elif isinstance(target, cst.Subscript):
                use, t = "container", self.chain(target)
            self._expr(small.value, use, target=t, stmts=stmts, i=i)
            for tg in small.targets:
                self._assign(tg.target, small.value)
            return False
        if isinstance(small, cst.AnnAssign):
            if small.value is not None:
                use = "local" if isinstance(small.target, cst.Name) else "attr"
                self._expr(small.value, use)
            self._assign(small.target, small.value, ann=small.annotation)
            return False
        if isinstance(small, cst.AugAssign):
            self._expr(small.value, "expr")
            tg = small.target
            if isinstance(tg, cst.Attribute):
                self._expr(tg, "expr")
                r = self.chain(tg)
                if r and self._tracked_attr(r):
                    self._ev("wr", tg, r=r, v=None)
            elif isinstance(tg, cst.Name):
                if not f.is_module and tg.value in f.s.globals_decl:
                    self._ev("grd", tg, r=tg.value)
                    self._ev("gwr", tg, r=tg.value)
                self._kill(tg.value)
            else:
                self._expr(tg, "expr")
            return False
        if isinstance(small, cst.Return):
            if small.value is not None:
                self._expr(small.value, "return")
                v = self.value(small.value)
                if v is not None:
                    f.s.returns.append(v)
            f.exits.append(f.held)
            self._loop_exit(small, "return")
            return True
        if isinstance(small, cst.Raise):
            if small.exc is not None:
                self._expr(small.exc, "expr")
            self._loop_exit(small, "raise")
            return True
        if isinstance(small, cst.Break):
            self._loop_exit(small, "break")
            return True
        if isinstance(small, cst.Continue):
            return True
        if isinstance(small, cst.Import):
            for alias in small.names:
                dotted = _dotted(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self._import(alias.asname.name.value, ["module", dotted])
                else:
                    top = dotted.split(".")[0]
                    self._import(top, ["module", top])
            return False
        if isinstance(small, cst.ImportFrom):
            base = self._from_base(small)
            if base is None:
                return False
            if isinstance(small.names, cst.ImportStar):
                if f.is_module:
                    self.ms.star_imports.append(base)
                return False
            for alias in small.names:
                name = _dotted(alias.name)
                local = name
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                self._import(local, ["from", base, name])
            return False
        if isinstance(small, cst.Global):
            f.s.globals_decl.extend(n.name.value for n in small.names)
            return False
        if isinstance(small, cst.Nonlocal):
            self.nonlocal_names.update(n.name.value for n in small.names)
            return False
        if isinstance(small, cst.Del):
            self._expr(small.target, "expr")
            return False
        if isinstance(small, cst.Assert):
            self._expr(small.test, "expr")
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

    def _from_base(self, node: cst.ImportFrom) -> str | None:
        mod = _dotted(node.module) if node.module is not None else ""
        level = len(node.relative)
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
        parts = r.split(".")
        if len(parts) != 2:
            return False
        base = parts[0]
        return base == "@self" or base == "@cls" or (self.f is not None and base in self.f.local_names)

    def _assign(self, target, value_node, ann=None) -> None:
        f = self.f
        if f is not None and f.done:
            r = self.chain(target)
            if r:
                f.done = tuple(d for d in f.done if not _done_forgotten(d, r))
        if isinstance(target, cst.Name):
            name = target.value
            line, col = self.loc(value_node if value_node is not None else target)
            v = self.value(value_node)
            if ann is not None and v is None:
                ar = self.ann_ref(ann)
                v = {"ann": ar} if ar else None
            if f.is_module or name in f.s.globals_decl:
                if not f.is_module:
                    self._ev("gwr", target, r=name)
                prev = self.ms.globals.get(name)
                if not f.is_module and prev is not None and prev.get("v") is not None:
                    return   # ``global x; x = ...`` in a function: keep the module-level value
                self.ms.globals[name] = {"v": v, "l": line, "c": col}
                return
            f.local_names.add(name)
            if isinstance(value_node, (cst.Name, cst.Attribute, cst.Subscript)) and ann is None:
                r = self.chain(value_node)
                if r is not None and r != name:
                    f.alias[name] = r
                    f.s.locals.pop(name, None)
                    return
            f.alias.pop(name, None)
            f.s.locals[name] = dict(v, l=line, c=col) if v else {}
            return
        if isinstance(target, cst.Attribute):
            self._recv(target.value)
            r = self.chain(target)
            if r and (self._tracked_attr(r) or f.is_module):
                kw = {"r": r, "v": self.value(value_node)}
                if ann is not None:
                    kw["ann"] = self.ann_ref(ann)
                self._value_pos(self._ev("wr", target, **kw), value_node)
            return
        if isinstance(target, cst.Subscript):
            r = self.chain(target)
            self._expr(target.value, "expr")
            if r and r.endswith(".[]") and self._tracked_attr(r[:-3]):
                self._value_pos(self._ev("wr", target, r=r, v=self.value(value_node)), value_node)
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            pairs = _unpack_pairs(target, value_node)
            for el, val in pairs or ((el, None) for el in target.elements):
                self._assign(el.value, val)
            return
        if isinstance(target, cst.StarredElement):
            self._assign(target.value, None)

    # ------------------------------------------------------------------ compound statements
    def _acquire_test(self, test):
        """``if lock.acquire(...)`` / ``if not lock.acquire(...)`` -> (call, negated)."""
        neg = False
        node = test
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            neg, node = True, node.expression
        if isinstance(node, cst.Await):
            node = node.expression
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "acquire":
            return node, neg
        return None

    def _if(self, st: cst.If, stmts, i) -> bool:
        k = _const_truth(st.test, self.bconst) if self.bconst else None
        if k is False or _never_true(st.test):
            # ``if False:`` / ``if 0:``: a disabled block, or the other half of generated
            # sync/async twins (psycopg-pool's ``if False:  # ASYNC``; pymongo's ``if
            # _IS_SYNC:`` in a module that says ``_IS_SYNC = False``, P25); its body never runs
            o = st.orelse
            if o is None:
                return False
            if isinstance(o, cst.If):
                return self._if(o, None, 0)
            return self._suite(o.body)
        if k is True or _always_true(st.test):
            # ``if not _IS_SYNC:`` there, or a literal ``if True:`` (psycopg's generated async
            # modules keep the sync twin in its ``else:``, P34): the else (elifs included)
            # never runs
            return self._suite(st.body)
        f = self.f
        h0 = f.held
        at = self._acquire_test(st.test)
        h_body = h_else = h0
        p0 = f.probe
        p_body = p0
        if at is not None:
            call, neg = at
            idx = self._acquire(call, push=False, awaited=_is_awaited(st.test))
            if idx is not None:
                if neg:
                    h_else = h0 + (idx,)
                    rest = list(stmts[i + 1:]) if stmts else []
                    self._release_site(idx, call, rest, block=stmts)
                else:
                    h_body = h0 + (idx,)
                    self._release_site(idx, call, _stmts_of(st.body))
                    if f.s.events[idx].get("m") == "try":
                        p_body = p0 + (idx,)
        else:
            n0 = len(f.s.events)
            self._expr(st.test, "test")
            if len(f.s.events) > n0:
                # reads in the test, marked with the statement's end (check-then-act)
                try:
                    end = self.pos[st].end.line
                except KeyError:
                    end = 0
                for ev in f.s.events[n0:]:
                    if ev["e"] in ("rd", "grd"):
                        ev["t"] = end
            if _has_ordering_compare(st.test):
                f.s.orders = True
        d0 = f.done
        d_body, d_else = self._done_tests(st.test)
        rules = _param_rules(st.test, f.s.params, f.s.self_name) if f.s.params else None
        events = f.s.events
        f.held = h_body
        if d_body:
            f.done = d0 + d_body
        f.probe = p_body
        n0 = len(events)
        # (only ``x is None`` / ``not x`` with no else can open a one-shot initialiser)
        oi = (self._once_ref(st) if st.orelse is None
              and isinstance(st.test, (cst.Comparison, cst.UnaryOperation)) else None)
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
        if st.orelse is not None:
            n0 = len(events)
            if isinstance(st.orelse, cst.If):
                te = self._if(st.orelse, None, 0)
            else:
                te = self._suite(st.orelse.body)
            if rules and rules[1]:
                tag_guarded(f, n0, rules[1])
        elif (tb and rules and rules[1] and stmts is not None and stmts is f.top
              and _ends_leaving(st.body, raise_too=f.top_with is None)):
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
        ``global``, as a one-shot initialiser tests and assigns it; None for anything else
        (the ast walk's ``_once_target``)."""
        if isinstance(node, cst.Attribute):
            if not isinstance(node.value, cst.Name):
                return None
        elif not isinstance(node, cst.Name):
            return None
        r = self.chain(node)
        if isinstance(node, cst.Name) and r != node.value:
            return None
        return r if _once_ref_ok(r, self.f.s.globals_decl) else None

    def _once_ref(self, st: cst.If) -> str | None:
        """P24: the ref ``st`` initialises once, or None (the ast walk's ``_once_ref``, which
        says which shapes)."""
        test = st.test
        if isinstance(test, cst.Comparison):
            cs = test.comparisons
            if (len(cs) != 1 or not isinstance(cs[0].operator, cst.Is)
                    or not isinstance(cs[0].comparator, cst.Name) or cs[0].comparator.value != "None"):
                return None
            node = test.left
        elif isinstance(test.operator, cst.Not):
            node = test.expression
        else:
            return None
        r = self._once_target(node)
        if r is None:
            return None
        body = st.body
        smalls = []
        if isinstance(body, cst.SimpleStatementSuite):
            smalls = list(body.body)
        else:
            for b in body.body:
                if isinstance(b, cst.SimpleStatementLine):
                    smalls.extend(b.body)
        assigned = False
        for b in smalls:
            if isinstance(b, cst.Assign):
                targets = [t.target for t in b.targets]
            elif isinstance(b, cst.AnnAssign) and b.value is not None:
                targets = [b.target]
            else:
                continue
            if not _falsy_literal(b.value) and any(self._once_target(t) == r for t in targets):
                assigned = True
                break
        if not assigned or _jumps(body):
            return None
        return r

    def _done_tests(self, test) -> tuple[tuple, tuple]:
        """Refs whose ``done()`` is true when ``test`` is true, and when it is false:
        ``fut.done()``, ``not fut.done()``, joined by ``and`` (true) or ``or`` (false);
        ``p.poll() is not None`` / ``p.poll() is None`` (``_poll_test``)."""
        if isinstance(test, cst.Comparison):
            return self._poll_test(test)
        if isinstance(test, cst.Call):
            fn = test.func
            if isinstance(fn, cst.Attribute) and fn.attr.value == "done" and not test.args:
                r = self.chain(fn.value)
                if r is not None and "()" not in r:
                    return (r,), ()
            return (), ()
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            a, b = self._done_tests(test.expression)
            return b, a
        if isinstance(test, cst.BooleanOperation):
            a1, b1 = self._done_tests(test.left)
            a2, b2 = self._done_tests(test.right)
            return (a1 + a2, ()) if isinstance(test.operator, cst.And) else ((), b1 + b2)
        return (), ()

    def _poll_test(self, test) -> tuple[tuple, tuple]:
        """``X.poll() is not None`` (true: X's process has exited, ``poll()`` recorded its
        status) or ``X.poll() is None`` (false), ``X`` a ref without calls, the call maybe
        awaited: (X, "~<awaited>X") on that side, the second for a ``poll()`` that may be a
        project wrapper (events' ``dw``, P46)."""
        if len(test.comparisons) != 1:
            return (), ()
        ct = test.comparisons[0]
        op = ct.operator
        c = ct.comparator
        if not isinstance(op, (cst.Is, cst.IsNot)) or not (isinstance(c, cst.Name) and c.value == "None"):
            return (), ()
        call = test.left
        aw = 0
        if isinstance(call, cst.Await):
            call, aw = call.expression, 1
        if not isinstance(call, cst.Call) or call.args:
            return (), ()
        fn = call.func
        if not isinstance(fn, cst.Attribute) or fn.attr.value != "poll":
            return (), ()
        r = self.chain(fn.value)
        if r is None or "()" in r:
            return (), ()
        refs = (r, f"~{aw}{r}")
        return (refs, ()) if isinstance(op, cst.IsNot) else ((), refs)

    def _loop(self, st, stmts=None, i=0) -> bool:
        """``stmts[i + 1:]``: what follows the loop in its block."""
        f = self.f
        f.loops.append((self.loc(st)[0], f.handlers))
        try:
            if isinstance(st, cst.For):
                f.loops.pop()  # the iterable is evaluated once
                self._expr(st.iter, "expr")
                f.loops.append((self.loc(st)[0], f.handlers))
                if st.asynchronous is not None:
                    self._ev("await", st)
                self._assign(st.target, None)
                if isinstance(st.target, cst.Name) and not f.is_module:
                    iv = self.value(st.iter)
                    if iv is not None:
                        # ``for t in self._threads``: t is an element of that container
                        f.s.locals[st.target.value] = {"elem": iv}
            else:
                self._expr(st.test, "test")
            h0 = f.held
            body = st.body.body if isinstance(st.body, cst.IndentedBlock) else None
            f.loop_after.append((body, stmts, i))
            try:
                tb = self._suite(st.body)
            finally:
                f.loop_after.pop()
        finally:
            f.loops.pop()
        hb = f.held
        f.held = h0 if tb else _intersect(h0, hb)
        if isinstance(st, cst.While) and not f.is_module:
            # left by its test turning false (no break): what that says holds after it
            d_after = self._done_tests(st.test)[1]
            if d_after and not _has_break(st.body):
                f.done += d_after
        if st.orelse is not None:
            h1 = f.held
            if self._suite(st.orelse.body):
                f.held = h1
        elif isinstance(st, cst.While) and f.s.is_async and not f.is_module:
            q = self._empty_test(st.test)
            if q is not None and not _has_break(st.body):
                f.ne = (q, len(f.s.events), len(f.loops))
        return False

    def _empty_test(self, test) -> str | None:
        """The queue ref of a loop test true while it is empty: ``q.empty()``, ``not
        q.qsize()`` (a ref without calls or elements: the same object at the ``get()``)."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, meth = test.expression, "qsize"
        else:
            meth = "empty"
        if not isinstance(test, cst.Call) or test.args:
            return None
        fn = test.func
        if not isinstance(fn, cst.Attribute) or fn.attr.value != meth:
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

    def _with(self, st: cst.With, stmts=None) -> bool:
        f = self.f
        h0 = f.held
        mode = "awith" if st.asynchronous is not None else "with"
        pushed = []
        ctx_before = len(f.ctx_acqs)
        for item in st.items:
            node = item.item
            # ``with (tl := self._lock):`` enters the walrus's value; the name is an alias of it (P48)
            walrus = None
            if isinstance(node, cst.NamedExpr):
                walrus, node = node.target, node.value
            if isinstance(node, cst.Call):
                self._call(node, "with")
            elif isinstance(node, cst.Attribute):
                self._recv(node.value)
            else:
                self._expr(node, "with")
            r = self.chain(node)
            if r is not None:
                idx = self._ev("acq", node, r=r, m=mode)
                f.held = f.held + (idx,)
                pushed.append(idx)
            elif mode == "awith" and not isinstance(node, cst.Await):
                # ``async with (a if c else b):``: no lock to name, but entering awaits
                # ``__aenter__`` (an awaited manager already made its await event)
                self._ev("await", node)
            if walrus is not None:
                self._assign(walrus, node)
            if item.asname is not None:
                self._assign(item.asname.name, node)
        # (P47: a top-level ``with``'s body counts as top level; see the ast walk's _with)
        top = (f is not None and stmts is not None and stmts is f.top
               and isinstance(st.body, cst.IndentedBlock))
        if top:
            top0, with0 = f.top, f.top_with
            f.top, f.top_with = list(st.body.body), st
        try:
            t = self._block(f.top) if top else self._suite(st.body)
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
        if st.finalbody is not None:
            fin_rel = _released_refs(self, _stmts_of(st.finalbody.body))
        f.fin.append(fin_rel)
        outs = []
        xc0 = f.xc
        f.xc = _merge_xc(xc0, _would_block_caught(st.handlers))
        try:
            tb = self._suite(st.body)
        finally:
            f.xc = xc0
        hb = f.held
        if not tb:
            if st.orelse is not None:
                if not self._suite(st.orelse.body):
                    outs.append(f.held)
            else:
                outs.append(hb)
        for h in st.handlers:
            f.held = h0
            if h.type is not None:
                self._expr(h.type, "expr")
            if h.name is not None:
                self._assign(h.name.name, None)
            f.handlers += 1
            hx0 = f.hx
            f.hx = (_caught_names(h.type), self.loc(st)[0], self.loc(h)[0])
            try:
                if not self._suite(h.body):
                    outs.append(f.held)
            finally:
                f.handlers -= 1
                f.hx = hx0
        f.fin.pop()
        if st.finalbody is not None:
            f.held = _intersect_all(outs, h0)
            tf = self._suite(st.finalbody.body)
            return tf or not outs
        if not outs:
            f.held = h0
            return True
        f.held = _intersect_all(outs, h0)
        return False

    # ------------------------------------------------------------------ definitions
    def _funcdef(self, node: cst.FunctionDef) -> None:
        outer_f, outer_cls = self.f, self.cls
        name = node.name.value
        in_class = outer_cls is not None and outer_f is None
        decos = []
        kind = "method" if in_class else "function"
        for d in node.decorators:
            if outer_f is not None:
                self._expr(d.decorator, "expr")
            else:
                # decorators in a class body run at class creation; no events, just values
                pass
            v = self.value(d.decorator) if outer_f is not None else self._class_value(d.decorator)
            if v is not None:
                decos.append(v)
            dr = _dotted_or_none(d.decorator)
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
        p = node.params
        positional = [x.name.value for x in (*p.posonly_params, *p.params)]
        params = positional + [x.name.value for x in p.kwonly_params]
        vararg = p.star_arg.name.value if isinstance(p.star_arg, cst.Param) else None
        line, col = self.loc(node.name)
        s = FunctionSummary(
            qualname=qual, name=name, line=line, col=col,
            is_async=node.asynchronous is not None,
            cls=outer_cls.qualname if in_class else None,
            kind=kind if in_class else "function",
            parent=outer_f.s.qualname if outer_f is not None and not outer_f.is_module else None,
            params=params, vararg=vararg, decorators=decos,
        )
        if in_class and kind != "staticmethod" and positional:
            s.self_name = positional[0]
        elif not in_class and positional and positional[0] == "self":
            s.self_name = "self"   # wrapper defined outside a class, e.g. in a decorator
        s.return_ann = self.ann_ref(node.returns.annotation) if node.returns is not None else None
        for prm in (*p.posonly_params, *p.params, *p.kwonly_params):
            d = prm.default
            if d is not None:
                # literal defaults only (an f-string is no ``ast.Constant``: left out)
                if isinstance(d, cst.FormattedString) or (
                        isinstance(d, cst.ConcatenatedString) and d.evaluated_value is None):
                    continue
                v = self.value(d)
                if v is not None and "const" in v:
                    s.defaults[prm.name.value] = v
        for prm in (*p.posonly_params, *p.params, *p.kwonly_params):
            pn = prm.name.value
            if pn == s.self_name:
                continue
            ar = self.ann_ref(prm.annotation) if prm.annotation is not None else None
            if ar:
                s.locals[pn] = {"ann": ar}
        s.assigned = []
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
        inner.top = top = _stmts_of(node.body)
        try:
            ended = self._block(top)
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

    def _classdef(self, node: cst.ClassDef) -> None:
        outer_f, outer_cls = self.f, self.cls
        name = node.name.value
        if outer_cls is not None and outer_f is None:
            qual = f"{outer_cls.qualname}.{name}"
        elif outer_f is not None and not outer_f.is_module:
            qual = f"{outer_f.s.qualname}.<locals>.{name}"
        else:
            qual = name
        line, col = self.loc(node.name)
        bases = []
        for a in node.bases:
            if a.keyword is None:
                r = self.chain(a.value) if outer_f is not None else self._class_chain(a.value)
                if r:
                    bases.append(r)
        decos = [v for v in (self._class_value(d.decorator) for d in node.decorators) if v]
        cs = ClassSummary(qualname=qual, name=name, line=line, col=col, bases=bases, decorators=decos,
                          parent_func=outer_f.s.qualname if outer_f is not None and not outer_f.is_module else None)
        for d in node.decorators:
            dn = d.decorator
            if isinstance(dn, cst.Call) and (_dotted_or_none(dn.func) or "").split(".")[-1] == "guarded_by":
                names = _string_args(dn)
                if len(names) >= 2:
                    cs.guards.setdefault(names[0], []).extend(names[1:])
        self.ms.classes[qual] = cs
        self.f, self.cls = None, cs
        try:
            self._block(_stmts_of(node.body))
        finally:
            self.f, self.cls = outer_f, outer_cls
        if outer_f is not None and outer_f.is_module:
            self.ms.globals.setdefault(name, {"v": None})
            self.ms.globals[name] = {"v": {"r": "<class>" + qual.replace(".", ":")}, "l": line, "c": col}
        elif outer_f is not None:
            outer_f.local_names.add(name)
            outer_f.s.locals[name] = {"r": "<class>" + qual.replace(".", ":")}

    def _class_chain(self, node):
        saved = self.f
        self.f = None
        try:
            return self.chain(node)
        finally:
            self.f = saved

    def _class_small(self, small) -> None:
        cs = self.cls
        if isinstance(small, (cst.Assign, cst.AnnAssign)):
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            ann = small.annotation if isinstance(small, cst.AnnAssign) else None
            val = small.value
            for t in targets:
                if isinstance(t, cst.Name):
                    line, col = self.loc(val if val is not None else t)
                    entry = {"v": self._class_value(val), "l": line, "c": col}
                    if ann is not None:
                        entry["ann"] = self._class_ann(ann)
                    cs.attrs[t.value] = entry
                    if t.value == "__guarded_by__":
                        for k, names in _guards_literal(val).items():
                            cs.guards.setdefault(k, []).extend(names)

    def _class_ann(self, ann):
        saved = self.f
        self.f = None
        try:
            return self.ann_ref(ann)
        finally:
            self.f = saved

    # ------------------------------------------------------------------ expressions
    def _acquire(self, call: cst.Call, push: bool = True, awaited: bool = False) -> int | None:
        fn = call.func
        r = self.chain(fn.value)
        for a in call.args:
            self._expr(a.value, "arg")
        if r is None:
            return None
        mode = "acquire" if _acquire_blocking(call) else "try"
        # ``aw``: awaited here (an async lock's acquire() only acquires when awaited)
        idx = self._ev("acq", call, r=r, m=mode, aw=awaited)
        if push:
            self.f.held = self.f.held + (idx,)
        return idx

    def _release(self, call: cst.Call) -> None:
        f = self.f
        r = self.chain(call.func.value)
        if r is None:
            return
        self._ev("rel", call, r=r)
        ev = f.s.events
        for j in range(len(f.held) - 1, -1, -1):
            if ev[f.held[j]]["r"] == r:
                f.held = f.held[:j] + f.held[j + 1:]
                break

    def _call(self, node: cst.Call, use: str, target=None, stmts=None, i=0) -> None:
        f = self.f
        ne = f.ne
        if ne is not None:
            f.ne = None   # the first call after the loop takes it, whatever it is
        fn = node.func
        if isinstance(fn, cst.Attribute):
            meth = fn.attr.value
            if meth == "acquire":
                self._recv(fn.value)
                idx = self._acquire(node, awaited=use == "await")
                if idx is not None and stmts is not None and use in ("discard", "local"):
                    self._release_site(idx, node, list(stmts[i + 1:]), target if use == "local" else None, stmts)
                return
            if meth == "release" and not node.args:
                self._recv(fn.value)
                self._release(node)
                return
            if meth == "enter_context" and len(node.args) == 1:
                self._recv(fn.value)
                self._expr(node.args[0].value, "arg")
                r = self.chain(node.args[0].value)
                if r is not None:
                    idx = self._ev("acq", node, r=r, m="ctx")
                    f.held = f.held + (idx,)
                    f.ctx_acqs.append(idx)
                return
            self._recv(fn.value)
        elif isinstance(fn, cst.Name):
            self._read(fn)
            if fn.value in _ORDERING_CALLS:
                f.s.orders = True
        else:
            self._expr(fn, "expr")
        for a in node.args:
            self._expr(a.value, "arg")
        fr = self.chain(fn)
        if fr is None:
            return
        args, kws = [], {}
        star_pos = star_kw = False
        for a in node.args:
            if a.keyword is not None:
                kws[a.keyword.value] = self.value(a.value, 1)
            elif not a.star:
                args.append(self.value(a.value, 1))
            elif a.star == "*":
                star_pos = True
            else:
                star_kw = True   # ``**k``: which parameters it binds is not known
        kw = {"f": fr, "a": args, "k": kws, "u": use}
        if target is not None:
            kw["t"] = target
        if star_pos:
            kw["sa"] = 1
        if star_kw:
            kw["sk"] = 1
        idx = self._ev("call", node, **kw)
        if f.done:
            recv, _, meth = fr.rpartition(".")
            if meth in _DONE_POLLS:
                if recv in f.done:
                    f.s.events[idx]["dn"] = 1
                elif meth == "wait":
                    dw = [[d[2:], int(d[1])] for d in f.done if d[0] == "~"]
                    if dw:
                        f.s.events[idx]["dw"] = dw
        if f.probe:
            f.s.events[idx]["pb"] = list(f.probe)
        if ne is not None and use in _NE_USES and len(f.loops) == ne[2] and _only_reads(f.s.events, ne[1], idx):
            f.s.events[idx]["ne"] = [ne[0]]

    def _expr(self, node, use: str = "expr", target=None, stmts=None, i=0) -> None:
        if node is None:
            return
        if isinstance(node, cst.Call):
            self._call(node, use, target, stmts, i)
            return
        if isinstance(node, cst.Name):
            self._read(node)
            f = self.f
            if f is not None and not f.is_module and node.value in f.s.globals_decl:
                self._ev("grd", node, r=node.value)
            return
        if isinstance(node, cst.Attribute):
            r = self.chain(node)
            if r is not None and self._tracked_attr(r):
                self._ev("rd", node, r=r)
                base = node.value
                if isinstance(base, cst.Name):
                    self._read(base, attr=True)
                return
            self._recv(node.value)
            return
        if isinstance(node, cst.Await):
            self._expr(node.expression, "await")
            self._ev("await", node)
            return
        if isinstance(node, (cst.Yield,)):
            v = node.value
            if isinstance(v, cst.From):
                self._expr(v.item, "expr")
            elif v is not None:
                self._expr(v, "expr")
            self._ev("yield", node)
            return
        if isinstance(node, cst.Lambda):
            # deferred code (see the linker for callables passed as arguments), but the
            # names it reads are still uses of those names
            stack = [node.body]
            while stack:
                n = stack.pop()
                if isinstance(n, cst.Name):
                    self._read(n)
                elif isinstance(n, cst.Attribute):
                    if isinstance(n.value, cst.Name):
                        self._read(n.value, attr=True)
                    else:
                        stack.append(n.value)
                else:
                    stack.extend(n.children)
            return
        if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
            self._expr(node.left, "expr")
            self._expr(node.right, "expr")
            return
        if isinstance(node, cst.Comparison):
            self._expr(node.left, "expr")
            for c in node.comparisons:
                self._expr(c.comparator, "expr")
            return
        if isinstance(node, cst.UnaryOperation):
            self._expr(node.expression, "expr")
            return
        if isinstance(node, cst.IfExp):
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
        if isinstance(node, cst.Subscript):
            self._expr(node.value, "expr")
            for el in node.slice:
                sl = el.slice
                if isinstance(sl, cst.Index):
                    self._expr(sl.value, "expr")
            return
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            for el in node.elements:
                self._expr(el.value, _element_use(use))
            return
        if isinstance(node, cst.Dict):
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    self._expr(el.key, "expr")
                self._expr(el.value, _element_use(use))
            return
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            # an ``async for`` of a list/set/dict comprehension steps by awaiting in this
            # function's frame (at its target); a generator expression's runs in its own
            # frame, when something iterates it, so it records nothing here
            steps = not isinstance(node, cst.GeneratorExp)
            comp = node.for_in
            while comp is not None:
                self._expr(comp.iter, "expr")
                if comp.asynchronous is not None and steps:
                    self._ev("await", comp.target)
                for c in comp.ifs:
                    self._expr(c.test, "test")
                comp = comp.inner_for_in
            if isinstance(node, cst.DictComp):
                self._expr(node.key, "expr")
                self._expr(node.value, "container")
            else:
                self._expr(node.elt, "container")
            return
        if isinstance(node, cst.NamedExpr):
            self._expr(node.value, "local")
            self._assign(node.target, node.value)
            return
        if isinstance(node, cst.StarredElement):
            self._expr(node.value, use)
            return
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression):
                    self._expr(part.expression, "expr")
            return
        if isinstance(node, cst.ConcatenatedString):
            # "a" f"{await x}": the f-string parts are walked as on their own
            self._expr(node.left, "expr")
            self._expr(node.right, "expr")
            return
        if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis)):
            return
        for ch in node.children:
            if isinstance(ch, cst.BaseExpression):
                self._expr(ch, "expr")

    # ------------------------------------------------------------------ release analysis (LW121)
    def _release_site(self, idx: int, call, rest: list, result: str | None = None, block=None) -> None:
        """``result``: the local the acquire's result went to (``ok = lock.acquire(...)``);
        ``block``: the statements holding the acquire (``rest`` is the end of them)."""
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
                after = list(outer[j + 1:]) if outer is not None else []
            status, at = _release_status(self, rest, r, result, after)
        site = {"i": idx, "r": r, "l": ev["l"], "c": ev["c"], "status": status, "at": None}
        if at is not None:
            # the statement that may leave with the lock held: its line and column
            site["at"], site["ac"] = self.loc(at)
        f.s.acquire_sites.append(site)


# ---------------------------------------------------------------------- module helpers


def _is_awaited(test) -> bool:
    if isinstance(test, cst.UnaryOperation):
        test = test.expression
    return isinstance(test, cst.Await)


def _unpack_pairs(target, value) -> list | None:
    """``a, b = X(), Y()``: (target element, value) pairs, when the two sides match one
    to one and no value reads a name being assigned (``a, b = b, a`` is left unknown)."""
    if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) != len(target.elements):
        return None
    if any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements)):
        return None
    names = {el.value.value for el in target.elements if isinstance(el.value, cst.Name)}
    stack = [e.value for e in value.elements]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name) and n.value in names:
            return None
        stack.extend(n.children)
    return [(t, v.value) for t, v in zip(target.elements, value.elements)]


def _ends_leaving(suite, raise_too: bool = True) -> bool:
    """Does an ``if`` body's last statement leave the function (``return``/``raise``; only
    ``return`` when not ``raise_too``)? (tag_after_exits; the ast walk's ``_LEAVES``.)"""
    if isinstance(suite, cst.IndentedBlock):
        last = suite.body[-1] if suite.body else None
        if not isinstance(last, cst.SimpleStatementLine):
            return False
        smalls = last.body
    elif isinstance(suite, cst.SimpleStatementSuite):
        smalls = suite.body
    else:
        return False
    return bool(smalls) and isinstance(smalls[-1], (cst.Return, cst.Raise) if raise_too else cst.Return)


def _stmts_of(suite) -> list:
    if isinstance(suite, cst.IndentedBlock):
        return list(suite.body)
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=suite.body)]
    return []


def _sub_suites(st) -> list:
    out = []
    for name in ("body", "orelse", "finalbody"):
        sub = getattr(st, name, None)
        if sub is None:
            continue
        if isinstance(sub, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            out.append(sub)
        elif isinstance(sub, cst.If):
            out.extend(_sub_suites(sub))
        elif hasattr(sub, "body"):
            out.append(sub.body)
    for h in getattr(st, "handlers", ()) or ():
        out.append(h.body)
    return out


def _would_block_caught(handlers) -> list[str]:
    """What ``summary.WOULD_BLOCK`` names the handlers catch (their last dotted part), plus
    ``ERRNO_WOULD_BLOCK`` when a handler's body mentions ``EAGAIN``/``EWOULDBLOCK``."""
    out = []
    for h in handlers:
        if h.type is None:
            types = []
        elif isinstance(h.type, cst.Tuple):
            types = [e.value for e in h.type.elements]
        else:
            types = [h.type]
        for t in types:
            last = _dotted(t).rsplit(".", 1)[-1]
            if last in WOULD_BLOCK:
                out.append(last)
        if _mentions_errno(h.body):
            out.append(ERRNO_WOULD_BLOCK)
    return out


def _mentions_errno(node) -> bool:
    """A name or attribute ``EAGAIN``/``EWOULDBLOCK`` used in ``node`` (a keyword argument's
    name is not a use: the ast summariser does not see it as a name)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name) and n.value in WOULD_BLOCK_ERRNOS:
            return True
        stack.extend([n.value] if isinstance(n, cst.Arg) else n.children)
    return False


def _merge_xc(outer: tuple, new: list) -> tuple:
    return tuple(sorted(set(outer).union(new))) if new else outer


def _dotted(node) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _dotted_or_none(node) -> str | None:
    if isinstance(node, (cst.Name, cst.Attribute)):
        d = _dotted(node)
        return d or None
    return None


def _const_bool(node):
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    if isinstance(node, cst.Integer):
        return node.value not in ("0",)
    return None


def _is_minus_one_or_none(node) -> bool:
    if isinstance(node, cst.Name) and node.value == "None":
        return True
    return (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
            and isinstance(node.expression, cst.Integer) and node.expression.value == "1")


def _acquire_blocking(call: cst.Call) -> bool:
    """True for a plain blocking acquire; False for ``blocking=False``, a timeout, or
    anything not known at a glance (a try-lock adds no order edge: precision first)."""
    pos = 0
    for a in call.args:
        if a.star:
            return False
        if a.keyword is None:
            if pos == 0:
                if _const_bool(a.value) is not True:
                    return False
            elif pos == 1 and not _is_minus_one_or_none(a.value):
                return False
            pos += 1
        elif a.keyword.value == "blocking" and _const_bool(a.value) is not True or a.keyword.value == "timeout" and not _is_minus_one_or_none(a.value):
            return False
    return True


def _has_ordering_compare(test) -> bool:
    stack = [test]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Comparison):
            left = n.left
            for c in n.comparisons:
                if (isinstance(c.operator, (cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual))
                        and _same_shape_keys(left, c.comparator)):
                    return True
                left = c.comparator
            stack.append(n.left)
        elif isinstance(n, cst.BooleanOperation):
            stack.extend((n.left, n.right))
        elif isinstance(n, cst.UnaryOperation):
            stack.append(n.expression)
    return False


def _same_shape_keys(a, b) -> bool:
    """An ordering between two objects: ``a < b``, ``id(a) < id(b)``, ``a.key < b.key``
    (not ``src.balance < amount``)."""
    if isinstance(a, cst.Name) and isinstance(b, cst.Name):
        return a.value != b.value
    if isinstance(a, cst.Call) and isinstance(b, cst.Call):
        return (isinstance(a.func, cst.Name) and isinstance(b.func, cst.Name)
                and a.func.value == b.func.value and a.func.value in ("id", "hash", "key"))
    if isinstance(a, cst.Attribute) and isinstance(b, cst.Attribute):
        return a.attr.value == b.attr.value and _dotted(a.value) != _dotted(b.value)
    return False


def _release_calls_in(b: _Builder, node, out: set, deep: bool = True) -> None:
    """Refs whose ``.release()`` is called in the statements (not in nested defs)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "release":
            r = b.chain(n.func.value)
            if r:
                out.add(r)
        if not deep and isinstance(n, cst.BaseCompoundStatement):
            continue
        stack.extend(n.children)


def _released_refs(b: _Builder, stmts) -> set:
    out: set = set()
    for st in stmts:
        _release_calls_in(b, st, out)
    return out


def _top_release(b: _Builder, st, r: str) -> bool:
    if not isinstance(st, cst.SimpleStatementLine):
        return False
    out: set = set()
    _release_calls_in(b, st, out)
    return r in out


def _escapes(st) -> list:
    """Explicit return/raise inside a statement (not nested defs), with the node."""
    out = []
    stack = [st]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, (cst.Return, cst.Raise)):
            out.append(n)
            continue
        stack.extend(n.children)
    return out


def _has_call(st) -> bool:
    """Can the statement raise mid-way? Calls (not ``ev.is_set()``: ``NO_RAISE_METHODS``),
    and ``yield``: a generator is resumed with ``throw()`` (a ``@contextmanager`` re-raises
    the with-body's exception at its yield)."""
    stack = [st]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, cst.Call):
            fn = n.func
            if not (isinstance(fn, cst.Attribute) and fn.attr.value in _NO_RAISE and not n.args):
                return True
        elif isinstance(n, cst.Yield):
            return True
        stack.extend(n.children)
    return False


def _jumps(node) -> bool:
    """A ``return``/``break``/``continue`` under ``node``, nested defs aside (P24's one-shot
    initialiser has none: the ast walk's ``_JUMPS``)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.Return, cst.Break, cst.Continue)):
            return True
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(n.children)
    return False


def _falsy_literal(node) -> bool:
    """The ast walk's ``_falsy_literal``: ``None``, ``False``, ``0``, ``""``, ``b""``, an
    empty list/tuple/set/dict display."""
    if isinstance(node, cst.Name):
        return node.value in ("None", "False")
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)):
        try:
            return not node.evaluated_value
        except Exception:  # noqa: BLE001 (a literal libcst cannot evaluate: not known falsy)
            return False
    if isinstance(node, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
        return not node.elements
    return False


def _has_break(body) -> bool:
    """Is there a ``break`` of the loop whose body this is (not of a nested loop)?"""
    stack = [body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Break):
            return True
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, (cst.For, cst.While)):
            if n.orelse is not None:
                stack.append(n.orelse)   # a break in a nested loop's ``else`` is this loop's
            continue
        stack.extend(n.children)
    return False


def _held_breaks(b: _Builder, st, r: str, called: bool) -> list:
    """The ``break`` statements of the loop being walked inside ``st`` (an ``if``/``try``
    of its body; nested loops keep theirs) that no release of ``r`` precedes in their own
    block: for each, can a call raise on the way to it (``called``: before ``st``)? A
    ``with``/``match`` is not entered: its breaks are left out, as before P28."""
    out: list = []

    def walk_block(stmts, called) -> None:
        for s in stmts:
            if isinstance(s, (cst.FunctionDef, cst.ClassDef)):
                continue
            if _top_release(b, s, r):
                return
            if isinstance(s, cst.SimpleStatementLine):
                for small in s.body:
                    if isinstance(small, cst.Break):
                        out.append(called)
                        return
                    if _has_call(small):
                        called = True
                continue
            if isinstance(s, cst.If):
                c = called or _has_call(s.test)
                walk_block(_stmts_of(s.body), c)
                o = s.orelse
                if isinstance(o, cst.If):
                    walk_block([o], c)
                elif o is not None:
                    walk_block(_stmts_of(o.body), c)
            elif isinstance(s, (cst.Try, cst.TryStar)):
                if s.finalbody is not None and r in _released_refs(b, _stmts_of(s.finalbody.body)):
                    return   # released on every way out of it, breaks included
                walk_block(_stmts_of(s.body), called)
                for h in s.handlers:
                    walk_block(_stmts_of(h.body), True)   # some call in the body raised
                if s.orelse is not None:
                    walk_block(_stmts_of(s.orelse.body), called or _has_call(s.body))
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
            if isinstance(s, (cst.FunctionDef, cst.ClassDef)):
                continue
            if _top_release(b, s, r):
                released = True
            if released:
                continue
            if isinstance(s, cst.SimpleStatementLine):
                for small in s.body:
                    if isinstance(small, (cst.Return, cst.Raise)):
                        bad.append(small)
                continue
            if (isinstance(s, (cst.Try, cst.TryStar)) and s.finalbody is not None
                    and r in _released_refs(b, _stmts_of(s.finalbody.body))):
                released = True
                continue
            for sub in _sub_suites(s):
                walk_block(_stmts_of(sub))
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
        if isinstance(st, (cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(st, cst.If) and result and st.orelse is None and _tests_false(st.test, result):
            continue   # ``if not ok: raise``: that path never took the lock
        if (isinstance(st, (cst.Try, cst.TryStar)) and st.finalbody is not None
                and r in _released_refs(b, _stmts_of(st.finalbody.body))):
            if called is not None and saw_call:
                return "no-finally", None
            return "ok", None
        if after is not None and isinstance(st, (cst.If, cst.Try, cst.TryStar)):
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
        if isinstance(st, cst.SimpleStatementLine):
            for small in st.body:
                if isinstance(small, (cst.Return, cst.Raise)):
                    return "early-exit", small
                if isinstance(small, cst.Break) and after is not None:
                    return _release_status(b, after, r, None, None, saw_call)
                if _has_call(small):
                    saw_call = True
            continue
        # compound statement
        if isinstance(st, cst.With) and r in _released_refs(b, [st]):
            # release inside a with body: treat like straight-line code in it
            status, at = _release_status(b, _stmts_of(st.body), r)
            return status if status != "ok" or not saw_call else "no-finally", at
        bad = _branch_escapes_unreleased(b, st, r)
        if bad:
            return "early-exit", bad[0]
        rel_inside = r in _released_refs(b, [st])
        if rel_inside:
            if isinstance(st, cst.If) and _all_branches_release(b, st, r):
                return ("no-finally", None) if saw_call else ("ok", None)
            if isinstance(st, cst.If) and _releasing_branches_leave(b, st, r):
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
    if not isinstance(st, (cst.Try, cst.TryStar)) or not st.handlers:
        return False
    if r in _released_refs(b, _stmts_of(st.body)):
        return False
    if st.orelse is not None and r in _released_refs(b, _stmts_of(st.orelse.body)):
        return False
    if st.finalbody is not None and r in _released_refs(b, _stmts_of(st.finalbody.body)):
        return False
    releasing = [h for h in st.handlers if r in _released_refs(b, _stmts_of(h.body))]
    if not releasing:
        return False
    for h in releasing:
        stmts = _stmts_of(h.body)
        last = stmts[-1] if stmts else None
        if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Raise)):
            return False
        if not any(_top_release(b, x, r) for x in stmts):
            return False   # released inside a nested branch only: leave it to the general rules
    return True


def _caught_names(t) -> list:
    """Last dotted names of the exception types an ``except`` clause catches (``*``: bare)."""
    if t is None:
        return ["*"]
    out = []
    for e in ([el.value for el in t.elements] if isinstance(t, cst.Tuple) else [t]):
        out.append(e.value if isinstance(e, cst.Name) else e.attr.value if isinstance(e, cst.Attribute) else "?")
    return out


# ``if`` tests on a parameter (events' "pg"): the constants a call can pass for it, and those
# of them under which a test on it is true
_PG_CONSTS = {"True": True, "False": False, "None": None}
_PG_FALSY = [False, None]
_PG_OPS = (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)


def _param_rules(test, params: list, self_name) -> tuple[tuple, tuple]:
    """For ``if test:``, which constant arguments rule out each branch: (body, else), each a
    tuple of (param, [constants]) pairs. The test is a parameter (``p``, ``not p``), a
    comparison of one with ``True``/``False``/``None`` (``is``, ``is not``, ``==``, ``!=``),
    or ``and`` (body) / ``or`` (else) of such tests; anything else rules nothing out."""
    if isinstance(test, cst.Name):
        n = test.value
        if n in params and n != self_name:
            return ((n, _PG_FALSY),), ((n, [True]),)
        return (), ()
    if isinstance(test, cst.UnaryOperation):
        if isinstance(test.operator, cst.Not):
            body, other = _param_rules(test.expression, params, self_name)
            return other, body
        return (), ()
    if isinstance(test, cst.Comparison):
        if len(test.comparisons) != 1:
            return (), ()
        left, cmp = test.left, test.comparisons[0]
        right, op = cmp.comparator, cmp.operator
        if (not isinstance(left, cst.Name) or left.value not in params or left.value == self_name
                or not isinstance(right, cst.Name) or right.value not in _PG_CONSTS
                or not isinstance(op, _PG_OPS)):
            return (), ()
        c = _PG_CONSTS[right.value]
        n = left.value
        # ``p is c`` is false for every other constant, true only for c
        body, other = ((n, [x for x in _PG_CONSTS.values() if x is not c]),), ((n, [c]),)
        return (body, other) if isinstance(op, (cst.Is, cst.Equal)) else (other, body)
    if isinstance(test, cst.Call):
        # ``isinstance(p, C)`` / ``isinstance(p, (C, D))``: an argument made by a subclass
        # of one of them never reaches the else (P38); the body is not ruled out by it
        func, args = test.func, test.args
        if (not isinstance(func, cst.Name) or func.value != "isinstance" or len(args) != 2
                or any(a.keyword is not None or a.star for a in args)
                or not isinstance(args[0].value, cst.Name) or args[0].value.value not in params
                or args[0].value.value == self_name):
            return (), ()
        cls = args[1].value
        elts = list(cls.elements) if isinstance(cls, cst.Tuple) else [cls]
        refs = isinstance_classes([
            None if isinstance(e, cst.StarredElement) else
            _dotted_or_none(e.value if isinstance(e, cst.Element) else e) for e in elts])
        return ((), ((args[0].value.value, {"isa": refs}),)) if refs else ((), ())
    if isinstance(test, cst.BooleanOperation):
        b1, o1 = _param_rules(test.left, params, self_name)
        b2, o2 = _param_rules(test.right, params, self_name)
        # ``a and b``: the body needs every operand true; ``a or b``: the else, every one false
        return (b1 + b2, ()) if isinstance(test.operator, cst.And) else ((), o1 + o2)
    return (), ()


def _bool_candidates(tree: cst.Module) -> set[str]:
    """``literals.ast_candidates`` on the libcst tree: private names a top-level statement
    sets to ``True``/``False`` (one plain or annotated assignment, one target)."""
    out = set()
    for st in tree.body:
        if not isinstance(st, cst.SimpleStatementLine):
            continue
        for small in st.body:
            if isinstance(small, cst.Assign):
                if len(small.targets) != 1:
                    continue
                target = small.targets[0].target
            elif isinstance(small, cst.AnnAssign):
                target = small.target
            else:
                continue
            v = small.value
            if (isinstance(target, cst.Name) and isinstance(v, cst.Name) and v.value in ("True", "False")
                    and target.value[:1] == "_"):
                out.add(target.value)
    return out


def _name_of(node):
    return node.value if isinstance(node, cst.Name) else None


def _not_operand(node):
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        return node.expression
    return None


def _and_or(node):
    if not isinstance(node, cst.BooleanOperation):
        return None
    return ("and" if isinstance(node.operator, cst.And) else "or"), node.left


def _const_truth(test, consts: dict) -> bool | None:
    """The value of an ``if`` test on a module constant, if known (``literals.const_truth``)."""
    return const_truth(test, consts, _name_of, _not_operand, _and_or)


def _never_true(test) -> bool:
    """``False``, ``0``, ``None`` written as the test: the branch is dead code."""
    if isinstance(test, cst.Name):
        return test.value in ("False", "None")
    return isinstance(test, cst.Integer) and test.value in ("0", "0x0", "0o0", "0b0") and not test.lpar


def _always_true(test) -> bool:
    """``True`` or a non-zero integer written as the test: its ``else`` is dead code."""
    if isinstance(test, cst.Name):
        return test.value == "True"
    if not isinstance(test, cst.Integer) or test.lpar:
        return False
    return int(test.value, 0) != 0


def _tests_false(test, name: str) -> bool:
    """``not name``, ``name is False``, ``name == False``."""
    if isinstance(test, cst.UnaryOperation):
        return (isinstance(test.operator, cst.Not) and isinstance(test.expression, cst.Name)
                and test.expression.value == name and not test.expression.lpar)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        c = test.comparisons[0]
        return (isinstance(c.operator, (cst.Is, cst.Equal)) and isinstance(test.left, cst.Name)
                and test.left.value == name and isinstance(c.comparator, cst.Name)
                and c.comparator.value == "False")
    return False


def _if_branches(st: cst.If) -> tuple[list, bool]:
    """The statement lists of an if/elif/else chain, and whether it has an ``else``."""
    out = [_stmts_of(st.body)]
    o = st.orelse
    while o is not None:
        if isinstance(o, cst.If):
            out.append(_stmts_of(o.body))
            o = o.orelse
        else:
            out.append(_stmts_of(o.body))
            return out, True
    return out, False


def _calls_before_release(b: _Builder, st: cst.If, r: str) -> bool:
    """Can the ``if`` raise while ``r`` is held: a call in a test, in a branch that does
    not release, or before the release in one that does."""
    node = st
    while isinstance(node, cst.If):
        if _has_call(node.test):
            return True
        node = node.orelse
    for stmts in _if_branches(st)[0]:
        for x in stmts:
            if _top_release(b, x, r):
                break
            if _has_call(x):
                return True
    return False


def _releasing_branches_leave(b: _Builder, st: cst.If, r: str) -> bool:
    """Every branch that releases ``r`` does so in its own straight-line code and then
    returns or raises, and some path (a branch without a release, or no ``else``) falls
    through still holding it."""
    branches, has_else = _if_branches(st)
    through = not has_else
    for stmts in branches:
        if r not in _released_refs(b, stmts):
            through = True
            continue
        last = stmts[-1] if stmts else None
        if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Return, cst.Raise))):
            return False
        if not any(_top_release(b, x, r) for x in stmts) or \
                any(not isinstance(x, cst.SimpleStatementLine) and r in _released_refs(b, [x]) for x in stmts):
            return False
    return through


def _all_branches_release(b: _Builder, st: cst.If, r: str) -> bool:
    if r not in _released_refs(b, _stmts_of(st.body)):
        return False
    if st.orelse is None:
        return False
    if isinstance(st.orelse, cst.If):
        return _all_branches_release(b, st.orelse, r)
    return r in _released_refs(b, _stmts_of(st.orelse.body))
