"""asyncio.Semaphore/BoundedSemaphore, Event and Queue under the tracer (3.11 and 3.13).

Their waits go into the wait map (kinds "semaphore", "event", "queue") only when a call
really waits, and leave it however the wait ends; what the primitives do is unchanged. A
task starved on a semaphore that other tasks hold is LW133 naming the holders; a consumer
on an empty queue, a task waiting for an event, a ``Semaphore(0)`` used as a signal are
not findings. Reports that show the agents involved also show such waiting tasks."""

from __future__ import annotations

import json

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

KEY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)

BEHAVIOUR = r"""
import abc, asyncio, asyncio.queues, inspect, re, sys
import lockwatch
from lockwatch.runtime import aio, state

S, B, E, Q = asyncio.Semaphore, asyncio.BoundedSemaphore, asyncio.Event, asyncio.Queue
NAMES = {S: ("__init__", "acquire", "release", "__aenter__", "_lw_cls", "_lw_holders"), E: ("wait",), Q: ("get", "put")}
def own(cls):
    return {n: cls.__dict__.get(n, "absent") for n in NAMES[cls]}
before = {cls: own(cls) for cls in NAMES}
classes = (asyncio.Semaphore, asyncio.BoundedSemaphore, asyncio.Event, asyncio.Queue,
           asyncio.PriorityQueue, asyncio.LifoQueue, asyncio.locks.Semaphore, asyncio.queues.Queue)
pre_sem, pre_q, pre_lock = asyncio.Semaphore(1), asyncio.Queue(), asyncio.Lock()

lockwatch.install()
# Count registrations: a call that does not wait must not register one.
calls = []
real_begin = aio._wait_begin
def counting_begin(what, target, detail=""):
    calls.append((what, detail))
    return real_begin(what, target, detail)
aio._wait_begin = counting_begin

def no_waits():
    assert state.waiting == {}, state.waiting

async def settle():
    for _ in range(5):
        await asyncio.sleep(0)

def waits_of(task):
    wt = state.waiting.get(state.TaskKey(task))
    return (wt.what, wt.detail) if wt else None

async def semaphores():
    line = sys._getframe().f_lineno
    sem = asyncio.Semaphore(2)
    bs = asyncio.BoundedSemaphore(1)
    assert type(sem) is asyncio.Semaphore and type(bs) is asyncio.BoundedSemaphore
    assert isinstance(bs, asyncio.Semaphore) and issubclass(asyncio.BoundedSemaphore, asyncio.Semaphore)
    assert re.fullmatch(r"<asyncio\.locks\.Semaphore object at 0x[0-9a-f]+ \[unlocked, value:2\]>", repr(sem)), repr(sem)
    assert inspect.iscoroutinefunction(asyncio.Semaphore.acquire)
    # named by the line that created them (a BoundedSemaphore too, not by asyncio's line)
    assert sem._lw_cls.key == f"embed.py:{line + 1}" and bs._lw_cls.key == f"embed.py:{line + 2}", (sem._lw_cls, bs._lw_cls)
    # uncontended: value, locked(), no wait registered, holders kept
    me = asyncio.current_task()
    assert await sem.acquire() is True and sem._value == 1 and not sem.locked()
    async with sem:
        assert sem.locked() and sem._value == 0 and aio.holders(sem)[0] == [me]
    sem.release()
    assert sem._value == 2 and aio.holders(sem)[0] == [] and calls == []
    # contended: FIFO order, the wait registered while waiting and gone after
    order = []
    async def user(i, hold):
        async with sem:
            order.append(i)
            await hold.wait()
    gate = asyncio.Event()
    ts = [asyncio.create_task(user(i, gate)) for i in range(4)]
    await settle()
    assert order == [0, 1] and [waits_of(t) for t in ts] == [("event", ""), ("event", ""), ("semaphore", ""), ("semaphore", "")]
    assert set(aio.holders(sem)[0]) == set(ts[:2]) and sem.locked()
    gate.set()
    await asyncio.gather(*ts)
    assert order == [0, 1, 2, 3] and sem._value == 2 and aio.holders(sem)[0] == []
    no_waits()
    # cancellation of a waiting acquire: value and waiters as before, no holder, no wait
    await bs.acquire()
    t = asyncio.create_task(bs.acquire())
    await settle()
    assert waits_of(t) == ("semaphore", "")
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("cancelled acquire returned")
    no_waits()
    assert bs._value == 0 and not [w for w in (bs._waiters or ()) if not w.cancelled()]
    assert aio.holders(bs)[0] == [me]
    # a timed-out acquire (wait_for) leaves nothing either
    try:
        await asyncio.wait_for(bs.acquire(), 0.01)
    except asyncio.TimeoutError:
        pass
    no_waits()
    bs.release()
    assert bs._value == 1 and aio.holders(bs)[0] == []
    try:
        bs.release()
    except ValueError as e:
        assert "released too many times" in str(e)
    else:
        raise AssertionError("BoundedSemaphore over-release did not raise")
    assert bs._value == 1 and bs._lw_holders == [] and not bs._lw_cls.handoff
    # a permit given back by another task: signal semantics, holders no longer tracked
    sig = asyncio.Semaphore(0)
    async def consumer():
        await sig.acquire()
    c = asyncio.create_task(consumer())
    await settle()
    assert waits_of(c) == ("semaphore", "")
    sig.release()
    await c
    assert sig._lw_holders is None and sig._lw_cls.handoff and aio.holders(sig)[0] == []
    no_waits()
    # a subclass's own acquire is what ``async with`` calls, as before
    class Counting(asyncio.Semaphore):
        n = 0
        async def acquire(self):
            Counting.n += 1
            return await super().acquire()
    cs = Counting(1)
    async with cs:
        assert cs.locked() and aio.holders(cs)[0] == [me]
    assert Counting.n == 1 and cs._value == 1 and aio.holders(cs)[0] == []
    # a semaphore made before install works, untracked
    async with pre_sem:
        assert pre_sem.locked()
    assert pre_sem._value == 1 and aio.holders(pre_sem)[0] == []

async def events():
    ev = asyncio.Event()
    assert re.fullmatch(r"<asyncio\.locks\.Event object at 0x[0-9a-f]+ \[unset\]>", repr(ev)), repr(ev)
    ev.set()
    n = len(calls)
    assert ev.is_set() and await ev.wait() is True and len(calls) == n  # set: no wait
    ev.clear()
    assert not ev.is_set()
    ws = [asyncio.create_task(ev.wait()) for _ in range(3)]
    await settle()
    assert [waits_of(w) for w in ws] == [("event", "")] * 3 and "waiters:3" in repr(ev)
    ws[0].cancel()
    await settle()
    assert waits_of(ws[0]) is None
    ev.set()
    res = await asyncio.gather(*ws, return_exceptions=True)
    assert isinstance(res[0], asyncio.CancelledError) and res[1:] == [True, True], res
    no_waits()
    try:
        await asyncio.wait_for(asyncio.Event().wait(), 0.01)
    except asyncio.TimeoutError:
        pass
    no_waits()

async def queues():
    q = asyncio.Queue(maxsize=2)
    assert type(q) is asyncio.Queue and isinstance(asyncio.PriorityQueue(), asyncio.Queue)
    assert isinstance(pre_q, asyncio.Queue) and asyncio.Queue[int].__origin__ is asyncio.Queue
    class MyQ(asyncio.Queue, abc.ABC):   # the class and its metaclass are the stdlib's own
        pass
    assert type(MyQ) is abc.ABCMeta
    n = len(calls)
    await q.put(1); await q.put(2)
    assert q.full() and await q.get() == 1 and len(calls) == n  # neither waited
    await q.put(3)
    p = asyncio.create_task(q.put(4))
    await settle()
    assert waits_of(p) == ("queue", "put") and not p.done()
    assert await q.get() == 2
    await p
    assert [await q.get(), await q.get()] == [3, 4] and q.empty()
    no_waits()
    g = asyncio.create_task(q.get())
    await settle()
    assert waits_of(g) == ("queue", "get")
    q.put_nowait("x")
    assert await g == "x"
    no_waits()
    # a cancelled get leaves the queue usable and nothing in the wait map
    g = asyncio.create_task(q.get())
    await settle()
    g.cancel()
    await asyncio.gather(g, return_exceptions=True)
    no_waits()
    await q.put("y")
    assert q.get_nowait() == "y"
    # PriorityQueue and LifoQueue keep their order
    pq, lq = asyncio.PriorityQueue(), asyncio.LifoQueue()
    for i in (3, 1, 2):
        await pq.put(i); await lq.put(i)
    assert [await pq.get() for _ in range(3)] == [1, 2, 3] and [await lq.get() for _ in range(3)] == [2, 1, 3]
    # join / task_done
    jq = asyncio.Queue()
    for i in range(3):
        jq.put_nowait(i)
    async def worker():
        while True:
            await jq.get()
            await asyncio.sleep(0)
            jq.task_done()
    w = asyncio.create_task(worker())
    await asyncio.wait_for(jq.join(), 5)
    assert jq._unfinished_tasks == 0
    w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    no_waits()
    if sys.version_info >= (3, 13):
        sq = asyncio.Queue()
        g = asyncio.create_task(sq.get())
        await settle()
        sq.shutdown()
        try:
            await g
        except asyncio.QueueShutDown:
            pass
        else:
            raise AssertionError("get on a shut-down queue returned")
        no_waits()

# asyncio.Lock (a subclass while installed) answers for locks made before install, and a
# user's subclass of it does not claim them
class MyLock(asyncio.Lock):
    pass
assert isinstance(pre_lock, asyncio.Lock) and issubclass(type(pre_lock), asyncio.Lock)
assert isinstance(MyLock(), asyncio.Lock) and not isinstance(pre_lock, MyLock)
assert not issubclass(type(pre_lock), MyLock)

async def dropped():
    # a task waiting on a queue that nothing else refers to is freed, as without lockwatch:
    # the wait map does not keep it alive, and its entry goes with it
    import gc, weakref
    async def lost():
        await asyncio.Queue().get()
    t = asyncio.create_task(lost())
    await settle()
    assert waits_of(t) == ("queue", "get")
    r = weakref.ref(t)
    del t
    for _ in range(3):
        gc.collect()
    assert r() is None, gc.get_referrers(r())
    no_waits()

async def main():
    await semaphores()
    await events()
    await queues()
    await dropped()

asyncio.run(main())
no_waits()
aio._wait_begin = real_begin
lockwatch.uninstall()
after = {cls: own(cls) for cls in NAMES}
assert after == before, (after, before)
assert classes == (asyncio.Semaphore, asyncio.BoundedSemaphore, asyncio.Event, asyncio.Queue,
                   asyncio.PriorityQueue, asyncio.LifoQueue, asyncio.locks.Semaphore, asyncio.queues.Queue)
print("OK")
"""


