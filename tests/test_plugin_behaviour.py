"""The pytest plugin, behaviour by behaviour, each in a fresh pytest subprocess (pytester)
with a hard time-out, so that a plugin bug can neither hang nor pollute this session."""

from __future__ import annotations

import json
import sys

import pytest

pytest_plugins = ["pytester"]

TIMEOUT = 90

INVERSION_LIB = '''
import threading

a = threading.Lock()
b = threading.Lock()


def a_then_b():
    with a:
        with b:
            pass


def b_then_a():
    with b:
        with a:
            pass


def a_then_b_again():
    with a:
        with b:
            pass
'''


def run(pytester: pytest.Pytester, *args: str):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=TIMEOUT)


def report(pytester: pytest.Pytester, name: str = "r.json") -> dict:
    return json.loads((pytester.path / name).read_text())


def by_code(rep: dict, code: str) -> list[dict]:
    return [f for f in rep["findings"] if f["code"] == code]


# ---------------------------------------------------------------- activation
def test_inactive_without_option(pytester):
    pytester.makepyfile(test_x='''
        import threading, _thread

        def test_locks_untouched():
            assert type(threading.Lock()) is _thread.LockType
            assert threading.Lock is _thread.allocate_lock or threading.Lock.__module__ in ("_thread", "threading")
            assert "lockwatch.runtime" not in __import__("sys").modules

        def test_fixture_skips(lockwatch):
            pass
    ''')
    r = run(pytester)
    r.assert_outcomes(passed=1, skipped=1)
    assert "= lockwatch =" not in r.stdout.str()


def test_ini_enables_it(pytester):
    pytester.makeini("[pytest]\nlockwatch = true\n")
    pytester.makepyfile(test_x='''
        import threading

        def test_traced():
            assert "lockwatch.runtime" in __import__("sys").modules
    ''')
    r = run(pytester, "--lockwatch-no-static")
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["*= lockwatch =*", "runtime: 0 finding(s)*"])


# ---------------------------------------------------------------- attribution and policy
def test_inversion_across_two_files_is_reported_with_both_tests(pytester):
    pytester.makepyfile(lib=INVERSION_LIB)
    pytester.makepyfile(test_one="import lib\n\ndef test_ab():\n    lib.a_then_b()\n")
    pytester.makepyfile(test_two="import lib\n\ndef test_ba():\n    lib.b_then_a()\n")
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=2)   # default policy: an inversion is reported, not failed
    r.stdout.fnmatch_lines(["*LW101 lock-order-cycle (runtime)*test_one.py::test_ab*test_two.py::test_ba*"])
    rep = report(pytester)
    assert rep["source"] == "joined"
    (f,) = by_code(rep, "LW101")
    assert f["tests"] == ["test_one.py::test_ab", "test_two.py::test_ba"]
    per_edge = {(e["from"], e["to"]): e["tests"] for e in f["edge_tests"]}
    assert per_edge == {("lib.py:3", "lib.py:4"): ["test_one.py::test_ab"],
                        ("lib.py:4", "lib.py:3"): ["test_two.py::test_ba"]}
    assert any("(in test_" in r["note"] for r in f["related"])


def test_consistent_order_is_clean(pytester):
    pytester.makepyfile(lib=INVERSION_LIB)
    pytester.makepyfile(test_one="import lib\n\ndef test_ab():\n    lib.a_then_b()\n")
    pytester.makepyfile(test_two="import lib\n\ndef test_ab2():\n    lib.a_then_b_again()\n")
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=2)
    assert report(pytester)["findings"] == []


def test_strict_fails_the_test_that_closes_the_cycle(pytester):
    pytester.makepyfile(lib=INVERSION_LIB)
    pytester.makepyfile(test_one="import lib\n\ndef test_ab():\n    lib.a_then_b()\n\n"
                                 "def test_ba():\n    lib.b_then_a()\n")
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-strict")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["FAILED test_one.py::test_ba - lockwatch: *LW101*"])


DEADLOCK_TESTS = '''
import threading

import pytest

a = threading.Lock()
b = threading.Lock()
gate = threading.Barrier(2, timeout=20)


def one():
    with a:
        gate.wait()
        with b:
            pass


def two():
    with b:
        gate.wait()
        with a:
            pass


def test_deadlock():
    ts = [threading.Thread(target=one, name="one"), threading.Thread(target=two, name="two")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_after_the_deadlock():
    assert True
'''


