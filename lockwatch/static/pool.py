"""Files -> ModuleSummaries, in worker processes that may die without taking the scan along.

Stages per file: read bytes (main process; never blocks: the file is opened non-blocking and
must be a regular file) -> cache lookup by content hash -> decode (PEP 263) -> in a worker:
guard (``guard.parse``, whose syntax tree the ast summariser walks), then ``summarise_module``
(libcst only for syntax newer than the interpreter); the worker sends the summary's entry dict
(``ModuleSummary.to_entry()``) as ``marshal`` bytes, which the main process loads and turns
into the summary with ``ModuleSummary.from_entry``, as a warm run does with a cache entry's
decoded JSON. The worker keeps those bytes; once the main process has every summary it tells
the workers (``_WRITE``) to encode each as its JSON cache entry and write it, which they do
while the main process links and checks, i.e. on the core that phase leaves idle (a cold
stdlib scan: ~0.5-0.7 CPU-s of JSON encoding moved out of the parse phase, and marshal is
~2x cheaper than JSON to load). The scan waits for them (bounded) before it returns, so a
scan that returned has written its cache. A worker that dies or is stopped before it wrote
loses only cache entries: the next scan parses those files again, no finding depends on it.
``--no-cache``: nothing is kept and nothing is encoded.

Why marshal, and why only here: marshal (like pickle) is for data we made ourselves; these
bytes go from our own worker, the same interpreter, through our own pipe, and are never
stored. The cache on disk stays JSON (``cache``: a directory anyone may plant files in must
at worst make a summary wrong, never run code). marshal rather than pickle: the entry is
plain data (dicts, lists, str, int, bool, None), which marshal dumps and loads faster than
pickle dumps and loads the dataclasses (stdlib: ~0.2 CPU-s each side against ~0.27/0.3).
What arrives equals what a warm run decodes from the entry
(``tests/test_pool_transport_equal.py``: dataclass equality and the same linked report,
fixtures/ and a stdlib sample); marshal shares the strings it repeats, so the main process
also holds less (stdlib: peak 292 -> 245 MB).

Why a pool of our own: ``concurrent.futures.ProcessPoolExecutor`` marks the whole pool broken
when one worker dies, and libcst (the fallback parser) can segfault on hostile input. Here each worker is a
``multiprocessing`` process with its own pipe; the main loop waits on the pipes and the process
deaths (EOF on the pipe) with a deadline per file. A worker that dies (signal, ``os._exit``) or overruns the
per-file budget costs that one file (an InputError "parser crashed (signal 11)" or "timed out
after 20 s"); it is replaced and the scan goes on. Workers are fresh interpreters (like
``spawn``, never ``fork``): safe whatever threads the caller runs (the pytest plugin scans
inside a test process); their start-up (an interpreter and lockwatch's summariser, without
libcst unless a file needs it) overlaps with reading and hashing the files. The main process
never imports libcst.
Even with one file or ``jobs=1`` the parse runs in a worker: a crash must never kill the
caller.

The summariser is named by a ``"module:function"`` string (workers import it), which is also
how tests put in a stand-in that crashes or hangs.
"""

from __future__ import annotations

import errno
import gc
import marshal
import multiprocessing.connection
import os
import pickle
import signal
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lockwatch.config import Config
from lockwatch.findings import InputError
from lockwatch.static import guard
from lockwatch.static.cache import (
    ENTRY_PATH,
    Cache,
    encode_summary_entry,
    write_atomic,
)
from lockwatch.static.discover import SourceFile

Connection = multiprocessing.connection.Connection

DEFAULT_SUMMARISER = "lockwatch.static.summarise:summarise_module"
DEFAULT_TIMEOUT = 20.0
# Worker recursion: both summarisers (and libcst's parser) recurse per nesting level; a big
# thread stack lets valid deep code (pydoc_data/topics.py) through instead of a RecursionError.
# Hostile depth is stopped by the guard; anything that still overflows costs one worker.
_WORKER_RECURSION_LIMIT = 10_000
_WORKER_STACK_BYTES = 512 * 1024 * 1024