@KEY
def test_primitives_behave_the_same_and_waits_leave_the_map(tmp_path, python):
    p = rh.run_plain(tmp_path, BEHAVIOUR, python=python, timeout=60)
    assert p.returncode == 0 and p.stdout.strip().endswith("OK"), p.stdout[-3000:] + p.stderr[-3000:]


# The watchdog is sampled with a clock moved forward (no sleeping, no timing): every task is
# parked in its wait first, then one sample decides.
STAGED = r"""
import asyncio, json
import lockwatch
from lockwatch.runtime import state, watchdog

async def main():
    mutex = asyncio.Semaphore(1)
    pool = asyncio.BoundedSemaphore(2)
    signal = asyncio.Semaphore(0)           # look-alike: a signal nobody holds
    passed = asyncio.Semaphore(1)           # look-alike: permit released by another task
    pair = [asyncio.Semaphore(1) for _ in range(2)]   # one site: the first one's permits
    pair[0].release()                                 # pass between tasks, so the site is a signal
    leaky = asyncio.Semaphore(1)
    async def leak():
        await leaky.acquire()               # ends without releasing
    await asyncio.create_task(leak(), name="leaker")
    jobs, full = asyncio.Queue(), asyncio.Queue(maxsize=1)
    full.put_nowait(0)
    ready, never = asyncio.Event(), asyncio.Event()
    async def hold(sem, name):
        async with sem:
            await never.wait()
    async def want(sem):
        async with sem:
            pass
    await passed.acquire()
    async def give_back():
        passed.release()
        await passed.acquire()              # taken again: a plain holder now
    await asyncio.create_task(give_back())
    tasks = [
        asyncio.create_task(hold(mutex, "a"), name="holder"),
        asyncio.create_task(hold(pool, "p1"), name="pool-1"),
        asyncio.create_task(hold(pool, "p2"), name="pool-2"),
        asyncio.create_task(want(mutex), name="starved"),
        asyncio.create_task(want(pool), name="pool-waiter"),
        asyncio.create_task(want(signal), name="signal-waiter"),
        asyncio.create_task(want(passed), name="passed-waiter"),
        asyncio.create_task(hold(pair[1], "q"), name="pair-holder"),
        asyncio.create_task(want(pair[1]), name="pair-waiter"),
        asyncio.create_task(want(leaky), name="leak-waiter"),
        asyncio.create_task(jobs.get(), name="consumer"),
        asyncio.create_task(full.put(1), name="producer"),
        asyncio.create_task(ready.wait(), name="event-waiter"),
    ]
    for _ in range(10):
        await asyncio.sleep(0)
    kinds = sorted((state.agent_name(state.wait_agent(a)), w.what, w.detail) for a, w in state.waiting.items())
    watchdog.sample(state.monotonic() + 6.0)
    watchdog.sample(state.monotonic() + 7.0)   # once per semaphore, not per sample
    never.set(); ready.set(); signal.release(); jobs.put_nowait(1); full.get_nowait()
    passed.release()
    leaky.release()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    return kinds

with lockwatch.watch(long_wait=5, long_hold=0, starvation_passes=0, loop_block=0) as w:
    kinds = asyncio.run(main())
print(json.dumps({"kinds": kinds, "waiting_after": len(state.waiting),
                  "findings": [{"code": f.code, "message": f.message, "locks": f.locks,
                                "stacks": f.stacks, "extra": f.extra} for f in w.findings]}))
"""


