"""P44: connect() of a Unix-domain datagram socket to a path waits for nothing (no name to
resolve, no handshake): not a blocking call under a lock. A Unix-domain *stream* socket's
connect, and a UDP socket's connect to a host name, still are."""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.static.engine import scan_sources

PROGRAM = """
    import socket
    import threading
    {imports}

    class Client:
        def __init__(self, addr):
            self.addr = addr
            self.sock = None
            self._lock = threading.Lock()

        def get(self):
            with self._lock:
                if self.sock is None:
                    s = socket.socket({family}, {kind})
                    s.connect(self.addr)
                    self.sock = s
                return self.sock
"""


def _codes(family: str, kind: str, imports: str = "") -> list[str]:
    src = textwrap.dedent(PROGRAM.format(family=family, kind=kind, imports=imports))
    return [f.code for f in scan_sources({"client.py": src}).findings]


@pytest.mark.parametrize("family, kind, imports", [
    ("socket.AF_UNIX", "socket.SOCK_DGRAM", ""),
    ("AF_UNIX", "SOCK_DGRAM", "from socket import AF_UNIX, SOCK_DGRAM"),
    ("family=socket.AF_UNIX", "type=socket.SOCK_DGRAM", ""),
])
def test_a_unix_datagram_connect_is_not_blocking(family, kind, imports):
    assert _codes(family, kind, imports) == []


@pytest.mark.parametrize("family, kind", [
    ("socket.AF_UNIX", "socket.SOCK_STREAM"),   # a stream connect may wait (a full backlog)
    ("socket.AF_INET", "socket.SOCK_DGRAM"),    # the address may be a host name to resolve
])
def test_other_connects_still_are(family, kind):
    assert _codes(family, kind) == ["LW131"]
