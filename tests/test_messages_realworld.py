"""Message texts seen wrong on real packages (docs/real-world.md, third batch, "Message defects
seen"): the finding was right, the names in its text were not. Each test scans a small program
in the package's shape and checks the old text is gone and the right one is there; each keeps
a clean look-alike (same names, nothing to report, or the old name where it is the right one).
"""

from __future__ import annotations

import copy
import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources
from tests.test_static_link import model_of


def scan(files: dict[str, str], config: Config | None = None):
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    return scan_sources(files, config or Config()).findings


def of(findings, code):
    return [f for f in findings if f.code == code]


# --------------------------------------------------------------------------- 1. lock factories

# pymongo/lock.py, as shipped in pymongo 4.20: a fresh lock per call, kept in a WeakSet so that
# a fork can reset it
PYMONGO_LOCK = """
import os
import threading
import weakref

_HAS_REGISTER_AT_FORK = hasattr(os, "register_at_fork")
_forkable_locks = weakref.WeakSet()


def _create_lock():
    lock = threading.Lock()
    if _HAS_REGISTER_AT_FORK:
        _forkable_locks.add(lock)
    return lock
"""

TOPOLOGY = """
import threading
from pkg.lock import _create_lock


class Topology:
    def __init__(self):
        self._lock = _create_lock()
        self._thread = threading.Thread(target=self.run)

    def open(self):
        with self._lock:
            self._thread.join()

    def run(self):
        pass


class MongoClient:
    def __init__(self):
        self._lock = _create_lock()
        self._topology = Topology()

    def _get_topology(self):
        with self._lock:
            self._topology.open()
"""


def pymongo_files(topology: str = TOPOLOGY) -> dict[str, str]:
    return {"pkg/__init__.py": "", "pkg/lock.py": PYMONGO_LOCK, "pkg/topology.py": topology}


def test_factory_lock_is_named_by_the_definition_that_stores_it():
    found = of(scan(pymongo_files()), "LW131")
    msgs = sorted(f.message for f in found)
    assert len(found) == 2, msgs
    assert all("_create_lock" not in m for m in msgs), msgs
    assert any("Topology.open calls threading.Thread.join while holding Topology._lock" in m for m in msgs), msgs
    assert any("while holding MongoClient._lock" in m for m in msgs), msgs
    assert {tuple(f.locks) for f in found} == {("pkg.topology.Topology._lock",),
                                              ("pkg.topology.MongoClient._lock",)}


def test_factory_locks_stay_two_lock_classes_in_one_order():
    # MongoClient._lock -> Topology._lock only: two classes, one order, no finding about them
    files = pymongo_files()
    assert not [f for f in scan(files) if f.code in ("LW101", "LW102", "LW111")]
    m = model_of(files)
    assert ("pkg.topology.MongoClient._lock", "pkg.topology.Topology._lock") in set(m.lock_graph.edges())
    assert "pkg.lock._create_lock.lock" not in m.lock_graph


def test_factory_locks_in_opposite_orders_are_a_cycle_between_their_definitions():
    src = """
    from pkg.lock import _create_lock


    class Topology:
        def __init__(self):
            self._lock = _create_lock()
            self._other = _create_lock()

        def a(self):
            with self._lock:
                with self._other:
                    pass

        def b(self):
            with self._other:
                with self._lock:
                    pass
    """
    found = scan(pymongo_files(src))
    assert [f.code for f in found] == ["LW101"], [(f.code, f.message) for f in found]
    assert "Topology._lock -> Topology._other" in found[0].message
    assert "_create_lock" not in found[0].message
    # the clean twin: the same two locks nested one way only
    clean = src.replace("""        with self._other:
                with self._lock:""", """        with self._lock:
                with self._other:""")
    assert scan(pymongo_files(clean)) == []


def test_factory_returning_the_lock_directly_or_through_another_factory():
    src = """
    import threading
    import time


    def make_lock():
        return threading.Lock()


    def _create_lock():
        lock = threading.Lock()
        return lock


    def _tracked_lock():
        return _create_lock()


    class Cache:
        def __init__(self):
            self.lock = _tracked_lock()

        def refresh(self):
            with self.lock:
                time.sleep(1)


    class Pool:
        def __init__(self):
            self.lock = make_lock()

        def fill(self):
            with self.lock:
                time.sleep(1)
    """
    msgs = sorted(f.message for f in of(scan({"m.py": src}), "LW131"))
    assert len(msgs) == 2, msgs
    assert "holding Cache.lock" in msgs[0] and "holding Pool.lock" in msgs[1], msgs


