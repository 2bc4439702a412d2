"""Every runtime detector on a real little program, each in a subprocess with a hard
timeout. Every positive scenario has a clean look-alike next to it."""

from __future__ import annotations

import os

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

KEY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)

AB_BA_DEADLOCK = """
import threading, lockwatch
a = threading.Lock()
b = threading.Lock()
bar = threading.Barrier(2)
broken = []
def t1():
    try:
        with a:
            bar.wait()
            with b:
                pass
    except lockwatch.DeadlockError:
        broken.append("t1")
def t2():
    try:
        with b:
            bar.wait()
            with a:
                pass
    except lockwatch.DeadlockError:
        broken.append("t2")
ts = [threading.Thread(target=t1), threading.Thread(target=t2)]
for t in ts: t.start()
for t in ts: t.join()
print("broken:", len(broken))
"""


@KEY
def test_real_ab_ba_deadlock_is_broken_with_both_stacks(tmp_path, python):
    r = rh.run(tmp_path, AB_BA_DEADLOCK, python=python, timeout=30)
    assert "broken: 1" in r.stdout, r.explain()  # exactly one thread gets DeadlockError
    assert r.returncode == 1, r.explain()
    (dl,) = r.of("LW103")
    assert dl["kind"] == "deadlock"
    assert dl["path"] == "prog.py" and dl["line"] in (11, 19)
    assert len(dl["stacks"]) == 2
    joined = ["\n".join(s) for s in dl["stacks"]]
    assert any("prog.py:11 in t1" in s for s in joined) and any("prog.py:19 in t2" in s for s in joined)
    assert sorted(dl["locks"]) == ["prog.py:3", "prog.py:4"]
    # The inversion itself is also in the order graph.
    (cyc,) = r.of("LW101")
    assert sorted(cyc["locks"]) == ["prog.py:3", "prog.py:4"]


def test_deadlock_report_only_lets_the_program_behave_as_without(tmp_path):
    # With a timeout the program would not hang on its own; report-only must not break it.
    src = AB_BA_DEADLOCK.replace("with b:\n                pass", "if b.acquire(timeout=0.5): b.release()")
    src = src.replace("with a:\n                pass", "if a.acquire(timeout=0.5): a.release()")
    r = rh.run(tmp_path, src, "--report-only", timeout=30)
    assert "broken: 0" in r.stdout, r.explain()


POSSIBLE_SAME_THREAD = """
import threading
a = threading.Lock()
b = threading.Lock()
def phase1():
    with a:
        with b:
            pass
def phase2():
    with b:
        with a:
            pass
phase1()
phase2()
print("ok")
"""

POSSIBLE_OTHER_THREAD = """
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
t = threading.Thread(target=one); t.start(); t.join()
t = threading.Thread(target=two); t.start(); t.join()
print("ok")
"""

CONSISTENT_ORDER = """
import threading
a = threading.Lock()
b = threading.Lock()
def one():
    with a:
        with b:
            pass
ts = [threading.Thread(target=one) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
with a:
    with b:
        pass
print("ok")
"""


@KEY
@pytest.mark.parametrize("src", [POSSIBLE_SAME_THREAD, POSSIBLE_OTHER_THREAD], ids=["same-thread", "other-thread"])
def test_possible_inversion_is_reported_though_it_never_fires(tmp_path, src, python):
    r = rh.run(tmp_path, src, python=python, timeout=30)
    assert r.stdout.strip() == "ok", r.explain()
    assert r.returncode == 1, r.explain()
    assert r.codes() == ["LW101"], r.explain()
    (f,) = r.findings
    assert f["kind"] == "lock-order-cycle"
    assert (f["path"], f["line"]) == ("prog.py", 11)  # the acquisition that closed the cycle
    assert sorted(f["locks"]) == ["prog.py:3", "prog.py:4"]
    assert [x["line"] for x in f["related"]] == [7]
    assert len(f["stacks"]) == 2
    assert "a -> b" in f["message"] and "b -> a" in f["message"]


def test_consistent_order_is_clean(tmp_path):
    r = rh.run(tmp_path, CONSISTENT_ORDER, timeout=30)
    assert r.returncode == 0 and r.findings == [], r.explain()


