"""LW201 blocking-in-async: a call that blocks the thread made on the event loop, in an
``async def`` directly or in a sync project function it calls (the chain is the witness).

The catalog is ``asyncflow.LOOP_BLOCKING`` plus ``catalog.BLOCKING`` (LW131's) plus the
configured ``blocking_calls``, plus a blocking ``acquire()`` or ``Condition.wait()`` of a
thread lock. Handing the callable to ``asyncio.to_thread``/``run_in_executor``/
``anyio.to_thread.run_sync``/``trio.to_thread.run_sync`` is no call, so it is fine; so is
code in a nested ``def`` or ``lambda`` that is not called in the body.

One finding per blocking call a sync helper makes, however many coroutine calls reach it
(at the first of them, the others as related locations); a call written in the coroutine
itself is one finding. See the rule's text for suppressions and baselines. A call in the
body of a one-shot lazy initialiser (events' ``oi``, ``asyncflow.once_only``) is neither
reported nor followed: it runs once per object (P24).
"""

from __future__ import annotations

from typing import NamedTuple

from lockwatch import selection, suppress
from lockwatch.findings import Finding
from lockwatch.rules import Example, Rule
from lockwatch.static import asyncflow
from lockwatch.static.checks import finding, function_short

# The thread offload to suggest, by the async library that runs the coroutine
# (asyncflow.async_libraries: its module's imports, else its callers').
OFFLOAD = {"asyncio": "asyncio.to_thread", "trio": "trio.to_thread.run_sync",
           "anyio": "anyio.to_thread.run_sync"}


def check(model, config):
    extra = frozenset(getattr(config, "blocking_calls", None) or ())
    sup = model.suppression_maps()
    # blocking calls reached through a sync helper: (catalog name, where the call is made)
    # -> the coroutine calls that lead there, each one a _Reach
    through: dict = {}
    for fid, fi in model.async_functions():
        counts: dict = {}
        for step, name, chain in asyncflow.blocking_in_async(model, fi, extra):
            # chain: "<f> calls <g>", "... calls <h>", ..., "... which calls <name>"; each step
            # into a helper carries the helper's name as data (its fifth part)
            callees = tuple(s[4] for s in chain[:-1])
            # the fingerprint each call had when every call was its own finding (a merged
            # finding keeps its first call's, so baselines written before still match)
            n = counts[name] = counts.get(name, 0) + 1
            r = _Reach(fi, step, name, chain, callees, (fid, name, *callees, n))
            if not callees:
                yield _finding(model, [r])   # written in the coroutine: one finding each
            elif not _left_out(r, sup, config):
                through.setdefault((name, tuple(chain[-1][:3])), []).append(r)
    # one finding per blocking call a helper makes, however many coroutines reach it
    # (python-telegram-bot's one path.open() in parse_file_input, reached from 20 Bot.send_*
    # coroutines): a user fixes the helper once. At the first of those calls in the report's
    # order (path, line), the others as related locations.
    for reaches in through.values():
        reaches.sort(key=lambda r: (r.step, r.fp))
        yield _finding(model, reaches)


class _Reach(NamedTuple):
    """One call in a coroutine that blocks the loop: the call (``step``), the catalog name
    of the blocking call, the witness chain, the helpers in between, the fingerprint parts."""

    fi: object
    step: tuple
    name: str
    chain: tuple
    callees: tuple
    fp: tuple


def _left_out(r: _Reach, sup: dict, config) -> bool:
    """Is this coroutine call silenced on its own: a suppression comment on its line, or a
    per-file ignore of its file? Then it is left out of the merged finding (the engine would
    only ever see the first call's line, and silencing it must not hide the others)."""
    path, line = r.step[0], r.step[1]
    file_sup = sup.get(path)
    if file_sup and suppress.is_suppressed(file_sup, line, RULE.code):
        return True
    if getattr(config, "per_file_ignores", None):
        probe = Finding(code=RULE.code, kind=RULE.kind, severity=RULE.severity, message="",
                        path=path, line=line)
        return not selection.keep(probe, config)
    return False


