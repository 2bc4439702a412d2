"""LW131 blocking-under-lock: a blocking call made while a (thread) lock is held.

The catalog (``lockwatch.static.catalog.BLOCKING``, extended by ``blocking_calls`` in the
configuration) lists sleeps, joins, waits, blocking queue operations without timeout,
``Future.result()`` (any non-zero timeout), ``Executor.shutdown(wait=True)``, subprocesses, socket and
HTTP calls, ``input()``. Methods count only when the receiver's type is known (constructor,
annotation, known return type): ``s.join()`` on an unknown ``s`` is ``str.join``. Waiting on
a ``Condition`` while holding a *different* lock is reported too. The primary location is
the call, in the function holding the lock, that blocks or leads to the blocking call: the
first of the calls of one hold that lead to the same blocking call (one finding for them;
see the rule's text for suppressions and baselines).
"""

from __future__ import annotations

from lockwatch import suppress
from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static.checks import finding
from lockwatch.static.graph import (
    CALLS,
    blocking_note,
    head_steps,
    step_callee,
    step_label,
    step_name,
)
from lockwatch.static.link import reroot
from lockwatch.static.model import short_name


def check(model, config):
    sites = []
    seen = set()
    ordinal: dict = {}
    for bs in sorted(model.blocking_sites, key=lambda b: (b.fid, b.primary.line, b.primary.column)):
        key = (bs.fid, bs.primary.path, bs.primary.line, bs.primary.column)
        if key in seen:
            continue
        seen.add(key)
        held = sorted({a.lock for a in bs.held})
        base = (bs.fid, bs.name, *held, len(bs.witness))
        # the n-th such call in the function: two identical calls stay two findings (a
        # hold's finding keeps the key its first call had when every call was reported)
        nth = ordinal[base] = ordinal.get(base, 0) + 1
        sites.append((bs, (*base, nth)))
    sup = model.suppression_maps()
    covered = _CalleeHolds(model)
    # one finding per lock hold and blocking call: the calls made under the same
    # acquisitions of the same function that end at the same blocking call (websocket-
    # client's four recv_* helpers, all reading the socket in recv_strict), in source
    # order. A call whose line carries a suppression is left out (the others are still
    # reported); a lock the callee re-takes (reentrant, same instance) is left to the
    # callee's own finding.
    holds: dict = {}
    for bs, fp in sites:
        file_sup = sup.get(bs.primary.path)
        if file_sup and suppress.is_suppressed(file_sup, bs.primary.line, RULE.code):
            continue
        kept = [a for a in bs.held if not covered.retaken(bs, a)]
        if not kept:
            continue
        hold = (bs.fid, tuple(sorted({(a.lock, tuple(a.loc[:3])) for a in kept})), *_blocking_call(bs))
        holds.setdefault(hold, []).append((bs, kept, fp))
    for calls in holds.values():
        yield _hold_finding(model, calls)


def _hold_finding(model, calls):
    bs, kept, fp = calls[0]
    fi = model.functions[bs.fid]
    fname = step_name(model, fi)
    witness = []
    for a in kept:
        witness.extend(head_steps(model, fi, a))
    what, via, chain = _described(model, bs)
    witness.extend(chain)
    for other, _kept, _fp in calls[1:]:
        o_what, o_via, _chain = _described(model, other)
        p = other.primary
        witness.append(Location(p.path, p.line, p.column, f"{fname} also {o_what}{o_via}"))
    held = sorted({a.lock for a in kept})
    names = ", ".join(short_name(h) for h in held)
    more = ""
    if len(calls) > 1:
        n = len(calls) - 1
        more = f", and {n} more call{'s' if n > 1 else ''} that block{'' if n > 1 else 's'} the same way in the same hold"
    msg = f"{fname} {what}{via} while holding {names}{more}: every other thread needing the lock waits too"
    return finding(RULE, msg, bs.primary, witness, held, fp)


