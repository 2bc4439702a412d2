"""Cheap checks before a summariser sees a file: decoding, and inputs that would crash or hang it.

The compile below is also the parse of the ast summariser (``parse`` hands the tree on);
libcst only sees the files CPython rejects with a plain SyntaxError (``summarise.py``).

Measured with libcst 1.9 (NOTES.md and here): 3,000 nested parentheses segfault it, a
10,000-term ``1+1+...`` expression segfaults it too, a 3,000-term one takes 3 s (time grows
with the square of the length), and deep nesting raises RecursionError. CPython's own parser
answers all of these in milliseconds. So, in the worker, before libcst:

1. ``compile(source, path, "exec", PyCF_ONLY_AST)``. RecursionError, MemoryError ("parser
   stack overflowed") and the parser's hard limits ("too many nested parentheses", "too many
   levels of indentation", "too many statically nested blocks") make the file an error: no
   Python version can run such a file, and libcst would fare worse. A plain SyntaxError does
   NOT: the file may use syntax newer than this interpreter (PEP 695 on 3.10), so libcst
   decides; if libcst fails too, CPython's message (better than libcst's) is reported.
2. CPython 3.10 and 3.13 accept 100,000-term operator chains that libcst cannot survive, so a
   long chain is bounded separately. Only a file with a physical line holding more than
   ``MAX_OPERATORS`` operator characters is tokenized (rare; tokenizing every file would cost
   seconds on a large tree); a chain split over many lines is left to the worker's time budget
   and crash isolation.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

# Longest run of operators in one logical line that libcst handles in about a second.
MAX_OPERATORS = 1500

FATAL_SYNTAX = (
    "too many nested parentheses",
    "too many levels of indentation",
    "too many statically nested blocks",
    "too complex",
)
_OPERATOR_CHARS = re.compile(r"[-+*/%&|^@<>~]")
_OPERATOR_NAMES = frozenset({"and", "or", "not", "if", "else", "lambda", "in", "is"})


class SourceError(Exception):
    """An input that cannot be analysed; ``str(e)`` is the reason for the report."""


def decode(data: bytes) -> str:
    """Bytes -> text per PEP 263 (coding cookie, UTF-8 BOM; default UTF-8). Line endings are
    kept as they are: libcst handles CRLF and positions stay those of the file."""
    if b"\x00" in data:
        raise SourceError("source contains NUL bytes")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as e:
        msg = str(e.msg if getattr(e, "msg", None) else e)
        if "invalid or missing encoding declaration" not in msg:
            # an unknown encoding in the cookie, or a BOM that disagrees with it
            raise SourceError(f"cannot decode: {msg}") from None
        encoding = "utf-8"  # bad UTF-8 in the first two lines: say where, below
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SourceError(
            f"undecodable bytes: {encoding} codec cannot decode byte 0x{data[e.start]:02x} "
            f"at line {line} (declare the encoding with a PEP 263 coding comment)"
        ) from None
    except LookupError as e:
        raise SourceError(f"cannot decode: {e}") from None
    text = text.removeprefix("\ufeff")
    return text


def check(source: str, path: str) -> SyntaxError | None:
    """Raise SourceError for a file that must not reach libcst. Return the interpreter's
    SyntaxError (not fatal by itself: libcst may know newer syntax) or None."""
    return parse(source, path)[1]


def parse(source: str, path: str) -> tuple[ast.Module | None, SyntaxError | None]:
    """:func:`check`, also handing back the syntax tree it parsed (None on a SyntaxError),
    so that the worker parses each file once: the ast summariser walks this tree."""
    try:
        tree = compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except RecursionError:
        raise SourceError("too deeply nested to analyse (the Python parser hit its recursion limit)") from None
    except MemoryError as e:
        raise SourceError(f"too complex to analyse ({e or 'the Python parser ran out of memory'})") from None
    except SyntaxError as e:
        msg = str(e.msg or "")
        if any(s in msg for s in FATAL_SYNTAX):
            raise SourceError(f"{syntax_message(e, source)}; not analysed") from None
        _check_operator_runs(source)
        return None, e
    except ValueError as e:  # e.g. NUL bytes, if decode() was bypassed
        raise SourceError(str(e)) from None
    _check_operator_runs(source)
    return tree, None


def _check_operator_runs(source: str) -> None:
    if len(source) < MAX_OPERATORS:
        return
    if not any(len(_OPERATOR_CHARS.findall(line)) > MAX_OPERATORS
               for line in source.splitlines() if len(line) > MAX_OPERATORS):
        return
    longest = _longest_operator_run(source)
    if longest > MAX_OPERATORS:
        raise SourceError(
            f"expression too large to analyse ({longest} operators in one statement, "
            f"limit {MAX_OPERATORS})")


def _longest_operator_run(source: str) -> int:
    longest = run = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.OP and tok.string not in "()[]{},:;=" or tok.type == tokenize.NAME and tok.string in _OPERATOR_NAMES:
                run += 1
            elif tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                longest = max(longest, run)
                run = 0
    except (tokenize.TokenError, SyntaxError):
        pass
    return max(longest, run)


def syntax_message(e: SyntaxError, source: str = "") -> str:
    msg = f"syntax error at line {e.lineno or '?'}: {e.msg}"
    if source and looks_like_python2(source, e):
        msg += " (Python 2 code?)"
    return msg


_PY2_STATEMENTS = (
    r"^[ \t]*(?:print[ \t]+[^\s(=.,)\]]|print[ \t]*>>|exec[ \t]+[\"'\w]|raise[ \t]+\w+[ \t]*,"
    r"|except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:)"
)
_PY2_STATEMENT = re.compile(_PY2_STATEMENTS, re.MULTILINE)
_PY2_ANY = re.compile(
    _PY2_STATEMENTS + r"|\bur[\"']|`[^`\n]+`|<>|\b0[0-7]+\b(?![.eEjJ])|\b\d+[lL]\b", re.MULTILINE)


def looks_like_python2(source: str, e: SyntaxError | None = None) -> bool:
    """Heuristic for the error message only: the failing line (or the file) has a Python 2
    statement form (print/exec statement, ``except X, e``, backticks, ``<>``, ``0777``, ``10L``)."""
    if e is not None and "Missing parentheses in call to" in str(e.msg or ""):
        return True
    lines = source.splitlines()
    if e is not None and e.lineno and 0 < e.lineno <= len(lines):
        if _PY2_ANY.search(lines[e.lineno - 1]):
            return True
    # Elsewhere in the file only statement forms count: "<>" or backticks may sit in strings.
    return bool(_PY2_STATEMENT.search(source[:200_000]))
