"""A task still pending when its event loop ends (LW203 dangling-task): the pytest plugin and
``lockwatch run`` make one decision (``lifecycle.dangling``) about the same program. Reported
only when nothing refers to the task (created and dropped: it may be garbage-collected
mid-flight); a task the program keeps (a module-level set, an attribute) is not, even though
``asyncio.run()`` cancels it at shutdown. Every scenario runs under both, in subprocesses
with a hard time-out, and the two must agree."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

pytest_plugins = ["pytester"]

TIMEOUT = 90
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# The program: each start_* leaves one task pending as its loop ends; the *_kept ones keep a
# strong reference to it, their twins do not. No pytest-asyncio: asyncio.run()/a manual loop
# inside the test, as in a plain program.
JOBS = '''
import asyncio
import gc

background = set()


class Service:
    task = None


service = Service()


async def sleeper():
    await asyncio.sleep(30)


async def watchdog():
    me = asyncio.current_task()   # refers to itself: not a keeper
    await asyncio.wait_for(asyncio.sleep(30), 60)


async def start_kept_in_set():
    t = asyncio.create_task(sleeper())          # KEPT_SET
    background.add(t)
    t.add_done_callback(background.discard)
    await asyncio.sleep(0)


async def start_dropped():
    asyncio.create_task(sleeper())              # DROPPED
    await asyncio.sleep(0)


async def start_kept_in_attribute():
    service.task = asyncio.create_task(sleeper())   # KEPT_ATTR
    await asyncio.sleep(0)


async def start_self_referring():
    asyncio.create_task(watchdog())             # SELF_REF
    await asyncio.sleep(0)


async def start_in_garbage_cycle():
    junk = {"t": asyncio.create_task(sleeper())}   # GARBAGE
    junk["self"] = junk        # a cycle nobody refers to: garbage, not collected yet
    del junk
    await asyncio.sleep(0)


def garbage_cycle():
    gc.disable()               # only lockwatch's own collection can free the cycle
    try:
        asyncio.run(start_in_garbage_cycle())
    finally:
        gc.enable()


def never_started():
    loop = asyncio.new_event_loop()
    loop.create_task(sleeper())                 # NEVER_STARTED
    loop.close()                                # only the loop's step handle referred to it


def manual_loop(keep):
    loop = asyncio.new_event_loop()
    t = loop.create_task(sleeper())             # MANUAL
    if keep:
        background.add(t)
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()                                # the task stays pending for ever


def manual_loop_dropped():
    manual_loop(False)


def manual_loop_kept():
    manual_loop(True)


def drop_kept():
    for t in background:
        t._log_destroy_pending = False   # keep stderr quiet
    background.clear()
'''

SCENARIOS = {   # test name -> (code run, reported?)
    "kept_in_set": ("asyncio.run(jobs.start_kept_in_set())", False),
    "dropped": ("asyncio.run(jobs.start_dropped())", True),
    "kept_in_attribute": ("asyncio.run(jobs.start_kept_in_attribute())", False),
    "self_referring": ("asyncio.run(jobs.start_self_referring())", True),
    "garbage_cycle": ("jobs.garbage_cycle()", True),
    "never_started": ("jobs.never_started()", True),
    "manual_loop_dropped": ("jobs.manual_loop_dropped()", True),
    "manual_loop_kept": ("jobs.manual_loop_kept()", False),
}


def _line(marker: str) -> int:
    return next(i for i, ln in enumerate(JOBS.lstrip("\n").splitlines(), 1) if f"# {marker}" in ln)


# the line each scenario creates its task on
SITE = {"kept_in_set": _line("KEPT_SET"), "dropped": _line("DROPPED"), "kept_in_attribute": _line("KEPT_ATTR"),
        "self_referring": _line("SELF_REF"), "garbage_cycle": _line("GARBAGE"),
        "never_started": _line("NEVER_STARTED"), "manual_loop_dropped": _line("MANUAL"),
        "manual_loop_kept": _line("MANUAL")}


def _run_plugin(pytester: pytest.Pytester, names: list[str]):
    pytester.makepyfile(jobs=JOBS.lstrip("\n"))
    body = "import asyncio\nimport jobs\n\n" + "".join(
        f"\ndef test_{n}():\n    {SCENARIOS[n][0]}\n" for n in names)
    pytester.makepyfile(test_jobs=body)
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch",
                                      "--lockwatch-no-static", "--lockwatch-report=r.json", timeout=TIMEOUT)
    r.assert_outcomes(passed=len(names))
    rep = json.loads((pytester.path / "r.json").read_text())
    return [f for f in rep["findings"] if f["code"] == "LW203"]


def _run_runtime(tmp_path: Path, name: str) -> list[dict]:
    (tmp_path / "jobs.py").write_text(JOBS.lstrip("\n"))
    res = rh.run(tmp_path, f"import asyncio\nimport jobs\n\n{SCENARIOS[name][0]}\n", timeout=60)
    assert res.report is not None, res.explain()
    return res.of("LW203")


def test_plugin_reports_only_the_dropped_tasks(pytester):
    fs = _run_plugin(pytester, list(SCENARIOS))
    got = sorted((f["tests"][0].split("::")[1][len("test_"):], f["path"], f["line"]) for f in fs)
    want = sorted((n, "jobs.py", SITE[n]) for n, (_, rep) in SCENARIOS.items() if rep)
    assert got == want, json.dumps(fs, indent=1)
    # decided as the loop ended (not later, at the test's end), worded per test
    assert {f["pending_at"] for f in fs} == {"loop end"}
    assert all(f["message"].endswith("was still pending when its event loop finished (cancelled at shutdown)")
               for f in fs)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_runtime_agrees(tmp_path, name):
    fs = _run_runtime(tmp_path, name)
    want = [("jobs.py", SITE[name])] if SCENARIOS[name][1] else []
    assert [(f["path"], f["line"]) for f in fs] == want, json.dumps(fs, indent=1)
    assert all(f["pending_at"] == "loop end" for f in fs)   # as the loop ended, not when freed later


def test_kept_task_dropped_after_its_loop_closed_is_still_reported(pytester):
    # kept as its (manual) loop closed, then dropped while still pending: destroyed mid-flight,
    # the hazard itself; the runtime reports it from asyncio's own "Task was destroyed but it
    # is pending!", the plugin from its records (at the test's end or the session's)
    pytester.makepyfile(jobs=JOBS.lstrip("\n"))
    pytester.makepyfile(test_later='''
        import gc
        import jobs

        def test_kept_then_dropped():
            jobs.manual_loop_kept()
            jobs.drop_kept()
            gc.collect()

        def test_after():
            pass
    ''')
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch", "--lockwatch-no-static",
                                      "--lockwatch-report=r.json", timeout=TIMEOUT)
    r.assert_outcomes(passed=2)
    fs = [f for f in json.loads((pytester.path / "r.json").read_text())["findings"] if f["code"] == "LW203"]
    assert [(f["line"], f["tests"]) for f in fs] == [(SITE["manual_loop_kept"], ["test_later.py::test_kept_then_dropped"])]
    assert "destroyed while still pending" in fs[0]["message"]


def test_kept_task_still_pending_at_the_tests_end_is_not_a_leak(pytester):
    # a loop that outlives the test (never closed here): a task the program keeps is not
    # reported at the test's end or the session's; the same task dropped is
    pytester.makepyfile(test_open_loop='''
        import asyncio

        kept = set()
        loops = []

        async def sleeper():
            await asyncio.sleep(30)

        def start(keep):
            loop = asyncio.new_event_loop()
            loops.append(loop)
            t = loop.create_task(sleeper())
            if keep:
                kept.add(t)
            loop.run_until_complete(asyncio.sleep(0))

        def test_kept():
            start(True)

        def test_dropped():
            start(False)
    ''')
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch", "--lockwatch-no-static",
                                      "--lockwatch-report=r.json", "-W", "ignore::ResourceWarning", timeout=TIMEOUT)
    r.assert_outcomes(passed=2)
    fs = [f for f in json.loads((pytester.path / "r.json").read_text())["findings"] if f["code"] == "LW203"]
    assert [f["tests"] for f in fs] == [["test_open_loop.py::test_dropped"]], json.dumps(fs, indent=1)
    assert fs[0]["message"].endswith("is still pending after the test ended")


FAILED = '''
import asyncio, gc

failed = []

async def fail():
    raise ValueError("boom")

async def start(retrieve):
    t = asyncio.create_task(fail())           # CREATED
    await asyncio.wait([t])
    if retrieve:
        t.exception()
    failed.append(t)

def test_freed_in_the_test():
    asyncio.run(start(False))
    failed.clear()
    gc.collect()

def test_freed_later():
    asyncio.run(start(False))

def test_retrieved():
    asyncio.run(start(True))

def test_frees_them():
    failed.clear()
    gc.collect()
'''


def _line_in(src: str, marker: str) -> int:
    return next(i for i, ln in enumerate(src.splitlines(), 1) if f"# {marker}" in ln)


def test_failure_never_retrieved_is_reported_on_the_test_that_made_the_task(pytester):
    # as `lockwatch run` does (asyncio's "Task exception was never retrieved" when the task is
    # freed): freed within its test, or after its test's check (reported at the session's
    # end); a failure that was retrieved is not reported
    pytester.makepyfile(test_failed=FAILED.lstrip("\n"))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch", "--lockwatch-no-static",
                                      "--lockwatch-report=r.json", timeout=TIMEOUT)
    r.assert_outcomes(passed=4)
    fs = [f for f in json.loads((pytester.path / "r.json").read_text())["findings"] if f["code"] == "LW203"]
    assert sorted(f["tests"][0].split("::")[1] for f in fs) == ["test_freed_in_the_test", "test_freed_later"], (
        json.dumps(fs, indent=1))
    assert {f["line"] for f in fs} == {_line_in(FAILED.lstrip("\n"), "CREATED")}
    want = ("task fail created by the test failed and its exception was never retrieved (ValueError: boom): "
            "nobody awaited it")
    assert {f["message"] for f in fs} == {want}


# The fixture corpus's pairs whose hazard is a task left behind (pending at loop end, or
# failed with nobody retrieving its exception), driven inside a test: the plugin must report
# LW203 exactly where `lockwatch run` must (expected.json "runtime").
PAIRS = ["async/dangling_task", "async/dangling_task_clean", "async/heartbeat_task_local",
         "async/heartbeat_task_local_clean", "async/sync_jobs_exception_lost",
         "async/sync_jobs_exception_lost_clean"]


def _expects_lw203(case: str) -> bool:
    exp = json.loads((FIXTURES / case / "expected.json").read_text())
    return any(e.get("code") == "LW203" for e in exp.get("runtime") or [])


def test_fixture_pairs_under_the_plugin_match_their_runtime_expectations(pytester):
    for case in PAIRS:
        shutil.copytree(FIXTURES / case, pytester.path / "cases" / case.replace("/", "__"),
                        ignore=shutil.ignore_patterns("__pycache__"))
    pytester.makepyfile(test_cases=textwrap.dedent('''
        import os, runpy, sys
        import pytest

        HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
        CASES = sorted(os.listdir(HERE))

        @pytest.mark.parametrize("case", CASES)
        def test_case(case):
            d = os.path.join(HERE, case)
            pkgs = {n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n))}
            sys.path.insert(0, d)
            try:
                runpy.run_path(os.path.join(d, "driver.py"), run_name="__main__")
            finally:
                sys.path.remove(d)
                for m in [m for m in sys.modules if m.split(".")[0] in pkgs]:
                    del sys.modules[m]   # the twins share their package's name
    '''))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockwatch", "--lockwatch-no-static",
                                      "--lockwatch-report=r.json", timeout=TIMEOUT)
    r.assert_outcomes(passed=len(PAIRS))
    fs = json.loads((pytester.path / "r.json").read_text())["findings"]
    got = {f["tests"][0].split("[")[1].rstrip("]") for f in fs if f["code"] == "LW203"}
    want = {c.replace("/", "__") for c in PAIRS if _expects_lw203(c)}
    assert want and len(want) < len(PAIRS)   # the corpus still has both sides
    assert got == want, json.dumps(fs, indent=1)