def _described(model, bs):
    """(what the call does, the chain of callees as text, the chain's witness lines) of one
    blocking site: ``calls time.sleep``, `` (through flush -> _send)``."""
    chain = list(bs.witness[len(bs.witness) - len(bs.steps):])
    if bs.name.startswith("Condition.wait@"):
        what = f"waits on {short_name(bs.name.split('@', 1)[1])}"
    else:
        # the class a user can look up (multiprocessing.Queue.put, not the catalog's
        # queue.BoundedQueue.put), as the linker saw the receiver built; the catalog name
        # stays the finding's key. (The chain's last step is the call of ``bs.name``.)
        last = chain[-1]
        shown = model.public_call_name(last.path, last.line, last.column, bs.name)
        if shown != bs.name:
            chain[-1] = Location(last.path, last.line, last.column, blocking_note(shown))
        what = f"calls {shown}"
    # the callees between the call under the lock and the blocking call, named as LW201
    # names them (the witness steps: "... calls Queue.put", "... which calls _send")
    callees = [label for label in map(step_label, bs.steps[:-1]) if label is not None]
    via = f" (through {' -> '.join(callees)})" if callees else ""
    return what, via, chain


def _blocking_call(bs) -> tuple:
    """Where the blocking call of a site is made, and what it is: two calls under one hold
    that end there are one hazard reached two ways. (Two different blocking calls under one
    hold stay two findings: each is a place to fix.)"""
    last = bs.witness[-1]
    return (bs.name, last.path, last.line, last.column)


class _CalleeHolds:
    """Does a function on a blocking site's chain take the held lock again (a reentrant
    lock, the same instance) around the rest of the chain, and report the blocking call
    under that hold itself? Then the caller's hold adds nothing but a second copy of the
    callee's finding: google-api-core's ``_reopen`` sleeps under its own hold of the RLock
    its callers hold around the call. The chain is followed by the functions its steps
    enter and the receivers they are entered on (the steps' data, ``graph.step_callee``);
    a callable handed on ends the search (the caller's finding stays)."""

    def __init__(self, model):
        self.m = model
        self._sites: dict = {}
        for bs in model.blocking_sites:
            p = bs.primary
            self._sites.setdefault((bs.fid, p.path, p.line, p.column, bs.name), []).extend(bs.held)

    def retaken(self, bs, a) -> bool:
        lc = self.m.locks.get(a.lock)
        if lc is None or not lc.reentrant or a.path.startswith("?"):
            return False
        chain = bs.steps
        recvs: list = []
        for i, step in enumerate(chain[:-1]):
            callee = step_callee(step)
            if callee is None or callee[0] != CALLS:
                return False
            _how, g_id, recv = callee
            recvs.append(recv)
            here = chain[i + 1]
            for b in self._sites.get((g_id, here[0], here[1], here[2], bs.name), ()):
                if b.lock != a.lock:
                    continue
                p = b.path
                for r in reversed(recvs):
                    p = reroot(p, r)
                if p == a.path:
                    return True
        return False


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
`subprocess` calls (not `Popen.wait()` after `poll()` saw the exit), `select.select` (unless its timeout is 0), socket
`connect/recv/accept/sendall`, `socket.getaddrinfo` (unless the host is a numeric literal or
`AI_NUMERICHOST` is set: no DNS lookup), `requests`/`httpx` calls,
`urllib.request.urlopen`, `http.client` requests, `input()`. Method calls count only when
the receiver's type is known. Add project functions with `blocking_calls` in the config.

One finding per lock hold and blocking call: the calls made under the same acquisitions in
one function that lead to the same blocking call (several helpers that all end reading one
socket) are one finding, at the first of them in the source, with the others among its
related locations ("and 2 more calls that block the same way in the same hold"). Two
different blocking calls under one hold are two findings. A call whose function re-takes the
same reentrant lock (the same instance) around the blocking call is reported there, once,
not again in each caller that holds the lock around the call.

Suppressions and baselines: a `# lockwatch: ignore[LW131]` on the line of one call leaves
that call out of its finding (the finding stays for the other calls, at the first one left);
suppressing every call silences it. A merged finding's fingerprint is the one its first call
has on its own, so a baseline written when that call was the only one still matches it; a
new call before it makes the finding new.
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
import subprocess
import threading
import time

lock = threading.Lock()


def rsync(path):
    subprocess.run(["rsync", path, "mirror:"])


def sync_mirror(paths):
    with lock:
        rsync(paths[0])  # expect
        rsync(paths[1])     # the same hold, the same blocking call: related to the above
        time.sleep(1)  # expect
    with lock:
        rsync(paths[2])  # expect
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


def take():
    with lock:
        return q.get()  # expect


def hand_on(item):
    with lock:
        bounded.put(item)  # expect


def wait_for(item):
    with lock:
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
