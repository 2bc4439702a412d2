"""P23 and P26 (third real-world batch, docs/real-world.md): two calls taken for blocking
that do not wait.

- P23: ``connect()`` of a UDP socket to a numeric address (Dask's ``get_ip()``) only picks
  the local route. The linker types ``socket.socket(..., SOCK_DGRAM)`` as a datagram socket
  and ``catalog.datagram_connect_waits`` clears its ``connect()`` when the address is a
  literal tuple whose host the summary marks as a numeric address (``"ip"``, made by both
  walks for a numeric IPv4/IPv6 literal). A host that reaches ``connect()`` through a
  parameter (Dask's ``get_ip(host="8.8.8.8")``) is decided per call by
  ``graph.ConstantGuards`` (the repro below; the cases in tests/test_static_p23_default.py).
- P26: ``os.fdopen(fd)`` wraps an open descriptor: it is in no blocking set; ``open(fd)``
  does the same when ``fd`` is certainly one, and the linker keeps such a call out of its
  external names (``catalog.FD_OPENERS``); ``open(path)`` and reads on the wrapped file stay
  reported.

Every case runs through both summarisers (the ast walk and the libcst walk)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static import catalog, summarise_cst
from lockwatch.static.engine import analyse_summaries
from lockwatch.static.summarise_ast import summarise_tree

WALKS = ["ast", "cst"]


def _summary(src: str, walk: str):
    if walk == "ast":
        tree = compile(src, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        return summarise_tree(tree, src, "m.py", "m", False)
    return summarise_cst.summarise_module(src, "m.py", "m", False)


def _findings(src: str, walk: str) -> list:
    src = textwrap.dedent(src)
    s = _summary(src, walk)
    rep = analyse_summaries({"m": s}, Config())
    return sorted((f.code, f.location.line) for f in rep.findings)


def _both(src: str) -> list:
    a = _findings(src, "ast")
    assert a == _findings(src, "cst")
    return a


def _line(src: str, text: str) -> int:
    return next(i for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1) if text in ln)


# ---------------------------------------------------------------------------- P23

GET_IP = """
import socket
import threading
from socket import SOCK_DGRAM


def get_ip():
    sock = SOCKET
    try:
        sock.connect((HOST, 80))
        return sock.getsockname()[0]
    finally:
        sock.close()


async def assert_reachable(port):
    return f"tcp://{get_ip()}:{port}"


class Manager:
    def __init__(self):
        self.lock = threading.Lock()
        self.listeners = {}

    def get_listener_for(self, addr):
        with self.lock:
            if not addr.startswith(get_ip()):
                raise ValueError(addr)
            return self.listeners.get(addr)