def _shown(model, r: _Reach) -> tuple:
    """(the blocking call's public name, the witness chain naming it so): the class a user
    can look up (multiprocessing.Queue.get, io.BufferedReader.read, for a file mode passed
    down the chain too); the catalog name stays the key."""
    chain, name = r.chain, r.name
    last = chain[-1]
    shown = asyncflow.public_call_name(model, chain, name)
    if shown != name and last[3].endswith(f"calls {name}"):
        chain = chain[:-1] + ((*last[:3], last[3][:-len(name)] + shown),)
    return shown, chain


def _via(r: _Reach) -> str:
    return f" (through {' -> '.join(r.callees)})" if r.callees else ""


def _finding(model, reaches: list):
    first = reaches[0]
    shown, chain = _shown(model, first)
    # how to run the call off the loop that runs these coroutines (asyncflow.async_libraries:
    # each one's module's imports, else its callers'): anyio's offload when anyio runs any
    # (on either loop), trio's under trio only (hypercorn's trio workers), both named when
    # asyncio and trio code both call them (hypercorn's shared protocol classes), else
    # asyncio.to_thread
    libs = frozenset().union(*(asyncflow.async_libraries(model, r.fi) for r in reaches))
    offload = asyncflow.loop_advice(libs, OFFLOAD)
    # "A under asyncio or B under trio" needs a stronger break before the last "or"
    alt = "; or" if " under trio" in offload else " or"
    related = [asyncflow.loc(s) for s in chain]
    for r in reaches[1:]:
        o_shown, _chain = _shown(model, r)
        related.append(asyncflow.loc(r.step, f"{r.fi.short} also calls {o_shown}{_via(r)}"))
    msg = (f"async {function_short(model, first.fi.id)} calls {shown}{_via(first)}, which blocks "
           f"the event loop{_reached(reaches)}: every other task stalls until it returns "
           f"(offload it with {offload}{alt} use an async API)")
    return finding(RULE, msg, asyncflow.loc(first.step), related, [], first.fp)


def _reached(reaches: list) -> str:
    """How many coroutines (and calls, when one coroutine makes several) reach the call."""
    if len(reaches) == 1:
        return ""
    coros = len({r.fi.id for r in reaches})
    if coros == len(reaches):
        return f" (reached from {coros} coroutines)"
    if coros == 1:
        return f" (reached from {len(reaches)} calls in this coroutine)"
    return f" (reached from {len(reaches)} calls in {coros} coroutines)"


