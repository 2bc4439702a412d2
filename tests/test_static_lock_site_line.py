"""A lock is named by its factory call's line (SPEC, "Lock identity"), which is where the
runtime tracer sees it created: a lock whose creation a formatter wrapped onto a continuation
line (``self.a = (  # comment`` / ``threading.Lock()`` / ``)``, Pykka's tests/log_handler.py)
must be sited there by the static analysis too, or the plugin's join keys the one lock
differently in its two halves and confirms nothing (repro r3)."""

from __future__ import annotations

import ast
import json

import pytest

from lockwatch.static import summarise_cst
from lockwatch.static.link import link
from lockwatch.static.summarise_ast import summarise_tree

pytest_plugins = ["pytester"]

SHAPES = '''\
import threading
from dataclasses import dataclass, field

G = (  # a trailing comment long enough to make the formatter wrap this line
    threading.Lock()
)
G1 = threading.Lock()
GA: threading.Lock = (
    threading.RLock()
)


class K:
    CA = (
        threading.Lock()
    )
    CB: "threading.Lock" = (
        threading.Lock()
    )

    def __init__(self):
        self.a = (  # a trailing comment long enough to make the formatter wrap this line
            threading.Lock()
        )
        self.b: threading.Lock = (
            threading.Lock()
        )
        self.one = threading.Lock()
        self.c = threading.Condition(
            self.one
        )
        self.d = (
            threading.Condition(
                self.b
            )
        )
        self.e = threading.Condition(
        )
        self.w = (
            Wrap()
        )
        self.locks = [threading.Lock() for _ in range(3)]
        lk = (
            threading.Lock()
        )
        self.lk = lk


@dataclass
class D:
    lock: threading.Lock = field(
        default_factory=threading.Lock
    )


class Wrap:
    def __init__(self):
        self._lock = (
            threading.Lock()
        )

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *a):
        self._lock.release()
'''


def _line_of(text: str) -> int:
    """1-based line of the first line of SHAPES holding ``text``."""
    return next(i for i, ln in enumerate(SHAPES.splitlines(), 1) if text in ln)


# lock id -> (line, col) of its factory call (for a wrapper: the wrapper's constructor call)
WANT = {
    "m.G": (5, 5),                       # module global, wrapped
    "m.G1": (7, 6),                      # one line: unchanged
    "m.GA": (9, 5),                      # annotated global, wrapped
    "m.K.CA": (15, 9),                   # class attribute, wrapped
    "m.K.CB": (18, 9),                   # annotated class attribute, wrapped
    "m.K.a": (23, 13),                   # ``self.x =`` in ``__init__``, wrapped (r3)
    "m.K.b": (26, 13),                   # annotated ``self.x: T =``, wrapped
    "m.K.one": (28, 9),                  # one line: the write's position, as before
    "m.K.e": (37, 9),                    # Condition( / ) starts on the write's line: unchanged
    "m.K.w": (40, 13),                   # a lock wrapper instance, wrapped
    "m.K.locks": (42, 9),                # a container on one line
    "m.K.__init__.lk": (44, 13),         # a local, wrapped
    "m.D.lock": (51, 28),                # dataclass field(default_factory=...): the field call
    "m.Wrap._lock": (59, 13),            # the wrapper's inner lock, wrapped
}


def _models():
    tree = compile(SHAPES, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    yield "ast", link({"m": summarise_tree(tree, SHAPES, "m.py", "m", False)})
    yield "cst", link({"m": summarise_cst.summarise_module(SHAPES, "m.py", "m", False)})


def test_shape_lines_are_where_the_want_table_says():
    # the table's lines are read off the source, not off lockwatch's output
    assert _line_of("self.a = (") + 1 == WANT["m.K.a"][0]
    assert _line_of("self.b: threading.Lock = (") + 1 == WANT["m.K.b"][0]
    assert _line_of("self.w = (") + 1 == WANT["m.K.w"][0]
    assert _line_of("        self._lock = (") + 1 == WANT["m.Wrap._lock"][0]
    assert _line_of("self.one = threading.Lock()") == WANT["m.K.one"][0]
    assert _line_of("self.e = threading.Condition(") == WANT["m.K.e"][0]
    assert _line_of("G = (") + 1 == WANT["m.G"][0]
    assert _line_of("CA = (") + 1 == WANT["m.K.CA"][0]
    assert _line_of("lk = (") + 1 == WANT["m.K.__init__.lk"][0]
    assert _line_of("lock: threading.Lock = field(") == WANT["m.D.lock"][0]
    assert _line_of("self.locks = [") == WANT["m.K.locks"][0]


@pytest.mark.parametrize("walk", ["ast", "cst"])
def test_every_lock_is_sited_at_its_factory_call(walk):
    model = dict(_models())[walk]
    got = {lid: (lc.line, lc.col) for lid, lc in model.locks.items() if lid in WANT}
    assert got == WANT
    # a Condition over a lock, its argument on other lines, wrapped or not, is that lock
    # (sited at that lock's factory call), not a lock of its own
    assert "m.K.c" not in model.locks and "m.K.d" not in model.locks


@pytest.mark.parametrize("walk", ["ast", "cst"])
def test_the_write_keeps_its_own_position(walk):
    """Only the lock's site moves: the ``wr`` event (races, reports) stays on the target."""
    model = dict(_models())[walk]
    evs = [ev for ev in model.functions["m.K.__init__"].summary.events
           if ev["e"] == "wr" and ev["r"] == "@self.a"]
    assert [(ev["l"], ev["c"], ev.get("vp")) for ev in evs] == [(22, 9, [23, 13])]
    one = [ev for ev in model.functions["m.K.__init__"].summary.events
           if ev["e"] == "wr" and ev["r"] == "@self.one"]
    assert len(one) == 1 and "vp" not in one[0]


R3 = '''
import threading


class Pair:
    def __init__(self):
        self.a = (  # a trailing comment long enough to make the formatter wrap this line
            threading.Lock()
        )
        self.b = threading.Lock()

    def ab(self):
        with self.a:
            with self.b:
                return 1

    def ba(self):
        with self.b:
            with self.a:
                return 2


PAIR = Pair()


def test_ab():
    assert PAIR.ab() == 1


def test_ba():
    assert PAIR.ba() == 2
'''


@pytest.mark.parametrize("wrapped", [True, False])
def test_plugin_join_confirms_an_inversion_on_a_wrapped_lock(pytester, wrapped):
    """Repro r3 (wrapped) and its twin (one line): both halves report the LW101 and the join
    confirms it; no runtime edge is listed as unknown to the static analyser."""
    src = R3 if wrapped else R3.replace(
        "self.a = (  # a trailing comment long enough to make the formatter wrap this line\n"
        "            threading.Lock()\n        )", "self.a = threading.Lock()")
    assert (src != R3) is not wrapped
    pytester.makepyfile(test_r3=src)
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch",
                                      "--lockwatch-report=r.json", timeout=90)
    r.assert_outcomes(passed=2)
    rep = json.loads((pytester.path / "r.json").read_text())
    lw101 = [f for f in rep["findings"] if f["code"] == "LW101"]
    assert lw101 and all(f["confirmed"] for f in lw101), json.dumps(lw101, indent=1)
    assert rep["missed_by_static"] == []
