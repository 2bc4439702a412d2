"""String literal text and literal parameter defaults in the summaries (both walks):
``{"const": "str", "s": text}`` for a str literal of at most ``STR_TEXT_MAX`` characters
(plus ``"ip": text`` for a numeric IPv4/IPv6 address, catalog.numeric_host's mark, P23),
``{"const": "str"}`` for longer ones, bytes and f-strings; ``FunctionSummary.defaults``
for parameters whose default is a literal."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.static import summarise_cst
from lockwatch.static.literals import str_value
from lockwatch.static.summarise_ast import summarise_tree
from lockwatch.static.summary import STR_TEXT_MAX


def _summary(src: str) -> dict:
    src = textwrap.dedent(src)
    tree = compile(src, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    a = summarise_tree(tree, src, "m.py", "m", False).to_dict()
    assert a == summarise_cst.summarise_module(src, "m.py", "m", False).to_dict()
    return a


def _arg(expr: str):
    s = _summary(f"def f():\n    g({expr})\n")
    return s["functions"]["f"]["events"][0]["a"][0]


LONG = "x" * (STR_TEXT_MAX + 1)


@pytest.mark.parametrize("expr, value", [
    ('"rb"', {"const": "str", "s": "rb"}),
    ("'w+'", {"const": "str", "s": "w+"}),
    ('r"\\d"', {"const": "str", "s": "\\d"}),
    ('"a" "b"', {"const": "str", "s": "ab"}),                 # implicit concatenation
    ('("a"\n      "b")', {"const": "str", "s": "ab"}),
    ('"""r"""', {"const": "str", "s": "r"}),
    ('"é"', {"const": "str", "s": "é"}),
    ('""', {"const": "str", "s": ""}),
    (repr("y" * STR_TEXT_MAX), {"const": "str", "s": "y" * STR_TEXT_MAX}),
    (repr(LONG), {"const": "str"}),
    ('"x" * 3', None),
    ('b"rb"', {"const": "str"}),
    ('b"a" b"b"', {"const": "str"}),
    ('f"{x}"', {"const": "str"}),
    ('f"rb"', {"const": "str"}),
    ('"a" f"b"', {"const": "str"}),
    ('"8.8.8.8"', {"const": "str", "s": "8.8.8.8", "ip": "8.8.8.8"}),
    ('"2001:4860:4860::8888"', {"const": "str", "s": "2001:4860:4860::8888", "ip": "2001:4860:4860::8888"}),
    ('"::1"', {"const": "str", "s": "::1", "ip": "::1"}),
    ('"999.1.1.1"', {"const": "str", "s": "999.1.1.1"}),
    ('"3.12"', {"const": "str", "s": "3.12"}),
    ('"dns.google"', {"const": "str", "s": "dns.google"}),
    ('"a:b"', {"const": "str", "s": "a:b"}),
])
def test_string_argument_value(expr, value):
    assert _arg(expr) == value


def test_str_value_bounds():
    assert str_value("x" * STR_TEXT_MAX) == {"const": "str", "s": "x" * STR_TEXT_MAX}
    assert str_value(LONG) == {"const": "str"}
    assert str_value("127.0.0.1")["ip"] == "127.0.0.1"


def test_tuple_head_and_assignment_keep_text():
    s = _summary('''
    def get_ip():
        sock.connect(("8.8.8.8", 80))
        mode = "rb"
        return open(p, mode)
    ''')
    f = s["functions"]["get_ip"]
    assert f["events"][0]["a"][0] == {"cont": {"const": "str", "s": "8.8.8.8", "ip": "8.8.8.8"}}
    assert {k: f["locals"]["mode"][k] for k in ("const", "s")} == {"const": "str", "s": "rb"}


def test_literal_defaults():
    s = _summary('''
    def get_ip(host="8.8.8.8", port=80, *args, family=-1, block=True, timeout=None,
               scale=1.5, data=b"x", name=f"n", other=DEFAULT, call=make(), pos=(1, 2), cplx=1j,
               neg=-1.5, dots=...):
        pass

    def g(a, /, b=2, c=3, *, d, e="e"):
        pass

    def h(self):
        pass
    ''')
    fs = s["functions"]
    assert fs["get_ip"]["defaults"] == {
        "host": {"const": "str", "s": "8.8.8.8", "ip": "8.8.8.8"},
        "port": {"const": 80},
        "family": {"const": -1},
        "block": {"const": True},
        "timeout": {"const": None},
        "scale": {"const": 1.5},
        "data": {"const": "str"},
    }
    assert fs["g"]["defaults"] == {"b": {"const": 2}, "c": {"const": 3}, "e": {"const": "str", "s": "e"}}
    assert fs["h"]["defaults"] == {}


def test_method_and_lambda_free_defaults_in_class():
    s = _summary('''
    class C:
        def m(self, mode="r", *, buffering=-1):
            return open(self.path, mode, buffering)
    ''')
    assert s["functions"]["C.m"]["defaults"] == {"mode": {"const": "str", "s": "r"},
                                                 "buffering": {"const": -1}}