def test_factory_lock_keeps_its_creation_site_for_the_runtime_join():
    m = model_of(pymongo_files())
    lc = m.locks["pkg.topology.Topology._lock"]
    assert (lc.path, lc.line) == ("pkg/topology.py", 8)
    origin = m.locks[lc.inner]
    # the tracer sees the lock made at ``lock = threading.Lock()`` in the factory
    assert (origin.id, origin.path, origin.line) == ("pkg.lock._create_lock.lock", "pkg/lock.py", 11)


def test_lock_registry_stays_one_lock_class():
    # a factory that may hand back a lock it keeps is no fresh-lock factory: every caller
    # may get the same lock, so its name stays the registry's (the clean look-alike)
    src = """
    import threading
    import time

    _locks = {}


    def get_lock(key):
        lock = _locks.get(key)
        if lock is None:
            lock = threading.Lock()
            _locks[key] = lock
        return lock


    class Registry:
        def __init__(self):
            self._locks = {}

        def get(self, key):
            lock = threading.Lock()
            self._locks[key] = lock
            return lock


    class User:
        def __init__(self):
            self._a = get_lock("a")
            self._b = Registry().get("b")

        def run(self):
            with self._a:
                time.sleep(1)
            with self._b:
                time.sleep(1)
    """
    msgs = sorted(f.message for f in of(scan({"m.py": src}), "LW131"))
    assert len(msgs) == 2, msgs
    assert "holding get.lock" in msgs[0] and "holding get_lock.lock" in msgs[1], msgs
    assert not any("User._a" in m or "User._b" in m for m in msgs), msgs


# --------------------------------------------------------------------------- 4. offload advice

# hypercorn/trio/run.py's shape: a trio worker reading a file on the loop
TRIO_WORKER = """
import sys

import trio


async def worker_serve(config):
    with open(config.path) as f:
        config.text = f.read()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 1)
"""


def lw201_messages(src: str, path: str = "m.py") -> list[str]:
    return [f.message for f in of(scan({path: src}), "LW201")]


def test_trio_module_is_advised_trio_offload():
    msgs = lw201_messages(TRIO_WORKER)
    assert len(msgs) == 2, msgs
    assert all("offload it with trio.to_thread.run_sync or use an async API" in m for m in msgs), msgs
    assert not any("asyncio.to_thread" in m for m in msgs), msgs


def test_anyio_module_is_advised_anyio_offload():
    src = TRIO_WORKER.replace("import trio\n", "import anyio\nimport trio\n")
    msgs = lw201_messages(src)
    assert msgs and all("offload it with anyio.to_thread.run_sync" in m for m in msgs), msgs
    src = TRIO_WORKER.replace("import trio\n", "from anyio import to_thread\nimport asyncio\n")
    msgs = lw201_messages(src)
    assert msgs and all("offload it with anyio.to_thread.run_sync" in m for m in msgs), msgs


def test_asyncio_advice_stays_where_the_module_uses_asyncio():
    # imports trio and asyncio (or neither): asyncio.to_thread, as before
    for src in (TRIO_WORKER.replace("import trio\n", "import asyncio\nimport trio\n"),
                TRIO_WORKER.replace("import trio\n", "")):
        msgs = lw201_messages(src)
        assert msgs and all("offload it with asyncio.to_thread or use an async API" in m for m in msgs), msgs
        assert not any("trio.to_thread" in m for m in msgs), msgs


# --------------------------------------------------------------------------- 2. queue names

# s3transfer/processpool.py's shape: a bounded multiprocessing queue fed under a lifecycle lock
S3TRANSFER = """
import multiprocessing
import threading


class ProcessPoolDownloader:
    def __init__(self):
        self._start_lock = threading.Lock()
        self._download_request_queue = {Q}(1000)
        self._started = False

    def _shutdown_if_needed(self):
        with self._start_lock:
            if self._started:
                self._shutdown()

    def _shutdown(self):
        self._download_request_queue.put(None)
"""


