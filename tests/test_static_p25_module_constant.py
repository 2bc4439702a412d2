"""P25 (third real-world batch, docs/real-world.md): code under ``if _IS_SYNC:`` (or the else
of ``if not _IS_SYNC:``) in a module that sets ``_IS_SYNC = False`` once and never rebinds
it is dead, like P17's ``if False:``. Both summarisers read the module's bool constants
(``literals.bool_constants``) and skip the dead branch; any other binding of the name in
the file, a star import, or a test shape other than ``NAME``, ``not NAME`` and an
``and``/``or`` led by one, keeps the branch live. Every case runs through both walks."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from lockwatch.config import Config
from lockwatch.static import summarise_cst
from lockwatch.static.engine import analyse_summaries
from lockwatch.static.literals import bool_constants
from lockwatch.static.summarise_ast import summarise_tree

REPRO = '''
import asyncio
import socket

_IS_SYNC = FLAG


class AsyncClient:
    def __init__(self, connect=True):
        self._topology = None
        if _IS_SYNC and connect:
            self._get_topology()

    async def _get_topology(self):
        return self._topology


async def getaddrinfo(host, port):
    if not _IS_SYNC:
        loop = asyncio.get_running_loop()
        return await loop.getaddrinfo(host, port)
    else:
        return socket.getaddrinfo(host, port)
'''


def _line(src: str, text: str) -> int:
    return next(i for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1) if text in ln)


DISCARD = ("LW204", _line(REPRO, "self._get_topology()"))
LOOKUP = ("LW201", _line(REPRO, "socket.getaddrinfo(host"))


def _summaries(src: str):
    src = textwrap.dedent(src)
    tree = compile(src, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    a = summarise_tree(tree, src, "m.py", "m", False)
    c = summarise_cst.summarise_module(src, "m.py", "m", False)
    assert a.to_dict() == c.to_dict()
    return a


def _findings(src: str) -> list:
    rep = analyse_summaries({"m": _summaries(src)}, Config())
    return sorted((f.code, f.location.line) for f in rep.findings)


def test_repro_flag_false_dead_branches_not_reported():
    assert _findings(REPRO.replace("FLAG", "False")) == []


def test_twin_flag_true_stays_reported():
    assert _findings(REPRO.replace("FLAG", "True")) == sorted([DISCARD, LOOKUP])


def test_annotated_definition_counts():
    src = REPRO.replace("_IS_SYNC = FLAG", "_IS_SYNC: bool = False")
    assert _findings(src) == []


@pytest.mark.parametrize("rebind", [
    "_IS_SYNC = True",                       # a second module-level assignment
    "_IS_SYNC = False",                      # even to the same value
    "_IS_SYNC |= True",
    "del _IS_SYNC",
    "for _IS_SYNC in (True,):\n    pass",
    "import _IS_SYNC",
    "from config import flag as _IS_SYNC",
    "from config import *",                  # may rebind anything
    "def flip():\n    global _IS_SYNC\n    _IS_SYNC = True",
    "def _IS_SYNC():\n    pass",
    "class Cfg:\n    _IS_SYNC = True",      # a class body binding: ruled out too
    "def f(_IS_SYNC=True):\n    pass",      # a parameter that shadows it
    "if (_IS_SYNC := True):\n    pass",
    "try:\n    pass\nexcept Exception as _IS_SYNC:\n    pass",
    "with open('x') as _IS_SYNC:\n    pass",
])
def test_any_other_binding_keeps_the_branches_live(rebind):
    src = textwrap.dedent(REPRO).replace("FLAG", "False") + "\n\n" + rebind + "\n"
    assert _findings(src) == sorted([DISCARD, LOOKUP])


def test_definition_not_at_top_level_is_no_constant():
    src = textwrap.dedent(REPRO).replace("_IS_SYNC = FLAG", "if True:\n    _IS_SYNC = False")
    assert len(_findings(src)) == 2


def test_flag_not_first_in_and_stays_live():
    # ``connect and _IS_SYNC``: narrow rule, only a leading operand decides the test
    src = REPRO.replace("FLAG", "False").replace("_IS_SYNC and connect", "connect and _IS_SYNC")
    assert _findings(src) == [DISCARD]


def test_or_led_by_true_flag_kills_the_else():
    src = REPRO.replace("FLAG", "True").replace("if not _IS_SYNC:", "if _IS_SYNC or host:")
    assert _findings(src) == [DISCARD]


def test_elif_chain_after_a_true_test_is_dead():
    src = '''
    import socket
    import time

    _IS_SYNC = False


    async def f(host, wait):
        if not _IS_SYNC:
            return host
        elif wait:
            time.sleep(1)
        else:
            return socket.getaddrinfo(host, 80)
    '''
    assert _findings(src) == []
    assert len(_findings(src.replace("_IS_SYNC = False", "_IS_SYNC = True"))) == 2


def test_false_flag_keeps_elif_and_else_live():
    src = '''
    import time

    _IS_SYNC = False


    async def f(wait):
        if _IS_SYNC:
            time.sleep(1)
        elif wait:
            time.sleep(2)
    '''
    assert _findings(src) == [("LW201", _line(src, "time.sleep(2)"))]


def test_class_body_branch_defines_no_method():
    src = '''
    _IS_SYNC = False


    class C:
        if _IS_SYNC:
            def close(self):
                pass
        else:
            async def aclose(self):
                pass
    '''
    s = _summaries(src)
    assert set(s.classes["C"].methods) == {"aclose"}
    s = _summaries(src.replace("_IS_SYNC = False", "_IS_SYNC = True"))
    assert set(s.classes["C"].methods) == {"close"}


def test_constant_is_per_module():
    src = "import helpers\n\nif helpers._IS_SYNC:\n    pass\n"
    assert bool_constants(src) == {}


@pytest.mark.parametrize("src, expected", [
    ("_IS_SYNC = False\nif _IS_SYNC:\n    pass\n", {"_IS_SYNC": False}),
    ("_X = True\ndef f():\n    if not _X:\n        pass\n", {"_X": True}),
    ("X = True\ndef f():\n    if not X:\n        pass\n", {}),               # public: a setting others assign
    ("_X = True\ndef f():\n    global _X\n    _X = False\nif _X:\n    pass\n", {}),
    ("_X = True  # flag\nif (_X):\n    pass\n", {"_X": True}),
    ("_X = False\n", {}),                                # never tested by an if
    ("_X = 0\nif _X:\n    pass\n", {}),                   # not a bool literal
    ("_X = Y = False\nif _X:\n    pass\n", {}),           # chained: not one plain assignment
    ("_X = False\nif _X:\n    pass\n_X = False\n", {}),
    ("_X = False\ndef f():\n    _X = True\n    if _X:\n        pass\n", {}),
    ("_X = False\nif _X:\n    pass\n'''\n_X = True\n'''\n", {"_X": False}),   # text in a string
])
def test_bool_constants(src, expected):
    assert bool_constants(src) == expected
    tree = compile(src, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    assert bool_constants(src, tree) == expected


def test_unreadable_source_has_no_constants():
    assert bool_constants("_X = False\nif _X:\n    pass\ndef (:\n") == {}


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "async"


@pytest.mark.parametrize("case", ["module_constant_sync_branch", "module_constant_sync_branch_clean"])
def test_fixture_pair_summaries_agree(case):
    for p in sorted((FIXTURES / case).rglob("*.py")):
        _summaries(p.read_text())
