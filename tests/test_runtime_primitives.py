"""What a primitive does must not change under the tracer (3.11 and 3.13): isinstance and
type checks, repr, locked(), _at_fork_reinit, timeouts, errors, KeyboardInterrupt during a
wait, and uninstall restores the factories exactly."""

from __future__ import annotations

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

KEY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)

BEHAVIOUR = r"""
import _thread, asyncio, re, sys, threading, time, signal
import lockwatch
pre_lock = threading.Lock()
pre_rlock = threading.RLock()
pre_alock = asyncio.Lock()
orig = (threading.Lock, threading.RLock, _thread.allocate_lock, asyncio.Lock, asyncio.locks.Lock,
        threading.Thread.join, threading.Thread._bootstrap_inner)
lockwatch.install()
try:
    lk = threading.Lock()
    rl = threading.RLock()
    tl = _thread.allocate_lock()
    # isinstance / type
    assert isinstance(lk, _thread.LockType) and isinstance(tl, _thread.LockType)
    assert isinstance(rl, _thread.RLock)
    assert type(lk) is type(threading.Lock()) is type(tl)
    if sys.version_info >= (3, 13):
        assert isinstance(lk, threading.Lock) and isinstance(pre_lock, threading.Lock)
        assert not isinstance(rl, threading.Lock)
    else:
        try:
            type(lk)()
        except TypeError as e:
            assert "cannot create '_thread.lock' instances" in str(e), e
        else:
            raise AssertionError("lock type became instantiable")
    # repr and locked()
    assert re.fullmatch(r"<unlocked _thread\.lock object at 0x[0-9a-f]+>", repr(lk)), repr(lk)
    lk.acquire()
    assert lk.locked() and repr(lk).startswith("<locked _thread.lock object")
    # timeouts and argument errors, as the raw lock
    t0 = time.monotonic()
    assert lk.acquire(timeout=0.05) is False
    assert time.monotonic() - t0 >= 0.04
    assert lk.acquire(False) is False
    for bad, exc in (((False, 1), ValueError), ((True, -5), ValueError), ((True, 1e100), OverflowError)):
        try:
            lk.acquire(*bad)
        except exc:
            pass
        else:
            raise AssertionError(f"acquire{bad} did not raise {exc}")
    lk.release()
    try:
        lk.release()
    except RuntimeError:
        pass
    else:
        raise AssertionError("releasing an unlocked lock did not raise")
    # _at_fork_reinit on a held lock: unlocked afterwards, usable again
    lk.acquire()
    lk._at_fork_reinit()
    assert not lk.locked()
    with lk:
        assert lk.locked()
    # RLock: recursion, ownership, repr, errors
    with rl:
        with rl:
            assert rl._is_owned()
            assert "owner=" in repr(rl) and "count=2" in repr(rl), repr(rl)
    assert not rl._is_owned()
    try:
        rl.release()
    except RuntimeError:
        pass
    else:
        raise AssertionError("releasing an un-owned RLock did not raise")
    # a lock released by another thread (allowed for plain locks)
    lk.acquire()
    t = threading.Thread(target=lk.release); t.start(); t.join()
    assert not lk.locked()
    # weakrefs, like the raw locks
    import weakref
    assert weakref.ref(lk)() is lk
    # asyncio.Lock
    al = asyncio.Lock()
    assert isinstance(al, asyncio.Lock) and isinstance(pre_alock, asyncio.Lock)
    assert type(al).__name__ == "Lock" and re.fullmatch(r"<asyncio\.locks\.Lock object at 0x[0-9a-f]+ \[unlocked\]>", repr(al)), repr(al)
    async def amain():
        async with al:
            assert al.locked()
            assert "[locked]" in repr(al)
        assert await al.acquire() is True
        al.release()
        try:
            al.release()
        except RuntimeError:
            pass
        else:
            raise AssertionError
        cond = asyncio.Condition()
        async def notifier():
            async with cond:
                cond.notify_all()
        async with cond:
            task = asyncio.ensure_future(notifier())
            await asyncio.wait_for(cond.wait(), 5)
        await task
    asyncio.run(amain())
    # KeyboardInterrupt while waiting for a lock another thread holds
    from lockwatch.runtime import state
    held = threading.Lock()
    ready = threading.Event()
    def holder():
        with held:
            ready.set()
            time.sleep(0.5)
    h = threading.Thread(target=holder); h.start(); ready.wait()
    threading.Timer(0.1, _thread.interrupt_main).start()
    try:
        with held:
            raise AssertionError("acquired a held lock")
    except KeyboardInterrupt:
        pass
    h.join()
    assert state.waiting == {}, state.waiting
    assert not held.locked()
finally:
    lockwatch.uninstall()
now = (threading.Lock, threading.RLock, _thread.allocate_lock, asyncio.Lock, asyncio.locks.Lock,
       threading.Thread.join, threading.Thread._bootstrap_inner)
assert now == orig, (now, orig)
print("OK")
"""


@KEY
def test_primitives_behave_like_the_raw_ones(tmp_path, python):
    p = rh.run_plain(tmp_path, BEHAVIOUR, python=python, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "OK", p.stdout + p.stderr


def test_stdlib_objects_built_after_install_are_instrumented(tmp_path):
    p = rh.run_plain(tmp_path, """
        import threading, queue, logging
        from concurrent.futures import ThreadPoolExecutor
        import lockwatch
        from lockwatch.runtime import primitives
        with lockwatch.watch():
            q = queue.Queue()
            ev = threading.Event()
            sem = threading.BoundedSemaphore(2)
            bar = threading.Barrier(1)
            h = logging.StreamHandler()
            ex = ThreadPoolExecutor(1)
            kinds = [type(x).__name__ for x in (q.mutex, ev._cond._lock, sem._cond._lock, bar._cond._lock, h.lock)]
            owned = [x._cls.key for x in (q.mutex, ev._cond._lock)]
            assert ex.submit(lambda: 2).result() == 2
            ex.shutdown()
        print(kinds)
        print(owned)
    """)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "['lock', 'lock', 'lock', 'lock', 'RLock']", p.stdout
    # An internal lock is keyed by the user's line that built the object (+ the stdlib line).
    assert lines[1].startswith("['embed.py:7 (queue.py:") and "'embed.py:8 (threading.py:" in lines[1], p.stdout


def test_from_threading_import_lock_before_install_is_rebound(tmp_path):
    (tmp_path / "early.py").write_text("from threading import Lock\nmade = []\ndef make():\n    return Lock()\n")
    p = rh.run_plain(tmp_path, """
        import threading, early, lockwatch
        orig = early.Lock
        with lockwatch.watch():
            lk = early.make()
            print(hasattr(lk, "_cls"), lk._cls.key)
        print(early.Lock is orig)
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "early.py:4", "True"], p.stdout
