"""``lockwatch daemon``: a resident analysis process per project, which ``lockwatch scan
--daemon`` (and the ``lockwatch-daemon`` pre-commit hook) asks instead of scanning from disk.

This module is what both sides share, and the client imports it before talking to the
socket, so it imports only the standard library's small modules (os, sys, zlib): a hook
run must not pay for the analysis' imports to ask a process that already holds them.

Where a daemon lives: one Unix domain socket per (project root, lockwatch version,
lockwatch installation) in a private directory (mode 0700, owned by the user):
``$LOCKWATCH_DAEMON_DIR`` if set (tests), else ``$XDG_RUNTIME_DIR/lockwatch``, else
``/tmp/lockwatch-<uid>``. Beside the socket: a lock file the daemon holds (``flock``) for
its whole life, so a socket file without a live daemon is recognisable as stale, and two
daemons for one project cannot both run; and the daemon's log.
"""

from __future__ import annotations

import os
import sys
import zlib

from lockwatch import __version__

# (config.find_project_root itself: a module that imports only os, cheap for the client)
from lockwatch.projectroot import find_project_root as project_root  # noqa: F401

ENV_DIR = "LOCKWATCH_DAEMON_DIR"
ENV_TIMEOUT = "LOCKWATCH_DAEMON_TIMEOUT"   # seconds the client waits for an answer
DEFAULT_IDLE_TIMEOUT = 3600.0
DEFAULT_REQUEST_TIMEOUT = 120.0
# What a scan reads from the environment (colour, the parse budget, worker debugging): the
# client sends these, and the daemon runs the request with exactly them set or unset.
SCAN_ENV = ("NO_COLOR", "FORCE_COLOR", "TERM", "LOCKWATCH_PARSE_TIMEOUT", "LOCKWATCH_DEBUG")
# The lockwatch package this process runs: part of the socket's name, so a client never
# asks a daemon of another installation (another checkout, another virtualenv).
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# AF_UNIX socket paths are limited to 108 bytes on Linux (104 on macOS).
_MAX_SOCKET_PATH = 100


class Unavailable(Exception):
    """The daemon cannot be used (no AF_UNIX, an unsafe directory, it does not answer...);
    the message says why, in words for the user."""


def unix_sockets() -> bool:
    try:
        import _socket
    except ImportError:  # pragma: no cover
        import socket as _socket
    return hasattr(_socket, "AF_UNIX") and sys.platform != "win32"


def socket_dir(create: bool = True) -> str:
    """The private directory of this user's daemons; created 0700 when missing. Raises
    ``Unavailable`` when it exists but someone else owns it or others may enter it (another
    user could then put a socket of theirs where our client looks, or talk to ours)."""
    d = os.environ.get(ENV_DIR)
    if not d:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg and os.path.isdir(xdg):
            d = os.path.join(xdg, "lockwatch")
        else:
            d = os.path.join("/tmp", f"lockwatch-{os.getuid()}")
    d = os.path.abspath(d)
    if create:
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
        except OSError as e:
            raise Unavailable(f"cannot create the daemon directory {d}: {e.strerror or e}") from None
    try:
        st = os.lstat(d)
    except OSError as e:
        raise Unavailable(f"no daemon directory {d}: {e.strerror or e}") from None
    import stat

    if not stat.S_ISDIR(st.st_mode):
        raise Unavailable(f"{d} is not a directory (a symlink?); refusing to use it for the daemon's socket")
    if st.st_uid != os.getuid():
        raise Unavailable(f"{d} belongs to uid {st.st_uid}, not to you; refusing to use it for the daemon's socket")
    if st.st_mode & 0o077:
        raise Unavailable(f"{d} is accessible to other users (mode {stat.S_IMODE(st.st_mode):o}); "
                          "refusing to use it for the daemon's socket (chmod 700 it)")
    return d


def daemon_id(root: str) -> str:
    """16 hex digits naming the daemon of ``root`` for this lockwatch version and install
    (two CRC-32s with different seeds: no hashlib import on the client's path; a collision
    would only make one project's daemon answer another's scan, which it answers right,
    since every request carries its own arguments and directory)."""
    data = f"{os.path.abspath(root)}\0{__version__}\0{PACKAGE_DIR}\0{sys.version_info[:2]}".encode(
        "utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.crc32(data, 0x5A17):08x}"


class Paths:
    """The files of one project's daemon."""

    def __init__(self, root: str, directory: str | None = None) -> None:
        self.root = os.path.abspath(root)
        self.dir = directory or socket_dir()
        name = "lw-" + daemon_id(self.root)
        self.socket = os.path.join(self.dir, name + ".sock")
        self.lock = os.path.join(self.dir, name + ".lock")
        self.log = os.path.join(self.dir, name + ".log")
        if len(self.socket.encode()) > _MAX_SOCKET_PATH:
            raise Unavailable(f"the socket path {self.socket} is too long for a Unix socket; "
                              f"set {ENV_DIR} to a shorter directory")
