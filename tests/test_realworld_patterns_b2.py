"""False-alarm patterns read on real packages (docs/real-world.md, second batch: P19, ...),
each next to the twin that must stay reported. Every scan runs twice, on the summaries of the
ast walk and of the libcst walk, and both must report the same."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static import summarise_cst
from lockwatch.static.engine import analyse_summaries, module_name
from lockwatch.static.summarise_ast import summarise_tree


def _summaries(files: dict[str, str], walk: str) -> dict:
    out = {}
    for path, source in files.items():
        mod, is_pkg = module_name(path)
        if walk == "ast":
            tree = compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            out[mod] = summarise_tree(tree, source, path, mod, is_pkg)
        else:
            out[mod] = summarise_cst.summarise_module(source, path, mod, is_pkg)
    return out


def codes(source: str | dict[str, str]) -> list[tuple[str, str, int]]:
    """(code, path, line) of every finding, the same from both walks."""
    files = {"m.py": source} if isinstance(source, str) else source
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    found = []
    for walk in ("ast", "cst"):
        report = analyse_summaries(_summaries(files, walk), Config(), [])
        found.append(sorted((f.code, f.path, f.line) for f in report.findings))
    assert found[0] == found[1]
    return found[0]


# ---------------------------------------------------------------------- P19 (trio getaddrinfo)

NUMERIC = """
import socket

_NUMERIC_ONLY = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV

async def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    try:
        return socket.getaddrinfo(host, port, family, type, proto, flags | _NUMERIC_ONLY)
    except socket.gaierror:
        return []
"""
LOOKUP = [("LW201", "m.py", 8)]


@pytest.mark.parametrize("source, found", [
    (NUMERIC, []),
    # the flag written inline, alone, or by keyword
    (NUMERIC.replace("flags | _NUMERIC_ONLY", "flags | socket.AI_NUMERICHOST"), []),
    (NUMERIC.replace("flags | _NUMERIC_ONLY", "socket.AI_NUMERICHOST"), []),
    (NUMERIC.replace("family, type, proto, flags | _NUMERIC_ONLY", "flags=_NUMERIC_ONLY"), []),
    # through a local
    (NUMERIC.replace("        return socket.getaddrinfo(",
                     "        f = flags | _NUMERIC_ONLY\n        return socket.getaddrinfo(")
     .replace("flags | _NUMERIC_ONLY)", "f)"), []),
    # twin: no numeric flag at all
    (NUMERIC.replace("flags | _NUMERIC_ONLY", "flags"), LOOKUP),
    # twin: only the numeric *service* flag: the host is still looked up
    (NUMERIC.replace("flags | _NUMERIC_ONLY", "flags | socket.AI_NUMERICSERV"), LOOKUP),
    (NUMERIC.replace("socket.AI_NUMERICHOST | socket.AI_NUMERICSERV", "socket.AI_NUMERICSERV"), LOOKUP),
    # twin: the flag in another argument (the protocol), not in the flags
    (NUMERIC.replace("family, type, proto, flags | _NUMERIC_ONLY", "family, type, _NUMERIC_ONLY, flags"),
     LOOKUP),
    # twin: a parameter that shadows the constant says nothing about its value
    (NUMERIC.replace("flags=0):", "flags=0, _NUMERIC_ONLY=0):"), LOOKUP),
])
def test_numeric_only_getaddrinfo_does_no_lookup(source, found):
    assert codes(source) == found


def test_numeric_flags_imported_from_a_project_module():
    consts = "import socket\nNUMERIC_ONLY = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV\nOTHER = socket.AI_PASSIVE\n"
    use = ("import socket\nfrom pkg.consts import NUMERIC_ONLY, OTHER\n\n"
           "async def resolve(host, port):\n    return socket.getaddrinfo(host, port, 0, 0, 0, NUMERIC_ONLY)\n")
    files = {"pkg/__init__.py": "", "pkg/consts.py": consts, "pkg/use.py": use}
    assert codes(files) == []
    files["pkg/use.py"] = use.replace("0, NUMERIC_ONLY)", "0, OTHER)")
    assert codes(files) == [("LW201", "pkg/use.py", 5)]


def test_a_flags_union_keeps_its_operands_in_both_walks():
    source = "import socket\nX = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV | 4\nY = a | b\n"
    a = summarise_tree(ast.parse(source), source, "m.py", "m", False)
    c = summarise_cst.summarise_module(source, "m.py", "m", False)
    for s in (a, c):
        assert s.globals["X"]["v"] == {"flags": ["socket.AI_NUMERICHOST", "socket.AI_NUMERICSERV"]}
        assert s.globals["Y"]["v"] is None   # a set/dict union is no flag value


# ---------------------------------------------------------------------- P21 (fsspec done/result)

DONE = """
import threading
from concurrent.futures import ThreadPoolExecutor

