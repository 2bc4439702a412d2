"""The static/runtime join knows a lock wrapper by both names: where the wrapper instance is
stored (the static name, Conn._a) and where the wrapper creates its inner lock (the site the
tracer keys by)."""

from __future__ import annotations

import os

from lockwatch.config import Config
from lockwatch.plugin.join import static_scan

WRAPPED = """\
import threading
class Lock:
    def __init__(self):
        self._lock = threading.Lock()
    def __enter__(self):
        self._lock.acquire()
        return self
    def __exit__(self, *a):
        self._lock.release()
class Conn:
    def __init__(self):
        self._a = Lock()
        self._b = Lock()
    def ab(self):
        with self._a:
            with self._b:
                pass
"""


def test_wrapper_locks_are_found_at_the_inner_creation_site(tmp_path, monkeypatch):
    (tmp_path / "w.py").write_text(WRAPPED)
    monkeypatch.chdir(tmp_path)
    side = static_scan(["w.py"], Config(root=str(tmp_path), no_cache=True))
    inner_site = os.path.join(str(tmp_path), "w.py") + ":4"
    names = [n.rsplit(".", 2)[-2:] for n in side.locks_at.get(inner_site, [])]
    assert ["Conn", "_a"] in names and ["Conn", "_b"] in names, side.locks_at
    # and each wrapper lock keeps its own site (the field)
    assert side.site_of_lock[next(i for i in side.site_of_lock if i.endswith("Conn._a"))].endswith("w.py:12")
