"""LW302's message for the "test a flag, act, reset the flag" shape (circuits 3.2.5,
``Manager._dispatcher``: ``if self._cache_needs_refresh: self._cache.clear();
self._cache_needs_refresh = False`` while other threads set the flag with no lock). The
hazard there is a lost update (a set between the test and the reset is overwritten), not
"two threads can both pass the test". The summary records what the act stores (the write's
``v``), not what the test compares with: an act that rebinds the tested attribute to
``None``/``False``/``0`` is the reset (``races.reset_value``). Every other act keeps the
"both pass the test" message: lazy initialisation, a set-once flag (``= True``), an
in-place change, other constants. Where the findings are does not change. Both walks."""

from __future__ import annotations

import pytest
from walks import WALKS, summaries

from lockwatch.config import Config
from lockwatch.static.engine import analyse_summaries

BASE = """
import threading


class Dispatcher:
    def __init__(self):
        self._lock = threading.Lock()
        self._handlers = []
        self._cache = {}
        self._flag = INIT

    def register(self, handler):
        with self._lock:
            self._handlers.append(handler)
        self._flag = SET

    def dispatch(self, name):
        if TEST:  # test
            self._cache.clear()
            self._flag = ACT  # act
        return self._cache.get(name)
"""


def make(test: str, act: str, init: str = "False", set_: str = "True") -> str:
    return (BASE.replace("TEST", test).replace("ACT", act).replace("INIT", init)
            .replace("SET", set_))


def lw302(src: str, walk: str) -> list:
    report = analyse_summaries(summaries({"m.py": src}, walk), Config(select=["LW302"]))
    return [f for f in report.findings if f.code == "LW302"]


def line_of(src: str, marker: str) -> int:
    import textwrap

    for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1):
        if marker in ln:
            return i
    raise AssertionError(marker)


RESETS = [
    # (test, act, init, set, shown)
    ("self._flag", "False", "False", "True", "False"),                 # circuits
    ("self._flag is not None", "None", "None", "object()", "None"),    # a slot emptied
    ("self._flag > 10", "0", "0", "self._flag + 1", "0"),               # a counter restarted
]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("test,act,init,set_,shown", RESETS)
def test_a_reset_of_the_tested_attribute_is_named_a_lost_update(test, act, init, set_, shown, walk):
    src = make(test, act, init, set_)
    (f,) = lw302(src, walk)
    assert f.line == line_of(src, "# test")
    assert f"tests self._flag and then resets it to {shown} (m.py:{line_of(src, '# act')})" in f.message
    assert "a value another thread stores in self._flag after the test is lost" in f.message
    (rel,) = f.related
    assert rel.line == line_of(src, "# act")
    assert rel.note == f"... then resets self._flag to {shown} without a lock"


NOT_RESETS = [
    # (test, act, init, set): the act stores something else than None/False/0
    ("self._flag is None", "object()", "None", "None"),      # lazy initialisation
    ("not self._flag", "True", "False", "False"),             # set-once flag
    ("self._flag > 10", "1", "0", "self._flag + 1"),           # another int
    ("self._flag", "0.0", "0.0", "1.0"),                       # a float zero
    ("self._flag", "''", "''", "'x'"),                         # an empty string
    ("self._flag", "self._default", "None", "1"),              # a value, not a constant
]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("test,act,init,set_", NOT_RESETS)
def test_other_acts_keep_the_both_pass_message(test, act, init, set_, walk):
    src = make(test, act, init, set_)
    (f,) = lw302(src, walk)
    assert f.line == line_of(src, "# test")
    assert f"tests self._flag and then assigns it (m.py:{line_of(src, '# act')})" in f.message
    assert f.message.endswith("two threads can both pass the test")
    assert "reset" not in f.message and "lost" not in f.message
    assert f.related[0].note == "... then assigns self._flag without a lock"


CONTAINER = """
import threading


class Buffer:
    def __init__(self):
        self._lock = threading.Lock()
        self._items = []

    def add(self, x):
        with self._lock:
            self._items.append(x)

    def flush(self):
        if self._items:  # test
            self._items.clear()
"""


@pytest.mark.parametrize("walk", WALKS)
def test_an_in_place_change_keeps_the_changes_message(walk):
    (f,) = lw302(CONTAINER, walk)
    assert "tests self._items and then changes it" in f.message
    assert f.message.endswith("two threads can both pass the test")


LOCKED = make("self._flag", "False").replace(
    "        if self._flag:  # test\n            self._cache.clear()\n            self._flag = False  # act\n",
    "        with self._lock:\n            if self._flag:\n                self._cache.clear()\n"
    "                self._flag = False\n")


@pytest.mark.parametrize("walk", WALKS)
def test_the_reset_under_one_lock_is_still_clean(walk):
    assert "with self._lock:\n            if self._flag:" in LOCKED
    assert lw302(LOCKED, walk) == []


GLOBAL = """
import threading

_lock = threading.Lock()
_registry = {}
_dirty = False


def register(name, fn):
    with _lock:
        _registry[name] = fn


def refresh():
    global _dirty
    if _dirty:  # test
        _dirty = False
"""


@pytest.mark.parametrize("walk", WALKS)
def test_a_module_global_keeps_its_message(walk):
    # a global's write records no value (``gwr``): the reset cannot be told, the message stays
    (f,) = lw302(GLOBAL, walk)
    assert f.line == line_of(GLOBAL, "# test")
    assert f.message.endswith("two threads can both pass the test")
