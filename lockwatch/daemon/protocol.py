"""One message on the daemon's socket: a 4-byte big-endian length, a header of that length
(a dict of str, int, float, bool, None, lists and dicts, in ``marshal``'s format), then the
raw byte blobs the header lists (``"blobs": [n1, n2, ...]``: a scan's stdout and stderr,
bytes in the client's encoding that need no escaping).

Why marshal and not JSON: it is built into the interpreter, while ``import json`` pulls in
``re`` (~15-20 ms of a hook run's ~70). marshal is not meant for data from someone else;
here both ends are the same user (a 0700 directory, a 0600 socket, and on Linux the peer's
uid checked before anything is read), the same Python (the socket's name includes its
version), and every header is checked to be a dict of the expected shape after decoding.

Requests (client -> daemon), each with ``"version"`` (the client's lockwatch version):
``{"op": "scan", "argv": [...], "cwd": ..., "env": {...}, "streams": {...}}``,
``{"op": "status"}``, ``{"op": "stop"}``. Replies: ``{"ok": true, ...}`` (a scan's
``"code"`` and blobs stdout, stderr), ``{"ok": false, "error": msg}``, or
``{"ok": false, "stale": true, ...}`` (the daemon's code changed on disk or its version is
not the client's: it is going away, start a new one)."""

from __future__ import annotations

import marshal

try:
    # the C module: ``import socket`` adds enum, selectors... (~10-30 ms) for nothing we use
    import _socket
except ImportError:  # pragma: no cover - an interpreter without it
    import socket as _socket

MAX_HEADER = 16 * 1024 * 1024
MAX_BLOB = 1024 * 1024 * 1024


class ProtocolError(Exception):
    pass


_MARSHAL_VERSION = 4


def send(sock, header: dict, blobs: tuple[bytes, ...] | list[bytes] = ()) -> None:
    header = dict(header, blobs=[len(b) for b in blobs])
    data = marshal.dumps(header, _MARSHAL_VERSION)
    sock.sendall(len(data).to_bytes(4, "big") + data + b"".join(blobs))


def _exactly(sock, n: int) -> bytes:
    chunks = []
    while n:
        b = sock.recv(min(n, 1 << 20))
        if not b:
            raise EOFError("connection closed")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


_PLAIN = (str, int, float, bool, type(None))


def _plain(v, depth: int = 0) -> bool:
    if isinstance(v, _PLAIN):
        return True
    if depth > 8:
        return False
    if isinstance(v, list):
        return all(_plain(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x, depth + 1) for k, x in v.items())
    return False


def recv(sock) -> tuple[dict, list[bytes]]:
    n = int.from_bytes(_exactly(sock, 4), "big")
    if n > MAX_HEADER:
        raise ProtocolError(f"header of {n} bytes")
    try:
        header = marshal.loads(_exactly(sock, n))
    except (ValueError, EOFError, TypeError) as e:
        raise ProtocolError(f"bad header: {e}") from None
    if not isinstance(header, dict) or not _plain(header):
        raise ProtocolError("header is not a dict of plain values")
    sizes = header.get("blobs") or []
    if not isinstance(sizes, list) or not all(isinstance(s, int) and 0 <= s <= MAX_BLOB for s in sizes):
        raise ProtocolError("bad blob sizes")
    return header, [_exactly(sock, s) for s in sizes]


def peer_uid(sock) -> int | None:
    """The uid of the process at the other end (Linux SO_PEERCRED), None where the platform
    does not say (the 0700 directory is then the only guard)."""
    opt = getattr(_socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    import struct

    try:
        raw = sock.getsockopt(_socket.SOL_SOCKET, opt, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", raw)
    except (OSError, struct.error):
        return None
    return uid