_READY = ("ready",)
_WRITE = ("write",)      # main -> worker: encode and write the entries you keep, then say _WRITTEN
_WRITTEN = ("written",)
# How long a scan waits for the workers' cache writes once its report is ready: a base, plus
# a little per entry the slowest worker holds (an encode is ~1 ms per stdlib file; this is
# only a bound for a stuck worker, whose unwritten entries are then lost, never findings).
_WRITE_WAIT = 10.0
_WRITE_WAIT_PER_ENTRY = 0.05
_WALL_FACTOR = 10  # a file may take this many budgets of wall time on a loaded machine
try:
    _CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
except (ValueError, OSError, AttributeError):
    _CLOCK_TICKS = 100
_STARTUP_ALLOWANCE = 60.0  # seconds a worker may take to start before its file counts as hung
# Workers in a row that die before they are ready: the environment, not a file, is broken.
_MAX_START_FAILURES = 3

Progress = Callable[[int, int], None]  # (files done, files total)


def summarise_files(
    files: list[SourceFile],
    config: Config,
    progress: Progress | None = None,
    *,
    timeout: float | None = None,
    summariser: str = DEFAULT_SUMMARISER,
    contents: dict[str, bytes] | None = None,
    while_waiting: Callable[[], None] | None = None,
    reserve: Reserve | None = None,
    writes: PendingWrites | None = None,
) -> tuple[dict[str, Any], list[InputError]]:
    """Summaries keyed by ``SourceFile.path``, and an error for every file without one.
    Errors come back in the order of ``files``. ``contents`` (absolute path -> bytes) holds
    files already read by the caller (the whole-scan cache key); they are not read again.
    ``while_waiting`` is called once, when workers have files to parse and the main
    process would otherwise only wait for them (the engine imports the analysis there).
    ``reserve`` (a long-lived caller's :class:`Reserve`) lends idle workers left by an earlier
    call and keeps some of this call's when it is done.
    The workers write the cache entries of the files they parsed once every summary is in
    (see the module's docstring). Without ``writes`` this call waits for them before it
    returns; with it, it returns at once and ``writes.finish()`` waits (the engine analyses
    meanwhile, on the core the workers would otherwise leave idle).

    Order of work: every file is read and hashed first, and a file without a cache entry
    goes to a worker at once; the cached entries (JSON to decode: most of a warm run's
    time) are decoded while the workers parse. A pre-commit run with one changed file thus
    starts its worker before, not after, decoding the other files' entries."""
    timeout = _timeout(config, timeout)
    cache = Cache.for_config(config)
    summaries: dict[str, Any] = {}
    errors: dict[str, InputError] = {}
    tasks: list[_Task] = []
    cached: deque = deque()  # (sf, key, data) whose entry file exists: decoded later
    total = len(files)
    done = 0
    pool: _Pool | None = None
    jobs = config.jobs or os.cpu_count() or 1
    from_entry = None

    def miss(sf: SourceFile, key: str | None, data: bytes) -> _Task | None:
        nonlocal done, pool
        try:
            source = guard.decode(data)
        except guard.SourceError as e:
            errors[sf.path] = InputError(sf.path, str(e))
            if cache is not None:
                cache.put_error(key, str(e))
            done += 1
            return None
        task = _Task(sf, source, key)
        tasks.append(task)
        # One worker per miss up to ``jobs``, started as the misses appear: start-up
        # overlaps with reading and hashing the rest, a fully warm run starts none, and
        # a pre-commit run with one changed file starts one.
        if pool is None:
            pool = _Pool(summariser, timeout, reserve)
        pool.grow(min(jobs, len(tasks)))
        return task

    def summary_of(entry: dict, sf: SourceFile) -> Any | None:
        """The summary of a decoded summary entry (a cache hit, or what a worker sent) for
        the file ``sf``; None for an entry from a layout we no longer read. An entry holds
        no path (see ``cache``: it is shared by every directory the project is scanned
        from), so the summary gets this file's display path, for this run's findings."""
        nonlocal from_entry
        if from_entry is None:
            from lockwatch.static.summary import ModuleSummary
            from_entry = ModuleSummary.from_entry
        try:
            summary = from_entry(entry["summary"])
        except (KeyError, TypeError, ValueError):
            return None
        summary.path = sf.path
        return summary

    def load(sf: SourceFile, key: str, data: bytes) -> _Task | None:
        """A cached entry, or the file's task when the entry is unusable."""
        nonlocal done
        entry = cache.get(key)
        if entry is not None and not _stale_timeout(entry, timeout):
            if "summary" in entry:
                summary = summary_of(entry, sf)
                if summary is not None:
                    summaries[sf.path] = summary
                    done += 1
                    return None
                # else an entry from a layout we no longer read: rebuild it
            else:
                errors[sf.path] = InputError(sf.path, entry["error"])
                done += 1
                return None
        return miss(sf, key, data)

    def idle() -> list[_Task] | None:
        """Some cached entries (new tasks for unusable ones); None when all are done."""
        if not cached:
            return None
        new = []
        for _ in range(min(16, len(cached))):
            t = load(*cached.popleft())
            if t is not None:
                new.append(t)
        if progress:
            progress(done, total)
        return new

    try:
        for sf in files:
            try:
                data = contents.pop(sf.abspath, None) if contents else None
                if data is None:
                    data = _read(sf.abspath)
            except OSError as e:
                errors[sf.path] = InputError(sf.path, _read_reason(e))
                done += 1
                continue
            key = cache.key(data, sf.module, sf.is_package) if cache else None
            if cache is not None and cache.has(key):
                cached.append((sf, key, data))
            else:
                miss(sf, key, data)
        if pool is None:
            while cached:  # nothing to parse so far: decode here (a bad entry may start a pool)
                load(*cached.popleft())
        if progress and done:
            progress(done, total)

        if pool is not None:
            if cache is not None:
                cache.prepare()
            # Small jobs first would leave the big ones for the end; largest first balances cores.
            tasks.sort(key=lambda t: -len(t.source))
            for task, ok, value, cache_timeout in pool.run(tasks, cache, idle, while_waiting):
                sf = task.sf
                if ok:
                    # ``value``: the marshal bytes of the summary's entry dict (see ``analyse``)
                    try:
                        summary = summary_of({"summary": marshal.loads(value)}, sf)
                    except (ValueError, EOFError, TypeError):
                        summary = None
                    if summary is not None:
                        summaries[sf.path] = summary
                    else:  # a bug, but one file's: no summary is better than a wrong one
                        ok, value, cache_timeout = False, "internal error: cannot read the summary the worker sent; not analysed", False
                if not ok:
                    errors[sf.path] = InputError(sf.path, value)
                    if cache is not None and task.key and cache_timeout is not False:
                        cache.put_error(task.key, value, cache_timeout)
                done += 1
                if progress:
                    progress(done, total)
        if pool is not None:
            pool.write_entries()  # every summary is in: the workers write their entries now
            if writes is not None:
                writes.pools.append(pool)  # the caller waits for them (``PendingWrites.finish``)
                pool = None
            else:
                pool.finish_writes()
    finally:
        if pool is not None:  # (interrupted: the workers' unwritten entries are lost)
            pool.close()

    order = {sf.path: i for i, sf in enumerate(files)}
    return summaries, sorted(errors.values(), key=lambda e: order.get(e.path, 0))


