"""Runtime async and lifecycle detectors (loopwatch.py, lifecycle.py): each hazard next to a
clean look-alike, each program in a subprocess with a hard timeout, under the venv's Python
and 3.13."""

from __future__ import annotations

import sys

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

PY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)
MINE = {"LW201", "LW202", "LW203", "LW204", "LW211"}


def mine(res: rh.Result) -> list[dict]:
    return [f for f in res.findings if f["code"] in MINE]


def line_of(src: str, marker: str) -> int:
    import textwrap

    for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1):
        if marker in ln:
            return i
    raise AssertionError(marker)


# ---- LW201: event loop blocked -----------------------------------------------------------

BLOCKED = """
    import asyncio, time

    def legacy_lookup():
        time.sleep(0.3)  # BLOCK

    async def handler():
        legacy_lookup()

    async def main():
        for _ in range(3):
            await handler()
            await asyncio.sleep(0)  # back to the loop: three separate blocked steps

    asyncio.run(main())
"""


@PY
def test_blocked_loop_reported_once_per_site_with_stack_taken_while_blocking(tmp_path, python):
    res = rh.run(tmp_path, BLOCKED, python=python)
    fs = mine(res)
    assert [f["code"] for f in fs] == ["LW201"], res.explain()
    f = fs[0]
    assert f["kind"] == "blocking-in-async"
    assert f["line"] == line_of(BLOCKED, "# BLOCK") and f["path"].endswith("prog.py")
    # The stack was sampled inside the blocking call, through the async caller.
    stack = " ".join(f["stacks"][0])
    assert "in legacy_lookup" in stack and "in handler" in stack
    assert f["occurrences"] == 3
    assert 0.2 <= f["seconds"] < 5
    assert "blocked for at least" in f["message"]


CLEAN_WAITS = """
    import asyncio, time

    async def main():
        await asyncio.sleep(0.4)                     # the loop idles in its selector
        await asyncio.to_thread(time.sleep, 0.4)     # the blocking call is on a worker
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, time.sleep, 0.3)
        for _ in range(20):
            sum(range(1000))                         # short steps add up, none is long
            await asyncio.sleep(0)

    asyncio.run(main())
"""


@PY
def test_idle_loop_and_offloaded_blocking_are_clean(tmp_path, python):
    res = rh.run(tmp_path, CLEAN_WAITS, python=python)
    assert res.returncode == 0 and mine(res) == [], res.explain()


def test_loop_block_threshold_option(tmp_path):
    res = rh.run(tmp_path, BLOCKED, "--loop-block", "0")
    assert mine(res) == [], res.explain()
    res = rh.run(tmp_path, BLOCKED, "--loop-block", "1.0")
    assert mine(res) == [], res.explain()


# ---- LW202: thread lock held across await -------------------------------------------------

AWAIT_UNDER_LOCK = """
    import asyncio, threading

    class Cache:
        def __init__(self):
            self._lock = threading.Lock()
            self.value = None

        async def refresh(self):
            with self._lock:
                self.value = await asyncio.sleep(0.01, "v")  # AWAIT

    asyncio.run(Cache().refresh())
"""

AWAIT_UNDER_LOCK_CLEAN = """
    import asyncio, threading

    class Cache:
        def __init__(self):
            self._alock = asyncio.Lock()
            self._tlock = threading.Lock()
            self.value = None

        def _store(self, v):
            with self._tlock:
                self.value = v

        async def refresh(self):
            async with self._alock:
                v = await asyncio.sleep(0.01, "v")
            with self._tlock:            # taken and released within one step
                self.value = v
            await asyncio.to_thread(self._store, v)   # taken on a worker thread

    asyncio.run(Cache().refresh())
"""


@PY
def test_task_suspended_holding_thread_lock(tmp_path, python):
    res = rh.run(tmp_path, AWAIT_UNDER_LOCK, python=python)
    fs = mine(res)
    assert [f["code"] for f in fs] == ["LW202"], res.explain()
    assert fs[0]["kind"] == "await-under-thread-lock"
    assert fs[0]["line"] == line_of(AWAIT_UNDER_LOCK, "# AWAIT")
    assert any("created here" in r.get("note", "") for r in fs[0]["related"])


@PY
def test_asyncio_lock_across_await_and_short_thread_lock_are_clean(tmp_path, python):
    res = rh.run(tmp_path, AWAIT_UNDER_LOCK_CLEAN, python=python)
    assert res.returncode == 0 and mine(res) == [], res.explain()


