"""The plugin's leak checks on the runtime's lifecycle tracker: what sharing one tracker with
``lockwatch.watch()`` and ``lockwatch.install()`` inside a test could break (a leak reported
twice, or lost because a nested uninstall took the hooks away), in a fresh pytest subprocess."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

TIMEOUT = 90


def run(pytester: pytest.Pytester, *args: str):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=TIMEOUT)


def findings(pytester: pytest.Pytester) -> list[dict]:
    return json.loads((pytester.path / "r.json").read_text())["findings"]


WATCH_INSIDE = '''
import asyncio, threading
import lockwatch

stop = threading.Event()


async def sleeper():
    await asyncio.sleep(30)


async def drop():
    asyncio.create_task(sleeper())          # DROPPED
    await asyncio.sleep(0)


async def quick():
    pass


def test_watch_inside_a_test():
    with lockwatch.watch(thread_grace=0.05) as w:
        threading.Thread(target=stop.wait, args=(3,), name="in-watch").start()    # IN WATCH
        asyncio.run(drop())
        quick()                              # NOT AWAITED
    # the block's own view, as before the tracker was shared: the test's check reports these
    print("WATCH", sorted(f.code for f in w.findings if f.code.startswith("LW2")))
    # the nested uninstall left the hooks in place: this start is still the test's
    threading.Thread(target=stop.wait, args=(3,), name="after-watch").start()  # AFTER


def test_install_uninstall_inside_a_test():
    lockwatch.install()
    lockwatch.uninstall()
    lockwatch.uninstall()                    # unbalanced: the plugin's own install remains
    threading.Thread(target=stop.wait, args=(3,), name="after-install").start()  # AFTER INSTALL


def test_clean_twin():
    with lockwatch.watch(thread_grace=0.05):
        t = threading.Thread(target=stop.wait, args=(0.01,), name="joined")
        t.start()
        t.join()
        asyncio.run(quick())
'''


def _line(marker: str) -> int:
    return next(i for i, ln in enumerate(WATCH_INSIDE.lstrip("\n").splitlines(), 1) if f"# {marker}" in ln)


def test_watch_and_install_inside_a_test_report_each_leak_once(pytester):
    pytester.makeconftest('''
import atexit, threading, warnings
import asyncio.base_events as be

ORIG = (threading.Thread.start, be.BaseEventLoop.create_task, be.BaseEventLoop.close, warnings._showwarnmsg)


@atexit.register
def restored():
    now = (threading.Thread.start, be.BaseEventLoop.create_task, be.BaseEventLoop.close, warnings._showwarnmsg)
    print("RESTORED", all(a is b for a, b in zip(ORIG, now)))
''')
    pytester.makepyfile(test_w=WATCH_INSIDE.lstrip("\n"))
    r = run(pytester, "-s", "--lockwatch", "--lockwatch-no-static", "--lockwatch-grace=0.05",
            "--lockwatch-report=r.json")
    r.assert_outcomes(passed=3)
    out = r.stdout.str()
    assert "WATCH []" in out
    assert "RESTORED True" in out
    fs = findings(pytester)
    got = sorted((f["code"], f["line"], f["tests"][0].split("::")[1]) for f in fs)
    assert got == sorted([
        ("LW211", _line("IN WATCH"), "test_watch_inside_a_test"),
        ("LW211", _line("AFTER"), "test_watch_inside_a_test"),
        ("LW203", _line("DROPPED"), "test_watch_inside_a_test"),
        ("LW204", _line("NOT AWAITED"), "test_watch_inside_a_test"),
        ("LW211", _line("AFTER INSTALL"), "test_install_uninstall_inside_a_test"),
    ]), json.dumps(fs, indent=1)
    # the plugin's per-test wording, not the program-wide one
    msgs = {f["code"]: f["message"] for f in fs if f["line"] != _line("AFTER")}
    assert msgs["LW211"].endswith("started by the test is still alive 0.05s after it ended")
    assert msgs["LW203"] == ("task sleeper created by the test was still pending when its event loop "
                             "finished (cancelled at shutdown)")
    assert msgs["LW204"].endswith("(created during the test)")


def test_leaks_off_means_no_leak_check_for_that_test(pytester):
    # a thread left running by a test marked leaks=False is not reported at the session's
    # end either; the same leak in an unmarked test is
    pytester.makepyfile(test_off='''
import threading
import pytest

stop = threading.Event()


@pytest.mark.lockwatch(leaks=False)
def test_off():
    threading.Thread(target=stop.wait, args=(3,), name="off", daemon=True).start()


def test_on():
    threading.Thread(target=stop.wait, args=(3,), name="on", daemon=True).start()
''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-grace=0.05", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=2)
    assert [(f["code"], f["tests"]) for f in findings(pytester)] == [("LW211", ["test_off.py::test_on"])]


def test_a_thread_started_inside_a_thread_is_sited_in_the_test_not_in_lockwatch(pytester):
    # the starter runs in a thread, so the tracer's Thread.start wrapper
    # (lockwatch/runtime/install.py) is the frame right above the inner start: it must be
    # hidden, and the site is the user's line (socketserver's per-request threads did this)
    pytester.makepyfile(test_nested='''
import threading

stop = threading.Event()


def starter():
    threading.Thread(target=stop.wait, args=(3,), name="inner", daemon=True).start()  # INNER


def test_nested():
    t = threading.Thread(target=starter, name="outer")
    t.start()
    t.join()
''')
    r = run(pytester, "--lockwatch", "--lockwatch-no-static", "--lockwatch-grace=0.05", "--lockwatch-report=r.json")
    r.assert_outcomes(passed=1)
    (f,) = findings(pytester)
    assert (f["code"], f["path"], f["line"]) == ("LW211", "test_nested.py", 7), f
    assert not any("lockwatch" in fr for st in f.get("stacks") or [] for fr in st), f["stacks"]
