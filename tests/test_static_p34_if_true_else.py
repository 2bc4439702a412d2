"""P34 (fifth real-world batch, docs/real-world.md): the ``else:`` of a literal ``if True:``
never runs. psycopg's generated async modules keep the sync statement there (``if True:  #
ASYNC`` / ``else:``); the summarisers skipped the body of ``if False:`` (P17) but walked this
``else``, so a setter "dropped" a coroutine (LW204) and a coroutine "called"
``socket.getaddrinfo`` (LW201). Both summarisers, with the live twins."""

from __future__ import annotations

import pytest
from walks import findings


def _findings(src: str, walk: str) -> list:
    return sorted((f.code, f.location.line) for f in findings({"m.py": src}, walk))


def _both(src: str) -> list:
    a = _findings(src, "ast")
    assert a == _findings(src, "cst")
    return a


RESOLVE = """
import asyncio
import socket

async def resolve(host, port):
    if {test}:
        loop = asyncio.get_running_loop()
        ans = await loop.getaddrinfo(host, port)
    else:
        ans = socket.getaddrinfo(host, port)
    return ans
"""

SETTER = """
import asyncio

class AsyncConnection:
    def _set_autocommit(self, value):
        if {test}:
            raise TypeError("use await set_autocommit()")
        elif value is None:
            self.set_autocommit(False)
        else:
            self.set_autocommit(value)

    async def set_autocommit(self, value):
        await asyncio.sleep(0)
"""


@pytest.mark.parametrize("test", ["True", "1", "0x10"])
def test_else_of_literal_true_is_dead(test):
    assert _both(RESOLVE.format(test=test)) == []
    assert _both(SETTER.format(test=test)) == []


@pytest.mark.parametrize("test", ["False", "0", "flag", "asyncio"])
def test_else_of_anything_else_stays_live(test):
    assert _both(RESOLVE.format(test=test)) == [("LW201", 10)]
    assert _both(SETTER.format(test=test)) == [("LW204", 9), ("LW204", 11)]


def test_class_body_if_true_defines_only_its_body():
    src = """
        import asyncio

        class Conn:
            if True:
                async def close(self):
                    await asyncio.sleep(0)
            else:
                def close(self):
                    pass

            def __del__(self):
                self.close()
    """
    # the async close is the only one defined: a sync __del__ dropping its coroutine
    assert _both(src) == [("LW204", 13)]
