"""LW301 texts seen wrong in the eighth batch (docs/real-world.md, "Message defects seen"):
the finding was right, its words were not.

- ddtrace's ``BudgetRateLimiterWithJitter.limit`` (rate_limiter.py:230) writes the attribute
  under its lock and again after the ``with`` block; "limit writes self.budget without a
  lock, but limit writes it holding _lock" read as a contradiction. The same method on both
  sides now says where the access is against its own hold.
- hazelcast's ``Future.add_done_callback`` (future.py:125) holds ``self._event.condition``,
  the lock of another object; "holding _Event.condition" named it by its owner's class only.
  It is now named by the path the code uses, then the class.

Each keeps a look-alike whose text is unchanged (a witness in another method, a lock of the
object itself, a hold taken with ``acquire()``).
"""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources


def lw301(src: str):
    config = Config()
    config.select = ["LW301"]
    found = scan_sources({"m.py": textwrap.dedent(src)}, config).findings
    return sorted((f for f in found if f.code == "LW301"), key=lambda f: (f.line, f.column))


# ----------------------------------------------------------------- one method on both sides

LIMITER = """
import random
import threading
import time


class Limiter:
    def __init__(self):
        self._lock = threading.Lock()
        self.budget = 0.0
        self.last = 0.0

    def limit(self, f):
        should_call = False
        with self._lock:
            now = time.monotonic()
            self.budget += now - self.last
            should_call = self.budget >= 1.0
            self.last = now
        if should_call:
            self.budget -= 1.0
            return f()
"""


def test_same_method_access_after_its_with_block_says_so():
    found = lw301(LIMITER)
    assert [f.line for f in found] == [21], [(f.line, f.message) for f in found]
    f = found[0]
    assert f.message == ("Limiter.limit writes self.budget without a lock after its `with` block holding "
                         "Limiter._lock, where it writes it (m.py:17)"), f.message
    assert "without a lock, but" not in f.message  # not the contradiction it read as
    # the witness, its lock and the fingerprint's inputs are unchanged
    assert f.locks == ["m.Limiter._lock"]
    assert [(r.line, r.note) for r in f.related] == [
        (17, "Limiter.limit writes self.budget holding Limiter._lock")]


RESETTER = """
import threading


class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self._n = 0
        self._seen = []

    def bump(self):
        self._n = 0
        with self._lock:
            self._n += 1
            self._seen.append(self._n)



class Buffer:
    def __init__(self):
        self._lock = threading.Lock()
        self._items = []

    def drain(self):
        with self._lock:
            self._items.clear()
        return len(self._items)
"""


def test_same_method_access_before_its_with_block_says_so():
    msgs = [(f.line, f.message) for f in lw301(RESETTER)]
    assert (12, ("Counter.bump writes self._n without a lock before its `with` block holding Counter._lock, "
                 "where it writes it (m.py:14)")) in msgs, msgs
    # a read after the block of the same method
    assert (27, ("Buffer.drain reads self._items without a lock after its `with` block holding Buffer._lock, "
                 "where it writes it (m.py:26)")) in msgs, msgs
    assert len(msgs) == 2, msgs


OTHER_METHOD = """
import threading


class Limiter:
    def __init__(self):
        self._lock = threading.Lock()
        self.budget = 0.0

    def refill(self):
        with self._lock:
            self.budget += 1.0

    def spend(self):
        self.budget -= 1.0
"""


def test_witness_in_another_method_keeps_the_old_text():
    found = lw301(OTHER_METHOD)
    assert [f.message for f in found] == [
        ("Limiter.spend writes self.budget without a lock, but Limiter.refill writes it "
        "holding Limiter._lock (m.py:12)")]


MANUAL = """
import threading


class Consumer:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending = set()

    def flush(self):
        self._pending.discard(None)
        self._lock.acquire()
        try:
            self._pending.pop()
        finally:
            self._lock.release()
"""


def test_same_method_hold_taken_with_acquire_keeps_the_old_text():
    # only a ``with`` block has a source extent the text can point before or after
    found = lw301(MANUAL)
    assert [f.message for f in found] == [
        ("Consumer.flush mutates self._pending without a lock, but Consumer.flush writes it "
        "holding Consumer._lock (m.py:14)")], [f.message for f in found]


# ------------------------------------------------------------ the lock of another object

FUTURE = """
import threading


class _Event:
    _flag = False

    def __init__(self):
        self.condition = threading.Condition(threading.Lock())

    def set(self):
        with self.condition:
            self._flag = True
            self.condition.notify_all()

    def is_set(self):
        return self._flag


class Future:
    def __init__(self):
        self._event = _Event()
        self._callbacks = []

    def done(self):
        return self._event.is_set()

    def add_done_callback(self, callback):
        run_callback = False
        with self._event.condition:
            if self.done():
                run_callback = True
            else:
                self._callbacks.append(callback)
        if run_callback:
            callback(self)

    def _invoke_callbacks(self):
        for callback in self._callbacks:
            callback(self)
"""


def test_lock_of_another_object_is_named_by_its_path_then_its_class():
    found = [f for f in lw301(FUTURE) if f.line == 39]
    assert len(found) == 1, [(f.line, f.message) for f in lw301(FUTURE)]
    f = found[0]
    assert f.message == ("Future._invoke_callbacks reads self._callbacks without a lock, racing "
                         "Future.add_done_callback writes it holding self._event.condition "
                         "(_Event.condition) (m.py:34)"), f.message
    assert f.related[0].note == ("Future.add_done_callback writes self._callbacks holding "
                                 "self._event.condition (_Event.condition)")
    assert f.locks == ["m._Event.condition"]


OWN_LOCK = FUTURE.replace("with self._event.condition:", "with self._cond:").replace(
    "self._callbacks = []", "self._callbacks = []\n        self._cond = threading.Condition()")


def test_lock_of_the_object_itself_keeps_its_short_name():
    msgs = [f.message for f in lw301(OWN_LOCK)]
    assert any(m.endswith("writes it holding Future._cond (m.py:35)") for m in msgs), msgs
    assert not any("self._cond" in m for m in msgs), msgs


BRANCHES = """
import threading


class Gauge:
    def __init__(self):
        self._lock = threading.Lock()
        self.n = 0

    def set(self, locked):
        if locked:
            with self._lock:
                self.n = 1
        else:
            self.n = 2
"""


def test_same_method_access_in_the_else_branch_is_placed_by_the_source_only():
    # the ``else`` never runs after the block: the text says where the access is in the
    # source, not that the lock was released before it
    found = lw301(BRANCHES)
    assert [f.message for f in found] == [
        ("Gauge.set writes self.n without a lock after its `with` block holding Gauge._lock, where it writes "
         "it (m.py:13)")], [f.message for f in found]
    assert "releas" not in found[0].message