def test_real_deadlock_fails_the_test_and_the_session_goes_on(pytester):
    pytester.makepyfile(test_dl=DEADLOCK_TESTS)
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=1, failed=1)
    out = r.stdout.str()
    r.stdout.fnmatch_lines(["FAILED test_dl.py::test_deadlock - lockwatch: *LW103 deadlock*"])
    # both involved threads' stacks, and the test's own thread
    assert "in one" in out and "in two" in out and "other thread thread 'MainThread'" in out
    (f,) = by_code(report(pytester), "LW103")
    assert f["tests"] == ["test_dl.py::test_deadlock"]
    assert len(f["stacks"]) == 2


def test_self_deadlock_fails_the_test(pytester):
    pytester.makepyfile(test_sd='''
        import threading

        def test_reenter():
            lock = threading.Lock()
            with lock:
                with lock:
                    pass
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*DeadlockError*", "*LW111 self-deadlock*"])


def test_marker_allows_a_finding_for_one_test(pytester):
    pytester.makepyfile(test_dl=DEADLOCK_TESTS.replace(
        "def test_deadlock():", '@pytest.mark.lockwatch(allow=["deadlock", "LW101"])\ndef test_deadlock():'))
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=2)
    assert by_code(report(pytester), "LW103") == []


def test_marker_fail_and_bad_marker(pytester):
    pytester.makepyfile(test_m='''
        import threading
        import pytest

        @pytest.mark.lockwatch(fail=["unjoined-thread"], grace=0.1)
        def test_leak_fails_here():
            ev = threading.Event()
            threading.Thread(target=ev.wait, args=(3,), daemon=True).start()

        @pytest.mark.lockwatch(no_such_option=1)
        def test_bad_marker():
            pass
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static")
    r.assert_outcomes(passed=1, errors=2)
    r.stdout.fnmatch_lines([
        "*ERROR at teardown of test_leak_fails_here*",
        "lockwatch: test_m.py:7:1: LW211 unjoined-thread: daemon thread * is still alive 0.1s after it ended",
        "*ERROR at setup of test_bad_marker*",
        "*unknown argument(s) no_such_option*",
    ])


# ---------------------------------------------------------------- leaks
def test_leaked_thread_is_pinned_on_its_test_with_creation_stack(pytester):
    pytester.makepyfile(helpers='''
        import threading

        def start_forever():
            ev = threading.Event()
            t = threading.Thread(target=ev.wait, name="forever", daemon=True)
            t.start()
            return ev

        def start_short():
            ev = threading.Event()
            t = threading.Thread(target=ev.wait, args=(0.05,), name="short")
            t.start()
            return t

        held = threading.Lock()

        def take_and_leave():
            t = threading.Thread(target=held.acquire, name="taker")
            t.start()
            t.join()
    ''')
    pytester.makepyfile(test_leaks='''
        import helpers

        def test_leaks():
            helpers.start_forever()

        def test_ends_within_grace():
            helpers.start_short()

        def test_joined():
            helpers.start_short().join()

        def test_lock_left_held():
            helpers.take_and_leave()
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=4)
    (held,) = by_code(report(pytester), "LW122")
    assert held["tests"] == ["test_leaks.py::test_lock_left_held"]
    (f,) = by_code(report(pytester), "LW211")
    assert f["kind"] == "unjoined-thread"
    assert f["tests"] == ["test_leaks.py::test_leaks"]
    assert (f["path"], f["line"]) == ("helpers.py", 6)
    assert f["stacks"][0][-2:] == ["test_leaks.py:4 in test_leaks", "helpers.py:6 in start_forever"]


def test_pending_and_unawaited_tasks(pytester):
    pytester.makepyfile(test_tasks='''
        import asyncio

        async def sleeper():
            await asyncio.sleep(30)

        async def quick():
            await asyncio.sleep(0)

        async def forget():
            asyncio.get_running_loop().create_task(sleeper())
            await asyncio.sleep(0)

        async def keep():
            await asyncio.get_running_loop().create_task(quick())

        def test_forgotten_task():
            asyncio.run(forget())

        def test_awaited_task():
            asyncio.run(keep())

        def test_manual_loop_closed_with_pending_task():
            loop = asyncio.new_event_loop()
            loop.create_task(sleeper())
            loop.run_until_complete(quick())
            loop.close()

        def test_never_awaited():
            quick()
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=4)
    rep = report(pytester)
    tasks = {f["tests"][0].split("::")[1]: f for f in rep["findings"] if f["kind"] == "dangling-task"}
    assert set(tasks) == {"test_forgotten_task", "test_manual_loop_closed_with_pending_task", "test_never_awaited"}
    assert tasks["test_forgotten_task"]["line"] == 10
    assert tasks["test_manual_loop_closed_with_pending_task"]["line"] == 24
    assert tasks["test_never_awaited"]["code"] == "LW204"
    assert tasks["test_never_awaited"]["line"] == 29


def test_wider_fixture_threads_are_not_pinned_on_the_first_test(pytester):
    pytester.makepyfile(test_fx_threads='''
        import threading
        import pytest

        @pytest.fixture(scope="module")
        def server():
            stop = threading.Event()
            t = threading.Thread(target=stop.wait, name="server")
            t.start()
            yield t
            stop.set()
            t.join()

        @pytest.fixture(scope="module")
        def forgotten():
            ev = threading.Event()
            threading.Thread(target=ev.wait, name="forgotten", daemon=True).start()
            yield

        def test_first(server, forgotten):
            assert server.is_alive()

        def test_second(server):
            assert server.is_alive()
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=2)
    # the module fixture's server thread is stopped at module teardown: clean; the thread
    # nobody stops is reported once the session is over, on the test whose setup started it
    (f,) = by_code(report(pytester), "LW211")
    assert "'forgotten'" in f["message"]
    assert f["tests"] == ["test_fx_threads.py::test_first"]


def test_fail_option_and_grace_ini(pytester):
    pytester.makeini("[pytest]\nlockwatch_grace = 0.05\n")
    pytester.makepyfile(test_opt='''
        import threading

        def test_thread_outlives_grace():
            threading.Thread(target=threading.Event().wait, args=(2,), daemon=True).start()
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-fail=LW211")
    r.assert_outcomes(passed=1, errors=1)
    r.stdout.fnmatch_lines(["*LW211 unjoined-thread*still alive 0.05s after it ended*"])


# ---------------------------------------------------------------- the fixture
def test_fixture_shows_the_tests_findings(pytester):
    pytester.makepyfile(lib=INVERSION_LIB)
    pytester.makepyfile(test_fx='''
        import lib

        def test_sees_its_inversion(lockwatch):
            lib.a_then_b()
            assert lockwatch.findings == []
            assert ("lib.py:3", "lib.py:4") in lockwatch.edges
            lib.b_then_a()
            assert [f.code for f in lockwatch.findings] == ["LW101"]
            assert lockwatch.kinds() == {"lock-order-cycle"}
            assert lockwatch.report().source == "runtime"

        def test_next_test_starts_clean(lockwatch):
            assert lockwatch.findings == []
            assert lockwatch.edges == []
    ''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static")
    r.assert_outcomes(passed=2)


# ---------------------------------------------------------------- static join
JOIN_PROJECT = {
    "pkg/__init__.py": "",
    "pkg/used.py": '''
import threading

a = threading.Lock()
b = threading.Lock()


def one():
    with a:
        with b:
            pass


def two():
    with b:
        with a:
            pass
''',
    "pkg/unused.py": '''
import threading

c = threading.Lock()
d = threading.Lock()


def three():
    with c:
        with d:
            pass


def four():
    with d:
        with c:
            pass
''',
    "pkg/hidden.py": '''
import threading

LOCKS = {"x": threading.Lock(), "y": threading.Lock()}


def nested():
    with LOCKS["x"]:
        with LOCKS["y"]:
            pass
''',
    "tests/test_used.py": '''
from pkg import hidden, used


def test_one():
    used.one()


def test_two():
    used.two()


def test_hidden():
    hidden.nested()
''',
}


@pytest.fixture(scope="session")
def scan_cache(tmp_path_factory):
    """One summary cache for every static run here: summaries are keyed by content and
    relative path, so later runs skip the parse workers' start-up."""
    return tmp_path_factory.mktemp("lockwatch-cache")


def _write(pytester, files, cache=None):
    if cache is not None:
        (pytester.path / "lockwatch.toml").write_text(f'cache-dir = "{cache}"\njobs = 1\n')
    for rel, text in files.items():
        p = pytester.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text.lstrip("\n"))


def test_static_join_confirmed_executed_and_missed_edges(pytester, scan_cache):
    _write(pytester, JOIN_PROJECT, scan_cache)
    pytester.makeini("[pytest]\npythonpath = .\n")
    r = run(pytester, "--lockwatch", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=3)
    rep = report(pytester)
    static = {f["path"]: f for f in rep["findings"] if f["origin"] == "static" and f["code"] == "LW101"}
    assert static["pkg/used.py"]["confirmed"] is True and static["pkg/used.py"]["executed"] is True
    assert static["pkg/unused.py"]["confirmed"] is False and static["pkg/unused.py"]["executed"] is False
    (rt,) = [f for f in rep["findings"] if f["origin"] == "runtime"]
    assert rt["code"] == "LW101" and rt["path"] == "pkg/used.py" and rt["confirmed"] is True
    missed = {(m["from"], m["to"]) for m in rep["missed_by_static"]}
    assert ("pkg/hidden.py:3", "pkg/hidden.py:3") not in missed   # same site: not an edge
    assert not any(m[0].startswith("pkg/used.py") for m in missed)
    r.stdout.fnmatch_lines([
        "*static: 2 finding(s), 1 confirmed by the tests, 1 never executed*",
        "pkg/used.py:*LW101 lock-order-cycle (runtime, confirmed, locks used.*",
    ])
    # the unexecuted static-only cycle is listed after what the tests confirmed
    out = r.stdout.str()
    assert out.index("pkg/used.py:8: LW101 lock-order-cycle (static, confirmed)") < out.index("pkg/unused.py:8")


def test_missed_by_static_lists_runtime_edges_the_analyser_lacks(pytester, scan_cache):
    _write(pytester, {
        "pkg/__init__.py": "",
        "pkg/dyn.py": '''
import threading


class Box:
    pass


def make():
    box = Box()
    setattr(box, "first", threading.Lock())
    setattr(box, "second", threading.Lock())
    return box


def nested(box):
    with getattr(box, "first"):
        with getattr(box, "second"):
            pass
''',
        "tests/test_dyn.py": "from pkg import dyn\n\ndef test_dyn():\n    dyn.nested(dyn.make())\n",
    }, scan_cache)
    pytester.makeini("[pytest]\npythonpath = .\n")
    r = run(pytester, "--lockwatch", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=1)
    (m,) = report(pytester)["missed_by_static"]
    assert (m["from"], m["to"]) == ("pkg/dyn.py:10", "pkg/dyn.py:11")
    assert m["tests"] == ["tests/test_dyn.py::test_dyn"]
    assert m["reason"].startswith("lock not known to the static analyser")


def test_active_coverage_collector_is_used(pytester, scan_cache):
    _write(pytester, JOIN_PROJECT, scan_cache)
    pytester.makeini("[pytest]\npythonpath = .\n")
    r = pytester.run(sys.executable, "-m", "coverage", "run", "--data-file=.cov", "-m", "pytest",
                     "-p", "no:cacheprovider", "--lockwatch", "--lockwatch-report=r.json", timeout=TIMEOUT)
    assert r.ret == 0, r.stdout.str()
    rep = report(pytester)
    assert "active coverage.py collector" in rep["plugin"]["coverage"]
    static = {f["path"]: f for f in rep["findings"] if f["origin"] == "static"}
    assert static["pkg/used.py"]["executed"] is True
    assert static["pkg/unused.py"]["executed"] is False


# ---------------------------------------------------------------- xdist
def test_xdist_merges_an_inversion_split_across_workers(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(lib=INVERSION_LIB)
    record = '''
import os, lib

def test_{name}():
    with open("worker-{name}.txt", "w") as fh:
        fh.write(os.environ.get("PYTEST_XDIST_WORKER", "none"))
    lib.{call}()
'''
    pytester.makepyfile(test_one=record.format(name="ab", call="a_then_b"))
    pytester.makepyfile(test_two=record.format(name="ba", call="b_then_a"))
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-report=r.json",
            "-n", "2", "--dist", "loadfile")
    r.assert_outcomes(passed=2)
    w1 = (pytester.path / "worker-ab.txt").read_text()
    w2 = (pytester.path / "worker-ba.txt").read_text()
    assert {w1, w2} == {"gw0", "gw1"}, "the two halves must run on different workers"
    rep = report(pytester)
    assert rep["plugin"]["mode"] == "xdist" and rep["plugin"]["workers"] == 2
    (f,) = by_code(rep, "LW101")
    assert f["merged"] is True
    assert f["tests"] == ["test_one.py::test_ab", "test_two.py::test_ba"]
    assert len(f["stacks"]) == 2
    r.stdout.fnmatch_lines(["*LW101 lock-order-cycle (runtime)*"])
