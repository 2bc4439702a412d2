"""The shortcuts of session 5's faster ast walk give what the general path gives. Each case
is compared with the libcst summariser (the reference), byte for byte, and the fact the
shortcut could get wrong is checked directly, with a look-alike that takes the other path.

Shortcuts covered: ``finally`` blocks searched for ``.release()`` only when the file can
spell it (ASCII files); statement lines grouped only in files with a ``;``; a call's value
reused by the assignment or return of it; an attribute/subscript target's ref reused (not
with ``:=`` in the file); FunctionSummary built by position (and by name as the fallback);
``literals.bool_constants``'s line-restricted text screen; the address check of string
literals only with a ``.`` or ``:``."""

from __future__ import annotations

import json
import re
import textwrap

from walks import same_summary, summary_dict

from lockwatch.static import literals, summarise_ast


def _site(summary: dict, func: str) -> dict:
    (site,) = summary["functions"][func]["acquire_sites"]
    return site


# ---------------------------------------------------------------------- release screen
RELEASED_IN_FINALLY = """
    def f(lock, work):
        lock.acquire()
        try:
            work()
        finally:
            lock.{release}()
"""


def test_release_in_finally_is_found():
    assert _site(same_summary(RELEASED_IN_FINALLY.format(release="release")), "f")["status"] == "ok"


def test_file_without_release_has_nothing_released():
    # the look-alike: no ``release`` in the text, so the acquire is never released here
    s = same_summary(RELEASED_IN_FINALLY.format(release="unlock"))
    assert _site(s, "f")["status"] == "missing"


def test_non_ascii_spelling_of_release_is_still_searched():
    # NFKC folds the fullwidth letters to ``release``: the text screen must not apply
    src = RELEASED_IN_FINALLY.format(release="\uff52\uff45\uff4c\uff45\uff41\uff53\uff45")
    s = summary_dict(textwrap.dedent(src))
    assert _site(s, "f")["status"] == "ok"


# ---------------------------------------------------------------------- statement lines
def test_semicolon_lines_group_statements():
    s = same_summary("""
        def f(lock, g):
            lock.acquire(); g(); lock.release()
            return 1
    """)
    # one statement line: the release analysis looks only after it, and finds none
    assert _site(s, "f")["status"] == "missing"
    # the same statements on three lines (a file without ';'): released after a call
    s2 = same_summary("""
        def f(lock, g):
            lock.acquire()
            g()
            lock.release()
            return 1
    """)
    assert _site(s2, "f")["status"] == "no-finally"


# ---------------------------------------------------------------------- value reuse
def test_assigned_and_returned_calls_keep_their_values():
    s = same_summary("""
        import threading
        class C:
            def __init__(self, other):
                self._lock = threading.Lock()
                t = threading.Thread(target=self.run, args=(1,), daemon=True)
                self.t = make(t, k=other)
                a = b = make(a)
                return super().get(x=1)
    """)
    f = s["functions"]["C.__init__"]
    assert f["locals"]["t"]["call"] == "threading.Thread"
    assert f["locals"]["t"]["k"]["daemon"] == {"const": True}
    assert f["returns"] == [{"call": "@super.get", "a": [], "k": {"x": {"const": 1}}}]
    # ``a = b = make(a)``: the second target's value is made after ``a`` is rebound
    assert f["locals"]["a"]["a"] == f["locals"]["b"]["a"]


def test_alias_rebound_by_first_target_is_seen_by_the_second():
    s = same_summary("""
        def f(self):
            a = self.x
            a = b = g(a)
            return b
    """)
    f = s["functions"]["f"]
    # the first target's value reads ``a`` as the alias it was; the second sees the local
    assert f["locals"]["a"]["a"] == [{"r": "@self.x"}]
    assert f["locals"]["b"]["a"] == [{"r": "a"}]


def test_attribute_target_ref_with_and_without_walrus():
    plain = same_summary("""
        class C:
            def m(self, other):
                self.x = make(other)
    """)
    writes = [e for e in plain["functions"]["C.m"]["events"] if e["e"] == "wr"]
    assert [w["r"] for w in writes] == ["@self.x"]
    # with ``:=`` in the file the ref is recomputed after the value's walk
    walrus = same_summary("""
        class C:
            def m(self, other):
                self.x = make(y := other)
    """)
    writes = [e for e in walrus["functions"]["C.m"]["events"] if e["e"] == "wr"]
    assert [w["r"] for w in writes] == ["@self.x"]


# ---------------------------------------------------------------------- FunctionSummary
def test_function_summary_by_name_is_the_same(monkeypatch):
    src = textwrap.dedent("""
        import functools
        class C:
            @functools.cache
            async def m(self, a: int, *args, b=None, **kw) -> "C":
                def inner(x):
                    return self.m(x)
                return inner
    """)
    by_position = summary_dict(src)
    monkeypatch.setattr(summarise_ast, "_FS_BY_POSITION", False)
    assert json.dumps(summary_dict(src)) == json.dumps(by_position)
    assert summarise_ast._FS_HEAD[-1] == "decorators"


# ---------------------------------------------------------------------- literals
def _old_screen(name: str, source: str) -> bool:
    n = re.escape(name)
    return bool(re.search(literals._IF_HEAD.format(n), source)) and not re.search(
        literals._GLOBAL.format(n), source)


def test_bool_constant_screen_matches_the_whole_text_search():
    cases = [
        "_F = False\nif _F:\n    pass\n",
        "_F = False\nif not (_F):\n    pass\n",
        "_F = False\nx = 1\nelif_ = 2\nif x: pass\nelif _F: pass\n",
        "_F = False\nif _Fx:\n    pass\n",                   # a longer name only
        "_F = False\nif x_F:\n    pass\n",
        "_F = False\ndef g():\n    global _F\n    _F = True\nif _F: pass\n",
        "_F = False\ndef g():\n    global a, _F\nif _F: pass\n",
        "_F = False\r\nif _F:\r\n    pass\r\n",                # CRLF
        "_F = False\rif _F:\r    pass\r",                      # old Mac line ends
        "if _F: pass\n_F = False",                              # first and last line
        "_F = False  # if _F\n",                                # in a comment: still text
    ]
    for src in cases:
        assert literals._screen("_F", src) == _old_screen("_F", src), src


def test_bool_constant_still_found():
    s = same_summary("""
        _IS_SYNC = False
        def f(lock):
            if _IS_SYNC:
                lock.acquire()
    """)
    assert not [e for e in s["functions"]["f"]["events"] if e["e"] == "acq"]


def test_string_values_and_addresses():
    for text in ("127.0.0.1", "::1", "fe80::1%eth0", "10.0.0.256", "abc", "a.b", "dead:beef", "0"):
        v = literals.str_value(text)
        assert v["s"] == text
        assert ("ip" in v) == literals.is_ip_address(text), text
        if not literals.could_be_ip(text):
            assert "ip" not in v
    assert literals.str_value("::1")["ip"] == "::1"
    assert "ip" not in literals.str_value("abc")
