"""P40 (docs/real-world.md, sixth batch): ``if self.ev is not None: self.ev.clear()`` on an
attribute holding an ``asyncio.Event`` is not a check-then-act on the attribute, also when
the linker loses the event's type: apprise imports asyncio in ``try: ... except ImportError:
asyncio = None`` and stores the event from a local. The race analysis reads the attribute's
annotation (``Optional[asyncio.Event]``), the local's constructor call, and a constructor
call the linker left unnamed, through the module's imports. A plain dict in the same shape
stays reported, as does an annotation contradicted by what is stored."""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources

HEAD_TRY = '''
import threading
from typing import Optional

try:
    import asyncio
except ImportError:
    asyncio = None
'''

HEAD_PLAIN = '''
import asyncio
import threading
from typing import Optional
'''

BODY = '''

class Adapter:
    def __init__(self):
        self._state_lock = threading.RLock()
        self._loop = None
        self._ev: ANN = None

    def _runner(self):
        loop = asyncio.new_event_loop()
        started = MAKE
        with self._state_lock:
            self._loop = loop
            self._ev = STORE
        loop.run_forever()

    async def _send_async(self, client, msg):
        try:
            await client.send(msg)
            return True
        except Exception:
            if self._ev is not None:               # the test
                self._ev.clear()
            return False

    def send(self, client, msg):
        coro = self._send_async(client, msg)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)
'''


def program(head=HEAD_TRY, ann="Optional[asyncio.Event]", make="asyncio.Event()", store="started"):
    body = BODY if ann else BODY.replace("self._ev: ANN = None", "self._ev = None")
    return textwrap.dedent(head + body.replace("ANN", ann).replace("MAKE", make).replace("STORE", store))


def lw302(src: str) -> list[int]:
    report = scan_sources({"mod.py": src}, Config(root=".", no_cache=True, select=["ALL"]))
    assert not report.errors
    return sorted(f.location.line for f in report.findings if f.code == "LW302")


def test_line(src: str) -> int:
    return next(i + 1 for i, ln in enumerate(src.splitlines()) if "# the test" in ln)


test_line.__test__ = False   # a helper, not a test


def test_repro_try_import_and_local_with_annotation():
    # apprise's adapter.py:988: all three at once; before the fix, LW302 at the test
    assert lw302(program()) == []


def test_annotation_alone_covers_a_local_of_unknown_type():
    # a plain import, the event made in a local from a call the linker cannot see
    src = program(head=HEAD_PLAIN, make="make_event()")
    assert lw302(src) == []


def test_try_import_direct_constructor_without_annotation():
    src = program(ann="", store="asyncio.Event()")
    assert "self._ev = None" in src
    assert lw302(src) == []


def test_try_import_local_constructor_without_annotation():
    src = program(ann="")
    assert lw302(src) == []


def test_twin_plain_dict_stays_reported():
    src = program(head=HEAD_PLAIN, ann="Optional[dict]", make="{}")
    assert lw302(src) == [test_line(src)]


def test_unannotated_local_from_dict_stays_reported():
    src = program(ann="", make="dict()")
    assert lw302(src) == [test_line(src)]


def test_annotation_contradicted_by_a_stored_literal_is_not_trusted():
    src = program(store="{}")
    assert lw302(src) == [test_line(src)]


def test_local_bound_to_two_constructors_is_not_trusted():
    src = program(ann="", make="asyncio.Event()\n        started = dict()")
    assert lw302(src) == [test_line(src)]


def test_local_shadowing_the_module_name_is_not_the_module():
    # ``asyncio`` rebound inside the function: its ``asyncio.Event()`` says nothing
    src = program(ann="", make="asyncio.Event()").replace(
        "        loop = asyncio.new_event_loop()\n",
        "        loop = asyncio.new_event_loop()\n        asyncio = make_fake()\n")
    assert "asyncio = make_fake()" in src
    assert lw302(src) == [test_line(src)]
