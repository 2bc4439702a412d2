"""Summarising workers that stay alive between the daemon's updates.

``pool.summarise_files`` starts its worker processes when the first file needs parsing and
stops them when it returns: right for a scan, but in the daemon every update pays a new
interpreter and the summariser's imports (~0.1-0.2 s) for the one file that changed. Here,
in the daemon process only, the pool's class is replaced by one that takes idle workers
left by the previous update and leaves (up to ``KEEP``) idle, live ones behind when it
closes. A kept worker is an ordinary pool worker waiting for its next file: the pool's own
handling of deaths (one that died while idle is replaced and its file retried), budgets and
replies applies unchanged.

This leans on ``pool._Pool``'s constructor, ``workers`` list and ``close``, which are not a
public interface: ``install`` checks that they are there, and the daemon works without it
(``install`` returns False and every update starts its workers, as before). A
``summarise_files(..., pool=...)`` parameter in ``pool.py`` would make this unnecessary.
"""

from __future__ import annotations

KEEP = 1
_kept: list = []
_installed = False


def install() -> bool:
    global _installed
    from lockwatch.static import pool

    base = getattr(pool, "_Pool", None)
    if _installed:
        return True
    if base is None or not all(hasattr(base, a) for a in ("grow", "run", "close")):
        return False
    default = pool.DEFAULT_SUMMARISER

    class KeptPool(base):
        def __init__(self, summariser, timeout, *args, **kwargs):
            super().__init__(summariser, timeout, *args, **kwargs)
            if summariser == default:
                while _kept:
                    w = _kept.pop()
                    if w.proc.poll() is None:
                        self.workers.append(w)
                    else:
                        w.close_pipes()

        def close(self):
            keep = []
            if self.summariser == default:
                for w in self.workers:
                    if len(keep) < KEEP and getattr(w, "task", None) is None and w.proc.poll() is None:
                        keep.append(w)
            self.workers = [w for w in self.workers if w not in keep]
            try:
                super().close()
            finally:
                _kept.extend(keep)

    pool._Pool = KeptPool
    _installed = True
    return True


def shutdown() -> None:
    """Stop the kept workers (the daemon is exiting)."""
    while _kept:
        w = _kept.pop()
        try:
            w.send_conn.send(None)
            w.proc.wait(2)
            w.close_pipes()
        except Exception:  # noqa: BLE001 - exiting anyway
            try:
                w.kill()
            except Exception:  # noqa: BLE001
                pass


def kept_pids() -> list[int]:
    return [w.proc.pid for w in _kept]
