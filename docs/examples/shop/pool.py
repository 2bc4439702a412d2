from __future__ import annotations

import threading

from shop import conn


class Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[conn.Conn] = []

    def _take(self) -> conn.Conn:
        return self._idle.pop() if self._idle else conn.Conn(self)

    def checkout(self) -> conn.Conn:
        with self._lock:
            c = self._take()
            c.reset()  # takes Conn._lock while Pool._lock is held
            return c

    def release(self, c: conn.Conn) -> None:
        with self._lock:
            self._idle.append(c)

    def size(self) -> int:
        with self._lock:
            return len(self._idle)

    def drain(self) -> None:
        with self._lock:
            if self.size():  # size() takes Pool._lock again: a Lock is not reentrant
                self._idle.clear()
