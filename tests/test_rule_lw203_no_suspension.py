"""LW203 leaves out a dropped task whose coroutine cannot suspend (limits 5.8.0,
``MemoryStorage.__setstate__``: ``asyncio.ensure_future(self.__schedule_expiry())``, a
coroutine with no ``await``). It runs to completion in the task's first step, and until that
step runs the loop's ready queue holds the step callback, a strong reference to the task:
it cannot be collected mid-flight.

The exemption needs proof: the spawner's coroutine argument is a call the linker resolves
to project ``async def``s only (every override), each undecorated, with no ``await``,
``async for``, ``async with`` or ``yield`` event in its summary. Everything else stays
reported: a coroutine that awaits anything (``asyncio.sleep(0)``, another coroutine of the
project), an unresolved callee, a decorated one, a coroutine kept in a local first, an
override that awaits. Both summarisers. The runtime side is checked with a program in a
subprocess: a dropped task that finishes in its first step is not reported there either."""

from __future__ import annotations

import pytest
from walks import WALKS, findings

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

# The limits shape, name mangling included.
LIMITS = """
import asyncio


class MemoryStorage:
    def __init__(self):
        self.timer = None

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.timer = None
        asyncio.ensure_future(self.__schedule_expiry())

    async def __expire_events(self):
        await asyncio.sleep(1)

    async def __schedule_expiry(self):
        if not self.timer or self.timer.done():
            self.timer = asyncio.create_task(self.__expire_events())
"""


def lw203(src: str, walk: str, files: dict | None = None) -> list[int]:
    got = findings({"m.py": src, **(files or {})}, walk)
    return sorted(f.line for f in got if f.code == "LW203")


def line_of(src: str, marker: str) -> int:
    import textwrap

    for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1):
        if marker in ln:
            return i
    raise AssertionError(marker)


@pytest.mark.parametrize("walk", WALKS)
def test_limits_ensure_future_of_a_coroutine_without_await_is_clean(walk):
    assert lw203(LIMITS, walk) == []


