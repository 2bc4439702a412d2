"""P47: an ``if p: return`` in the body of a ``with`` in a function's top-level block leaves the
function as it would at the top level, so the events after it (in the body, and after the
``with``) carry its ``else`` rules ("pg"); a ``raise`` there does not (the manager may suppress
it and go on after the ``with``). Both summarisers."""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.static import summarise_cst
from lockwatch.static.summarise import summarise_module

SUMMARISERS = {"ast": summarise_module, "cst": summarise_cst.summarise_module}


def _pg_of_calls(source: str, how: str) -> dict[str, object]:
    s = SUMMARISERS[how](textwrap.dedent(source), "m.py", "m", False)
    fs = s.functions["f"]
    return {ev["f"]: ev.get("pg") for ev in fs.events if ev["e"] == "call"}


@pytest.mark.parametrize("how", sorted(SUMMARISERS))
def test_return_inside_a_top_level_with_guards_what_follows(how):
    pg = _pg_of_calls("""
        import threading, time
        lock = threading.Lock()

        def f(fast=False):
            with lock:
                if fast:
                    return None
                before()
                with lock:
                    if fast:
                        return 1
            time.sleep(1)
        """, how)
    # passing fast=True never reaches them (the else rules of 'if fast'); the sleep is after
    # both returns, each of which rules it out
    assert pg["before"] == [["fast", [True]]]
    assert pg["time.sleep"] == [["fast", [True]], ["fast", [True]]]


@pytest.mark.parametrize("how", sorted(SUMMARISERS))
def test_raise_inside_a_with_does_not_guard_what_follows(how):
    pg = _pg_of_calls("""
        import contextlib, time

        def f(fast=False):
            with contextlib.suppress(ValueError):
                if fast:
                    raise ValueError
            time.sleep(1)
        """, how)
    assert pg["time.sleep"] is None


@pytest.mark.parametrize("how", sorted(SUMMARISERS))
def test_a_with_inside_a_loop_is_not_top_level(how):
    pg = _pg_of_calls("""
        import threading, time
        lock = threading.Lock()

        def f(fast=False):
            for _ in range(3):
                with lock:
                    if fast:
                        return None
            time.sleep(1)
        """, how)
    assert pg["time.sleep"] is None