def _timeout(config: Config, timeout: float | None) -> float:
    if timeout is None:
        timeout = getattr(config, "parse_timeout", None)
    if timeout is None:
        env = os.environ.get("LOCKWATCH_PARSE_TIMEOUT")
        try:
            timeout = float(env) if env else None
        except ValueError:
            timeout = None
    return float(timeout) if timeout and timeout > 0 else DEFAULT_TIMEOUT


def _stale_timeout(entry: dict, timeout: float) -> bool:
    t = entry.get("timeout")
    return isinstance(t, (int, float)) and timeout > t


def _read(path: str) -> bytes:
    # O_NONBLOCK: if the file was swapped for a FIFO since discovery, open must not hang.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks = []
        while True:
            b = os.read(fd, max(st.st_size + 1, 65536))
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_reason(e: OSError) -> str:
    if e.errno == errno.ENOENT:
        return "vanished before it could be read"
    if e.errno == errno.EACCES:
        return "permission denied"
    return f"cannot read: {e.strerror or e}"


@dataclass
class _Task:
    sf: SourceFile
    source: str
    key: str | None


# ---------------------------------------------------------------------------------------
# The pool (main process side)


# Where this lockwatch is imported from: the worker imports the same one.
_LOCKWATCH_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parent_extra_path() -> list[str]:
    """This process's path entries, for what the worker may need beyond its own stdlib and
    site-packages (a stand-in summariser, a PYTHONPATH install). Appended after them, so
    none can shadow a module the worker imports; the current directory ('') is left out."""
    return [p for p in sys.path if p and p != _LOCKWATCH_ROOT]