@KEY
def test_starved_semaphore_names_its_holders_and_nothing_else_is_a_finding(tmp_path, python):
    p = rh.run_plain(tmp_path, STAGED, python=python, timeout=60)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["waiting_after"] == 0
    waits = {name: (what, detail) for name, what, detail in out["kinds"]}
    assert waits["task 'starved'"] == ("semaphore", "") and waits["task 'pool-waiter'"] == ("semaphore", "")
    assert waits["task 'consumer'"] == ("queue", "get") and waits["task 'producer'"] == ("queue", "put")
    assert waits["task 'event-waiter'"] == ("event", "")
    fs = out["findings"]
    assert sorted(f["code"] for f in fs) == ["LW133"] * 3, fs
    (leak,) = [f for f in fs if "task 'leak-waiter'" in f["message"]]
    assert "ended without releasing it" in leak["message"], leak
    (mutex,) = [f for f in fs if "task 'starved'" in f["message"]]
    (pool,) = [f for f in fs if "task 'pool-waiter'" in f["message"]]
    assert mutex["message"].startswith("task 'starved' has waited 6.0s (threshold 5s) for asyncio.Semaphore mutex (embed.py:")
    assert mutex["message"].endswith("held by task 'holder'") and mutex["extra"]["holders"] == ["task 'holder'"]
    assert any("in want" in fr for fr in mutex["stacks"][0]) and any("in hold" in fr for fr in mutex["stacks"][1])
    assert "asyncio.BoundedSemaphore pool" in pool["message"]
    assert pool["message"].endswith("held by task 'pool-1', task 'pool-2'") and len(pool["stacks"]) == 3
    # the tasks waiting on the queue and the event are shown with what they wait on
    shown = mutex["extra"]["waiting"]
    assert shown["task 'consumer'"]["waits_for"] == "asyncio.Queue.get() (queue empty)"
    assert shown["task 'producer'"]["waits_for"] == "asyncio.Queue.put() (queue full, maxsize 1)"
    assert shown["task 'event-waiter'"]["waits_for"] == "asyncio.Event.wait()"
    assert any("embed.py" in fr for fr in shown["task 'event-waiter'"]["stack"]) or shown["task 'event-waiter'"]["stack"] == []
    assert "task 'starved'" not in shown and "task 'holder'" not in shown


