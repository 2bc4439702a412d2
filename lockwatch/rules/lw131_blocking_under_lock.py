"""LW131 blocking-under-lock: a blocking call made while a (thread) lock is held.

The catalog (``lockwatch.static.catalog.BLOCKING``, extended by ``blocking_calls`` in the
configuration) lists sleeps, joins, waits, blocking queue operations without timeout,
``Future.result()`` (any non-zero timeout), ``Executor.shutdown(wait=True)``, subprocesses, socket and
HTTP calls, ``input()``. Methods count only when the receiver's type is known (constructor,
annotation, known return type): ``s.join()`` on an unknown ``s`` is ``str.join``. Waiting on
a ``Condition`` while holding a *different* lock is reported too. The primary location is
the call, in the function holding the lock, that blocks or leads to the blocking call.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static.checks import finding, function_short
from lockwatch.static.model import short_name


def check(model, config):
    seen = set()
    ordinal: dict = {}
    for bs in sorted(model.blocking_sites, key=lambda b: (b.fid, b.primary.line, b.primary.column)):
        key = (bs.fid, bs.primary.path, bs.primary.line, bs.primary.column)
        if key in seen:
            continue
        seen.add(key)
        held = sorted({a.lock for a in bs.held})
        names = ", ".join(short_name(h) for h in held)
        witness = list(bs.witness)
        if bs.name.startswith("Condition.wait@"):
            what = f"waits on {short_name(bs.name.split('@', 1)[1])}"
        else:
            # the class a user can look up (multiprocessing.Queue.put, not the catalog's
            # queue.BoundedQueue.put), as the linker saw the receiver built; the catalog name
            # stays the finding's key
            last = witness[-1]
            shown = model.public_call_name(last.path, last.line, last.column, bs.name)
            if shown != bs.name and last.note.endswith(f"calls {bs.name}"):
                witness[-1] = Location(last.path, last.line, last.column, last.note[:-len(bs.name)] + shown)
            what = f"calls {shown}"
        # the callees between the call under the lock and the blocking call, named as LW201
        # names them (the witness steps: "... calls Queue.put", "... which calls _send")
        callees = [w.note.rsplit("calls ", 1)[-1] for w in witness[:-1]
                   if w.note.startswith("...") and "calls " in w.note]
        via = f" (through {' -> '.join(callees)})" if callees else ""
        msg = f"{function_short(model, bs.fid)} {what}{via} while holding {names}: every other thread needing the lock waits too"
        base = (bs.fid, bs.name, *held, len(bs.witness))
        # the n-th such call in the function: two identical calls stay two findings
        nth = ordinal[base] = ordinal.get(base, 0) + 1
        yield finding(RULE, msg, bs.primary, witness, held, (*base, nth))


RULE = Rule(
    code="LW131",
    name="blocking-under-lock",
    kind="blocking-under-lock",
    severity="warning",
    summary="Do not sleep, wait or do I/O while holding a lock",
    what="""
Finds blocking calls made while a thread lock is held, directly or in any function called
under the lock: `time.sleep` (not `sleep(0)`), `Thread.join`, `Event.wait`, waiting on a
`Condition` other than the one whose lock is held, `queue.Queue.get/put` that block
without a timeout, `Future.result()` (a timeout only bounds the stall; `timeout=0` is a poll), `Executor.shutdown(wait=True)`,
`subprocess` calls, `select.select` (unless its timeout is 0), socket `connect/recv/accept/sendall`, `requests`/`httpx` calls,
`urllib.request.urlopen`, `http.client` requests, `input()`. Method calls count only when
the receiver's type is known. Add project functions with `blocking_calls` in the config.
""",
    why="""
Every other thread that needs the lock stalls for as long as the call blocks (a network
timeout can be minutes), which turns a slow dependency into a frozen program. If the call
waits for another thread that itself needs the lock (joining a worker, reading a queue it
fills), it is a deadlock.
""",
    example="""
with self._lock:
    data = requests.get(self.url).json()   # the lock is held across the network call
    self._cache = data
""",
    use_instead="""
data = requests.get(self.url).json()       # block without the lock
with self._lock:
    self._cache = data
""",
    invalid=(
        Example.single('''
import threading
import time as t
from threading import Lock as L

_lock = L()


def tick():
    with _lock:
        t.sleep(0.5)  # expect
'''),
        Example.single('''
import threading
import requests


class Feed:
    def __init__(self):
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self.run)

    def fetch(self):
        return requests.get("https://example.com").text

    def refresh(self):
        with self._lock:
            self._data = self.fetch()  # expect

    def stop(self):
        with self._lock:
            self._worker.join()  # expect

    def run(self):
        pass
'''),
        Example.single('''
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

lock = threading.Lock()
q = queue.Queue()
bounded = queue.Queue(maxsize=10)
pool = ThreadPoolExecutor(2)


def drain():
    with lock:
        item = q.get()  # expect
        bounded.put(item)  # expect
        fut = pool.submit(print, item)
        return fut.result()  # expect


def render(key):
    with lock:
        return pool.submit(str, key).result(timeout=30)  # expect


def wait_readable(socks, timeout):
    import select
    with lock:
        return select.select(socks, [], [], timeout)  # expect
'''),
        Example.single('''
import threading


class Box:
    def __init__(self):
        self._lock = threading.Lock()
        self._cond = threading.Condition()

    def wait_ready(self):
        with self._lock:
            with self._cond:
                self._cond.wait()  # expect
'''),
    ),
    valid=(
        Example.single('''
import threading
import time

lock = threading.Lock()


def fmt(parts, s):
    with lock:
        a = ",".join(parts)
        b = s.join(parts)
        time.sleep(0)
    time.sleep(1)
    return a, b
'''),
        Example.single('''
import queue
import threading

lock = threading.Lock()
q = queue.Queue()


def poll(fut):
    with lock:
        a = q.get(timeout=1)
        b = q.get(block=False)
        q.put(a, False)
        q.put(b)            # an unbounded queue never blocks on put
        return fut.result()
'''),
        Example.single('''
import os
import threading

lock = threading.Lock()


def reap(pid):
    with lock:
        return os.waitpid(pid, os.WNOHANG)


def poll_readable(socks):
    import select
    with lock:
        return select.select(socks, [], [], 0)   # a poll, never waits
'''),
        Example.single('''
import threading
from concurrent.futures import ThreadPoolExecutor

lock = threading.Lock()
pool = ThreadPoolExecutor(2)


def render(key):
    fut = pool.submit(str, key)
    with lock:
        if fut.done() or fut.exception(timeout=0) is None:
            pass
        tile = fut.result(timeout=0)   # a poll: raises TimeoutError at once if not ready
    return fut.result(timeout=30), tile
'''),
        Example.single('''
import threading


class Box:
    def __init__(self):
        self._cond = threading.Condition()
        self.ready = False

    def wait_ready(self):
        with self._cond:
            while not self.ready:
                self._cond.wait()
'''),
        Example.single('''
import asyncio

lock = asyncio.Lock()


async def tick():
    async with lock:
        await asyncio.sleep(1)
'''),
    ),
    check=check,
)
