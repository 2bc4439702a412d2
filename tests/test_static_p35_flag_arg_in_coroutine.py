"""P35: a constant argument that rules out the callee's blocking branch, in a coroutine.

streamz's ``from_q._run`` calls ``self.emit(out, asynchronous=True)``; ``Stream.emit`` blocks
(``sync()``: a ``threading.Event.wait`` until another thread's loop has run the emit) only
in the ``else`` of ``if self.loop is None or asynchronous or self.asynchronous:``. LW131 has
dropped such events at a call passing the constant since P16 (``graph.ConstantGuards``);
LW201's walk (``asyncflow.reach_blocking``) now does the same, at every call it follows.
Every case runs with both summarisers (ast and libcst walks)."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings

STREAM = """
import threading


def sync(loop, func):
    e = threading.Event()
    loop.call_soon_threadsafe(lambda: (func(), e.set()))
    e.wait()


class Stream:
    def __init__(self, loop=None):
        self.loop = loop
        self.asynchronous = False
        self._lock = threading.Lock()

    def _emit(self, x):
        return [x]

    def emit(self, x, asynchronous=False):
        if self.loop is None or asynchronous or self.asynchronous:
            return self._emit(x)
        else:
            sync(self.loop, lambda: self._emit(x))

"""


def _findings(src: str, walk: str) -> list:
    found = findings({"stream.py": STREAM + textwrap.dedent(src)}, walk)
    return sorted((f.code, f.location.line) for f in found if f.code in ("LW201", "LW131"))


def _line(src: str, text: str) -> int:
    full = STREAM + textwrap.dedent(src)
    return next(i for i, ln in enumerate(full.splitlines(), 1) if text in ln)


def _check(src: str, walk: str, *reported: tuple[str, str]) -> None:
    assert _findings(src, walk) == sorted((code, _line(src, text)) for code, text in reported)


@pytest.mark.parametrize("walk", WALKS)
def test_repro_keyword_flag_in_coroutine_and_under_lock_quiet(walk):
    src = """
    class FromQueue(Stream):
        async def _run(self, q):
            out = q.get_nowait()
            self.emit(out, asynchronous=True)

        def push_locked(self, out):
            with self._lock:
                self.emit(out, asynchronous=True)
    """
    _check(src, walk)


@pytest.mark.parametrize("walk", WALKS)
def test_twin_default_stays_reported(walk):
    src = """
    class FromQueue(Stream):
        async def _run(self, q):
            out = q.get_nowait()
            self.emit(out)  # A

        def push_locked(self, out):
            with self._lock:
                self.emit(out)  # B
    """
    _check(src, walk, ("LW201", "# A"), ("LW131", "# B"))


@pytest.mark.parametrize("walk", WALKS)
def test_positional_flag_on_bound_receiver(walk):
    src = """
    class FromQueue(Stream):
        async def _run(self, q):
            self.emit(q.get_nowait(), True)
    """
    _check(src, walk)


@pytest.mark.parametrize("walk", WALKS)
def test_flag_that_does_not_rule_the_branch_out(walk):
    # asynchronous=False leaves the 'or' up to the loop: the sync() branch can run
    src = """
    class FromQueue(Stream):
        async def _run(self, q):
            self.emit(q.get_nowait(), asynchronous=False)  # A
    """
    _check(src, walk, ("LW201", "# A"))


@pytest.mark.parametrize("walk", WALKS)
def test_flag_passed_deeper_in_the_chain(walk):
    # the constant is passed by the sync helper the coroutine calls, one step down
    src = """
    class FromQueue(Stream):
        def _forward(self, out):
            return self.emit(out, asynchronous=True)

        def _forward_blocking(self, out):
            return self.emit(out)

        async def _run(self, q):
            self._forward(q.get_nowait())

        async def _run_blocking(self, q):
            self._forward_blocking(q.get_nowait())  # A
    """
    _check(src, walk, ("LW201", "# A"))


@pytest.mark.parametrize("walk", WALKS)
def test_same_callee_with_and_without_flag_in_either_order(walk):
    # one cache entry per (callee, events ruled out): the quiet call does not hide the other
    src = """
    class FromQueue(Stream):
        async def a_first(self, q):
            self.emit(q.get_nowait(), asynchronous=True)

        async def b_second(self, q):
            self.emit(q.get_nowait())  # A

        async def c_third(self, q):
            self.emit(q.get_nowait(), asynchronous=True)
    """
    _check(src, walk, ("LW201", "# A"))


@pytest.mark.parametrize("walk", WALKS)
def test_flag_does_not_cover_an_unguarded_blocking_call(walk):
    # only the events under the guard are ruled out: a wait outside it stays
    src = """
    class Flushing(Stream):
        def emit(self, x, asynchronous=False):
            if not asynchronous:
                sync(self.loop, lambda: self._emit(x))
            threading.Event().wait()

        async def _run(self, q):
            self.emit(q.get_nowait(), asynchronous=True)  # A
    """
    _check(src, walk, ("LW201", "# A"))