class Cache:
    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._future = self._pool.submit(print)
        self._lock = threading.Lock()
        self._blocks = {}

    def read(self, n):
        with self._lock:
            if self._future is not None and self._future.done():
                self._blocks[n] = self._future.result()
        return self._blocks.get(n)

    def close(self):
        self._pool.shutdown()
"""
WAITS = [("LW131", "m.py", 15)]


@pytest.mark.parametrize("source, found", [
    (DONE, []),
    # a local future, and the exception() poll
    (DONE.replace("            if self._future is not None and self._future.done():\n"
                  "                self._blocks[n] = self._future.result()",
                  "            fut = self._future\n            if fut.done():\n"
                  "                self._blocks[n] = fut.exception()"), []),
    # after `if not fut.done(): return` in the same block
    (DONE.replace("            if self._future is not None and self._future.done():\n"
                  "                self._blocks[n] = self._future.result()",
                  "            if not self._future.done():\n                return None\n"
                  "            self._blocks[n] = self._future.result()"), []),
    # the else of `if not fut.done():`, and a conditional expression
    (DONE.replace("            if self._future is not None and self._future.done():\n"
                  "                self._blocks[n] = self._future.result()",
                  "            if not self._future.done():\n                pass\n"
                  "            else:\n                self._blocks[n] = self._future.result()"), []),
    (DONE.replace("            if self._future is not None and self._future.done():\n"
                  "                self._blocks[n] = self._future.result()",
                  "            self._blocks[n] = self._future.result() if self._future.done() else None"), []),
    # twin: no done() test
    (DONE.replace("self._future is not None and self._future.done()", "self._future is not None"), WAITS),
    # twin: `or` does not prove it done
    (DONE.replace("self._future is not None and self._future.done()",
                  "self._future is None or self._future.done()"), WAITS),
    # twin: the false branch of done()
    (DONE.replace("self._future is not None and self._future.done()", "not self._future.done()"), WAITS),
    # twin: another future tested
    (DONE.replace("self._future is not None and self._future.done()", "self._other.done()"), WAITS),
    # twin: the future replaced between the test and the result
    (DONE.replace("                self._blocks[n] = self._future.result()",
                  "                self._future = self._pool.submit(print)\n"
                  "                self._blocks[n] = self._future.result()"), [("LW131", "m.py", 16)]),
    # twin: the `if not done(): return` fact ends with its block
    (DONE.replace("            if self._future is not None and self._future.done():\n"
                  "                self._blocks[n] = self._future.result()",
                  "            if n:\n                if not self._future.done():\n                    return None\n"
                  "            self._blocks[n] = self._future.result()"), [("LW131", "m.py", 17)]),
    # twin: `if not done(): log()` does not leave: the result may still wait
    (DONE.replace("            if self._future is not None and self._future.done():\n"
                  "                self._blocks[n] = self._future.result()",
                  "            if not self._future.done():\n                print('pending')\n"
                  "            self._blocks[n] = self._future.result()"), [("LW131", "m.py", 16)]),
])
def test_result_of_a_done_future_does_not_wait(source, found):
    assert codes(source) == found


ASYNC_DONE = """
from concurrent.futures import ThreadPoolExecutor

pool = ThreadPoolExecutor()

class C:
    def __init__(self):
        self.fut = pool.submit(print)

    async def poll(self):
        if self.fut.done():
            return self.fut.result()
        return None

    def close(self):
        pool.shutdown()
"""


def test_result_of_a_done_future_does_not_block_the_loop():
    assert codes(ASYNC_DONE) == []
    assert codes(ASYNC_DONE.replace("if self.fut.done():", "if self.fut:")) == [("LW201", "m.py", 12)]


# ---------------------------------------------------------------------- P15 (dramatiq, gunicorn)

GEN_DRAIN = """
import queue
import time