class _Worker:
    """One child interpreter fed through a pipe. A plain subprocess rather than
    ``multiprocessing.Process``: spawn re-imports the caller's ``__main__``, which breaks any
    script that calls lockwatch without an ``if __name__ == "__main__"`` guard."""

    def __init__(self, summariser: str) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        code = (
            "import sys; r = %r; b = [p for p in sys.path if p != r]; "
            "sys.path[:] = [r] + b + [p for p in %r if p not in b]; "
            "from lockwatch.static.pool import _child_main; _child_main(%d, %d, %r)"
            % (_LOCKWATCH_ROOT, _parent_extra_path(), to_child_r, from_child_w, summariser)
        )
        debug = bool(os.environ.get("LOCKWATCH_DEBUG"))
        try:
            # -I (isolated): no current directory or PYTHONPATH on the worker's path, so the
            # tree being scanned can never stand in for a module the worker imports (a scan
            # run inside the CPython stdlib tree made the workers import *its* tokenize.py
            # and linecache.py: the scanned code ran, and on another Python version every
            # worker died at start-up and was replaced forever). The interpreter's own
            # stdlib and site-packages come first; lockwatch's own directory before them
            # (the same lockwatch as this process), the rest of this process's path after.
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", code],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                # Never let a worker write into the report on our stdout.
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,
                start_new_session=False,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send_conn = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.task: _Task | None = None
        self.deadline = 0.0
        # The per-file budget starts when the worker has started (imported libcst), not
        # when its first file was queued: start-up on a loaded machine can take seconds.
        self.ready = False
        self.started = 0.0
        self.cpu_base = 0.0  # the worker's CPU seconds when its current file started
        # lent by a Reserve and given no file in this pool yet: if it dies on its first one,
        # it may have been killed while it waited (the kill crossing our send), so the file
        # is tried again on a fresh worker instead of being blamed
        self.lent = False
        # summaries whose cache entries it keeps to write (``_WRITE``), and whether it was told to
        self.unwritten = 0
        self.writing = False

    @property
    def exitcode(self) -> int | None:
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.close_pipes()

    def close_pipes(self) -> None:
        for c in (self.send_conn, self.conn):
            try:
                c.close()
            except OSError:
                pass


class PendingWrites:
    """The cache entries a :func:`summarise_files` call left its workers to write, for a caller
    that has other work meanwhile (``engine._scan``: link, graph and rules in the main
    process, on one core, while the workers encode on the other). ``finish()`` waits for the
    workers (bounded, see ``_Pool.finish_writes``) and stops them; ``close()`` stops them
    without waiting (an interrupted scan: entries not yet written are lost, and the next
    scan parses those files again). Either is safe to call more than once."""

    def __init__(self) -> None:
        self.pools: list[_Pool] = []

    def finish(self) -> None:
        pools, self.pools = self.pools, []
        for p in pools:
            try:
                p.finish_writes()
            finally:
                p.close()

    def close(self) -> None:
        pools, self.pools = self.pools, []
        for p in pools:
            p.close()


