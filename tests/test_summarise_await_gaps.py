"""Suspensions the summaries did not record (found by S7D's LW203 work, 6bef180), now
``await`` events in both walks (SUMMARY_VERSION 30, see ``summary.py``):

1. an ``async for`` of a list/set/dict comprehension steps by awaiting in the function's
   own frame: one ``await`` event per ``async for`` clause, at its target, after the events
   of its iterable. A generator expression's ``async for`` runs in the generator's frame,
   when something iterates it: nothing is recorded for it (the clean look-alike);
2. ``async with`` on a manager that has no ref (``async with (a if c else b):``,
   ``async with x or y:``): entering awaits ``__aenter__``, but there is no lock to name,
   so an ``await`` event at the expression, not an ``awith`` acquisition (a manager with a
   ref keeps its ``acq``; an awaited manager, ``async with await m():``, keeps its one
   ``await`` event);
3. an ``await`` inside an f-string implicitly concatenated with other strings
   (``"a" f"{await x}"``, one ``JoinedStr`` in ast, a ``ConcatenatedString`` in libcst,
   which the walks did not look into; ``"a" + f"{await x}"`` was recorded already).

Each summary case is checked on both walks, which must agree byte for byte. Then the rules
that read ``await`` events: LW202 now reports these under a thread lock (real hazards: the
task suspends with the lock held), not the look-alikes; LW203 keeps reporting a dropped task
whose coroutine's only suspension is one of these; P27's ``while q.empty(): await``
proof is broken by one of these between the loop and the ``get()``, as by any await."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings, same_summary, summary_dict


def _events(src: str, walk: str, func: str = "f") -> list[tuple]:
    """(kind, line, col) of the function's await/acq/call events, after checking that both
    walks give the same summary."""
    same_summary(src)
    s = summary_dict(textwrap.dedent(src), walk)
    out = []
    for ev in s["functions"][func]["events"]:
        if ev["e"] == "acq":
            out.append(("acq", ev["m"], ev["r"], ev["l"], ev["c"]))
        elif ev["e"] == "call":
            out.append(("call", ev["f"], ev["l"], ev["c"]))
        elif ev["e"] in ("await", "yield"):
            out.append((ev["e"], ev["l"], ev["c"]))
    return out


# ---------------------------------------------------------------------- 1. comprehensions
@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("src, col", [
    ("async def f(it):\n    return [x async for x in it]\n", 25),
    ("async def f(it):\n    return {x async for x in it}\n", 25),
    ("async def f(it):\n    return {x: 1 async for x in it}\n", 28),
    # a parenthesised tuple target: at the target as each walk places it
    ("async def f(it):\n    return [a async for (a, b) in it]\n", 26),
    # non-ASCII line: columns in characters
    ("async def f(it):\n    s = 'é'; return [x async for x in it]\n", 34),
], ids=["list", "set", "dict", "tuple-target", "non-ascii"])
def test_async_for_of_a_comprehension_is_an_await(src, col, walk):
    assert _events(src, walk) == [("await", 2, col)]


@pytest.mark.parametrize("walk", WALKS)
def test_each_async_clause_steps_after_its_iterable(walk):
    src = "async def f(it):\n    return [(a, b) async for a in src() if await a async for b in a]\n"
    # src() is called, then the first clause steps, its condition awaits, the second steps
    assert _events(src, walk) == [("call", "src", 2, 35), ("await", 2, 30), ("await", 2, 44),
                                  ("await", 2, 62)]


@pytest.mark.parametrize("walk", WALKS)
def test_a_comprehension_as_an_argument_or_a_test(walk):
    src = ("async def f(it):\n    g([y async for y in it], k={z async for z in it})\n"
           "    if [x async for x in it]:\n        pass\n")
    assert _events(src, walk) == [("await", 2, 20), ("await", 2, 45), ("call", "g", 2, 5),
                                  ("await", 3, 21)]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("src", [
    # a generator expression's steps run in its own frame, when it is iterated
    "async def f(it):\n    g = (x async for x in it)\n",
    "async def f(it):\n    return list(x for x in it)\n",
    # a sync comprehension does not suspend
    "async def f(it):\n    return [x for x in it]\n",
    # a lambda body is deferred code
    "async def f(it):\n    return lambda: [x async for x in it]\n",
], ids=["async-genexp", "sync-genexp", "sync-listcomp", "lambda"])
def test_look_alikes_that_do_not_suspend_record_no_await(src, walk):
    assert [e for e in _events(src, walk) if e[0] == "await"] == []


# ---------------------------------------------------------------------- 2. async with
@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("src, want", [
    ("async def f(a, b, c):\n    async with (a if c else b):\n        pass\n", [("await", 2, 17)]),
    ("async def f(x, y):\n    async with x or y:\n        pass\n", [("await", 2, 16)]),
    ("async def f(a, b, c):\n    async with (\n        a if c else b\n    ):\n        pass\n",
     [("await", 3, 9)]),
    # the manager made by calling a non-chain: the call has no ref either
    ("async def f(a, b, c):\n    async with (a or b)() as d:\n        pass\n", [("await", 2, 16)]),
    # a second item without a ref, after one with
    ("async def f(a, b, c):\n    async with a, (b or c) as d:\n        pass\n",
     [("acq", "awith", "a", 2, 16), ("await", 2, 20)]),
], ids=["ifexp", "or", "multiline", "call-of-non-chain", "second-item"])
def test_async_with_on_a_manager_without_ref_is_an_await(src, want, walk):
    assert _events(src, walk) == want


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("src, want", [
    # a ref: the awith acquisition, as before, and no await besides
    ("async def f(x):\n    async with x:\n        pass\n", [("acq", "awith", "x", 2, 16)]),
    # an awaited manager: its own await event, not a second one
    ("async def f(m):\n    async with await m():\n        pass\n", [("call", "m", 2, 22), ("await", 2, 16)]),
    # a sync with on the same expression does not suspend
    ("async def f(a, b):\n    with a or b:\n        pass\n", []),
], ids=["ref", "awaited-manager", "sync-with"])
def test_async_with_look_alikes_are_unchanged(src, want, walk):
    assert _events(src, walk) == want


# ---------------------------------------------------------------------- 3. f-strings
@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("src, want", [
    ("async def f(x):\n    return 'a' f'{await x}'\n", [("await", 2, 19)]),
    ("async def f(x):\n    return f'{await x}' 'b'\n", [("await", 2, 15)]),
    ("async def f(x, y):\n    g(k=f'{x}' 'b' f'{await y}')\n", [("await", 2, 23), ("call", "g", 2, 5)]),
    # an f-string nested in a concatenated one
    ("async def f(x):\n    return f\"{f'{await x}'}\" 'z'\n", [("await", 2, 18)]),
], ids=["str-then-fstring", "fstring-then-str", "three-parts", "nested"])
def test_await_in_a_concatenated_fstring_is_an_await(src, want, walk):
    assert _events(src, walk) == want


@pytest.mark.parametrize("walk", WALKS)
def test_names_read_in_a_concatenated_fstring_are_reads(walk):
    # the task kept in t is used: the f-string reads it
    src = "async def f(x):\n    t = make()\n    return 'task ' f'{t}'\n"
    same_summary(src)
    assert "t" in summary_dict(src, walk)["functions"]["f"]["reads"]


@pytest.mark.parametrize("walk", WALKS)
def test_plain_concatenations_record_nothing(walk):
    src = "async def f(x):\n    y = b'a' b'b'\n    z = 'a' 'b'\n    return 'a' f'{x!r}'\n"
    assert _events(src, walk) == []


# ---------------------------------------------------------------------- rules
def _lines(src: str, code: str, walk: str) -> list[str]:
    src = textwrap.dedent(src)
    lines = src.splitlines()
    return sorted(lines[f.location.line - 1].strip()
                  for f in findings({"m.py": src}, walk) if f.code == code)


LW202_HEAD = """
import asyncio
import threading


class Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        self.a = asyncio.Lock()
        self.b = asyncio.Lock()
        self._data = None

    async def refresh(self, it, fut):
        with {lock}:
            {stmt}
"""

GAP_STATEMENTS = {
    "listcomp": "self._data = [x async for x in it]",
    "dictcomp": "self._data = {x: 1 async for x in it}",
    "async-with": "async with (self.a if it else self.b):\n                pass",
    "fstring": "self._data = 'got ' f'{await fut}'",
}

LOOK_ALIKES = {
    "genexp": "self._data = (x async for x in it)",
    "sync-listcomp": "self._data = [x for x in it]",
    "plain-fstring": "self._data = 'got ' f'{fut}'",
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("gap", sorted(GAP_STATEMENTS))
def test_lw202_reports_these_suspensions_under_a_thread_lock(gap, walk):
    stmt = GAP_STATEMENTS[gap]
    src = LW202_HEAD.format(lock="self._lock", stmt=stmt)
    assert _lines(src, "LW202", walk) == [stmt.splitlines()[0]]
    # under an asyncio lock: made to be held across awaits
    assert _lines(LW202_HEAD.format(lock="self._alock", stmt=stmt), "LW202", walk) == []


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("alike", sorted(LOOK_ALIKES))
def test_lw202_look_alikes_that_do_not_suspend_stay_clean(alike, walk):
    src = LW202_HEAD.format(lock="self._lock", stmt=LOOK_ALIKES[alike])
    assert _lines(src, "LW202", walk) == []


# LW203: limits' shape (test_rule_lw203_no_suspension.py), the coroutine's only possible
# suspension being one of the gaps: it can suspend, so the dropped task stays reported.
LIMITS = """
import asyncio


