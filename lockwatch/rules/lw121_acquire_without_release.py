"""LW121 acquire-without-release: an ``acquire()`` whose ``release()`` can be skipped.

The release analysis is done per function when the file is summarised (it is a local,
structural question; see ``summarise._release_status``); this check keeps the sites whose
receiver is a lock (not a counting semaphore) and decides what to report:

- ``early-exit``: a ``return``/``raise`` between the acquire and the release;
- ``partial``: released on some branches only;
- ``no-finally``: released in straight-line code after calls that can raise;
- ``missing``: never released in the function. Reported only when nothing else in the
  program releases that lock and the function does not look like an acquirer (``__enter__``,
  ``acquire``/``lock``-like names): precision first.
"""

from __future__ import annotations

import re

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static.catalog import SEMAPHORE_SORTS
from lockwatch.static.checks import (
    finding,
    function_short,
    local_lock_escapes,
    lock_label,
)

_ACQUIRER = re.compile(r"(^__a?enter__$|acquire|lock|enter|begin|start|open|take|grab|hold|get|claim|reserve)", re.IGNORECASE)

_REASON = {
    "early-exit": "a return/raise at line {at} leaves without releasing it",
    "partial": "it is released on some paths only (line {at})",
    "no-finally": "the release is not in a `finally`, so an exception in between skips it",
    "missing": "it is never released",
}


def check(model, config):
    released_anywhere: set[str] = set()
    for fi in model.functions.values():
        if fi.released:
            released_anywhere |= fi.released
    # (a function with no acquisition has no site with a lock to report: ``locks`` below)
    for fid, fi in model.acquiring_functions():
        for site in fi.summary.acquire_sites:
            status = site["status"]
            if status == "ok":
                continue
            acqs = fi.acqs.get(site["i"], ())
            locks = sorted({a.lock for a in acqs if a.mode in ("acquire", "try")})
            if not locks:
                continue
            lock = locks[0]
            lc = model.locks.get(lock)
            if lc is None or lc.sort in SEMAPHORE_SORTS:
                continue   # semaphores are routinely acquired here and released elsewhere
            if local_lock_escapes(model, lock):
                continue   # handed to another thread: a signal, released over there
            if status == "missing":
                if lock in released_anywhere or lock in fi.released:
                    continue
                if _ACQUIRER.search(fi.summary.name) or fi.summary.qualname == "<module>":
                    continue
            reason = _REASON[status].format(at=site.get("at"))
            msg = f"{function_short(model, fid)} acquires {lock_label(model, lock)} but {reason}"
            primary = Location(fi.path, site["l"], site["c"])
            related = [Location(fi.path, site["l"], site["c"], f"{function_short(model, fid)} acquires {lc.short}")]
            if site.get("at"):
                # the statement's column when the summary has it ("ac"); column 1 otherwise
                related.append(Location(fi.path, site["at"], site.get("ac") or 1, "... may leave here with it held"))
            yield finding(RULE, msg, primary, related, [lock], (lock, fid, status))


RULE = Rule(
    code="LW121",
    name="acquire-without-release",
    kind="acquire-without-release",
    severity="error",
    summary="Release every acquired lock on every path (use `with` or `try/finally`)",
    what="""
Finds `lock.acquire()` calls whose `release()` can be skipped: an early `return` or `raise`
between them, a release on some branches only, or a release in straight-line code after
calls that may raise (no `finally`). `lock.acquire()` immediately followed by
`try: ... finally: lock.release()` is clean, as is a try-lock (`if lock.acquire(False):`)
released in a `finally`. A function whose job is to acquire (an `__enter__`, or a method
named like `acquire`/`lock` with a matching release elsewhere) is not reported.
""",
    why="""
A lock that is not released stays held forever: the next thread that needs it hangs, often
far away from the bug, and only on the error path that skipped the release, which is the
path tests exercise least.
""",
    example="""
lock.acquire()
if not ready():
    return None        # lock still held
value = compute()      # an exception here also leaves it held
lock.release()
""",
    use_instead="""
with lock:
    if not ready():
        return None
    value = compute()
""",
    invalid=(
        Example.single('''
import threading

lock = threading.Lock()


def read(ready, compute):
    lock.acquire()  # expect
    if not ready():
        return None
    value = compute()
    lock.release()
    return value
'''),
        Example.single('''
import threading


class Store:
    def __init__(self):
        self._lock = threading.RLock()

    def put(self, key, value, log):
        self._lock.acquire()  # expect
        self._data[key] = value
        log(key)
        self._lock.release()

    def drop(self, key):
        self._lock.acquire()  # expect
        if key in self._data:
            del self._data[key]
            self._lock.release()
'''),
        Example.single('''
import threading

lock = threading.Lock()


def work(job):
    if not lock.acquire(timeout=5):  # expect
        raise TimeoutError
    job()
    if job.failed:
        raise RuntimeError(job)
    lock.release()
'''),
        Example.single('''
import contextlib
import threading

lock = threading.Lock()


@contextlib.contextmanager
def locked():
    lock.acquire()  # expect
    yield           # an exception in the with-body is thrown in here
    lock.release()
'''),
        Example.single('''
import threading

lock = threading.Lock()


def lookup(cache, key, fast):
    lock.acquire()  # expect
    try:
        value = cache[key]
    except BaseException:
        lock.release()
        raise
    if fast:
        lock.release()
        return value
    return value          # this normal return keeps it, the other one does not
'''),
    ),
    valid=(
        Example.single('''
import threading

lock = threading.Lock()


def read(ready, compute):
    lock.acquire()
    try:
        if not ready():
            return None
        return compute()
    finally:
        lock.release()


def poll(job):
    if lock.acquire(blocking=False):
        try:
            job()
        finally:
            lock.release()


def simple():
    lock.acquire()
    x = 1
    lock.release()
    return x
'''),
        Example.single('''
import threading


class Guard:
    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()

    def lock(self):
        self._lock.acquire()

    def unlock(self):
        self._lock.release()
'''),
        Example.single('''
import threading

slots = threading.Semaphore(3)


def start(job):
    # a semaphore taken here and given back by the job when it finishes
    slots.acquire()
    job.run(on_done=slots.release)
'''),
        Example.single('''
import contextlib
import threading

lock = threading.Lock()


@contextlib.contextmanager
def locked():
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
'''),
        Example.single('''
import threading


class ProbeCache:
    """Hands the per-key lock to the caller, who finishes with set_and_release."""

    def __init__(self):
        self._locks = {}
        self._values = {}

    def acquire_and_get(self, key):
        key_lock = self._locks.setdefault(key, threading.Lock())
        key_lock.acquire()
        try:
            value = self._values.get(key)
        except BaseException:
            key_lock.release()   # only the exception path releases: held on every return
            raise
        return value

    def set_and_release(self, key, value):
        key_lock = self._locks[key]
        try:
            self._values[key] = value
        finally:
            key_lock.release()
'''),
    ),
    check=check,
)
