"""Witness steps of LW1xx findings name a module function by its module when a method of the
same name exists (docs/real-world.md, fifth batch: websocket-client's witness read
``... calls WebSocket._recv`` then a bare ``... calls recv``, the module function
``websocket._socket.recv``, next to the method ``WebSocket.recv``). A module function whose
name no method has keeps its bare name.
"""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import scan_sources

SOCKET = """
import socket


def recv(sock: socket.socket, n):
    return sock.recv(n)


def read_exactly(sock: socket.socket, n):
    return sock.recv(n)
"""

CORE = """
import socket
import threading

from pkg._socket import read_exactly, recv


class WebSocket:
    def __init__(self):
        self.sock = socket.create_connection(("example.com", 80))
        self.readlock = threading.Lock()

    def _recv(self, n):
        return recv(self.sock, n)

    def recv(self):
        with self.readlock:
            return self._recv(2)

    def recv_exact(self):
        with self.readlock:
            return read_exactly(self.sock, 2)
"""


def findings(code):
    files = {"pkg/__init__.py": "", "pkg/_socket.py": SOCKET, "pkg/_core.py": CORE}
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    return [f for f in scan_sources(files, Config()).findings if f.code == code]


def test_a_module_function_named_like_a_method_is_qualified_in_the_witness():
    (f,) = [f for f in findings("LW131") if f.line == 18]
    notes = [r.note for r in f.related]
    assert notes == [
        "WebSocket.recv holds WebSocket.readlock",
        "... calls WebSocket._recv",
        "... calls _socket.recv",
        "... which calls socket.socket.recv",
    ]
    assert "(through WebSocket._recv -> _socket.recv)" in f.message


def test_a_module_function_with_a_name_of_its_own_stays_bare():
    (f,) = [f for f in findings("LW131") if f.line == 22]
    assert [r.note for r in f.related][1] == "... calls read_exactly"
    assert "(through read_exactly)" in f.message


def test_lock_order_witnesses_qualify_the_same_way():
    src = """
    import threading

    A = threading.Lock()
    B = threading.Lock()


    def close():
        with B:
            pass


    class Conn:
        def close(self):
            with A:
                pass


    def user():
        with A:
            close()


    def other():
        with B:
            with A:
                pass
    """
    rep = scan_sources({"conn.py": textwrap.dedent(src)}, Config())
    (f,) = [f for f in rep.findings if f.code == "LW101"]
    notes = [r.note for r in f.related]
    assert "... calls conn.close" in notes
    assert "... calls close" not in notes
