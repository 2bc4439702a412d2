"""Summarising workers that stay alive between the daemon's updates.

``pool.summarise_files`` starts its worker processes when the first file needs parsing and
stops them when it returns: right for a scan, but in the daemon every update would pay a new
interpreter and the summariser's imports (~0.1-0.2 s) for the one file that changed. The
daemon hands the pool one :class:`pool.Reserve` for its whole life, which keeps up to
``KEEP`` idle workers between updates.
"""

from __future__ import annotations

from lockwatch.static.pool import Reserve

KEEP = 1
RESERVE = Reserve(KEEP)


def shutdown() -> None:
    """Stop the kept workers (the daemon is exiting)."""
    try:
        RESERVE.close()
    except Exception:  # noqa: BLE001, S110 - exiting anyway
        pass


def kept_pids() -> list[int]:
    return RESERVE.pids()
