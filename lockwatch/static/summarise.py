"""The summarise stage: one file's source -> :class:`ModuleSummary` (layout in ``summary.py``).

Two summarisers give the same summary (``tests/test_summarise_equivalence.py``):

- ``summarise_ast``: a walk over CPython's own syntax tree. Used for every file the running
  interpreter can parse: its parser is ~8x faster than libcst's and positions come free,
  where libcst's ``PositionProvider`` alone costs twice its parse (stdlib numbers in
  ``docs/architecture.md``).
- ``summarise_cst``: the original libcst walk, for files this interpreter rejects but libcst
  reads (syntax newer than the interpreter: PEP 695 ``def f[T]()`` or PEP 701 f-strings on
  3.10/3.11). libcst is imported only then. Before that, on 3.10/3.11, ``downlevel`` tries
  a same-length respelling of the common 3.12 constructs that this interpreter's parser
  reads (the two 3.12 stdlib files that need it cost 2.4 of ~10 CPU-s of a cold scan in
  libcst); whatever it cannot respell still goes to libcst.

Pure function of its inputs: nothing here knows about other modules, so the result can be
cached per file content; names are resolved later by the linker.
"""

from __future__ import annotations

import ast
import sys

from lockwatch.static.guard import FATAL_SYNTAX
from lockwatch.static.summarise_ast import summarise_tree
from lockwatch.static.summarise_common import ParseError
from lockwatch.static.summary import ModuleSummary

__all__ = ["ParseError", "parse", "summarise_module"]

def parse(source: str, path: str) -> ast.Module:
    """``compile(..., PyCF_ONLY_AST)``; SyntaxError propagates, the rest is a ParseError."""
    try:
        return compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (RecursionError, MemoryError):
        raise ParseError("nesting too deep to parse") from None
    except ValueError as e:  # NUL bytes
        raise ParseError(str(e)) from None


def summarise_module(source: str, path: str, module: str, is_package: bool = False, *,
                     tree: ast.Module | None = None,
                     syntax_error: SyntaxError | None = None) -> ModuleSummary:
    """Summary of one file. ``tree``: its ast when the caller parsed it already (the
    worker's guard does); ``syntax_error``: the interpreter already rejected it, go to libcst."""
    if tree is None and syntax_error is None:
        try:
            tree = parse(source, path)
        except SyntaxError as e:
            # parser limits no Python gets past: not worth asking libcst (which fares worse)
            if any(s in str(e.msg or "") for s in FATAL_SYNTAX):
                raise ParseError(f"syntax error at line {e.lineno or '?'}: {e.msg}") from None
            syntax_error = e
    if tree is None and sys.version_info < (3, 12):
        tree, text = _parse_downlevel(source, path)
        if tree is not None:
            # the respelled text: same lines, columns and comments, and it tokenizes here
            return summarise_tree(tree, text, path, module, is_package)
    if tree is None:
        from lockwatch.static import summarise_cst  # libcst only when needed

        return summarise_cst.summarise_module(source, path, module, is_package)
    return summarise_tree(tree, source, path, module, is_package)


def _parse_downlevel(source: str, path: str) -> tuple[ast.Module | None, str]:
    from lockwatch.static.downlevel import rewrite

    text = rewrite(source)
    if text is None:
        return None, source
    try:
        return parse(text, path), text
    except (SyntaxError, ParseError):
        return None, source


# The worker hands over the tree its guard parsed (``pool.analyse``).
summarise_module.accepts_tree = True  # type: ignore[attr-defined]