class WorkerStartError(Exception):
    """The parser processes die before they are ready to take a file: a broken interpreter
    or installation, not a problem of any file (which is why no file is blamed for it)."""


class Reserve:
    """Idle workers kept between calls of :func:`summarise_files`, for a long-lived caller
    (the daemon): each call otherwise starts its workers (an interpreter and the summariser's
    imports, ~0.1-0.2 s) and stops them when it returns, which a scan pays once but the
    daemon would pay on every edit. A kept worker is an ordinary idle worker: the pool's
    handling of a death (replaced, its file retried), budgets and replies applies unchanged.
    Only workers of the default summariser are kept."""

    def __init__(self, keep: int = 1) -> None:
        self.keep = keep
        self.idle: list[_Worker] = []

    def lend(self, summariser: str) -> list[_Worker]:
        if summariser != DEFAULT_SUMMARISER:
            return []
        live = []
        while self.idle:
            w = self.idle.pop()
            if w.proc.poll() is None:
                w.lent = True
                live.append(w)
            else:
                w.close_pipes()
        return live

    def take_back(self, summariser: str, workers: list[_Worker]) -> list[_Worker]:
        """Keep up to ``keep`` idle, live workers; return the others (to be stopped)."""
        if summariser != DEFAULT_SUMMARISER:
            return workers
        rest = []
        for w in workers:
            if len(self.idle) < self.keep and w.task is None and not w.writing and w.proc.poll() is None:
                self.idle.append(w)
            else:
                rest.append(w)
        return rest

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.idle]

    def close(self) -> None:
        """Stop the kept workers."""
        workers, self.idle = self.idle, []
        p = _Pool(DEFAULT_SUMMARISER, DEFAULT_TIMEOUT)
        p.workers = workers
        p.close()