def test_bounded_multiprocessing_queue_is_named_multiprocessing_queue():
    found = of(scan({"m.py": S3TRANSFER.format(Q="multiprocessing.Queue")}), "LW131")
    assert len(found) == 1
    f = found[0]
    assert "calls multiprocessing.Queue.put (through ProcessPoolDownloader._shutdown) while holding ProcessPoolDownloader._start_lock" in f.message
    assert "BoundedQueue" not in f.message
    assert f.related[-1].note == "... which calls multiprocessing.Queue.put"
    assert not any("BoundedQueue" in r.note for r in f.related)


def test_bounded_thread_queue_is_named_queue_queue():
    src = "import queue\n" + S3TRANSFER.format(Q="queue.Queue")
    found = of(scan({"m.py": src}), "LW131")
    assert len(found) == 1
    assert "calls queue.Queue.put (through ProcessPoolDownloader._shutdown)" in found[0].message
    assert "BoundedQueue" not in found[0].message
    # the clean twin: an unbounded queue's put never blocks, nothing to report
    assert of(scan({"m.py": src.replace("(1000)", "()")}), "LW131") == []


def test_the_finding_key_keeps_the_catalog_name():
    # a baseline written before the rename still matches: only the text changed
    from lockwatch.findings import make_fingerprint
    f = of(scan({"m.py": S3TRANSFER.format(Q="multiprocessing.Queue")}), "LW131")[0]
    assert f.fingerprint == make_fingerprint(
        "LW131", "m.ProcessPoolDownloader._shutdown_if_needed", "queue.BoundedQueue.put",
        "m.ProcessPoolDownloader._start_lock", len(f.related), 1)


# distributed/nanny.py's shape: a queue from a multiprocessing context made by a project helper
NANNY = """
import multiprocessing
import queue


def get_mp_context():
    return multiprocessing.get_context("spawn")


class WorkerProcess:
    async def start(self):
        mp_ctx = get_mp_context()
        self.child_stop_q = mp_ctx.Queue()
        self.child_stop_q.put(None)
        self.child_stop_q.get()

    async def drain(self):
        q = queue.Queue()
        q.get()
"""


def test_context_queue_is_named_multiprocessing_queue():
    msgs = sorted(lw201_messages(NANNY))
    assert len(msgs) == 2, msgs
    assert "async WorkerProcess.start calls multiprocessing.Queue.get, which blocks" in msgs[1], msgs
    # the look-alike: a thread queue keeps its name
    assert "async WorkerProcess.drain calls queue.Queue.get, which blocks" in msgs[0], msgs


def test_queue_constructor_spellings():
    src = """
    import multiprocessing as mp
    from multiprocessing import JoinableQueue
    from queue import LifoQueue

    JOBS = mp.Queue(4)


    async def a():
        JOBS.put(1)


    async def b():
        q = JoinableQueue()
        q.get()


    async def c():
        q = LifoQueue()
        q.get()
    """
    msgs = sorted(lw201_messages(textwrap.dedent(src)))
    assert len(msgs) == 3, msgs
    assert "async a calls multiprocessing.Queue.put," in msgs[0], msgs
    assert "async b calls multiprocessing.JoinableQueue.get," in msgs[1], msgs
    assert "async c calls queue.LifoQueue.get," in msgs[2], msgs


# --------------------------------------------------------------------------- 3. file classes


def test_file_class_from_a_literal_mode():
    from lockwatch.static.catalog import file_class

    def mode(text):
        return {"const": "str", "s": text}

    p = {"r": "path"}
    assert file_class("open", [p], {}) == "io.TextIOWrapper"
    assert file_class("open", [p, mode("r")], {}) == "io.TextIOWrapper"
    assert file_class("open", [p, mode("rb")], {}) == "io.BufferedReader"
    assert file_class("open", [p], {"mode": mode("rb"), "buffering": {"const": 0}}) == "io.FileIO"
    assert file_class("open", [p, mode("rb"), {"const": 0}], {}) == "io.FileIO"
    assert file_class("io.open", [p, mode("r+b")], {}) == "io.BufferedRandom"
    assert file_class("open", [p, mode("wb")], {}) == "io.BufferedWriter"
    assert file_class("os.fdopen", [{"r": "fd"}, mode("ab")], {}) == "io.BufferedWriter"
    assert file_class("io.open_code", [p], {}) == "io.BufferedReader"
    # a mode whose text is not known (not a literal, or not kept): no class
    assert file_class("open", [p, {"r": "mode"}], {}) is None
    assert file_class("open", [p, {"const": "str"}], {}) is None