def test_three_lock_cycle(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        a, b, c = threading.Lock(), threading.Lock(), threading.Lock()
        def ab():
            with a:
                with b: pass
        def bc():
            with b:
                with c: pass
        def ca():
            with c:
                with a: pass
        for f in (ab, bc, ca):
            t = threading.Thread(target=f); t.start(); t.join()
    """, timeout=30)
    (f,) = r.of("LW101")
    assert len(f["locks"]) == 3 and len(f["stacks"]) == 3, r.explain()
    assert "cycle of 3 locks" in f["message"]
    assert r.codes() == ["LW101"]


def test_three_locks_in_a_consistent_chain_are_clean(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        a, b, c = threading.Lock(), threading.Lock(), threading.Lock()
        def ab():
            with a:
                with b: pass
        def bc():
            with b:
                with c: pass
        def ac():
            with a:
                with c: pass
        for f in (ab, bc, ac):
            t = threading.Thread(target=f); t.start(); t.join()
    """, timeout=30)
    assert r.findings == [] and r.returncode == 0, r.explain()


@KEY
def test_rlock_reentry_is_clean(tmp_path, python):
    # Re-entering r while a is held must not add the edge a -> r (with r -> a that would be
    # a false cycle).
    r = rh.run(tmp_path, """
        import threading
        r = threading.RLock()
        a = threading.Lock()
        with r:
            with a:
                with r:
                    with r:
                        pass
        assert not a.locked()
        print("ok")
    """, python=python, timeout=30)
    assert r.returncode == 0 and r.findings == [], r.explain()


def test_condition_over_user_lock(tmp_path):
    r = rh.run(tmp_path, """
        import threading, queue
        lk = threading.Lock()
        cond = threading.Condition(lk)
        items = []
        def producer():
            for i in range(200):
                with cond:
                    items.append(i)
                    cond.notify()
        def consumer(out):
            got = 0
            while got < 200:
                with cond:
                    while not items:
                        cond.wait(timeout=5)
                    items.pop()
                    got += 1
            out.append(got)
        out = []
        c = threading.Thread(target=consumer, args=(out,)); c.start()
        p = threading.Thread(target=producer); p.start()
        p.join(); c.join()
        # Condition over an RLock, waited on at recursion depth 2.
        rl = threading.RLock()
        rc = threading.Condition(rl)
        flag = []
        def setter():
            with rc:
                flag.append(1)
                rc.notify_all()
        with rl:
            with rc:
                t = threading.Thread(target=setter); t.start()
                assert rc.wait_for(lambda: flag, timeout=10)
        t.join()
        q = queue.Queue()
        for i in range(100): q.put(i)
        assert sum(q.get() for _ in range(100)) == 4950
        print("ok", out)
    """, timeout=30)
    assert "ok [200]" in r.stdout and r.returncode == 0 and r.findings == [], r.explain()


