"""A parameter guard that ends in an early exit guards what follows (P38's second shape).

``if isinstance(fp, io.IOBase): ...; return`` then ``self.fp = open(fp)``, or ``if not
block: return self._put_nowait(item)`` then ``self.not_full.wait()``: the statements after
such an ``if`` (no ``else``, its body ending in ``return``/``raise``, in the function's
top-level block) run only where its ``else`` would, so their events carry the ``else``'s
``pg`` entries (summary.py, version 28; ``summarise_common.tag_after_exits``), and
``graph.ConstantGuards`` rules them out at a call that passes a ruled-out argument. The
twins keep no guard: a body that may fall through (a ``return`` in a nested ``if``, a
``try``, no exit at all), an ``if`` inside a loop, a ``try`` or a ``with`` (kept to the top
level), an ``elif`` chain, a rebound parameter. Both summarisers (``same_summary``)."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings, same_summary

FILE = """
import io


class File:
    def __init__(self, fp, filename=None):
        self.filename = filename
        if isinstance(fp, io.IOBase):
            self.fp = fp
            return
        self.fp = open(fp, "rb")
        self.owner = True
"""

ISA = ["fp", {"isa": ["io.IOBase"]}]


def events(src: str, qual: str) -> list:
    return same_summary(src)["functions"][qual]["events"]


def pg_of(evs: list, **match) -> list:
    """The ``pg`` of the one event with those fields (None when it has none)."""
    (ev,) = [e for e in evs if all(e.get(k) == v for k, v in match.items())]
    return ev.get("pg")


# ---------------------------------------------------------------- the summary

def test_what_follows_an_isinstance_early_return_carries_the_else_guard():
    evs = events(FILE, "File.__init__")
    assert pg_of(evs, f="open") == [ISA]
    assert pg_of(evs, e="wr", r="@self.owner") == [ISA]
    # before the if and inside its body: not ruled out by it
    assert pg_of(evs, e="wr", r="@self.filename") is None
    assert pg_of(evs, e="wr", r="@self.fp", l=9) is None
    assert same_summary(FILE)["functions"]["File.__init__"]["guard_params"] == ["fp"]


@pytest.mark.parametrize("early", [
    """
        if not block:
            return self._put_nowait(item)
        self.not_full.wait()
    """,
    """
        if not block: return self._put_nowait(item)
        self.not_full.wait()
    """,
    """
        if not block:
            self.n += 1
            raise Full
        self.not_full.wait()
    """,
])
def test_the_early_exit_tags_what_follows_exactly_as_its_else(early):
    body = textwrap.indent(textwrap.dedent(early).strip("\n"), "        ")
    src = "class Q:\n    def put(self, item, block=True):\n" + body + "\n"
    as_else = """
        class Q:
            def put(self, item, block=True):
                if not block:
                    return self._put_nowait(item)
                else:
                    self.not_full.wait()
    """
    want = pg_of(events(as_else, "Q.put"), f="@self.not_full.wait")
    assert want == [["block", [False, None]]]
    assert pg_of(events(src, "Q.put"), f="@self.not_full.wait") == want


def test_two_early_exits_both_guard_what_follows_the_first_one_first():
    evs = events("""
        def get(a, b):
            x()
            if a is None:
                raise ValueError(a)
            y()
            if b is not None:
                return b
            z()
    """, "get")
    assert pg_of(evs, f="x") is None
    assert pg_of(evs, f="y") == [["a", [None]]]
    assert pg_of(evs, f="z") == [["a", [None]], ["b", [True, False]]]


def test_an_inner_if_after_the_early_exit_keeps_its_own_guard_after_the_outer_one():
    evs = events("""
        def put(item, block=True, timeout=None):
            if not block:
                return put_nowait(item)
            if timeout is None:
                wait()
    """, "put")
    assert pg_of(evs, f="wait") == [["block", [False, None]], ["timeout", [True, False]]]


@pytest.mark.parametrize("src", [
    # the body may fall through: the return is in a nested if
    """
        def load(fp, strict):
            if isinstance(fp, io.IOBase):
                if strict:
                    return fp
            return open(fp)
    """,
    # the return is inside a try in the body (its handler falls through)
    """
        def load(fp):
            if isinstance(fp, io.IOBase):
                try:
                    return fp.detach()
                except ValueError:
                    pass
            return open(fp)
    """,
    # the body does not leave at all
    """
        def load(fp):
            if isinstance(fp, io.IOBase):
                fp.seek(0)
            return open(fp)
    """,
    # in a loop: continue/break do not leave the function (and the if is not at the top level)
    """
        def load(fps):
            for fp in fps:
                if isinstance(fp, io.IOBase):
                    continue
                open(fp)
    """,
    # an if in a loop whose body ends in break
    """
        def load(fp, n):
            while n:
                if isinstance(fp, io.IOBase):
                    break
                open(fp)
    """,
    # inside a try: kept to the function's top-level block (and its with bodies, below)
    """
        def load(fp):
            try:
                if isinstance(fp, io.IOBase):
                    return fp
                return open(fp)
            except OSError:
                pass
    """,
    # a raise inside a with: the manager may suppress it and go on after the with (P47)
    """
        def load(fp, lock):
            with lock:
                if isinstance(fp, io.IOBase):
                    raise TypeError
            open(fp)
    """,
    # a with inside a loop is not the top-level block
    """
        def load(fp, lock, n):
            while n:
                with lock:
                    if isinstance(fp, io.IOBase):
                        return fp
                open(fp)
    """,
    # an elif chain: what follows it is not the else of the first test
    """
        def load(fp, other):
            if isinstance(fp, io.IOBase):
                return fp
            elif other:
                pass
            return open(fp)
    """,
    # the parameter is rebound after the test: the test no longer says what it holds
    """
        def load(fp):
            if isinstance(fp, io.IOBase):
                return fp
            fp = fp.strip()
            return open(fp)
    """,
    # the last statement of the body is a nested function (its return leaves only itself)
    """
        def load(fp):
            if isinstance(fp, io.IOBase):
                def inner():
                    return fp
            return open(fp)
    """,
])
def test_twins_keep_no_guard(src):
    evs = events("import io\n" + textwrap.dedent(src), "load")
    assert pg_of(evs, f="open") is None


def test_a_return_inside_a_top_level_with_guards_what_follows_in_it_and_after_it():
    # P47: a with in the top-level block runs its body once, straight through; a return there
    # leaves the function (pyrate-limiter's 'if _force_async: return ...' under its lock)
    src = """
        def load(fp, lock):
            with lock:
                if isinstance(fp, io.IOBase):
                    return fp
                open(fp)
            open(fp, "rb")
    """
    evs = events("import io\n" + textwrap.dedent(src), "load")
    assert [e.get("pg") for e in evs if e.get("f") == "open"] == [[ISA], [ISA]]


# ---------------------------------------------------------------- the findings

def lw201_through_file(caller: str, walk: str) -> list:
    return sorted((f.path, f.line) for f in findings({"m.py": FILE + caller}, walk)
                  if f.code == "LW201" and "through File.__init__" in f.message)


@pytest.mark.parametrize("walk", WALKS)
def test_a_bytesio_argument_rules_the_open_after_the_early_return_out(walk):
    assert lw201_through_file("""

async def to_file(data):
    return File(io.BytesIO(data), filename="x")
""", walk) == []


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("arg", ['"a/path.bin"', "fp", "io.open(fp)"])
def test_a_path_or_unknown_argument_still_reaches_the_open(walk, arg):
    assert lw201_through_file(f"""

async def to_file(fp):
    return File({arg}, filename="x")
""", walk) == [("m.py", 16)]


@pytest.mark.parametrize("walk", WALKS)
def test_a_put_without_blocking_rules_the_wait_after_the_early_return_out(walk):
    src = """
import threading


class Q:
    def __init__(self):
        self.mutex = threading.Lock()
        self.not_full = threading.Condition(self.mutex)

    def put(self, item, block=True):
        if not block:
            return self._put_nowait(item)
        with self.not_full:
            self.not_full.wait()

    def _put_nowait(self, item):
        pass


async def feed(q: Q, item):
    q.put(item, block=False)


async def feed_blocking(q: Q, item):
    q.put(item)
"""
    got = sorted(f.line for f in findings({"m.py": src}, walk) if f.code == "LW201")
    assert got == [25]