"""
REPORTED = [("LW131", _line(GET_IP, "addr.startswith(get_ip())")),
            ("LW201", _line(GET_IP, "tcp://"))]
UDP = "socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
TCP = "socket.socket(socket.AF_INET, socket.SOCK_STREAM)"


def _get_ip(socket_expr: str, host: str = '"8.8.8.8"') -> str:
    return GET_IP.replace("SOCKET", socket_expr).replace("HOST", host)


@pytest.mark.parametrize("sock", [
    UDP,
    "socket.socket(socket.AF_INET, type=socket.SOCK_DGRAM)",
    "socket.socket(socket.AF_INET6, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)",
    "socket.socket(socket.AF_INET, SOCK_DGRAM)",            # from socket import SOCK_DGRAM
    "socket.socket(family=socket.AF_INET, type=SOCK_DGRAM)",
])
@pytest.mark.parametrize("host", ['"8.8.8.8"', '"2001:4860:4860::8888"', '"127.0.0.1"'])
def test_udp_connect_to_numeric_literal_is_not_blocking(sock, host):
    assert _both(_get_ip(sock, host)) == []


@pytest.mark.parametrize("sock", [
    TCP,
    "socket.socket()",                                      # the default type is SOCK_STREAM
    "socket.socket(socket.AF_INET, type=socket.SOCK_STREAM)",
    "socket.create_connection((HOST, 80))",
])
def test_stream_socket_connect_stays_blocking(sock):
    # the twin: a TCP connect waits for the handshake whatever the address
    assert _both(_get_ip(sock.replace("HOST", '"8.8.8.8"'))) == REPORTED


@pytest.mark.parametrize("host", [
    '"scheduler.internal"',        # a host name: connect() resolves it (DNS), C45's shape
    '"localhost"',
    '"999.1.1.1"',                 # address-shaped, but not an address: a name to the resolver
    "host",                        # a parameter whose default is a host name
    'f"{host}"',
])
def test_udp_connect_to_a_name_or_unknown_host_stays_blocking(host):
    # (a parameter with a numeric default: tests/test_static_p23_default.py)
    src = _get_ip(UDP, host).replace("def get_ip():", "def get_ip(host='scheduler.internal'):")
    assert _both(src) == REPORTED


def test_udp_connect_through_an_address_variable_stays_blocking():
    # only a literal tuple at the call is read: ``addr = (...)`` elsewhere is not followed
    src = _get_ip(UDP).replace('sock.connect(("8.8.8.8", 80))',
                               'addr = ("8.8.8.8", 80)\n        sock.connect(addr)')
    assert _both(src) == [("LW131", _line(src, "addr.startswith(get_ip())")),
                          ("LW201", _line(src, "tcp://"))]


def test_other_calls_on_a_udp_socket_still_block():
    # recv() on a datagram socket waits for a datagram: the type only clears connect()
    src = _get_ip(UDP).replace("return sock.getsockname()[0]", "return sock.recv(512)")
    assert _both(src) == REPORTED


def test_udp_socket_in_with_and_in_an_attribute():
    src = """
    import socket
    import threading


    class Prober:
        def __init__(self):
            self.lock = threading.Lock()
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

        def local_ip(self):
            with self.lock:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.connect(("10.255.255.255", 1))
                self._udp.connect(("192.0.2.1", 9))
                self._tcp.connect(("192.0.2.1", 9))
                return s.getsockname()[0]
    """
    assert _both(src) == [("LW131", _line(src, "self._tcp.connect"))]


def test_the_summaries_mark_a_numeric_address_literal():
    for walk in WALKS:
        s = _summary(textwrap.dedent(_get_ip(UDP)), walk)
        connect = next(ev for ev in s.functions["get_ip"].events
                       if ev["e"] == "call" and ev["f"].endswith(".connect"))
        assert connect["a"][0]["cont"] == {"const": "str", "s": "8.8.8.8", "ip": "8.8.8.8"}


REPRO = """
import socket
import threading


def get_ip(host="8.8.8.8", port=80):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect((host, port))
        return sock.getsockname()[0]
    finally:
        sock.close()


async def assert_reachable(port):
    return f"tcp://{get_ip()}:{port}"


class Manager:
    def __init__(self):
        self.lock = threading.Lock()
        self.listeners = {}

    def get_listener_for(self, addr):
        with self.lock:
            if not addr.startswith(get_ip()):
                raise ValueError(addr)
            return self.listeners.get(addr)
