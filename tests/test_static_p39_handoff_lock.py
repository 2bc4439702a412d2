"""P39 (docs/real-world.md, sixth batch): a lock handed over by a hand-off API is held by
everything the caller runs between the acquiring call and the releasing one.

concurrent-log-handler's ``emit`` calls ``self._do_lock()`` (takes an RLock and returns
holding it), then the stream helpers, then ``self._do_unlock()`` (releases the lock it did
not take) in a ``finally``. The race rules must count the lock as held in those helpers,
and only there: a caller without the hand-off, a hand-off opened conditionally, or code
after the release keep their findings."""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources


def scan(src: str, **more: str):
    files = {"mod.py": textwrap.dedent(src)}
    files.update({k: textwrap.dedent(v) for k, v in more.items()})
    report = scan_sources(files, Config(root=".", no_cache=True, select=["ALL"]))
    assert not report.errors
    return report.findings


def lines(findings, code=None):
    return sorted((f.code, f.location.line) for f in findings if code is None or f.code == code)


def at(src: str, marker: str) -> int:
    """1-based line of the only line of ``src`` (as scanned: dedented) holding ``marker``."""
    text = textwrap.dedent(src).splitlines()
    hits = [i + 1 for i, ln in enumerate(text) if marker in ln]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


HANDLER = '''
import threading


class FileHandler:
    def __init__(self, path):
        self.path = path
        self._thread_lock = threading.RLock()
        self.stream = None
        self.is_locked = False

    def _do_lock(self):
        self._thread_lock.acquire()
        ok = False
        try:
            self.is_locked = True
            ok = True
        finally:
            if not ok:
                self._thread_lock.release()

    def _do_unlock(self):
        if self.is_locked:                         # unlock-test
            self.is_locked = False
            self._thread_lock.release()

    def emit(self, msg):
        self._do_lock()
        try:
            self.do_write(msg)
        finally:
            self._do_unlock()

    def do_write(self, msg):
        if self.stream is None:                    # write-test
            self.stream = open(self.path, "a")
        self.stream.write(msg)
'''


def test_repro_helpers_between_lock_and_unlock_are_locked():
    # before the fix: LW302 at _do_unlock's test and at do_write's
    assert lines(scan(HANDLER)) == []


def test_twin_public_caller_without_the_hand_off_keeps_do_write():
    src = HANDLER + '''
    def write_unlocked(self, msg):
        self.do_write(msg)
'''
    # _do_unlock only ever runs after _do_lock: its finding goes; do_write's stays
    assert lines(scan(src)) == [("LW302", at(src, "# write-test"))]


def test_conditional_hand_off_opens_nothing():
    src = HANDLER.replace("    def emit(self, msg):\n        self._do_lock()",
                          "    def emit(self, msg):\n        if self.locking:\n            self._do_lock()")
    src = src.replace("self.is_locked = False\n\n", "self.is_locked = False\n        self.locking = True\n\n", 1)
    assert ("LW302", at(src, "# write-test")) in lines(scan(src), "LW302")


def test_used_result_is_not_a_hand_off():
    # ``if self._do_lock():`` is a try-lock shape: the hand-off is not assumed
    src = HANDLER.replace("        self._do_lock()\n        try:", "        if not self._do_lock():\n            return\n        try:")
    assert ("LW302", at(src, "# write-test")) in lines(scan(src))


def test_no_releaser_no_hand_off():
    # the lock is released by emit itself, not by a method that gives up a lock it did not
    # take: no pairing (narrow on purpose), the helper keeps its finding
    src = HANDLER.replace("            self._do_unlock()", "            self._thread_lock.release()")
    assert ("LW302", at(src, "# write-test")) in lines(scan(src))


def test_accesses_after_the_release_are_unlocked():
    src = HANDLER.replace('''            self._thread_lock.release()
''', '''            self._thread_lock.release()
        if self.stream is None:                    # after-release
            self.stream = open(self.path, "a")
''', 1)
    # _do_unlock's own test of is_locked is before the release (locked); the one after is not
    assert lines(scan(src), "LW302") == [("LW302", at(src, "# after-release"))]


def test_callers_own_accesses_between_the_calls_are_locked():
    src = HANDLER.replace('''            self.do_write(msg)
        finally:''', '''            if self.stream is None:
                self.stream = open(self.path, "a")
            self.stream.write(msg)
        finally:''')
    src = src.replace('''    def do_write(self, msg):
        if self.stream is None:                    # write-test
            self.stream = open(self.path, "a")
        self.stream.write(msg)
''', "")
    assert "do_write" not in src.replace("self.do_write", "")
    assert lines(scan(src)) == []


def test_composed_handler_holds_the_inner_handlers_lock_in_its_callees():
    # ConcurrentTimedRotatingFileHandler: self.clh._do_lock() ... self.clh._do_unlock(), and
    # between them self.should_rollover(), which calls self.clh.should_rollover(), which
    # calls the inner handler's _should_rollover (concurrent-log-handler __init__.py:872)
    inner = HANDLER + '''
    def should_rollover(self):
        return self._should_rollover()

    def _should_rollover(self):
        if self.stream is None:                    # roll-test
            self.stream = open(self.path, "a")
        return self.stream.tell() > 100
'''
    outer = '''
    from mod import FileHandler


    class Timed:
        def __init__(self, path):
            self.clh = FileHandler(path)

        def emit(self, msg):
            self.clh._do_lock()
            try:
                if self.should_rollover():
                    pass
                self.clh.do_write(msg)
            finally:
                self.clh._do_unlock()

        def should_rollover(self):
            return self.clh.should_rollover()
    '''
    assert lines(scan(inner, **{"timed.py": outer})) == []
    # the same composition without the hand-off around should_rollover: reported again
    bare = outer.replace("            self.clh._do_lock()\n", "").replace("            self.clh._do_unlock()\n", "            pass\n")
    # (the inner emit still holds it around do_write; only the timed path loses it)
    assert ("LW302", at(inner, "# roll-test")) in lines(scan(inner, **{"timed.py": bare}))


def test_method_also_handed_to_a_thread_gets_no_entry_lock():
    src = HANDLER + '''
    def start(self):
        threading.Thread(target=self.do_write, args=("x",)).start()
'''
    assert ("LW302", at(src, "# write-test")) in lines(scan(src))