# ---- LW203 / LW204: dangling tasks, unawaited coroutines --------------------------------

DANGLING = """
    import asyncio, gc

    async def push():
        await asyncio.sleep(5)

    async def lost():
        await asyncio.get_running_loop().create_future()   # nobody will ever set it

    async def fails():
        raise ValueError("boom")

    async def main():
        asyncio.create_task(push())             # DROPPED
        asyncio.ensure_future(lost())           # DESTROYED
        asyncio.create_task(fails())            # FAILS
        await asyncio.sleep(0.05)
        gc.collect()

    asyncio.run(main())
"""

DANGLING_CLEAN = """
    import asyncio

    background = set()

    async def push():
        await asyncio.sleep(5)

    async def fails():
        raise ValueError("boom")

    async def main():
        t = asyncio.create_task(push())
        background.add(t)
        t.add_done_callback(background.discard)
        other = asyncio.create_task(push())
        f = asyncio.create_task(fails())
        await asyncio.sleep(0.05)
        other.cancel()                          # its owner stops it
        try:
            await f                             # the exception is retrieved
        except ValueError:
            pass
        async with asyncio.TaskGroup() as tg:
            tg.create_task(asyncio.sleep(0.01))
        await asyncio.gather(asyncio.create_task(asyncio.sleep(0.01)))

    asyncio.run(main())
"""


@PY
def test_dangling_tasks_with_creation_site(tmp_path, python):
    res = rh.run(tmp_path, DANGLING, python=python)
    fs = sorted(mine(res), key=lambda f: f["line"])
    assert [f["code"] for f in fs] == ["LW203"] * 3, res.explain()
    assert [f["line"] for f in fs] == [line_of(DANGLING, m) for m in ("# DROPPED", "# DESTROYED", "# FAILS")]
    assert [f["pending_at"] for f in fs] == ["loop end", "destroyed pending", "exception never retrieved"]
    assert all(f["kind"] == "dangling-task" and f["stacks"] for f in fs)


@PY
def test_owned_tasks_are_clean(tmp_path, python):
    if python == sys.executable and sys.version_info < (3, 11) or "3.10" in python:
        pytest.skip("TaskGroup is 3.11+")
    res = rh.run(tmp_path, DANGLING_CLEAN, python=python)
    assert res.returncode == 0 and mine(res) == [], res.explain()


UNAWAITED = """
    import asyncio

    async def flush():
        await asyncio.sleep(0)

    def on_cleanup():
        flush()            # NOT AWAITED

    async def main():
        on_cleanup()
        await flush()      # awaited: fine

    asyncio.run(main())
"""


@PY
def test_unawaited_coroutine_at_its_creation_site(tmp_path, python):
    res = rh.run(tmp_path, UNAWAITED, python=python)
    fs = mine(res)
    assert [f["code"] for f in fs] == ["LW204"], res.explain()
    assert fs[0]["line"] == line_of(UNAWAITED, "# NOT AWAITED")
    assert "never awaited" in fs[0]["message"]
    assert "was never awaited" in res.stderr   # the interpreter's own warning still shows


# ---- LW211: threads still running at the end ---------------------------------------------

THREADS = """
    import threading, time
    from concurrent.futures import ThreadPoolExecutor

    stop = threading.Event()
    threading.Thread(target=stop.wait, args=(3,), name="poller", daemon=True).start()  # DAEMON
    pool = ThreadPoolExecutor(2)
    pool.submit(time.sleep, 0)                                                    # POOL
"""

THREADS_CLEAN = """
    import threading, time
    from concurrent.futures import ThreadPoolExecutor

    t = threading.Thread(target=time.sleep, args=(0.2,))
    t.start()
    t.join()
    threading.Thread(target=time.sleep, args=(0.1,), daemon=True).start()   # ends within the grace
    with ThreadPoolExecutor(2) as pool:
        pool.submit(time.sleep, 0)
    pool2 = ThreadPoolExecutor(1)
    pool2.submit(time.sleep, 0)
    pool2.shutdown(wait=True)
"""


@PY
def test_threads_and_pools_still_running_at_program_end(tmp_path, python):
    # Daemon threads are reported only when configured so (the same key as the static LW211).
    (tmp_path / "pyproject.toml").write_text('[tool.lockwatch]\ndaemon-threads = "report"\n')
    res = rh.run(tmp_path, THREADS, python=python)
    fs = sorted(mine(res), key=lambda f: f["line"])
    assert [f["code"] for f in fs] == ["LW211", "LW211"], res.explain()
    assert [f["line"] for f in fs] == [line_of(THREADS, "# DAEMON"), line_of(THREADS, "# POOL")]
    assert "daemon thread 'poller'" in fs[0]["message"]
    assert "never shut down" in fs[1]["message"]