"""


def test_repro_udp_get_ip_with_numeric_default_is_not_reported():
    assert _both(REPRO) == []


def test_repro_twin_tcp_get_ip_is_reported():
    twin = REPRO.replace("socket.SOCK_DGRAM", "socket.SOCK_STREAM")
    assert _both(twin) == [("LW131", _line(REPRO, "addr.startswith(get_ip())")),
                                       ("LW201", _line(REPRO, "tcp://"))]


@pytest.mark.parametrize("args, kws, dgram", [
    ([{"r": "socket.AF_INET"}, {"r": "socket.SOCK_DGRAM"}], {}, True),
    ([{"r": "family"}, {"r": "SOCK_DGRAM"}], {}, True),
    ([{"r": "socket.AF_INET"}], {"type": {"r": "socket.SOCK_DGRAM"}}, True),
    ([{"r": "socket.AF_INET"}, {"flags": ["socket.SOCK_DGRAM", "socket.SOCK_NONBLOCK"]}], {}, True),
    ([{"r": "socket.AF_INET"}, {"r": "socket.SOCK_STREAM"}], {}, False),
    ([{"r": "socket.SOCK_DGRAM"}], {}, False),          # first argument is the family
    ([], {}, False),
    ([{"r": "socket.AF_INET"}, {"r": "kind"}], {}, False),
])
def test_socket_is_datagram(args, kws, dgram):
    assert catalog.socket_is_datagram(args, kws) is dgram


@pytest.mark.parametrize("v, numeric", [
    ({"const": "str", "ip": "8.8.8.8"}, True),
    ({"const": "str", "ip": "2001:4860:4860::8888"}, True),
    ({"const": "str", "ip": "::1"}, True),
    ({"const": "str", "ip": "dns.google"}, False),
    ({"const": "str", "ip": "8.8.8"}, False),
    ({"const": "str"}, False),
    ({"r": "host"}, False),
    (None, False),
])
def test_numeric_host(v, numeric):
    assert catalog.numeric_host(v) is numeric


def test_datagram_connect_waits_reads_the_tuple_head():
    ip = {"const": "str", "ip": "8.8.8.8"}
    assert catalog.datagram_connect_waits([{"cont": ip}], {}) is False
    assert catalog.datagram_connect_waits([], {"address": {"cont": ip}}) is False
    assert catalog.datagram_connect_waits([{"cont": {"const": "str"}}], {}) is True
    assert catalog.datagram_connect_waits([{"r": "addr"}], {}) is True
    assert catalog.datagram_connect_waits([], {}) is True


# ---------------------------------------------------------------------------- P26

REDIRECT = """
import asyncio
import os


async def redirect_stdin(source, protocol_factory):
    loop = asyncio.get_running_loop()
    file = OPEN
    return await loop.connect_read_pipe(protocol_factory, file)
"""


def _redirect(expr: str) -> str:
    return REDIRECT.replace("OPEN", expr)


@pytest.mark.parametrize("expr", [
    'open(source, "rb", buffering=0)',
    'open("/run/app/stdin.fifo", "rb")',
    'io.open(source, "rb")',
])
def test_open_of_a_path_in_async_is_reported(expr):
    src = _redirect(expr).replace("import os", "import io\nimport os")
    assert _both(src) == [("LW201", _line(src, "file ="))]


@pytest.mark.parametrize("expr", [
    'os.fdopen(source, "rb", buffering=0)',
    'os.fdopen(os.dup(source), "rb", buffering=0)',
    'os.fdopen(source.detach(), "wb")',
    'fdopen(source, "rb")',                        # from os import fdopen
    # open()/io.open() of something that is certainly a descriptor
    'open(0, "rb", closefd=False)',
    'open(source.fileno(), "rb", closefd=False)',
    'open(os.dup(source), "rb")',
    'io.open(os.dup(source), "rb")',
    'open(file=os.dup(source), mode="rb")',
])
def test_wrapping_an_open_descriptor_in_async_is_not_reported(expr):
    src = _redirect(expr).replace("import os", "import io\nimport os\nfrom os import fdopen")
    assert _both(src) == []


@pytest.mark.parametrize("expr", [
    'open(source, "rb")',                          # a parameter: a path as far as is known
    'open(fd, "rb")',                              # a name bound to os.dup(): not followed
    'open(source.name, "rb")',
    'open(True, "rb")',                            # a bool is no descriptor literal
    'open(source.fileno, "rb")',                   # not a call of fileno()
    'open(os.path.join(source, "stdin"), "rb")',
])
def test_open_of_what_may_be_a_path_stays_reported(expr):
    src = _redirect(expr).replace("loop = asyncio", "fd = os.dup(source)\n    loop = asyncio")
    assert _both(src) == [("LW201", _line(src, "file ="))]


def test_fdopen_under_a_lock_is_not_reported_and_open_is_not_either():
    # LW131 has never counted file opens; the change must not add or remove anything there
    src = """
    import os
    import threading

    lock = threading.Lock()


    def reopen(fd, path):
        with lock:
            a = os.fdopen(fd, "rb")
            b = open(path, "rb")
            return a, b
    """
    assert _both(src) == []


def test_reading_a_fdopened_file_in_async_is_reported():
    # the wrapper does no I/O, its reads do: the file is typed as io.TextIOWrapper
    src = """
    import os


    async def slurp(fd):
        f = os.fdopen(fd, "rb")
        return f.read()
    """
    assert ("LW201", _line(src, "f.read()")) in _both(src)
