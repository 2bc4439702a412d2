"""LW121's "may leave here" location (docs/real-world.md, second batch, "Message defects seen":
B3, B14) had column 1, not the column of the statement that leaves with the lock held.

LW121 reads the column from the acquire site's ``ac`` when the summary records it. The
summarisers (S6E's files) record only the line (``at``) so far: the end-to-end test is a
strict xfail until they record ``ac`` too (it turns red then: remove the mark).
"""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.rules.lw121_acquire_without_release import RULE
from lockwatch.static.engine import scan_sources
from tests.test_static_link import model_of

SRC = """
import threading

lock = threading.Lock()


def get(closed):
    lock.acquire()
    if closed:
        return None
    lock.release()
    return 1
"""


def leave_location(findings):
    (f,) = [f for f in findings if f.code == "LW121"]
    (loc,) = [r for r in f.related if r.note == "... may leave here with it held"]
    return loc.line, loc.column


def test_the_leave_location_has_the_column_the_summary_records():
    m = model_of({"m.py": SRC})
    (site,) = m.functions["m.get"].summary.acquire_sites
    assert site["at"] == 10
    site["ac"] = 9          # as a summariser that records the statement's column gives it
    assert leave_location(RULE.check(m, Config())) == (10, 9)


def test_without_a_recorded_column_the_leave_location_keeps_column_one():
    m = model_of({"m.py": SRC})
    (site,) = m.functions["m.get"].summary.acquire_sites
    site.pop("ac", None)
    assert leave_location(RULE.check(m, Config())) == (10, 1)


@pytest.mark.xfail(strict=True, reason="the summarisers record no column for 'at' yet (acquire_sites 'ac')")
def test_a_scan_puts_the_leave_location_at_the_return_statement():
    rep = scan_sources({"m.py": textwrap.dedent(SRC)}, Config())
    assert leave_location(rep.findings) == (10, 9)
