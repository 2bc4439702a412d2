"""One message on the daemon's socket: a 4-byte big-endian length, a JSON header of that
length, then the raw byte blobs the header lists (``"blobs": [n1, n2, ...]``: a scan's
stdout and stderr, which are bytes in the client's encoding and need no escaping).

Requests (client -> daemon), each with ``"version"`` (the client's lockwatch version):
``{"op": "scan", "argv": [...], "cwd": ..., "env": {...}, "streams": {...}}``,
``{"op": "status"}``, ``{"op": "stop"}``. Replies: ``{"ok": true, ...}`` (a scan's
``"code"`` and blobs stdout, stderr), ``{"ok": false, "error": msg}``, or
``{"ok": false, "stale": true, ...}`` (the daemon's code changed on disk or its version is
not the client's: it is going away, start a new one)."""

from __future__ import annotations

import json
import socket

MAX_HEADER = 16 * 1024 * 1024
MAX_BLOB = 1024 * 1024 * 1024


class ProtocolError(Exception):
    pass


def send(sock: socket.socket, header: dict, blobs: tuple[bytes, ...] | list[bytes] = ()) -> None:
    header = dict(header, blobs=[len(b) for b in blobs])
    data = json.dumps(header, separators=(",", ":")).encode("utf-8", "surrogatepass")
    sock.sendall(len(data).to_bytes(4, "big") + data + b"".join(blobs))


def _exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        b = sock.recv(min(n, 1 << 20))
        if not b:
            raise EOFError("connection closed")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def recv(sock: socket.socket) -> tuple[dict, list[bytes]]:
    n = int.from_bytes(_exactly(sock, 4), "big")
    if n > MAX_HEADER:
        raise ProtocolError(f"header of {n} bytes")
    try:
        header = json.loads(_exactly(sock, n))
    except ValueError as e:
        raise ProtocolError(f"bad header: {e}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    sizes = header.get("blobs") or []
    if not isinstance(sizes, list) or not all(isinstance(s, int) and 0 <= s <= MAX_BLOB for s in sizes):
        raise ProtocolError("bad blob sizes")
    return header, [_exactly(sock, s) for s in sizes]


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux SO_PEERCRED), None where the platform
    does not say (the 0700 directory is then the only guard)."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    import struct

    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", raw)
    except (OSError, struct.error):
        return None
    return uid