# Each twin changes one thing that the proof needs; the dropped task is then reported.
TWINS = {
    "awaits_sleep_0": (
        "        if not self.timer or self.timer.done():\n",
        "        await asyncio.sleep(0)\n        if not self.timer or self.timer.done():\n"),
    "awaits_a_project_coroutine": (
        "        if not self.timer or self.timer.done():\n",
        "        await self.__expire_events()\n        if not self.timer or self.timer.done():\n"),
    "async_for": (
        "        if not self.timer or self.timer.done():\n",
        "        async for _ in self.stream:\n            pass\n        if not self.timer or self.timer.done():\n"),
    "async_with": (
        "        if not self.timer or self.timer.done():\n",
        "        async with self.guard:\n            pass\n        if not self.timer or self.timer.done():\n"),
    "async_generator": (
        "        if not self.timer or self.timer.done():\n",
        "        yield\n        if not self.timer or self.timer.done():\n"),
    "decorated": (
        "    async def __schedule_expiry(self):\n",
        "    @retrying\n    async def __schedule_expiry(self):\n"),
    "unresolved_callee": (
        "asyncio.ensure_future(self.__schedule_expiry())",
        "asyncio.ensure_future(self.backend.schedule_expiry())"),
    "public_method": (
        "asyncio.ensure_future(self.__schedule_expiry())",
        "asyncio.ensure_future(self.schedule_expiry())"),
    "kept_in_a_local_first": (
        "        asyncio.ensure_future(self.__schedule_expiry())\n",
        "        coro = self.__schedule_expiry()\n        asyncio.ensure_future(coro)\n"),
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("twin", sorted(TWINS))
def test_twins_that_can_suspend_or_are_unproven_stay_reported(twin, walk):
    old, new = TWINS[twin]
    assert old in LIMITS
    src = LIMITS.replace(old, new)
    if twin == "public_method":
        src = src.replace("async def __schedule_expiry", "async def schedule_expiry")
    assert lw203(src, walk) == [line_of(src, "asyncio.ensure_future(")]


OVERRIDE = """
import asyncio


class Base:
    async def _refresh(self):
        self.stamp = 1

    def kick(self):
        asyncio.create_task(self._refresh())  # KICK


class Remote(Base):
    async def _refresh(self):
        self.stamp = await self.fetch()

    async def fetch(self):
        return 2
"""


@pytest.mark.parametrize("walk", WALKS)
def test_an_override_that_awaits_keeps_the_finding(walk):
    # self._refresh() may run Remote._refresh, which suspends: not proven
    assert lw203(OVERRIDE, walk) == [line_of(OVERRIDE, "# KICK")]
    # without the subclass, the one target cannot suspend
    alone = OVERRIDE[:OVERRIDE.index("class Remote")]
    assert lw203(alone, walk) == []


IMPORTED = """
import asyncio

from pkg.jobs import touch as bump


def on_event(loop: asyncio.AbstractEventLoop):
    asyncio.ensure_future(bump())
    asyncio.create_task(coro=bump())
    loop.create_task(bump())  # LOOP
"""

JOBS_NO_AWAIT = """
STATE = {}


async def touch():
    STATE["n"] = STATE.get("n", 0) + 1
"""


@pytest.mark.parametrize("walk", WALKS)
def test_an_imported_alias_and_a_keyword_argument_are_followed(walk):
    files = {"pkg/__init__.py": "", "pkg/jobs.py": JOBS_NO_AWAIT}
    assert lw203(IMPORTED, walk, files) == []
    awaiting = "import asyncio\n" + JOBS_NO_AWAIT + "    await asyncio.sleep(0)\n"
    files = {"pkg/__init__.py": "", "pkg/jobs.py": awaiting}
    want = sorted(line_of(IMPORTED, m) for m in ("ensure_future(", "create_task(coro=", "# LOOP"))
    assert lw203(IMPORTED, walk, files) == want


MIXED = """
import asyncio


async def quick():
    return 1


async def slow():
    await asyncio.sleep(1)


async def main():
    asyncio.create_task(quick())
    asyncio.create_task(slow())  # SLOW
    asyncio.create_task(quick(), name="q")
"""


@pytest.mark.parametrize("walk", WALKS)
def test_only_the_suspending_one_of_several_is_reported_and_keeps_its_fingerprint(walk):
    got = [f for f in findings({"m.py": MIXED}, walk) if f.code == "LW203"]
    assert [f.line for f in got] == [line_of(MIXED, "# SLOW")]
    # the exempt spawns are still counted: the reported one keeps the fingerprint it had
    # as the second create_task of main (the same source with quick awaiting)
    before = MIXED.replace("    return 1\n", "    await asyncio.sleep(0)\n    return 1\n")
    old = [f for f in findings({"m.py": before}, walk) if f.code == "LW203"]
    assert len(old) == 3
    (slow,) = [f for f in old if f.line == line_of(before, "# SLOW")]
    assert got[0].fingerprint == slow.fingerprint


HOOK = """
import asyncio


class View:
    async def on_timeout(self):
        \"\"\"Called when the view times out: override it.\"\"\"
        pass

    def _dispatch_timeout(self):
        asyncio.create_task(self.on_timeout(), name="view-timeout")  # HOOK
"""


@pytest.mark.parametrize("walk", WALKS)
def test_a_public_hook_method_stays_reported(walk):
    # discord.py 2.7.1 BaseView._dispatch_timeout (ui/view.py:620): the library's
    # on_timeout is empty, a user's subclass awaits in it; the linker sees only the library
    assert lw203(HOOK, walk) == [line_of(HOOK, "# HOOK")]
    private = HOOK.replace("on_timeout", "_on_timeout")
    assert lw203(private, walk) == []


# ---------------------------------------------------------------- runtime

RUNTIME = """
    import asyncio, gc

    async def schedule():
        STATE["n"] = 1            # no await: done in the task's first step

    STATE = {}

    async def main():
        asyncio.ensure_future(schedule())   # QUICK
        await asyncio.sleep(0.05)
        gc.collect()
        assert STATE == {"n": 1}

    asyncio.run(main())
"""


@pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)
def test_runtime_does_not_report_a_dropped_task_that_finished(tmp_path, python):
    res = rh.run(tmp_path, RUNTIME, python=python)
    assert res.returncode == 0, res.explain()
    assert [f for f in res.findings if f["code"] == "LW203"] == [], res.explain()
    # the same program with an await in the coroutine is reported (pending at loop end)
    slow = RUNTIME.replace('STATE["n"] = 1            # no await: done in the task\'s first step',
                           'await asyncio.sleep(5)')
    assert slow != RUNTIME
    slow = slow.replace("        assert STATE == {\"n\": 1}\n", "")
    res = rh.run(tmp_path, slow, python=python)
    assert [f["code"] for f in res.findings if f["code"] == "LW203"] == ["LW203"], res.explain()