class _Pool:
    def __init__(self, summariser: str, timeout: float, reserve: Reserve | None = None) -> None:
        self.summariser = summariser
        self.timeout = timeout
        self.reserve = reserve
        self.workers: list[_Worker] = reserve.lend(summariser) if reserve is not None else []
        self.start_failures = 0

    def grow(self, size: int) -> None:
        while len(self.workers) < size:
            self.workers.append(_Worker(self.summariser))

    def run(self, tasks: list[_Task], cache: Cache | None, background=None, while_waiting=None):
        """Yield ``(task, ok, entry-or-message, cache_timeout)`` as files finish (``entry``:
        the JSON bytes of the summary's cache entry, see ``analyse``);
        ``cache_timeout`` is None (cache the error as is), a budget (cache as a time-out
        that a larger budget retries) or False (do not cache). ``background()`` is the main
        process's own work, done in slices between polls of the workers: it returns new
        tasks (possibly none), or None when it has nothing left. ``while_waiting()`` runs
        once, after the first files went out."""
        pending = deque(tasks)
        busy: list[_Worker] = []
        idle = list(self.workers)
        more = background is not None
        while pending or busy or more:
            while pending and idle:
                w = idle.pop()
                task = pending.popleft()
                cache_path = cache.entry_path(task.key) if cache is not None and task.key else None
                try:
                    # Not the display path: what a worker makes goes into an entry that every
                    # directory the project is scanned from shares (``cache.ENTRY_PATH``).
                    w.send_conn.send((ENTRY_PATH, task.sf.module, task.sf.is_package, task.source, cache_path))
                except (OSError, ValueError):
                    # Died while idle (killed from outside?): replace it and retry the file.
                    pending.appendleft(task)
                    self._replace(w)
                    idle.append(self.workers[-1])
                    continue
                w.task = task
                w.started = time.monotonic()
                w.cpu_base = (_cpu_seconds(w.proc.pid) or 0.0) if w.ready else 0.0
                w.deadline = w.started + self.timeout + (0 if w.ready else _STARTUP_ALLOWANCE)
                busy.append(w)
            if while_waiting is not None:
                ww, while_waiting = while_waiting, None
                ww()
            if more:
                new = background()
                if new is None:
                    more = False
                else:
                    pending.extend(new)
                    # a bad entry may have grown the pool: its new workers start idle
                    idle.extend(w for w in self.workers if w not in idle and w not in busy)
                    if not busy:
                        continue
            if not pending and not more and cache is not None:
                # Nothing left to hand out: an idle worker writes its entries now, on the core
                # it would leave idle while the others finish their last files.
                for w in idle:
                    self._tell_write(w)
            if not busy:
                continue
            now = time.monotonic()
            # While the main process has work of its own it only polls.
            wait_for = 0.0 if more else min(w.deadline for w in busy) - now
            # A worker that dies closes its end of the pipe: its connection turns readable.
            ready = set(multiprocessing.connection.wait([w.conn for w in busy], timeout=max(0.0, wait_for)))
            now = time.monotonic()
            for w in list(busy):
                task = w.task
                result = None
                if w.conn in ready:
                    try:
                        result = _receive(w.conn)
                    except (EOFError, OSError):
                        result = None  # died mid-message: handled as a death below
                    except Exception as e:  # an unpicklable message: a bug, but one file's
                        result = (False, f"internal error: cannot receive the summary: {e}", None)
                if result == _WRITTEN:
                    # told to write while idle, then handed a file a dead worker left behind:
                    # its result comes next
                    w.writing, w.unwritten = False, 0
                    continue
                if result == _READY:
                    self.start_failures = 0
                    w.ready = True
                    w.started = now
                    w.deadline = now + self.timeout
                    w.cpu_base = _cpu_seconds(w.proc.pid) or 0.0
                    continue
                if result is not None:
                    ok, value, cache_timeout = result
                    w.lent = False
                    busy.remove(w)
                    w.task = None
                    idle.append(w)
                    if ok and cache is not None and task.key:
                        w.unwritten += 1  # the worker keeps the entry (see ``analyse``)
                    yield task, ok, value, cache_timeout
                elif w.conn in ready:
                    busy.remove(w)
                    code = w.exitcode
                    if not w.ready:
                        # died before it could read its file: the start-up failed, not the
                        # file, which goes to the next worker (a few times, then we stop:
                        # replacing workers that cannot start would go on for ever)
                        self.start_failures += 1
                        if self.start_failures >= _MAX_START_FAILURES:
                            how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                            raise WorkerStartError(
                                f"the parser processes exit before they are ready ({self.start_failures} "
                                f"in a row, {how}); set LOCKWATCH_DEBUG=1 to see their error output")
                        self._replace(w)
                        idle.append(self.workers[-1])
                        pending.appendleft(task)
                        continue
                    self._replace(w)
                    idle.append(self.workers[-1])
                    if w.lent:
                        pending.appendleft(task)
                        continue
                    # A deterministic crash (libcst on this content) is worth caching; a
                    # kill from outside (the OOM killer, a user) or an odd exit is not.
                    crash = code is not None and -code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL)
                    yield task, False, _death_message(code), (None if crash else False)
                elif now >= w.deadline:
                    # The budget is CPU time when the system tells us (a loaded machine must
                    # not turn a slow file into a "time-out" that the cache then remembers),
                    # capped in wall time for a worker stuck without using the CPU.
                    cpu = _cpu_seconds(w.proc.pid)
                    used = None if cpu is None else cpu - w.cpu_base
                    if w.ready and used is not None and used < self.timeout \
                            and now < w.started + self.timeout * _WALL_FACTOR:
                        w.deadline = now + max(0.1, self.timeout - used)
                        continue
                    busy.remove(w)
                    self._replace(w)
                    idle.append(self.workers[-1])
                    yield task, False, f"timed out after {self.timeout:g} s; not analysed", self.timeout

    def _tell_write(self, w: _Worker) -> None:
        if w.unwritten and not w.writing:
            try:
                w.send_conn.send(_WRITE)
                w.writing = True
            except (OSError, ValueError):
                w.unwritten = 0  # died: its entries are lost (the next scan parses those files)

    def write_entries(self) -> None:
        """Every summary is in: each worker holding cache entries starts writing them."""
        for w in self.workers:
            self._tell_write(w)

    def finish_writes(self) -> None:
        """Wait (bounded) until every worker told to write says it is done or dies. A worker
        past the bound is stopped: its unwritten entries are lost, nothing else."""
        writing = [w for w in self.workers if w.writing]
        if not writing:
            return
        deadline = time.monotonic() + _WRITE_WAIT + _WRITE_WAIT_PER_ENTRY * max(w.unwritten for w in writing)
        while writing:
            left = deadline - time.monotonic()
            ready = multiprocessing.connection.wait([w.conn for w in writing], timeout=max(0.0, left)) if left > 0 else []
            if not ready:
                for w in writing:
                    self._drop(w)  # stuck: stopped (a reserve must not keep it)
                return
            for w in [w for w in writing if w.conn in ready]:
                writing.remove(w)
                try:
                    msg = _receive(w.conn)
                except Exception:  # died mid-write (EOF), or a garbled message: lost entries
                    msg = None
                if msg == _WRITTEN:
                    w.writing, w.unwritten = False, 0
                else:
                    self._drop(w)

    def _drop(self, w: _Worker) -> None:
        w.kill()
        self.workers.remove(w)

    def _replace(self, w: _Worker) -> None:
        self._drop(w)
        self.workers.append(_Worker(self.summariser))

    def close(self) -> None:
        if self.reserve is not None:
            self.workers = self.reserve.take_back(self.summariser, self.workers)
        for w in self.workers:
            try:
                w.send_conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2
        for w in self.workers:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
                w.close_pipes()
            except subprocess.TimeoutExpired:
                w.kill()