@PY
def test_daemon_threads_are_ignored_by_default(tmp_path, python):
    res = rh.run(tmp_path, THREADS, python=python)
    fs = [f for f in mine(res) if f["code"] == "LW211"]
    assert [f["line"] for f in fs] == [line_of(THREADS, "# POOL")], res.explain()


@PY
def test_joined_threads_and_pools_are_clean(tmp_path, python):
    res = rh.run(tmp_path, THREADS_CLEAN, python=python)
    assert res.returncode == 0 and mine(res) == [], res.explain()


def test_watch_scope_reports_threads_its_block_left_running(tmp_path):
    p = rh.run_plain(tmp_path, """
        import threading, lockwatch
        from lockwatch.runtime import api

        stop = threading.Event()
        with api.watch(thread_grace=0.2) as w:
            t = threading.Thread(target=stop.wait, args=(5,))
            t.start()
        left = [f.code for f in w.findings]
        # a thread ending within the grace is not reported: the grace is wide (the watch
        # returns as soon as the thread ends), so a loaded machine cannot stretch 0.05 s past it
        with api.watch(thread_grace=3.0) as w2:
            u = threading.Thread(target=stop.wait, args=(0.05,))
            u.start()
        stop.set()
        t.join()
        print(left, [f.code for f in w2.findings])
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "['LW211'] []", p.stdout + p.stderr


def test_hooks_restored_exactly_after_uninstall(tmp_path):
    p = rh.run_plain(tmp_path, """
        import asyncio, asyncio.base_events as be, asyncio.runners as r, sys, threading, warnings
        before = (be.BaseEventLoop._run_once, be.BaseEventLoop.create_task, be.BaseEventLoop.close,
                  be.BaseEventLoop.call_exception_handler, r._cancel_all_tasks, threading.Thread.start,
                  warnings._showwarnmsg, sys.get_coroutine_origin_tracking_depth())
        from lockwatch.runtime import api
        with api.watch():
            asyncio.run(asyncio.sleep(0))
            assert be.BaseEventLoop._run_once is not before[0]
        after = (be.BaseEventLoop._run_once, be.BaseEventLoop.create_task, be.BaseEventLoop.close,
                 be.BaseEventLoop.call_exception_handler, r._cancel_all_tasks, threading.Thread.start,
                 warnings._showwarnmsg, sys.get_coroutine_origin_tracking_depth())
        print(all(a is b or a == b for a, b in zip(before, after)))
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "True"


HOLDS_AT_END = """
import asyncio

async def main():
    lk = asyncio.Lock()
    ev = asyncio.Event()

    async def holder():
        async with lk:
            await ev.wait()

    async def waiter():
        async with lk:
            pass

    asyncio.create_task(holder())   # HOLDER
    asyncio.create_task(waiter())   # WAITER
    await asyncio.sleep(0.05)

asyncio.run(main())
"""


@PY
def test_dropped_tasks_holding_or_waiting_on_an_asyncio_lock_are_dangling(tmp_path, python):
    # the tracer's held stacks and wait map refer to these tasks; that is no owner
    res = rh.run(tmp_path, HOLDS_AT_END, python=python)
    lines = sorted(f["line"] for f in mine(res) if f["code"] == "LW203")
    assert lines == [line_of(HOLDS_AT_END, "# HOLDER"), line_of(HOLDS_AT_END, "# WAITER")], res.explain()


def test_a_loop_sample_leaves_no_reference_cycle():
    """``sample()`` holds ``sys._current_frames()``, which holds its own frame: unless it
    lets go on the way out, every sampled frame (and the tasks in its locals) lives on as
    cyclic garbage, and the dangling-task check would see a dropped task as kept."""
    import gc
    import threading

    from lockwatch.runtime import loopwatch

    me = threading.get_ident()
    gc.collect()
    old = gc.get_debug()
    gc.disable()
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        loopwatch.sample()
        gc.collect()
        leftovers = [o for o in gc.garbage
                     if isinstance(o, dict) and me in o and type(o[me]).__name__ == "frame"]
    finally:
        gc.set_debug(old)
        gc.garbage.clear()
        gc.enable()
    assert leftovers == []