def iter_queue(q):
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            break

class Consumer:
    def __init__(self, source):
        self.source = source
        self.delay_queue = queue.PriorityQueue()

    def handle(self, eta, msg):
        self.delay_queue.put((eta, msg))

    def handle_delayed(self):
        for eta, msg in iter_queue(self.delay_queue):
            if eta > time.time():
                self.delay_queue.put((eta, msg))
                break
            self.source.send(msg)
"""
BACKLOG = [("LW401", "m.py", 15)]
BATCH_FEED = ("    def handle(self, eta, msg):\n        self.delay_queue.put((eta, msg))",
              "    def handle(self, batch):\n        for eta, msg in batch:\n            self.delay_queue.put((eta, msg))")


@pytest.mark.parametrize("source, found", [
    (GEN_DRAIN, []),
    # drained until empty, fed by a batch: the drain never stops early
    (GEN_DRAIN.replace(*BATCH_FEED), []),
    (GEN_DRAIN.replace(*BATCH_FEED).replace("q.get_nowait()", "q.get(block=False)"), []),
    (GEN_DRAIN.replace(*BATCH_FEED).replace("q.get_nowait()", "q.get(timeout=1)"), []),
    (GEN_DRAIN.replace(*BATCH_FEED).replace("            break\n\nclass", "            return\n\nclass"), []),
    # twin: a real error stops the drain while a batch feeds it
    (GEN_DRAIN.replace(*BATCH_FEED).replace("except queue.Empty:", "except Exception:"), BACKLOG),
    (GEN_DRAIN.replace(*BATCH_FEED).replace("except queue.Empty:", "except (queue.Empty, ValueError):"),
     BACKLOG),
    # twin: Empty from something else than the drain call (the drain is outside the try)
    (GEN_DRAIN.replace(*BATCH_FEED).replace(
        "        try:\n            yield q.get_nowait()\n        except queue.Empty:",
        "        item = q.get()\n        try:\n            yield item\n        except queue.Empty:"),
     [("LW401", "m.py", 16)]),
    # twin: a blocking get() does not raise Empty: the handler is about something else
    (GEN_DRAIN.replace(*BATCH_FEED).replace("q.get_nowait()", "q.get()"), BACKLOG),
])
def test_drain_until_empty_is_not_a_stop_on_error(source, found):
    assert codes(source) == found


def test_put_back_in_a_loop_over_the_drain_is_not_a_feed():
    # the generator stops on a real error; the only loop feed is the put-back of the head
    source = GEN_DRAIN.replace("except queue.Empty:", "except Exception:")
    assert codes(source) == []
    # twin: the same put-back in a loop over something else is a feed in a loop (the
    # generator still drains the queue, elsewhere)
    twin = source.replace("for eta, msg in iter_queue(self.delay_queue):",
                          "for eta, msg in self.source.pending():") + (
        "\n    def drain_all(self):\n        for m in iter_queue(self.delay_queue):\n"
        "            self.source.send(m)\n")
    assert codes(twin) == BACKLOG


POPLEFT = """
import threading
import time
from collections import deque

class Worker:
    def __init__(self, poller):
        self.poller = poller
        self._lock = threading.Lock()
        self._keep = deque()

    def finish_request(self, fs):
        conn = fs.result()
        with self._lock:
            self._keep.append(conn)

    def submit(self, pool, req):
        pool.submit(req).add_done_callback(self.finish_request)

    def murder_keepalived(self):
        now = time.time()
        while True:
            with self._lock:
                try:
                    conn = self._keep.popleft()
                except IndexError:
                    break
            if conn.timeout > now:
                with self._lock:
                    self._keep.appendleft(conn)
                break
            conn.close()