def test_trylock_adds_no_edge(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        a = threading.Lock()
        b = threading.Lock()
        with a:
            if b.acquire(blocking=False):
                b.release()
            if b.acquire(timeout=0.1):   # a timed wait backs off: no edge either
                b.release()
        with b:
            with a:
                pass
        print("ok")
    """, timeout=30)
    assert r.returncode == 0 and r.findings == [], r.explain()


@KEY
def test_self_deadlock_is_broken(tmp_path, python):
    r = rh.run(tmp_path, """
        import threading, lockwatch
        lock = threading.Lock()
        def f():
            with lock:
                g()
        def g():
            with lock:
                pass
        try:
            f()
        except lockwatch.DeadlockError as e:
            print("broken:", "self-deadlock" in str(e))
        assert not lock.locked()
    """, python=python, timeout=30)
    assert "broken: True" in r.stdout, r.explain()
    (f,) = r.of("LW111")
    assert f["kind"] == "self-deadlock" and (f["path"], f["line"]) == ("prog.py", 8)
    assert f["locks"] == ["prog.py:3"]
    assert any("prog.py:6 in f" in fr for fr in f["stacks"][0])
    assert r.codes() == ["LW111"]


def test_lock_released_by_another_thread_is_not_a_self_deadlock(tmp_path):
    # A plain lock used as a signal: taken twice by main, released by a worker.
    r = rh.run(tmp_path, """
        import threading, time
        done = threading.Lock()
        done.acquire()
        def worker():
            time.sleep(0.1)
            done.release()
        threading.Thread(target=worker).start()
        done.acquire()   # waits for the worker's release
        done.release()
        print("ok")
    """, timeout=30)
    assert r.stdout.strip() == "ok" and r.findings == [] and r.returncode == 0, r.explain()


def test_reentry_from_del_is_broken(tmp_path):
    r = rh.run(tmp_path, """
        import threading, gc
        lock = threading.Lock()
        class Res:
            def __del__(self):
                with lock:
                    pass
        with lock:
            x = Res()
            del x        # __del__ runs here, on the thread that holds the lock
        print("survived")
    """, timeout=30)
    assert "survived" in r.stdout, r.explain()
    assert "DeadlockError" in r.stderr  # "Exception ignored in ... __del__"
    (f,) = r.of("LW111")
    assert (f["path"], f["line"]) == ("prog.py", 6), r.explain()


ASYNC_DEADLOCK = """
import asyncio, lockwatch
async def main():
    a, b = asyncio.Lock(), asyncio.Lock()
    ev = asyncio.Event()
    n = []
    async def t1():
        try:
            async with a:
                await asyncio.sleep(0.05)
                async with b:
                    pass
        except lockwatch.DeadlockError:
            n.append(1)
    async def t2():
        try:
            async with b:
                await asyncio.sleep(0.05)
                async with a:
                    pass
        except lockwatch.DeadlockError:
            n.append(2)
    await asyncio.gather(t1(), t2())
    print("broken:", len(n))
asyncio.run(main())
"""


@KEY
def test_asyncio_lock_inversion_between_tasks_is_broken(tmp_path, python):
    r = rh.run(tmp_path, ASYNC_DEADLOCK, python=python, timeout=30)
    assert "broken: 1" in r.stdout, r.explain()
    (dl,) = r.of("LW103")
    assert "task" in dl["message"] and len(dl["stacks"]) == 2
    assert len(r.of("LW101")) == 1


def test_asyncio_possible_inversion_and_clean_lookalike(tmp_path):
    r = rh.run(tmp_path, """
        import asyncio
        async def main():
            a, b = asyncio.Lock(), asyncio.Lock()
            async def ab():
                async with a:
                    async with b: pass
            async def ba():
                async with b:
                    async with a: pass
            await ab()
            await asyncio.create_task(ba())
        asyncio.run(main())
    """, timeout=30)
    assert r.codes() == ["LW101"], r.explain()
    r = rh.run(tmp_path, """
        import asyncio
        async def main():
            a, b = asyncio.Lock(), asyncio.Lock()
            async def ab():
                async with a:
                    async with b: pass
            await asyncio.gather(ab(), ab(), ab())
        asyncio.run(main())
    """, timeout=30)
    assert r.findings == [] and r.returncode == 0, r.explain()


def test_lock_held_at_thread_end(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        leaked = threading.Lock()
        fine = threading.Lock()
        handed = threading.Lock()
        def leak():
            leaked.acquire()
        def ok():
            fine.acquire(); fine.release()
        def hand_over():
            handed.acquire()          # released later by main: not a leak
        for f in (leak, ok, hand_over):
            t = threading.Thread(target=f); t.start(); t.join()
        handed.release()
    """, timeout=30)
    (f,) = r.of("LW122")
    assert f["kind"] == "acquire-without-release" and f["locks"] == ["prog.py:3"], r.explain()
    assert "Thread-1 (leak)" in f["message"]
    assert r.codes() == ["LW122"]


def test_long_hold_and_long_wait(tmp_path):
    r = rh.run(tmp_path, """
        import threading, time
        lock = threading.Lock()
        quick = threading.Lock()
        started = threading.Event()
        def holder():
            with lock:
                started.set()
                time.sleep(1.0)
        def waiter():
            started.wait()
            with lock:
                pass
        for _ in range(50):
            with quick:
                time.sleep(0.005)
        ts = [threading.Thread(target=holder), threading.Thread(target=waiter)]
        for t in ts: t.start()
        for t in ts: t.join()
    """, "--long-hold", "0.3", "--long-wait", "0.3", timeout=30)
    (h,) = r.of("LW132")
    (w,) = r.of("LW133")
    assert h["kind"] == w["kind"] == "blocking-under-lock", r.explain()
    assert h["locks"] == w["locks"] == ["prog.py:3"]
    assert any("in holder" in fr for fr in h["stacks"][0])
    assert any("in waiter" in fr for fr in w["stacks"][0]) and any("in holder" in fr for fr in w["stacks"][1])
    # quick is taken 50 times for 5 ms each: many short holds are not one long hold.
    assert all(f["locks"] == ["prog.py:3"] for f in r.findings)