LIVE = r"""
import asyncio

async def main():
    sem = asyncio.Semaphore(1)
    jobs = asyncio.Queue()
    done = asyncio.Event()
    held = asyncio.Event()
    async def holder():
        async with sem:
            held.set()
            await asyncio.sleep(1.0)
    async def starved():
        await held.wait()
        async with sem:
            pass
    async def consumer():
        while (item := await jobs.get()) is not None:
            pass
    async def watcher():
        await done.wait()
    ts = [asyncio.create_task(f(), name=f.__name__) for f in (holder, starved, consumer, watcher)]
    await asyncio.sleep(1.2)
    jobs.put_nowait(None)
    done.set()
    await asyncio.gather(*ts)

asyncio.run(main())
"""


@KEY
def test_long_semaphore_wait_end_to_end(tmp_path, python):
    # a real run: 1 s of waiting against a 0.2 s threshold; the consumer on an empty queue
    # and the event waiter wait as long and are not findings
    r = rh.run(tmp_path, LIVE, "--long-wait", "0.2", "--long-hold", "0", python=python, timeout=60)
    assert r.codes() == ["LW133"], r.explain()
    (f,) = r.findings
    assert f["locks"] == ["prog.py:5"] and "task 'starved'" in f["message"], r.explain()
    assert f["message"].endswith("held by task 'holder'")


