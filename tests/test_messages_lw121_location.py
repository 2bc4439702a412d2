"""LW121's "may leave here" location (docs/real-world.md, second batch, "Message defects seen":
B3, B14) had column 1, not the column of the statement that leaves with the lock held.

LW121 reads the column from the acquire site's ``ac``, which both summarisers record beside
the line (``at``) since SUMMARY_VERSION 27.
"""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.rules.lw121_acquire_without_release import RULE
from lockwatch.static.engine import scan_sources
from tests.test_static_link import model_of
from tests.walks import same_summary

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


def test_a_scan_puts_the_leave_location_at_the_return_statement():
    rep = scan_sources({"m.py": textwrap.dedent(SRC)}, Config())
    assert leave_location(rep.findings) == (10, 9)


SHAPES = {
    # an early return inside an if: the return statement
    "early-exit": (SRC, (10, 9)),
    # a branch that may leave holding it: the if statement itself (partial)
    "partial": ("""
import threading

lock = threading.Lock()


def get(closed):
    lock.acquire()
    if closed:
        lock.release()
    work()


def work():
    pass
""", (9, 5)),
    # a raise inside a with body
    "nested": ("""
import threading

lock = threading.Lock()


def get(ctx, closed):
    lock.acquire()
    with ctx:
        if closed:
            raise ValueError(1)
        lock.release()
""", (11, 13)),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_both_walks_record_the_leaving_statement_column(shape):
    src, where = SHAPES[shape]
    summary = same_summary(src)   # the ast and the libcst walks agree, "ac" included
    (site,) = summary["functions"]["get"]["acquire_sites"]
    assert (site["at"], site["ac"]) == where
