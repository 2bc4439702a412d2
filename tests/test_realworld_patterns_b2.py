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