DEADLOCK = r"""
import asyncio

async def main():
    a, b = asyncio.Lock(), asyncio.Lock()
    jobs = asyncio.Queue()
    both = asyncio.Event()
    async def consumer():
        await jobs.get()
    async def ab():
        async with a:
            await both.wait()
            async with b:
                pass
    async def ba():
        async with b:
            both.set()
            await asyncio.sleep(0)
            async with a:
                pass
    c = asyncio.create_task(consumer(), name="consumer")
    res = await asyncio.gather(asyncio.create_task(ab(), name="ab"), asyncio.create_task(ba(), name="ba"),
                               return_exceptions=True)
    print(sorted(type(x).__name__ for x in res))
    c.cancel()
    await asyncio.gather(c, return_exceptions=True)

asyncio.run(main())
"""


@KEY
def test_broken_deadlock_report_shows_tasks_waiting_on_a_queue(tmp_path, python):
    r = rh.run(tmp_path, DEADLOCK, python=python, timeout=60)
    (f,) = r.of("LW103")
    shown = f["waiting"]
    assert shown["task 'consumer'"]["waits_for"] == "asyncio.Queue.get() (queue empty)", r.explain()
    assert shown["task 'consumer'"]["kind"] == "queue"
    assert "task 'ab'" not in shown and "task 'ba'" not in shown
    assert "['DeadlockError', 'NoneType']" in r.stdout


DANGLING = r"""
import asyncio

async def consumer(q):
    while True:
        await q.get()

async def main():
    q = asyncio.Queue()
    ev = asyncio.Event()
    sem = asyncio.Semaphore(1)
    async def hold():
        async with sem:
            await ev.wait()
    asyncio.create_task(consumer(q))
    asyncio.create_task(hold())
    asyncio.create_task(sem.acquire())
    KEPT.add(asyncio.create_task(ev.wait()))   # look-alike: referenced, not dangling
    await asyncio.sleep(0.05)

KEPT = set()

asyncio.run(main())
"""


@KEY
def test_tasks_left_waiting_on_a_queue_event_or_semaphore_are_still_dangling(tmp_path, python):
    # the wait map and the holder lists are lockwatch's own: they must not count as the
    # program keeping a reference to a pending task (LW203)
    r = rh.run(tmp_path, DANGLING, python=python, timeout=60)
    lines = sorted(f["line"] for f in r.of("LW203"))
    assert lines == [15, 16, 17], r.explain()