def _receive(conn: Connection) -> tuple:
    """A worker's message. A summary comes as the marshal bytes of its entry dict, sent as they
    are (``send_bytes``: no pickle around a large message); anything else (``_READY``, an
    error, ``_WRITTEN``) is pickled by ``Connection.send``. A pickle (protocol 2 and later)
    starts with PROTO, 0x80; a marshalled dict with its type code, ``{`` (0x7b) or, flagged as
    referenced, 0xfb."""
    buf = conn.recv_bytes()
    if buf[:1] != b"\x80":
        return True, buf, None
    return pickle.loads(buf)


def _cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of a process (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def _death_message(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"parser crashed (signal {-code}, {name}); not analysed"
    return f"parser process exited unexpectedly (status {code}); not analysed"


# ---------------------------------------------------------------------------------------
# The worker (child process side)


def _child_main(rfd: int, wfd: int, summariser: str) -> None:
    # Ctrl-C goes to the whole process group: let the main process decide what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # compile() in the guard warns about odd escapes etc.: not ours to report, and a
    # worker's stderr is not the user's.
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), _WORKER_RECURSION_LIMIT))
    threading.stack_size(_WORKER_STACK_BYTES)
    recv = Connection(rfd, writable=False)
    send = Connection(wfd, readable=False)
    t = threading.Thread(target=_worker_loop, args=(recv, send, summariser), name="lockwatch-parse")
    t.start()
    t.join()


def _worker_loop(recv, send, summariser: str) -> None:
    try:
        fn, parse_error = _load_summariser(summariser)
    except Exception as e:
        load_error = f"internal error: cannot load the summariser {summariser} ({type(e).__name__}: {_one_line(e)})"
        fn = parse_error = None
    # The cyclic collector: a worker holds its start-up (modules: kept for good) and one file's
    # objects (a syntax tree, the walk's state, the summary), which reference counting frees
    # when the file is done; on the CPython stdlib only ~1,600 objects over 686 files were
    # cyclic garbage. Automatic collections kept traversing each file's large tree as it grew:
    # ~1 of ~6 CPU-s of guard + walk + encoding. So the collector is off while a file is
    # analysed, and one collection after each file frees its cycles; it looks only at what
    # came since the last one (what survived is frozen: a few dozen objects over the stdlib,
    # plus libcst's modules in a worker that had to import it).
    gc.disable()
    gc.freeze()
    try:
        send.send(_READY)
    except (OSError, ValueError):
        return
    unwritten: list[tuple[str, bytes]] = []  # (cache path, entry as sent): written on _WRITE
    while True:
        try:
            msg = recv.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        if msg == _WRITE:
            write_entries(unwritten)
            unwritten = []
            try:
                send.send(_WRITTEN)
            except (OSError, ValueError):
                return
            continue
        path, module, is_package, source, cache_path = msg
        if fn is None:
            result = (False, load_error, False)
        else:
            result = analyse(fn, parse_error, source, path, module, is_package)
        try:
            if result[0]:
                send.send_bytes(result[1])  # marshal bytes, not a pickle: see _receive
            else:
                send.send(result)
        except (OSError, ValueError):
            return
        if result[0] and cache_path is not None:
            unwritten.append((cache_path, result[1]))
        del msg, source, result
        gc.collect()  # while the main process reads the result
        gc.freeze()