"""


@pytest.mark.parametrize("source, found", [
    (POPLEFT, []),
    # twin: the handler catches another error than the empty deque's
    (POPLEFT.replace("except IndexError:", "except KeyError:"), [("LW401", "m.py", 10)]),
    (POPLEFT.replace("except IndexError:", "except:"), [("LW401", "m.py", 10)]),
])
def test_popleft_until_empty_is_not_a_stop_on_error(source, found):
    assert codes(source) == found


def test_handler_exits_carry_what_they_catch_in_both_walks():
    source = textwrap.dedent(GEN_DRAIN).replace("except queue.Empty:", "except (queue.Empty, IndexError):")
    a = summarise_tree(ast.parse(source), source, "m.py", "m", False)
    c = summarise_cst.summarise_module(source, "m.py", "m", False)
    for s in (a, c):
        ex = [e for e in s.functions["iter_queue"].events if e["e"] == "exit"]
        assert ex == [{"e": "exit", "l": 10, "c": 13, "h": [], "lp": 6, "x": "break", "err": True,
                       "hx": ["Empty", "IndexError"], "tb": [7, 9]}]


# ---------------------------------------------------------------------- P20 (fsspec session.head)

AWAITED = """
class FileSystem:
    def open(self, path, mode="rb"):
        return open(path, mode)

    def head(self, path, size=1024):
        with self.open(path, "rb") as f:
            return f.read(size)

async def file_info(url, session):
    r = await session.head(url)
    return r.status
"""


@pytest.mark.parametrize("source, found", [
    (AWAITED, []),
    # twin: not awaited, the duck-typed match stands
    (AWAITED.replace("r = await session.head(url)\n    return r.status", "return session.head(url)"),
     [("LW201", "m.py", 11)]),
    # twin: the receiver annotated with the project class
    (AWAITED.replace("async def file_info(url, session):", "async def file_info(url, session: FileSystem):"),
     [("LW201", "m.py", 11)]),
])
def test_an_awaited_call_is_not_duck_typed_to_a_sync_method(source, found):
    assert codes(source) == found


# ---------------------------------------------------------------------- P14 (paho-mqtt probe)

PROBE = """
import threading

class Client:
    def __init__(self):
        self._in_callback = threading.Lock()
        self._other = threading.Lock()
        self._out = []

    def _queue(self, pkt):
        self._out.append(pkt)
        if self._in_callback.acquire(False):
            self._in_callback.release()
            return self.loop_write()
        return 0

    def loop_write(self):
        while self._out:
            self._out.pop()
            with self._in_callback:
                pass

    def reconnect(self):
        with self._in_callback:
            self._queue(b"x")
"""
REENTERS = [("LW111", "m.py", 25)]


@pytest.mark.parametrize("source, found", [
    (PROBE, []),
    (PROBE.replace("acquire(False)", "acquire(blocking=False)"), []),
    (PROBE.replace("acquire(False)", "acquire(timeout=1)"), []),
    # twin: no probe
    (PROBE.replace("        if self._in_callback.acquire(False):\n            self._in_callback.release()\n"
                   "            return self.loop_write()", "        return self.loop_write()"),
     [("LW111", "m.py", 23)]),
    # twin: the probe of another lock says nothing about this one
    (PROBE.replace("        if self._in_callback.acquire(False):\n            self._in_callback.release()",
                   "        if self._other.acquire(False):\n            self._other.release()"), REENTERS),
    # twin: the negated probe: the call runs when the lock is *not* free
    (PROBE.replace("        if self._in_callback.acquire(False):\n            self._in_callback.release()\n"
                   "            return self.loop_write()",
                   "        if not self._in_callback.acquire(False):\n            return self.loop_write()\n"
                   "        self._in_callback.release()"), REENTERS),
    # twin: the call after the probe's if, not in its body
    (PROBE.replace("            return self.loop_write()\n        return 0",
                   "            pass\n        return self.loop_write()"), REENTERS),
])
def test_a_call_behind_a_try_lock_probe_does_not_reenter(source, found):
    assert codes(source) == found


def test_a_probe_keeps_the_order_edge_to_another_lock():
    # the probed call takes the probed lock, then _other; flush holds _other: the order
    # cycle stands, and so does the re-entry of _other (the probe was of another lock)
    source = PROBE.replace("            with self._in_callback:\n                pass",
                           "            with self._in_callback:\n                with self._other:\n"
                           "                    pass") + (
        "\n    def flush(self):\n        with self._other:\n            self._queue(b'y')\n")
    assert codes(source) == [("LW101", "m.py", 20), ("LW111", "m.py", 30)]
