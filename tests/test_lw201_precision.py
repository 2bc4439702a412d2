"""LW201 precision: calls on non-blocking sockets (docs/real-world.md P1) and ``self.m()``
reaching a subclass override only by virtual dispatch (P10). Each silence has a blocking
twin that must stay reported, and the summary fact the socket check reads (``xc`` on call
events) is checked in both summarisers."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.config import Config
from lockwatch.static import summarise_cst
from lockwatch.static.engine import scan_sources
from lockwatch.static.summarise_ast import summarise_tree
from lockwatch.static.summary import ERRNO_WOULD_BLOCK


def lw201(src: str | dict) -> list:
    files = {"app.py": textwrap.dedent(src)} if isinstance(src, str) else {
        k: textwrap.dedent(v) for k, v in src.items()}
    rep = scan_sources(files, Config(select=["LW201"]))
    assert not rep.errors, rep.errors
    return sorted((f.path, f.line) for f in rep.findings if f.code == "LW201")


def call_xc(src: str) -> dict:
    """{(function, callee ref): xc} from both summarisers, which must agree."""
    src = textwrap.dedent(src)
    tree = compile(src, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    a = summarise_tree(tree, src, "m.py", "m").to_dict()
    c = summarise_cst.summarise_module(src, "m.py", "m").to_dict()
    assert a == c
    return {(q, ev["f"]): ev.get("xc") for q, f in a["functions"].items()
            for ev in f["events"] if ev["e"] == "call"}


# ------------------------------------------------------------------ the summary fact


def test_xc_names_the_would_block_handlers_of_every_enclosing_try():
    xc = call_xc('''
    import ssl

    def f(s):
        try:
            try:
                s.send(b"x")
            except (ssl.SSLWantWriteError, KeyError):
                s.close()
        except BlockingIOError:
            pass
        try:
            def later():
                s.recv(8)
        except InterruptedError:
            pass
    ''')
    assert xc[("f", "s.send")] == ["BlockingIOError", "SSLWantWriteError"]
    assert xc[("f", "s.close")] == ["BlockingIOError"]         # a handler is in the outer body
    assert xc[("f.<locals>.later", "s.recv")] is None          # a nested def is its own scope


def test_xc_per_call_in_source_order():
    src = textwrap.dedent('''
    import errno

    def f(s):
        try:
            s.recv(1)
        except BlockingIOError:
            s.recv(2)
        else:
            s.recv(3)
        finally:
            s.recv(4)
        try:
            s.recv(5)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                pass
        try:
            s.recv(6)
        except (ConnectionResetError, OSError):
            raise
    ''')
    call_xc(src)   # both summarisers agree
    tree = compile(src, "m.py", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    evs = [ev for ev in summarise_tree(tree, src, "m.py", "m").functions["f"].events
           if ev["e"] == "call" and ev["f"] == "s.recv"]
    assert [ev.get("xc") for ev in evs] == [
        ["BlockingIOError"], None, None, None, [ERRNO_WOULD_BLOCK], None]


# ------------------------------------------------------------------ P1: non-blocking sockets

P1_STREAM = '''
import asyncio
import socket


class Stream:
    def __init__(self, sock: socket.socket):
        {setup}
        self._sock = sock

    async def receive(self):
        return self._sock.recv(4096)
'''


def test_socket_made_non_blocking_in_the_constructor_that_stores_it():
    assert lw201(P1_STREAM.format(setup="sock.setblocking(False)")) == []
    assert lw201(P1_STREAM.format(setup="sock.settimeout(0)")) == []
    assert lw201(P1_STREAM.format(setup="self_ = None")) == [("app.py", 12)]
    assert lw201(P1_STREAM.format(setup="sock.setblocking(True)")) == [("app.py", 12)]
    assert lw201(P1_STREAM.format(setup="sock.settimeout(5)")) == [("app.py", 12)]


def test_attribute_made_non_blocking_in_a_base_class_method():
    src = '''
    import socket


    class Base:
        def __init__(self, sock: socket.socket):
            self._sock = sock
            self._sock.setblocking(False)


    class Stream(Base):
        async def receive(self):
            return self._sock.recv(4096)


    class Other:
        def __init__(self, sock: socket.socket):
            self._sock = sock

        async def receive(self):
            return self._sock.recv(4096)
    '''
    assert lw201(src) == [("app.py", 21)]


@pytest.mark.parametrize("handler", [
    "except BlockingIOError:\n            pass",
    "except (InterruptedError, BlockingIOError):\n            pass",
    "except ssl.SSLWantReadError:\n            pass",
    "except OSError as e:\n            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):\n                raise",
])
def test_call_in_a_try_that_catches_would_block(handler):
    src = f'''
    import errno
    import socket
    import ssl


    async def pull(addr):
        sock = socket.socket()
        try:
            return sock.recv(10)
        {handler}
    '''
    assert lw201(src) == []


def test_try_that_catches_other_errors_or_call_outside_the_try_is_reported():
    src = '''
    import socket


    async def pull(addr):
        sock = socket.socket()
        try:
            data = sock.recv(10)
        except (ConnectionResetError, OSError):
            data = b""
        try:
            pass
        except BlockingIOError:
            pass
        else:
            data += sock.recv(10)
        return data
    '''
    assert lw201(src) == [("app.py", 8), ("app.py", 16)]


def test_socket_registered_with_the_loop_readiness_api():
    src = '''
    import asyncio
    import socket


    async def by_reader(sock: socket.socket):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.add_reader(sock.fileno(), fut.set_result, None)
        await fut
        return sock.recv(10)


    async def by_sock_api(sock: socket.socket, other: socket.socket):
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("example.org", 80))
        sock.sendall(b"ping")
        return other.recv(10)
    '''
    assert lw201(src) == [("app.py", 18)]


def test_plain_connection_and_create_connection_stay_reported():
    src = '''
    import socket


    async def banner(addr):
        sock = socket.create_connection(addr)
        other = socket.create_connection(addr)
        other.setblocking(False)
        return sock.recv(10) + other.recv(10)
    '''
    # setblocking on one object says nothing of another; creating the connection blocks
    found = lw201(src)
    assert found == [("app.py", 6), ("app.py", 7), ("app.py", 9)]


def test_non_blocking_socket_in_a_sync_helper():
    src = '''
    import socket


    def drain(sock: socket.socket):
        sock.setblocking(False)
        try:
            return sock.recv(1 << 16)
        except BlockingIOError:
            return b""


    def read_all(sock: socket.socket):
        return sock.recv(1 << 16)


    async def tick(sock: socket.socket):
        drain(sock)
        read_all(sock)
    '''
    assert lw201(src) == [("app.py", 19)]


# ------------------------------------------------------------------ P10: subclass overrides

P10 = {
    "bars/__init__.py": "",
    "bars/std.py": '''
        import time


        class Bar:
            def close(self):
                pass

            def flush(self):
                time.sleep(0.1)

            async def __anext__(self):
                self.close()
                self.flush()
                return 1
    ''',
    "bars/tele.py": '''
        import time

        from bars.std import Bar


        class Tele(Bar):
            def close(self):
                time.sleep(1)

            def flush(self):
                pass

            async def finish(self):
                self.close()


        async def report():
            t = Tele()
            t.close()


        async def report_base(b: Bar):
            b.close()
    ''',
}


def test_override_reached_only_by_virtual_dispatch_is_not_followed():
    found = lw201(P10)
    # Bar.__anext__: self.close() is Bar.close (no finding); self.flush() is Bar.flush,
    # which blocks even though Tele's override does not (kept)
    assert ("bars/std.py", 13) not in found
    assert ("bars/std.py", 14) in found
    # the receiver is known to be a Tele: the coroutine is Tele's, or the object is built
    # as one; a parameter typed as the base is the base's close
    assert ("bars/tele.py", 15) in found
    assert ("bars/tele.py", 24) not in found
    assert len(found) == 2
    # report()'s t.close() reaches the same time.sleep as Tele.finish: one finding, that
    # call among its related locations (tests/test_rule_lw201_merge.py)
    files = {k: textwrap.dedent(v) for k, v in P10.items()}
    tele = [f for f in scan_sources(files, Config(select=["LW201"])).findings if f.path == "bars/tele.py"]
    assert [(r.path, r.line) for r in tele[0].related][-1] == ("bars/tele.py", 20)


def test_override_through_a_sync_helper_is_not_followed_either():
    src = '''
    import time


    class Bar:
        def close(self):
            pass

        def _finish(self):
            self.close()

        async def __anext__(self):
            self._finish()


    class Tele(Bar):
        def close(self):
            time.sleep(1)
    '''
    assert lw201(src) == []