def _load_summariser(spec: str):
    import importlib

    mod_name, _, fn_name = spec.partition(":")
    mod = importlib.import_module(mod_name)
    return getattr(mod, fn_name), getattr(mod, "ParseError", None)


def analyse(fn, parse_error, source: str, path: str, module: str, is_package: bool) -> tuple[bool, Any, Any]:
    """One file, in the worker: guard, summarise. Returns ``(ok, payload-or-message,
    cache_timeout)`` (cache_timeout False: do not cache); ``payload`` is the ``marshal`` bytes
    of the summary's entry dict (``ModuleSummary.to_entry()``, headers as lists: what JSON
    decodes), which the main process loads and the worker keeps until ``write_entries``
    turns it into the JSON cache entry. ``path`` is what the summariser is told (the pool
    sends ``cache.ENTRY_PATH``); the entry holds ``ENTRY_PATH`` as the summary's path
    whatever it is, and the main process sets the display path when it loads the entry."""
    try:
        tree, py_error = guard.parse(source, path)
    except guard.SourceError as e:
        return False, str(e), None
    try:
        if getattr(fn, "accepts_tree", False):
            # the guard's parse is the summariser's: one compile per file
            summary = fn(source, path, module, is_package, tree=tree, syntax_error=py_error)
        else:
            summary = fn(source, path, module, is_package)
    except RecursionError:
        return False, "too deeply nested to analyse (RecursionError in the summariser)", None
    except MemoryError:
        return False, "ran out of memory while summarising; not analysed", False
    except Exception as e:
        if parse_error is not None and isinstance(e, parse_error):
            if py_error is not None:
                # Both parsers reject it: CPython's message is the clearer one.
                return False, guard.syntax_message(py_error, source), None
            msg = _one_line(e)
            return False, msg if msg.startswith(("syntax error", "nesting")) else f"cannot parse: {msg}", None
        return False, f"internal error while summarising ({type(e).__name__}: {_one_line(e)}); not analysed", False
    try:
        d = summary.to_entry()
        d["path"] = ENTRY_PATH
        d["function_fields"] = list(d["function_fields"])
        d["class_fields"] = list(d["class_fields"])
        payload = marshal.dumps(d)
    except Exception as e:  # no to_entry, or not marshal-able: a bug, but one file's
        return False, f"internal error: cannot send the summary ({type(e).__name__}: {_one_line(e)}); not analysed", False
    return True, payload, None


def write_entries(unwritten: list[tuple[str, bytes]]) -> None:
    """In the worker, once the main process has every summary: each kept payload becomes its
    JSON cache entry (``cache.encode_summary_entry``), written atomically to its path, whose
    file name is the key. What JSON cannot encode (a stand-in's set: marshal took it) gets no
    entry; the next scan parses that file again."""
    for cache_path, payload in unwritten:
        try:
            entry = encode_summary_entry(os.path.basename(cache_path)[:-len(".json")], marshal.loads(payload))
            write_atomic(cache_path, entry)
        except Exception:  # noqa: S112 - an entry we cannot write only slows the next run
            continue


def _one_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__
