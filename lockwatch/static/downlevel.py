"""Python 3.12 syntax, rewritten in place so that a 3.10/3.11 parser reads it.

Why: a file the running interpreter rejects goes to libcst (``summarise.py``), which costs
~30x CPython's parser per line plus its import. On Python 3.11 the CPython 3.12 standard
library has two such files, and they were 2.4 of the ~10 CPU-seconds of a cold scan
(issue #4): ``typing.py`` (PEP 695 ``class SupportsAbs[T](Protocol):``) and ``turtle.py``
(PEP 701 ``f'({', '.join(call_args)})'``). Both constructs have a same-length spelling
that older parsers accept and that means the same to lockwatch:

* a PEP 695 type parameter list ``[T: bound, *Ts]`` after ``def name`` / ``class Name`` is
  blanked (type parameters take no lock and call nothing at run time);
* a one-line PEP 695 ``type Alias = value`` statement whose value calls nothing becomes
  ``pass`` (its value is evaluated lazily, never by the module; libcst's walk records
  nothing for it either);
* a string nested in an f-string's braces that reuses the enclosing quote gets the other
  quote character, when its text holds neither quote nor backslash (same value).

Every replacement keeps the length in UTF-8 bytes and every line break, so the tree's
lines and columns are the file's own, and comments are never touched. Anything else newer
(an alias spread over lines or with a call in it, backslashes or comments inside f-string braces, three levels
of nested quotes) returns None and the file goes to libcst as before; so does a rewrite the
parser still rejects. Only used on interpreters older than 3.12 (``summarise.py``).
"""

from __future__ import annotations

import re

_PREFIX_CHARS = frozenset("rRbBuUfF")
_OTHER = {"'": '"', '"': "'"}
# ``def name[`` / ``class Name[`` at the start of a statement: never valid before 3.12.
_GENERIC_DEF = re.compile(r"(?m)^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+[ \t]*(\[)")
# ``type Alias[T] = value`` on one line (``type`` is a soft keyword: ``type = 1`` and
# ``type(x)`` do not match, a name must follow it).
_TYPE_ALIAS = re.compile(r"(?m)^([ \t]*)(type[ \t]+\w+[ \t]*(?:\[[^\]\n]*\])?[ \t]*=(?!=)[^\n]*)$")


class _Unsupported(Exception):
    """A construct this rewrite does not handle: leave the file to libcst."""


def rewrite(source: str) -> str | None:
    """The source with the constructs above respelled, or None when there is nothing this
    module can respell or something it cannot."""
    try:
        text, code = _Scanner(source).run()
        text = _blank_type_params(text, code)
        text = _pass_type_aliases(text, code)
    except _Unsupported:
        return None
    return text if text != source else None


# ---------------------------------------------------------------------------------------
# strings and comments