STATIC_FILES = """
import os


class ASGIApp:
    async def serve_static_file(self, path):
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()

    async def serve_text(self, path):
        return open(path).read()

    async def serve_code(self, path):
        with io.open_code(path) as f:
            return f.read()
"""


def _with_literal_modes(src: str, modes: list[str]):
    """Summaries of ``src`` whose ``open(path, "<mode>")`` literal modes carry their text,
    in order of the ``open`` calls with a mode (what a summariser keeping short literals
    would write: see ``catalog.literal_text``)."""
    from lockwatch.static.engine import module_name
    from lockwatch.static.summarise import summarise_module

    mod, is_pkg = module_name("m.py")
    # a copy: the summariser may hand out the same objects again for the same source
    ms = copy.deepcopy(summarise_module(textwrap.dedent(src), "m.py", mod, is_pkg))
    pending = list(modes)
    by_line: dict = {}

    def mark(v, line):
        if isinstance(v, dict):
            if v.get("call") == "open" and len(v.get("a") or []) > 1:
                if line not in by_line and pending:
                    by_line[line] = pending.pop(0)
                if line in by_line:
                    v["a"][1]["s"] = by_line[line]
            for x in v.values():
                mark(x, line)
        elif isinstance(v, list):
            for x in v:
                mark(x, line)

    for fs in ms.functions.values():
        for ev in fs.events:
            if ev["e"] == "call" and ev.get("f") == "open":
                mark({"call": "open", "a": ev.get("a")}, ev["l"])
        for v in fs.locals.values():
            mark(v, v.get("l"))
    return {mod: ms}


def test_binary_file_read_is_named_buffered_reader_when_the_mode_text_is_known():
    from lockwatch.static.engine import analyse_summaries

    src = "import io\n" + textwrap.dedent(STATIC_FILES)
    rep = analyse_summaries(_with_literal_modes(src, ["rb"]), Config())
    msgs = sorted(f.message for f in rep.findings if f.code == "LW201")
    reads = [m for m in msgs if ".read" in m]
    assert any("serve_static_file calls io.BufferedReader.read," in m for m in reads), msgs
    assert not any("serve_static_file calls io.TextIOWrapper" in m for m in msgs), msgs
    # the look-alikes: a text file keeps io.TextIOWrapper, open_code is binary
    assert any("serve_code calls io.BufferedReader.read," in m for m in reads), msgs
    rep = analyse_summaries(_with_literal_modes(src, ["rb"]), Config())
    rb = [f for f in rep.findings if "BufferedReader" in f.message and "serve_static_file" in f.message]
    assert rb and rb[0].related[-1].note.endswith("calls io.BufferedReader.read")


def test_unbuffered_binary_file_is_named_fileio():
    from lockwatch.static.engine import analyse_summaries

    src = """
    async def head(path):
        with open(path, "rb", buffering=0) as f:
            return f.read(16)
    """
    rep = analyse_summaries(_with_literal_modes(src, ["rb"]), Config())
    msgs = [f.message for f in rep.findings if f.code == "LW201"]
    assert any("calls io.FileIO.read," in m for m in msgs), msgs


def test_file_read_without_a_known_mode_keeps_its_name():
    # a mode that is not a literal says nothing: the generic io.TextIOWrapper stays (the
    # old text, not a wrong new one); io.open_code is binary whatever the summaries keep
    src = "import io\n" + textwrap.dedent(STATIC_FILES).replace('open(path, "rb")', "open(path, self.mode)")
    msgs = lw201_messages(src)
    assert any("serve_static_file calls io.TextIOWrapper.read," in m for m in msgs), msgs
    assert any("serve_code calls io.BufferedReader.read," in m for m in msgs), msgs


def _summaries_keep_literal_text() -> bool:
    from lockwatch.static.summarise import summarise_module

    ms = summarise_module("open(p, 'rb')\n", "m.py", "m")
    return any("s" in (a or {}) for fs in ms.functions.values() for ev in fs.events for a in ev.get("a") or [])


def test_binary_file_read_end_to_end():
    # through scan_sources: needs summaries that keep a short literal's text
    # ({"const": "str", "s": text}); before that, the tests above feed such summaries
    import pytest

    if not _summaries_keep_literal_text():
        pytest.skip("the summarisers do not keep a literal's text yet")
    msgs = lw201_messages("import io\n" + textwrap.dedent(STATIC_FILES))
    assert any("serve_static_file calls io.BufferedReader.read," in m for m in msgs), msgs
    assert not any("io.TextIOWrapper" in m for m in msgs), msgs


