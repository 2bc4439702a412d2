"""LW131 follows a blocking site's witness chain by data (the function each step enters and
the receiver it is entered on, carried by graph's step tuples), not by matching the step
notes' text against the names of the call targets there.

The text matching could not tell two targets of one call that the notes name alike: a
subclass in another module with the same class name overriding the method (both are
``Conn._reopen``). It gave up ("two targets of one name"), so a caller holding the RLock
that the callee re-takes around its own blocking call kept a second copy of the callee's
finding. The chain says which function it went through (the base method: a possible
override's blocking calls are never claimed), so the caller's copy goes, as it does when
the names differ. Messages, locations and related locations are unchanged.
"""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static import graph
from lockwatch.static.engine import build_model, module_name, scan_sources
from lockwatch.static.summarise import summarise_module

BASE = """
import threading
import time


class Conn:
    def __init__(self):
        self._lock = threading.RLock()

    def _reopen(self):
        with self._lock:
            time.sleep(1)

    def on_done(self):
        with self._lock:
            self._reopen()
"""

# a subclass overriding _reopen, in another module, named {name}
SUB = """
from base import Conn as _Base


class {name}(_Base):
    def _reopen(self):
        pass
"""


def scan(sub_name: str | None):
    files = {"base.py": BASE}
    if sub_name is not None:
        files["sub.py"] = SUB.format(name=sub_name)
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    return [f for f in scan_sources(files, Config()).findings if f.code == "LW131"]


def where(findings):
    return sorted((f.path, f.line) for f in findings)


def test_no_override_the_caller_is_covered_by_the_callee():
    found = scan(None)
    assert where(found) == [("base.py", 12)]


def test_an_override_named_otherwise_changes_nothing():
    found = scan("Pooled")
    assert where(found) == [("base.py", 12)]


def test_an_override_with_the_same_short_name_is_told_apart():
    # sub.Conn._reopen and base.Conn._reopen are both "Conn._reopen" in a note; the chain
    # went through base.Conn._reopen, which re-takes the RLock around the sleep
    found = scan("Conn")
    assert where(found) == [("base.py", 12)]
    f = found[0]
    assert f.message == (
        "Conn._reopen calls time.sleep while holding Conn._lock: every other thread needing "
        "the lock waits too"
    )


def test_a_callee_that_does_not_retake_keeps_the_caller_with_a_same_named_override():
    # the look-alike: base.Conn._reopen sleeps without the lock, so on_done's hold is the
    # only one around the sleep and stays reported (through the base method)
    src = BASE.replace("        with self._lock:\n            time.sleep(1)", "        time.sleep(1)")
    files = {p: textwrap.dedent(s) for p, s in {"base.py": src, "sub.py": SUB.format(name="Conn")}.items()}
    found = [f for f in scan_sources(files, Config()).findings if f.code == "LW131"]
    assert where(found) == [("base.py", 15)]
    assert found[0].message.startswith("Conn.on_done calls time.sleep (through Conn._reopen) while holding Conn._lock")


def test_steps_carry_the_function_they_enter():
    files = {"base.py": textwrap.dedent(BASE), "sub.py": textwrap.dedent(SUB.format(name="Conn"))}
    summaries = {}
    for path, src in files.items():
        mod, is_pkg = module_name(path)
        summaries[mod] = summarise_module(src, path, mod, is_pkg)
    model = build_model(summaries)
    sites = [bs for bs in model.blocking_sites if bs.fid == "base.Conn.on_done"]
    assert len(sites) == 1
    bs = sites[0]
    first, last = bs.steps
    assert graph.step_callee(first) == (graph.CALLS, "base.Conn._reopen", "@self")
    assert graph.step_label(first) == "Conn._reopen"
    assert graph.step_callee(last) is None and last[3] == graph.blocking_note("time.sleep")
    # the witness's tail is the steps, as locations
    assert [(w.line, w.note) for w in bs.witness[-2:]] == [(s[1], s[3]) for s in bs.steps]