class _Scanner:
    """One pass over the source: finds comments and string literals (f-strings with their
    replacement fields, recursively), swaps conflicting nested quotes, and builds ``code``:
    the text with every string body and comment replaced by spaces (same length), where the
    type-parameter search below can look for brackets without meeting a bracket in a string."""

    def __init__(self, source: str) -> None:
        self.s = source
        self.out = list(source)
        self.code = list(source)

    def run(self) -> tuple[str, str]:
        s, n, i = self.s, len(self.s), 0
        while i < n:
            ch = s[i]
            if ch == "#":
                i = self._comment(i)
            elif ch in "'\"":
                i = self._string(i, self._prefix(i), ())
            else:
                i += 1
        return "".join(self.out), "".join(self.code)

    def _comment(self, i: int) -> int:
        end = self.s.find("\n", i)
        end = len(self.s) if end < 0 else end
        self._mask(i, end)
        return end

    def _mask(self, a: int, b: int) -> None:
        for k in range(a, b):
            if self.code[k] not in "\r\n":
                self.code[k] = " "

    def _prefix(self, i: int) -> str:
        j = i
        while j > 0 and self.s[j - 1] in _PREFIX_CHARS and i - j < 2:
            j -= 1
        if j > 0 and (self.s[j - 1].isalnum() or self.s[j - 1] == "_"):
            return ""   # ``xf'...'`` is a name then a string, not a prefix
        return self.s[j:i]

    def _quote_at(self, i: int) -> str:
        q = self.s[i]
        return q * 3 if self.s.startswith(q * 3, i) else q

    def _string(self, i: int, prefix: str, enclosing: tuple[str, ...]) -> int:
        """Scan the literal starting at quote ``i``; return the index after it. ``enclosing``:
        the quote characters of the f-strings this one sits in (innermost last)."""
        q = self._quote_at(i)
        body = i + len(q)
        if "f" in prefix.lower():
            end = self._fstring_body(body, q, enclosing + (q[0],))
        else:
            end = self._plain_body(body, q)
        if enclosing:
            self._nested_quotes(i, q, body, end, enclosing)
        self._mask(body, end)
        return end + len(q)

    def _plain_body(self, i: int, q: str) -> int:
        """Index of the closing quote of a non-f string whose body starts at ``i``."""
        s, n = self.s, len(self.s)
        while i < n:
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if s.startswith(q, i):
                return i
            if c == "\n" and len(q) == 1:
                raise _Unsupported("unterminated string")
            i += 1
        raise _Unsupported("unterminated string")

    def _fstring_body(self, i: int, q: str, quotes: tuple[str, ...]) -> int:
        """Index of the closing quote of an f-string body starting at ``i``; replacement
        fields are scanned as code (their nested strings may need respelling)."""
        s, n = self.s, len(self.s)
        while i < n:
            c = s[i]
            if c == "\\":
                i += 2
            elif s.startswith(q, i):
                return i
            elif c == "\n" and len(q) == 1:
                raise _Unsupported("unterminated f-string")
            elif c == "{" or c == "}":
                if s.startswith(c * 2, i):
                    i += 2
                elif c == "{":
                    i = self._field(i + 1, quotes)
                else:
                    raise _Unsupported("single '}' in an f-string")
            else:
                i += 1
        raise _Unsupported("unterminated f-string")

    def _field(self, i: int, quotes: tuple[str, ...]) -> int:
        """A replacement field's expression (from after ``{``), then its conversion and
        format spec; return the index after its ``}``. Before 3.12 the expression may hold
        no backslash, no comment and no line break in a single-quoted f-string."""
        s, n = self.s, len(self.s)
        depth = 0
        while i < n:
            c = s[i]
            if c in "'\"":
                i = self._string(i, self._prefix(i), quotes)
                continue
            if c in "\\#":
                raise _Unsupported("backslash or comment in an f-string expression")
            if c == "\n":
                raise _Unsupported("line break in an f-string expression")
            if c in "([{":
                depth += 1
            elif c in ")]" or (c == "}" and depth):
                depth -= 1
            elif depth == 0 and c == "}":
                return i + 1
            elif depth == 0 and c == "!" and not s.startswith("!=", i):
                i += 2   # conversion: !r !s !a
                continue
            elif depth == 0 and c == ":":
                return self._format_spec(i + 1, quotes)
            i += 1
        raise _Unsupported("unterminated f-string field")

    def _format_spec(self, i: int, quotes: tuple[str, ...]) -> int:
        s, n = self.s, len(self.s)
        while i < n:
            c = s[i]
            if c == "{":
                i = self._field(i + 1, quotes)
            elif c == "}":
                return i + 1
            elif c in "\\\n" or c in quotes:
                raise _Unsupported("unusual format spec")
            else:
                i += 1
        raise _Unsupported("unterminated format spec")

    def _nested_quotes(self, start: int, q: str, body: int, end: int, enclosing: tuple[str, ...]) -> None:
        """A string inside f-string braces: older parsers end the outer f-string at its own
        quote character, so a nested string spelt with it gets the other one."""
        if q[0] not in enclosing:
            return
        if "f" in self._prefix(start).lower():
            raise _Unsupported("an f-string nested in an f-string with the same quote")
        other = _OTHER[q[0]]
        text = self.s[body:end]
        if other in enclosing or other in text or q[0] in text or "\\" in text:
            raise _Unsupported("no quote character left for a nested string")
        for k in range(len(q)):
            self.out[start + k] = other
            self.out[end + k] = other


# ---------------------------------------------------------------------------------------
# PEP 695 type parameter lists


def _blank_type_params(text: str, code: str) -> str:
    out = None
    for m in _GENERIC_DEF.finditer(code):
        open_at = m.start(1)
        close_at = _matching_bracket(code, open_at)
        if close_at is None or not code[open_at + 1:close_at].strip():
            raise _Unsupported("type parameter list")
        if out is None:
            out = list(text)
        for k in range(open_at, close_at + 1):
            ch = text[k]
            if ch in "\r\n":
                continue
            if ch == "#" or code[k] != ch and code[k] == " " and text[k] not in " \t":
                # a comment or string inside the brackets: keep it simple, leave it to libcst
                raise _Unsupported("comment or string in a type parameter list")
            # same UTF-8 length, so the columns after it stay the file's own
            out[k] = " " * len(ch.encode("utf-8", "surrogatepass"))
    return text if out is None else "".join(out)


def _matching_bracket(code: str, i: int) -> int | None:
    depth = 0
    for k in range(i, len(code)):
        c = code[k]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return k if c == "]" else None
    return None


def _pass_type_aliases(text: str, code: str) -> str:
    out = None
    for m in _TYPE_ALIAS.finditer(code):
        stmt = m.group(2).rstrip()
        if "(" in stmt or ";" in stmt or stmt.endswith("\\") or stmt.count("[") != stmt.count("]"):
            raise _Unsupported("type alias statement")
        if out is None:
            out = list(text)
        a = m.start(2)
        b = a + len(stmt)
        if any(ord(c) > 127 for c in text[a:b]):
            raise _Unsupported("type alias statement")
        out[a:b] = "pass".ljust(b - a)
    return text if out is None else "".join(out)