# --------------------------------------------------------------------------- 5. witnesses

# pymongo/daemon.py + asynchronous/encryption.py's shape: the spawn of mongocryptd opens
# os.devnull first, then forks and execs
PYMONGO_SPAWN = """
import os
import subprocess


def _spawn(args):
    try:
        with open(os.devnull, "r+b") as devnull:
            return subprocess.Popen(args, close_fds=True, stdin=devnull, stdout=devnull)
    except FileNotFoundError:
        return None


def _spawn_daemon(args):
    _spawn(args)


class _EncryptionIO:
    def spawn(self):
        _spawn_daemon(["mongocryptd"])

    async def mark_command(self):
        self.spawn()
"""


def test_witness_names_the_call_that_waits_not_the_trivial_open():
    found = of(scan({"m.py": PYMONGO_SPAWN}), "LW201")
    assert len(found) == 1
    f = found[0]
    assert f.message.startswith("async _EncryptionIO.mark_command calls subprocess.Popen "
                                "(through _EncryptionIO.spawn -> _spawn_daemon -> _spawn)"), f.message
    assert f.related[-1].note == "... which calls subprocess.Popen"
    assert f.related[-1].line == 9
    # the look-alike: with no process spawned, the open is what blocks, and is named
    clean = PYMONGO_SPAWN.replace(
        "            return subprocess.Popen(args, close_fds=True, stdin=devnull, stdout=devnull)\n",
        "            return devnull\n")
    found = of(scan({"m.py": clean}), "LW201")
    assert len(found) == 1 and "calls open (through" in found[0].message


# pika's Resolver (docs/real-world.md P11): a private helper reached with and without the lock
P11 = """
import threading


class Resolver:
    def __init__(self, loop):
        self._mutex = threading.Lock()
        self._loop = loop
        self._state = 1

    def _cleanup(self):
        self._loop = None

    def cancel(self):
        with self._mutex:
            self._state = 2
            self._cleanup()

    def _dispatch_result(self):
        self._cleanup()

    def _resolve(self):
        with self._mutex:
            if self._state == 1:
                self._loop.add_callback(self._dispatch_result)
"""


def lw3(src: str):
    config = Config()
    config.select = ["LW3"]
    return scan({"m.py": src}, config)


def test_lw301_helper_with_and_without_the_lock_cites_the_locked_caller():
    found = of(lw3(P11), "LW301")
    assert len(found) == 1
    f = found[0]
    assert f.line == 12   # the unlocked write in _cleanup, as before
    assert f.message == ("Resolver._cleanup writes self._loop without a lock, but Resolver.cancel "
                         "writes it holding Resolver._mutex (m.py:17)"), f.message
    assert [(r.line, r.note) for r in f.related] == [(17, "Resolver.cancel writes self._loop holding Resolver._mutex")]
    # the old text cited the same line on both sides
    assert "(m.py:12)" not in f.message


def test_lw301_witness_elsewhere_is_kept():
    # the look-alike: a locked write of its own elsewhere is the witness, as before
    src = P11.replace("""            self._state = 2
""", """            self._state = 2
            self._loop = loop_of(self)
""")
    found = of(lw3(src), "LW301")
    assert len(found) == 1
    assert found[0].message.endswith("but Resolver.cancel writes it holding Resolver._mutex (m.py:17)"), found[0].message
    assert found[0].related[0].line == 17


def test_lw301_locked_context_two_calls_up():
    # the lock is taken by an intermediate helper: it is that helper's call that is cited
    src = P11.replace("""    def cancel(self):
        with self._mutex:
            self._state = 2
            self._cleanup()
""", """    def _locked_cleanup(self):
        with self._mutex:
            self._state = 2
            self._cleanup()

    def cancel(self):
        self._locked_cleanup()
""")
    found = of(lw3(src), "LW301")
    assert len(found) == 1
    assert found[0].line == 12
    assert found[0].message.endswith("but Resolver._locked_cleanup writes it holding Resolver._mutex (m.py:17)"), found[0].message


