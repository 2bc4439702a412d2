"""A stand-in summariser whose worker dies while starting (tests/test_pool_startup.py):
always, or only the first time (the marker file says it happened)."""

from __future__ import annotations

import os

_marker = os.environ.get("LOCKWATCH_TEST_START_MARKER")
if _marker is not None and (os.environ.get("LOCKWATCH_TEST_START_ALWAYS") or not os.path.exists(_marker)):
    with open(_marker, "a") as f:
        f.write("died\n")
    os._exit(7)

from pool_standins import summarise  # noqa: F401  (the worker imports it by name)

SPEC = "pool_start_standins:summarise"
