from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shop.pool import Pool


class Conn:
    def __init__(self, pool: Pool) -> None:
        self._lock = threading.Lock()
        self.pool = pool
        self.dirty = False

    def reset(self) -> None:
        with self._lock:
            self.dirty = False

    def close(self) -> None:
        with self._lock:
            self.dirty = True
            self.pool.release(self)  # takes Pool._lock while Conn._lock is held

    def close_safely(self) -> None:
        # The look-alike that is fine: hand the connection back after releasing our lock.
        with self._lock:
            self.dirty = True
        self.pool.release(self)