def test_starvation(tmp_path):
    # OS locks decide who wins a release, so the scenario is staged: a waiter registered
    # as the tracer registers it, while the lock is taken again and again by others.
    p = rh.run_plain(tmp_path, """
        import threading, lockwatch
        from lockwatch.runtime import state, watchdog
        with lockwatch.watch(starvation_passes=10, starvation_time=0.5, long_hold=0, long_wait=0) as w:
            lock = threading.Lock()
            other = threading.Lock()
            now = state.monotonic()
            state.waiting[-1] = state.Wait("lock", lock, now - 1.0, lock._n)    # waited 1 s
            state.waiting[-2] = state.Wait("lock", other, now - 1.0, other._n)  # look-alike
            state.waiting[-3] = state.Wait("lock", lock, now - 0.1, lock._n)    # too recent
            watchdog.sample(now)     # the watchdog starts counting the locks waited for
            for _ in range(12):
                with lock:
                    pass
            for _ in range(5):
                with other:
                    pass
            watchdog.sample(now)
            for k in (-1, -2, -3):
                del state.waiting[k]
        print([(f.code, f.locks) for f in w.findings])
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[('LW134', ['embed.py:5'])]", p.stdout


def test_join_under_lock_wait_cycle(tmp_path):
    r = rh.run(tmp_path, """
        import threading, lockwatch
        lock = threading.Lock()
        broken = []
        def worker():
            try:
                with lock:
                    pass
            except lockwatch.DeadlockError:
                broken.append("worker")
        with lock:
            t = threading.Thread(target=worker)
            t.start()
            try:
                t.join()
            except lockwatch.DeadlockError:
                broken.append("main")
        t.join()
        print("broken:", broken)
    """, timeout=30)
    assert "broken: ['" in r.stdout, r.explain()
    (f,) = r.of("LW135")
    assert f["kind"] == "blocking-under-lock" and "join()" in f["message"]
    assert f["locks"] == ["prog.py:3"]


def test_join_without_the_lock_is_clean(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        lock = threading.Lock()
        def worker():
            with lock:
                pass
        t = threading.Thread(target=worker)
        with lock:
            t.start()
        t.join()
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(2) as ex:
            assert ex.submit(lambda: 1).result() == 1
    """, timeout=30)
    assert r.findings == [] and r.returncode == 0, r.explain()


def test_future_result_under_lock_wait_cycle(tmp_path):
    r = rh.run(tmp_path, """
        import threading, time, lockwatch
        from concurrent.futures import ThreadPoolExecutor
        lock = threading.Lock()
        def task():
            time.sleep(0.2)
            with lock:
                return 1
        with ThreadPoolExecutor(1) as ex:
            with lock:
                fut = ex.submit(task)
                try:
                    fut.result()
                except lockwatch.DeadlockError:
                    print("broken main")
            try:
                fut.result()
            except lockwatch.DeadlockError:
                print("broken task")
    """, timeout=30)
    assert "broken" in r.stdout, r.explain()
    (f,) = r.of("LW135")
    assert "Future.result()" in f["message"] or "waits for prog.py:3" in f["message"] or f["locks"], r.explain()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@KEY
def test_fork_survives(tmp_path, python):
    r = rh.run(tmp_path, """
        import os, threading, time
        a = threading.Lock()
        b = threading.RLock()
        def background():
            with b:
                time.sleep(0.3)
        t = threading.Thread(target=background); t.start()
        time.sleep(0.05)
        with a:
            pid = os.fork()
            if pid == 0:
                # child: the tracer's own locks were re-made; new and old locks work
                c = threading.Lock()
                with c:
                    pass
                a.release(); a.acquire()
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        t.join()
        print("child", os.waitstatus_to_exitcode(status))
    """, python=python, timeout=30)
    assert "child 0" in r.stdout and r.returncode == 0, r.explain()


def test_internal_error_does_not_break_the_program(tmp_path):
    r = rh.run(tmp_path, """
        import threading
        from lockwatch.runtime import state
        state.fault = "edge"
        a, b = threading.Lock(), threading.Lock()
        for _ in range(3):
            with a:
                with b:
                    pass
        state.fault = "create"
        c = threading.Lock()
        with c:
            pass
        print("carried on")
    """, timeout=30)
    assert "carried on" in r.stdout and r.returncode == 0, r.explain()
    assert r.stderr.count("internal error in lockwatch runtime (edge)") == 1, r.explain()
    assert any("injected fault at edge" in e["message"] for e in r.report["errors"])


def test_watch_api_embedding(tmp_path):
    p = rh.run_plain(tmp_path, """
        import threading, _thread, lockwatch
        orig = (threading.Lock, threading.RLock, _thread.allocate_lock)
        with lockwatch.watch() as w:
            with lockwatch.watch() as inner:      # nested: safe, shares the tracer
                a, b = threading.Lock(), threading.Lock()
                with a:
                    with b: pass
                with b:
                    with a: pass
            assert threading.Lock is not orig[0] or threading.Lock.__name__ != "allocate_lock"
        assert (threading.Lock, threading.RLock, _thread.allocate_lock) == orig, "not restored"
        print([f.code for f in w.findings], [f.code for f in inner.findings])
        rep = w.report()
        print(rep.source, len(rep.findings))
        lockwatch.install(); lockwatch.install(); lockwatch.uninstall()
        assert threading.Lock is not orig[0]
        lockwatch.uninstall()
        assert threading.Lock is orig[0]
        lockwatch.uninstall()   # one too many: harmless
        print("restored")
    """)
    assert p.returncode == 0, p.stderr
    assert "['LW101'] ['LW101']" in p.stdout and "runtime 1" in p.stdout and "restored" in p.stdout, p.stdout


