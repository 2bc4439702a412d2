"""``try: import m`` / ``except ImportError: m = None``: the linker resolves ``m`` through the
import, not through the ``None`` fallback (the code using ``m`` runs only when the import
succeeded). Before, every call through such a name was unknown: a blocking ``queue.get()``
under a lock, or a thread-safe ``asyncio.Event`` attribute, went unseen (P40's link half)."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings


def _codes(src: str, walk: str) -> list[tuple[str, int]]:
    return sorted((f.code, f.line) for f in findings({"m.py": textwrap.dedent(src)}, walk))


OPTIONAL_QUEUE = """
import threading
try:
    import queue
except ImportError:
    queue = None

lock = threading.Lock()
q = queue.Queue()


def drain():
    with lock:
        return q.get()
"""


@pytest.mark.parametrize("walk", WALKS)
def test_optional_import_resolves_through_the_import(walk):
    assert _codes(OPTIONAL_QUEUE, walk) == [("LW131", 14)]


@pytest.mark.parametrize("walk", WALKS)
def test_fallback_first_then_import(walk):
    src = OPTIONAL_QUEUE.replace("try:\n    import queue\nexcept ImportError:\n    queue = None\n",
                                 "queue = None\ntry:\n    import queue\nexcept ImportError:\n    pass\n")
    assert _codes(src, walk) == [("LW131", 15)]


@pytest.mark.parametrize("walk", WALKS)
def test_a_name_only_ever_none_stays_unknown(walk):
    # no import binds the name: None is all it is, and nothing is resolved through it
    src = OPTIONAL_QUEUE.replace("try:\n    import queue\nexcept ImportError:\n    queue = None\n",
                                 "queue = None\n")
    assert _codes(src, walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_a_name_rebound_to_something_else_is_not_the_import(walk):
    # the fallback is another object, not None: which one runs is not known, as before
    src = OPTIONAL_QUEUE.replace("    queue = None\n", "    queue = object()\n")
    assert _codes(src, walk) == []
