"""P36: calling an ``async def`` without ``await`` gives a coroutine object, not its result.

aiormq's ``ConnectionContext`` keeps ``self._coro = self.__connect()`` and its ``close()``
does ``self._coro.close()``: ``coroutine.close()``, sync. The linker typed the un-awaited
call as what ``__connect`` returns (a Connection) and took ``.close()`` for the async
``Connection.close`` (a false LW204). The value of an un-awaited call of a project coroutine
function is now an unknown receiver (local, attribute, returned value, chained call); an
awaited call's value is still the result, so its ``close()`` not awaited stays reported.
Every case runs with both summarisers (ast and libcst walks)."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings

CONN = """
import asyncio


class Connection:
    async def connect(self):
        pass

    async def close(self):
        pass


async def open_connection() -> Connection:
    conn = Connection()
    await conn.connect()
    return conn


async def open_plain():
    conn = Connection()
    await conn.connect()
    return conn

"""


def _check(src: str, walk: str, *reported: str) -> None:
    full = CONN + textwrap.dedent(src)
    got = sorted((f.code, f.location.line) for f in findings({"conn.py": full}, walk))
    lines = full.splitlines()
    want = sorted(("LW204", next(i for i, ln in enumerate(lines, 1) if mark in ln)) for mark in reported)
    assert got == want


@pytest.mark.parametrize("walk", WALKS)
def test_repro_attribute_and_local_coroutine_close_quiet(walk):
    src = """
    class ConnectionContext:
        def __init__(self):
            self._coro = None

        def _coroutine(self):
            if self._coro is None:
                self._coro = open_connection()
            return self._coro

        def __await__(self):
            return self._coroutine().__await__()

        def close(self):
            if self._coro is not None:
                self._coro.close()


    def cancel_unstarted():
        coro = open_connection()
        coro.close()
    """
    _check(src, walk)


@pytest.mark.parametrize("walk", WALKS)
def test_twin_awaited_result_close_stays_reported(walk):
    src = """
    class ConnectionContext:
        async def run(self):
            conn = await open_connection()
            conn.close()  # A

        async def keep(self):
            self.conn = await open_plain()
            self.conn.close()  # B


    async def use_once():
        conn = await open_plain()
        conn.close()  # C
    """
    _check(src, walk, "# A", "# B", "# C")


@pytest.mark.parametrize("walk", WALKS)
def test_unannotated_result_and_chained_coroutine_close_quiet(walk):
    # the result is known from ``return conn`` alone (no annotation) here
    src = """
    def drop():
        coro = open_plain()
        coro.close()
        open_plain().close()


    class Holder:
        def start(self):
            self.pending = open_plain()

        def stop(self):
            self.pending.close()
    """
    _check(src, walk)


@pytest.mark.parametrize("walk", WALKS)
def test_helper_returning_the_coroutine_object(walk):
    # a sync helper's ``return open_plain()`` hands back the coroutine object; an async
    # one's ``return await open_plain()`` hands back the connection
    src = """
    def make():
        return open_plain()


    async def make_awaited():
        return await open_plain()


    async def use():
        make().close()
        c = make()
        c.close()
        d = await make_awaited()
        d.close()  # D
    """
    _check(src, walk, "# D")


@pytest.mark.parametrize("walk", WALKS)
def test_same_line_awaited_and_unawaited(walk):
    # one statement, two values: only the awaited one is the connection
    src = """
    async def pair():
        coro, conn = open_plain(), await open_plain()
        coro.close()
        conn.close()  # E
    """
    _check(src, walk, "# E")


@pytest.mark.parametrize("walk", WALKS)
def test_task_of_the_call_is_still_a_task(walk):
    # ``create_task(open_plain())`` hands the coroutine to the loop: no LW204 for it, and
    # ``task.cancel()`` is a sync method of the task (unchanged)
    src = """
    async def spawn():
        task = asyncio.create_task(open_plain())
        task.cancel()
        return task
    """
    _check(src, walk)