class MemoryStorage:
    def __init__(self):
        self.timer = None
        self.stream = None
        self.fut = None
        self.guard = asyncio.Lock()
        self.other = asyncio.Lock()

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.timer = None
        asyncio.ensure_future(self.__schedule_expiry())

    async def __schedule_expiry(self):
        {stmt}
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("stmt", [
    "self.seen = [x async for x in self.stream]",
    "self.seen = {x async for x in self.stream}",
    "async with (self.guard if self.timer else self.other):\n            pass",
    "self.note = 'expiry ' f'{await self.fut}'",
], ids=["listcomp", "setcomp", "async-with", "fstring"])
def test_lw203_a_coroutine_that_suspends_only_there_stays_reported(stmt, walk):
    src = LIMITS.format(stmt=stmt)
    assert _lines(src, "LW203", walk) == ["asyncio.ensure_future(self.__schedule_expiry())"]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("stmt", [
    "self.seen = (x async for x in self.stream)",
    "self.note = 'expiry ' f'{self.timer}'",
], ids=["async-genexp", "plain-fstring"])
def test_lw203_look_alikes_that_cannot_suspend_stay_exempt(stmt, walk):
    assert _lines(LIMITS.format(stmt=stmt), "LW203", walk) == []


# P27: nothing else runs between a coroutine's ``while q.empty():`` loop and the get() only
# when nothing in between can suspend. (An ``async with`` between them ended the proof
# already: the mark does not outlive a nested block.)
P27 = """
import asyncio
import queue


class AsCompleted:
    def __init__(self):
        self.queue = queue.Queue()
        self.condition = asyncio.Condition()
        self.other = asyncio.Lock()
        self.stream = None
        self.fut = None

    async def anext(self):
        while self.queue.empty():
            async with self.condition:
                await self.condition.wait()
        {stmt}
        return self.queue.get()
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("stmt", [
    "seen = [x async for x in self.stream]",
    "seen = {x: 1 async for x in self.stream}",
    "note = 'got ' f'{await self.fut}'",
], ids=["listcomp", "dictcomp", "fstring"])
def test_p27_a_suspension_between_the_loop_and_the_get_keeps_lw201(stmt, walk):
    # another task may take the item while this one is suspended there
    assert _lines(P27.format(stmt=stmt), "LW201", walk) == ["return self.queue.get()"]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("stmt", [
    "seen = (x async for x in self.stream)",
    "note = 'got ' f'{self.fut}'",
], ids=["async-genexp", "plain-fstring"])
def test_p27_look_alikes_keep_the_ready_get_clean(stmt, walk):
    assert _lines(P27.format(stmt=stmt), "LW201", walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_calls_in_a_concatenated_fstring_are_calls(walk):
    # the parts of "a" f"{...}" run here, as a lone f-string's do: a blocking call in one is
    # made on the loop
    src = "async def f(sock):\n    log('got ' f'{sock.recv(1)}')\n"
    assert _events(src, walk) == [("call", "sock.recv", 2, 19), ("call", "log", 2, 5)]