def test_suppression_comment_on_the_reported_line(tmp_path):
    r = rh.run(tmp_path, POSSIBLE_SAME_THREAD.replace(
        "    with b:\n        with a:\n", "    with b:\n        with a:  # lockwatch: ignore[LW101]\n"), timeout=30)
    assert r.findings == [] and r.returncode == 0, r.explain()


def test_dropped_held_lock_lends_no_edges(tmp_path):
    # `lock.acquire(); del lock` (CPython's own lock tests do it) must not leave a ghost on
    # the held stack that every later acquisition would get an edge from.
    r = rh.run(tmp_path, """
        import threading
        def leak_one():
            ghost = threading.Lock()
            ghost.acquire()
        a = threading.Lock()
        leak_one()          # a ghost "held" by the main thread forever
        with a:             # would be ghost -> a
            pass
        with a:
            leak_one()      # a -> ghost: with the ghost edge, a false cycle
        print("ok")
    """, timeout=30)
    assert r.stdout.strip() == "ok" and r.of("LW101") == [], r.explain()


def test_signal_locks_released_by_other_threads_make_no_cycle(tmp_path):
    # Locks used as one-shot signals (taken by one thread, released by another), in the
    # shape of CPython's test_tstate_lock: no mutual exclusion, so no lock order.
    r = rh.run(tmp_path, """
        import threading, _thread, time
        started = _thread.allocate_lock()
        finish = _thread.allocate_lock()
        started.acquire()
        finish.acquire()
        def f():
            started.release()
            finish.acquire()
            finish.release()
        t = threading.Thread(target=f)
        t.start()
        started.acquire()
        finish.release()
        t.join()
        started.release()
        print("ok")
    """, timeout=30)
    assert r.stdout.strip() == "ok" and r.findings == [], r.explain()


def test_asyncio_lock_held_when_task_ends(tmp_path):
    r = rh.run(tmp_path, """
        import asyncio
        async def main():
            leaked = asyncio.Lock()
            fine = asyncio.Lock()
            async def bad():
                await leaked.acquire()
            async def good():
                async with fine:
                    await asyncio.sleep(0)
            await asyncio.gather(asyncio.create_task(bad()), asyncio.create_task(good()))
        asyncio.run(main())
    """, timeout=30)
    (f,) = r.of("LW122")
    assert f["locks"] == ["prog.py:4"] and "task" in f["message"], r.explain()
    assert r.codes() == ["LW122"]


def test_two_instances_of_one_class_in_opposite_orders(tmp_path):
    src = """
        import threading
        class Account:
            def __init__(self):
                self.lock = threading.Lock()
        def transfer(src, dst):
            with src.lock:
                with dst.lock:
                    pass
        a, b, c = Account(), Account(), Account()
        {calls}
        print("ok")
    """
    r = rh.run(tmp_path, src.format(calls="transfer(a, b); transfer(b, c); transfer(b, a)"), timeout=30)
    (f,) = r.of("LW101")
    assert f["locks"] == ["prog.py:5"] and "opposite orders" in f["message"], r.explain()
    assert (f["path"], f["line"]) == ("prog.py", 8) and len(f["stacks"]) == 2
    # Look-alike: every transfer in one global order (sorted by id): clean.
    calls = "; ".join(f"transfer(*sorted(({x}, {y}), key=id))" for x, y in ("ab", "bc", "ba", "ca"))
    r = rh.run(tmp_path, src.format(calls=calls), timeout=30)
    assert r.findings == [] and r.returncode == 0, r.explain()


def test_signal_lock_released_from_the_top_of_the_takers_stack(tmp_path):
    # The worker releases `ready` while it is the only lock main holds: still a signal,
    # so the later nesting in both orders is no lock-order cycle.
    r = rh.run(tmp_path, """
        import threading
        ready = threading.Lock()
        other = threading.Lock()
        ready.acquire()
        t = threading.Thread(target=ready.release); t.start(); t.join()
        with ready:
            with other: pass
        with other:
            with ready: pass
        print("ok")
    """, timeout=30)
    assert r.stdout.strip() == "ok" and r.findings == [], r.explain()