def test_lw301_same_method_locked_inside_keeps_its_own_line():
    # celery's _flush_pending_unsubscribe shape: the method itself tests without the lock and
    # pops under it; its own locked mutation is the witness (another line), as before, not a
    # caller's call (cancel calls it holding nothing)
    src = """
    import threading


    class Consumer:
        def __init__(self):
            self._lock = threading.Lock()
            self._pending = set()

        def _flush(self):
            while self._pending and self._lock.acquire(blocking=False):
                try:
                    self._pending.pop()
                finally:
                    self._lock.release()

        def cancel(self, key):
            self._pending.add(key)
            self._flush()
    """
    msgs = sorted((f.line, f.message) for f in of(lw3(textwrap.dedent(src)), "LW301"))
    assert msgs == [
        (11, ("Consumer._flush reads self._pending without a lock, racing Consumer._flush "
              "writes it holding Consumer._lock (m.py:13)")),
        (18, ("Consumer.cancel mutates self._pending without a lock, but Consumer._flush "
              "writes it holding Consumer._lock (m.py:13)")),
    ], msgs


def test_queue_from_a_project_method_keeps_the_thread_queue_name():
    src = """
    import queue


    class Pool:
        def Queue(self):
            return queue.Queue()

        async def drain(self):
            q = self.Queue()
            q.get()
    """
    msgs = lw201_messages(textwrap.dedent(src))
    assert len(msgs) == 1 and "calls queue.Queue.get," in msgs[0], msgs


# asyncssh's agent_win32 shape: the file is opened by a project helper given a literal mode
OPEN_HELPER = """
from pathlib import Path


def open_file(filename, mode, buffering=-1):
    return open(Path(filename).expanduser(), mode, buffering=buffering)


class _W10OpenSSHTransport:
    def __init__(self, agent_path):
        self._agentfile = open_file(agent_path, "r+b")

    async def readexactly(self, n):
        return self._agentfile.read(n)
"""


def test_file_opened_by_a_project_helper_with_a_literal_mode():
    from lockwatch.static.engine import analyse_summaries

    rep = analyse_summaries(_with_literal_modes_of(OPEN_HELPER, "open_file", "r+b"), Config())
    msgs = [f.message for f in rep.findings if f.code == "LW201"]
    assert any("readexactly calls io.BufferedRandom.read," in m for m in msgs), msgs
    # the look-alike: a mode the helper's caller does not give as a literal stays generic
    rep = analyse_summaries(_with_literal_modes_of(OPEN_HELPER.replace('"r+b"', "self.mode"),
                                                   "open_file", None), Config())
    msgs = [f.message for f in rep.findings if f.code == "LW201"]
    assert any("readexactly calls io.TextIOWrapper.read," in m for m in msgs), msgs


def _with_literal_modes_of(src: str, callee: str, mode: str | None):
    """Summaries of ``src`` whose ``callee(x, "<mode>")`` literal keeps its text."""
    from lockwatch.static.summarise import summarise_module

    ms = copy.deepcopy(summarise_module(textwrap.dedent(src), "m.py", "m"))

    def mark(v):
        if isinstance(v, dict):
            if v.get("call") == callee and len(v.get("a") or []) > 1 and v["a"][1].get("const") == "str":
                if mode is None:
                    v["a"][1].pop("s", None)
                else:
                    v["a"][1]["s"] = mode
            for x in v.values():
                mark(x)
        elif isinstance(v, list):
            for x in v:
                mark(x)

    for fs in ms.functions.values():
        mark(fs.events)
        mark(list(fs.locals.values()))
    return {"m": ms}


# ---------------------------------------------------------------------------- LW131's chain

CHAIN = '''
import threading
import time


def _send(sock):
    time.sleep(1)


def flush(sock):
    _send(sock)


class Link:
    def __init__(self):
        self._lock = threading.Lock()

    def close(self):
        with self._lock:
            flush(None)

    def pause(self):
        with self._lock:
            time.sleep(1)
'''


def test_lw131_names_the_callees_between_the_lock_and_the_blocking_call():
    # it said "(through a call)", where LW201 names the chain (third batch, message defects)
    found = sorted((f.location.line, f.message) for f in scan({"m.py": CHAIN}) if f.code == "LW131")
    assert [m for _, m in found] == [
        "Link.close calls time.sleep (through flush -> _send) while holding Link._lock: "
        "every other thread needing the lock waits too",
        "Link.pause calls time.sleep while holding Link._lock: every other thread needing the "
        "lock waits too",
    ]