RULE = Rule(
    code="LW201",
    name="blocking-in-async",
    kind="blocking-in-async",
    severity="warning",
    runtime=True,  # also reported by `lockwatch run` (lockwatch/runtime/loopwatch.py, lifecycle.py)
    summary="Do not make blocking calls on the event loop (in `async def` or the sync code it calls)",
    what="""
Finds calls that block the thread made inside an `async def`, directly or through the sync
project functions it calls (the call chain is the witness): `time.sleep`, sync HTTP clients
(`requests`, `httpx.Client`, `urllib3`, `urllib.request.urlopen`), `subprocess` and `os`
process calls, `open()` and reads/writes of file objects, `os.path`/`os`/`pathlib`/`shutil`
filesystem calls, `input()`, socket calls and DNS lookups, `Thread.join`, `Event.wait`,
blocking `queue` operations, `Future.result()`, and `acquire()` or `Condition.wait()` of a
`threading` lock. Passing the callable to `asyncio.to_thread`, `loop.run_in_executor`,
`anyio.to_thread.run_sync` or `trio.to_thread.run_sync` is fine: it runs on a worker thread.
Sync callees are followed up to three calls deep; filesystem metadata queries
(`os.path.exists`, `Path.stat`...) count only when written in the `async def` itself.

A socket call is not reported when the socket is non-blocking (it raises `BlockingIOError`
instead of waiting): the call sits in a `try` that catches `BlockingIOError`,
`InterruptedError`, `ssl.SSLWantReadError`/`SSLWantWriteError`, or an `OSError` whose
handler tests `EAGAIN`/`EWOULDBLOCK`; or the same object gets `setblocking(False)` or
`settimeout(0)` in the function (for `self._sock`: in a method of the class, on the
attribute or on the value stored there); or the function hands it to `loop.add_reader`/
`add_writer`/`loop.sock_*`. `self.m()` is followed to the class's own or inherited `m`, not
to an override in a subclass (which may never be the receiver); an override is followed when
the receiver is known to be the subclass (the coroutine is defined there, or the object is
built as or annotated with the subclass).

One finding per blocking call that a sync helper makes: the coroutine calls that reach the
same blocking call through project functions (twenty `send_*` coroutines handing their file
argument to one helper that opens it) are one finding, at the first of those calls in the
report's order (path, line), with the others among its related locations ("reached from 20
calls in 13 coroutines"): the helper is the one place to fix. Different blocking calls stay
different findings, and a blocking call written in the `async def` itself is one finding each.

Suppressions and baselines: a `# lockwatch: ignore[LW201]` on one coroutine's call line (or a
per-file ignore of its file) leaves that call out of the finding, which stays for the other
calls, at the first one left; suppressing every call silences it. A merged finding's
fingerprint is the one its first call has on its own, so a baseline written when each call
was its own finding still matches it; a new call before it makes the finding new.

A thread queue's `get()` right after a coroutine's `while q.empty(): ... await ...` (or
`while not q.qsize():`) loop is not reported when nothing but reads comes in between: no
other task runs between the last test and the `get()`, so the item is still there. Also
when that `get()` is the first call of a sync method called on the same `self` (`return
self._take()`). A loop with a `break` or an `else`, an `await` or another call in between,
another queue, or a `multiprocessing` queue stay reported.

A blocking call in the body of a one-shot lazy initialiser is not reported, nor followed
into a helper that blocks: `if self._log is None: self._log = Logger(self)` (a property that
builds and caches its value), or `global _DATA` then `if _DATA is None: _DATA = load()`.
The body runs once per object (per process), on the first use; every later call finds the
value cached. The shapes: `if self.x is None:`, `if not self.x:`, `if g is None:`, `if not
g:` (`g` declared `global`), with no `else`/`elif`, whose body assigns that same attribute
or global at its own top level (not in a loop, `try`, `with` or nested `def`; not `None`,
`False`, `0`, `""` or an empty display), with no `return`, `break` or `continue` in it. It
stays reported when the project writes that attribute (any object's attribute of that
name) or global elsewhere (`self._log = None` in `close()`: it runs again), other than in
`__init__`; `del self.x` and `setattr` are not seen. A lazy initialiser under a thread lock
is LW131's question, which this does not change.
""",
    why="""
An event loop runs every task on one thread. While a coroutine sits in a blocking call,
no other task runs: timeouts fire late, heartbeats are missed, and if the call waits for
something only another task can provide, the program hangs. Existing linters only see the
call written directly in the `async def`; a helper one call away blocks just the same.
""",
    example="""
def load_config(path):
    with open(path) as f:         # blocks
        return json.load(f)

async def handler(request):
    config = load_config("app.json")   # the loop stalls on the file read
""",
    use_instead="""
async def handler(request):
    config = await asyncio.to_thread(load_config, "app.json")
""",
    invalid=(
        Example.single('''
import time
import requests


async def poll(url):
    time.sleep(1)  # expect
    return requests.get(url).json()  # expect
'''),
        Example.single('''
import json
import subprocess


def load_settings(path):
    with open(path) as f:
        return json.load(f)


def git_head():
    return subprocess.check_output(["git", "rev-parse", "HEAD"])


def describe():
    return {"head": git_head()}


async def handler(request):
    settings = load_settings("app.json")  # expect
    info = describe()  # expect
    return settings, info
'''),
        Example.single('''
from pathlib import Path


def read_input(file_input):
    if isinstance(file_input, (str, Path)):
        return Path(file_input).read_bytes()
    return file_input


async def send_photo(photo):
    return {"photo": read_input(photo)}  # expect


async def send_document(document):
    return {"document": read_input(document)}   # the same blocking call: related to the above


async def send_voice(voice):
    return {"voice": read_input(voice)}  # lockwatch: ignore[LW201] -- a bytes upload only
'''),
        Example.single('''
import socket


async def fetch_banner(host, port):
    sock = socket.create_connection((host, port))  # expect
    try:
        return sock.recv(1024)  # expect
    except ConnectionResetError:
        return b""
'''),
        Example.single('''
import time


class Bar:
    def close(self):
        time.sleep(0.5)

    async def __anext__(self):
        self.close()  # expect
        return 1


class Tele(Bar):
    def close(self):
        pass
'''),
        Example.single('''
import threading
from concurrent.futures import ThreadPoolExecutor

lock = threading.Lock()
pool = ThreadPoolExecutor(2)


async def compute(x):
    lock.acquire()  # expect
    try:
        fut = pool.submit(pow, x, 2)
        return fut.result()  # expect
    finally:
        lock.release()
'''),
        Example.single('''
import json


class Logger:
    def __init__(self, path):
        with open(path) as f:
            self.level = json.load(f)["level"]


class Config:
    logconfig = "log.json"

    @property
    def log(self):
        return Logger(self.logconfig)   # a new Logger, and a file read, on every access


async def handle(config: Config, request):
    return config.log.level, request  # expect
'''),
    ),
    valid=(
        Example.single('''
import asyncio
import time

import requests


def fetch(url):
    time.sleep(0.1)
    return requests.get(url).text


async def poll(url):
    loop = asyncio.get_running_loop()
    a = await asyncio.to_thread(fetch, url)
    b = await loop.run_in_executor(None, fetch, url)
    c = await loop.run_in_executor(None, lambda: requests.get(url).text)
    await asyncio.sleep(1)
    return a, b, c
'''),
        Example.single('''
import asyncio
import time


async def main():
    def work():
        time.sleep(1)
        return 42

    return await asyncio.to_thread(work)


def sync_only():
    time.sleep(1)
'''),
        Example.single('''
import asyncio

lock = asyncio.Lock()


async def update(state):
    await lock.acquire()
    try:
        state["n"] = state.get("n", 0) + 1
        "-".join(["a", "b"])
    finally:
        lock.release()
'''),
        Example.single('''
import asyncio
import socket


class Stream:
    def __init__(self, sock: socket.socket):
        sock.setblocking(False)
        self._sock = sock

    async def receive(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                return self._sock.recv(4096)
            except BlockingIOError:
                fut = loop.create_future()
                loop.add_reader(self._sock, fut.set_result, None)
                await fut

    async def send(self, data: bytes):
        self._sock.sendall(data)


async def connect(path):
    loop = asyncio.get_running_loop()
    raw = socket.socket(socket.AF_UNIX)
    raw.setblocking(False)
    while True:
        try:
            raw.connect(path)
            return Stream(raw)
        except BlockingIOError:
            fut = loop.create_future()
            loop.add_writer(raw, fut.set_result, None)
            await fut
'''),
        Example.single('''
import time


class Bar:
    def close(self):
        pass

    async def __anext__(self):
        self.close()
        return 1


class Tele(Bar):
    def close(self):
        time.sleep(0.5)
'''),
        Example.single('''
import asyncio
import queue


class AsCompleted:
    def __init__(self):
        self.done = queue.Queue()      # fed by tasks on this loop
        self.condition = asyncio.Condition()

    def _take(self):
        future = self.done.get()
        return future.result()

    async def __anext__(self):
        while self.done.empty():
            async with self.condition:
                await self.condition.wait()
        return self._take()           # no await since the test: the item is there
'''),
        Example.single('''
import json


class Logger:
    def __init__(self, path):
        with open(path) as f:
            self.level = json.load(f)["level"]


class Config:
    logconfig = "log.json"

    def __init__(self):
        self._log = None

    @property
    def log(self):
        if self._log is None:           # built on first use, then cached
            self._log = Logger(self.logconfig)
        return self._log


async def handle(config: Config, request):
    return config.log.level, request
'''),
    ),
    check=check,
)
