"""``socket.getaddrinfo`` (a DNS lookup) under a lock is LW131 (it was in LW201's catalog
only: ddtrace's vendored dogstatsd resolves its agent's host under ``_socket_lock``), except
where it resolves nothing: a numeric address literal or ``None`` for the host (P23's rule), or
``AI_NUMERICHOST`` in its flags (P19's). LW201 reads the same catalog entry."""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.static.engine import scan_sources

HOLD = """\
import socket
import threading
from socket import AI_NUMERICHOST

_lock = threading.Lock()
_NUMERIC_ONLY = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


def resolve(host, port):
    with _lock:
        return {call}
"""

WAITS = [
    "socket.getaddrinfo(host, port)",
    "socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)",
    'socket.getaddrinfo("statsd.internal", port)',
    "socket.getaddrinfo(host=host, port=port)",
]

DOES_NOT_WAIT = [
    'socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_DGRAM)',
    'socket.getaddrinfo("::1", port)',
    'socket.getaddrinfo(host="10.1.2.3", port=port)',
    "socket.getaddrinfo(None, port, flags=socket.AI_PASSIVE)",
    "socket.getaddrinfo(host, port, 0, 0, 0, _NUMERIC_ONLY)",
    "socket.getaddrinfo(host, port, flags=AI_NUMERICHOST)",
]


def _found(src: str) -> list[tuple[str, int]]:
    compile(src, "m.py", "exec")   # a program that does not parse would give nothing
    return [(f.code, f.location.line) for f in scan_sources({"m.py": src}).findings]


@pytest.mark.parametrize("call", WAITS)
def test_a_lookup_under_a_lock_is_reported(call):
    assert _found(HOLD.format(call=call)) == [("LW131", 11)]


@pytest.mark.parametrize("call", DOES_NOT_WAIT)
def test_a_lookup_that_resolves_nothing_is_not(call):
    assert _found(HOLD.format(call=call)) == []


def test_reached_through_a_helper():
    src = textwrap.dedent("""
        import socket
        import threading


        class StatsClient:
            def __init__(self, host):
                self.host = host
                self.sock = None
                self._lock = threading.Lock()

            @staticmethod
            def _udp_socket(host, port):
                family, kind, proto, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
                return socket.socket(family, kind, proto)

            def get_socket(self):
                with self._lock:
                    if self.sock is None:
                        self.sock = self._udp_socket(self.host, 8125)
                    return self.sock
    """)
    assert _found(src) == [("LW131", 20)]


@pytest.mark.parametrize("host, reported", [("host", True), ('"127.0.0.1"', False)])
def test_lw201_reads_the_same_rule(host, reported):
    src = f"import socket\n\n\nasync def lookup(host):\n    return socket.getaddrinfo({host}, 80)\n"
    assert _found(src) == ([("LW201", 5)] if reported else [])
