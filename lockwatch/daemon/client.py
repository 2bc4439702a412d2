"""The client side: ``lockwatch scan --daemon`` and ``lockwatch daemon start|stop|status``.

Kept cheap to import (``_socket``, ``marshal``, os, sys; subprocess only to start a
daemon): a hook run through the daemon is this module, one connection and the
report's bytes. Whatever goes wrong with the daemon, ``scan`` says so on stderr once and
runs the plain scan itself, so a broken daemon never blocks a commit.
"""

from __future__ import annotations

import os
import sys
import time

from lockwatch import __version__
from lockwatch.daemon import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT,
    ENV_TIMEOUT,
    PACKAGE_DIR,
    SCAN_ENV,
    Paths,
    Unavailable,
    project_root,
    protocol,
    unix_sockets,
)
from lockwatch.daemon.protocol import _socket

START_WAIT = 15.0    # seconds a new daemon may take to bind its socket
STOP_WAIT = 15.0
LOG_LIMIT = 1 << 20

# Options of ``lockwatch scan`` that take a value (``cli.build_parser``; a test keeps the
# two in step): the client skips their values when it looks for the paths given.
VALUE_OPTIONS = ("--format", "--output", "-o", "--select", "--extend-select", "--ignore",
                 "--exclude", "--extend-exclude", "--config", "--baseline", "--write-baseline",
                 "--jobs", "-j", "--cache-dir")
FLAG_OPTIONS = ("--exit-zero", "--no-cache", "--quiet", "-q", "--statistics", "--hook",
                "--daemon", "--help", "-h")


def split_scan_argv(argv: list[str]) -> tuple[list[str], bool]:
    """(the positional PATHs, hook mode) of ``scan`` arguments, as argparse would read
    them (long options may be abbreviated, ``--opt=value``, ``-oFILE``, ``--`` ends
    options). Only used to pick which daemon to ask: the daemon parses the real thing."""
    longs = [o for o in VALUE_OPTIONS + FLAG_OPTIONS if o.startswith("--")]
    paths: list[str] = []
    hook = False
    i = 0
    args = argv[1:] if argv[:1] == ["scan"] else list(argv)
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            paths.extend(args[i:])
            break
        if a.startswith("--"):
            name = a.split("=", 1)[0]
            hits = [o for o in longs if o == name] or [o for o in longs if o.startswith(name)]
            full = hits[0] if len(hits) == 1 else name
            if full == "--hook":
                hook = True
            if full in VALUE_OPTIONS and "=" not in a:
                i += 1
        elif a.startswith("-") and a != "-":
            if a[:2] in ("-o", "-j") and len(a) == 2:
                i += 1
        else:
            paths.append(a)
    return paths, hook


def scan_root(argv: list[str]) -> str:
    """The project whose daemon answers these ``scan`` arguments: in hook mode that of the
    first changed file (cli._hook_roots), else that of the first path (the CLI's ``start``)."""
    paths, hook = split_scan_argv(argv)
    if hook:
        files = [p for p in paths if os.path.isfile(p)]
        if files:
            return min(project_root(os.path.dirname(os.path.abspath(f)) or ".") for f in files)
        return project_root(".")
    return project_root(paths[0] if paths else ".")


def strip_daemon_flag(argv: list[str]) -> list[str]:
    """``argv`` without ``--daemon`` (or an abbreviation argparse would accept for it)."""
    out: list[str] = []
    for i, a in enumerate(argv):
        if a == "--":
            return out + argv[i:]
        if len(a) > 3 and "--daemon".startswith(a):
            continue
        out.append(a)
    return out


# ---- talking to a daemon -------------------------------------------------------------------

def _connect(path: str, timeout: float):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except BaseException:
        s.close()
        raise
    uid = protocol.peer_uid(s)
    if uid is not None and uid != os.getuid():
        s.close()
        raise Unavailable(f"the process at {path} runs as uid {uid}, not as you; not using it")
    return s


def ask(paths: Paths, request: dict, timeout: float) -> tuple[dict, list[bytes]]:
    """One request, one reply. Raises FileNotFoundError / ConnectionRefusedError when no
    daemon listens (no socket file / a stale one), ``Unavailable`` for anything else."""
    s = _connect(paths.socket, min(timeout, 5.0))
    try:
        s.settimeout(timeout)
        protocol.send(s, dict(request, version=__version__))
        return protocol.recv(s)
    except TimeoutError:
        raise Unavailable(f"no answer within {timeout:g} s (set {ENV_TIMEOUT} to wait longer)") from None
    except (EOFError, ConnectionResetError, BrokenPipeError):
        raise Unavailable("the daemon closed the connection without answering (did it die? "
                          f"see {paths.log})") from None
    except protocol.ProtocolError as e:
        raise Unavailable(f"unreadable answer: {e}") from None
    finally:
        s.close()


def running(paths: Paths) -> dict | None:
    """The daemon's status, None when none runs."""
    try:
        header, _ = ask(paths, {"op": "status"}, 10.0)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    return header if header.get("ok") else None


def spawn(paths: Paths, idle_timeout: float | None = None, warm: bool = False) -> None:
    """Start a detached daemon for ``paths.root`` (its own session, no terminal, stdio not
    the caller's: pre-commit waits for its hook's pipes to close, not for our daemon)."""
    import subprocess

    # -I: neither the current directory (the project being analysed: its modules must never
    # stand in for the ones we import, see pool._Worker) nor PYTHONPATH on the daemon's path;
    # lockwatch's own directory first, this process's other entries after the defaults.
    lw_root = os.path.dirname(PACKAGE_DIR)
    extra = [p for p in sys.path if p and p != lw_root and p != os.getcwd()]
    argv = ["--root", paths.root, "--idle-timeout", repr(float(idle_timeout or DEFAULT_IDLE_TIMEOUT))]
    if warm:
        argv.append("--warm")
    code = ("import sys; r = %r; b = [p for p in sys.path if p != r]; "
            "sys.path[:] = [r] + b + [p for p in %r if p not in b]; "
            "from lockwatch.daemon.server import main; sys.exit(main(%r))" % (lw_root, extra, argv))
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    try:
        if os.stat(paths.log).st_size > LOG_LIMIT:
            flags |= os.O_TRUNC  # the log of past lives, kept until it grows this big
    except OSError:
        pass
    fd = os.open(paths.log, flags, 0o600)
    try:
        subprocess.Popen([sys.executable, "-I", "-c", code], cwd=paths.root, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=fd, start_new_session=True, close_fds=True)
    finally:
        os.close(fd)


def wait_until_up(paths: Paths, timeout: float = START_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _connect(paths.socket, 1.0).close()
            return
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise Unavailable(f"the daemon did not start within {timeout:g} s (see {paths.log})") from None
            time.sleep(0.02)


def wait_until_gone(paths: Paths, timeout: float = STOP_WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _connect(paths.socket, 1.0).close()
        except (FileNotFoundError, ConnectionRefusedError):
            return True
        except Unavailable:
            return False
        time.sleep(0.05)
    return False


def _stream_info(stream) -> dict:
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return {"encoding": getattr(stream, "encoding", None) or "utf-8",
            "errors": getattr(stream, "errors", None) or "strict", "isatty": tty}


def request_scan(argv: list[str]) -> tuple[int, bytes, bytes]:
    """The daemon's answer to ``lockwatch <argv>`` (``argv`` without ``--daemon``): exit
    code, stdout bytes, stderr bytes. Starts a daemon when none runs. Raises ``Unavailable``."""
    if not unix_sockets():
        raise Unavailable("this platform has no Unix domain sockets")
    paths = Paths(scan_root(argv))
    try:
        timeout = float(os.environ.get(ENV_TIMEOUT) or DEFAULT_REQUEST_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_REQUEST_TIMEOUT
    req = {"op": "scan", "argv": list(argv), "cwd": os.getcwd(),
           "env": {k: os.environ[k] for k in SCAN_ENV if k in os.environ},
           "streams": {"stdout": _stream_info(sys.stdout), "stderr": _stream_info(sys.stderr)}}
    for attempt in range(2):
        try:
            header, blobs = ask(paths, req, timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            spawn(paths)
            wait_until_up(paths)
            header, blobs = _ask_started(paths, req, timeout)
        if header.get("ok"):
            out, err = (blobs + [b"", b""])[:2]
            return int(header.get("code", 2)), out, err
        if header.get("stale") and attempt == 0:
            # another version, or its code changed on disk: it is going; start ours
            if not wait_until_gone(paths):
                raise Unavailable(f"an outdated daemon ({header.get('error')}) does not go away")
            continue
        raise Unavailable(str(header.get("error") or "the daemon refused the request"))
    raise Unavailable("the daemon keeps refusing the request")


def _ask_started(paths: Paths, req: dict, timeout: float) -> tuple[dict, list[bytes]]:
    try:
        return ask(paths, req, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise Unavailable(f"the daemon it started went away (see {paths.log})") from None


def scan(argv: list[str], fallback) -> int:
    """``lockwatch scan --daemon ...``: the daemon's answer, else (said once on stderr)
    ``fallback(argv)``, the plain scan. ``argv`` may still hold ``--daemon``."""
    argv = strip_daemon_flag(argv)
    paths, hook = split_scan_argv(argv)
    if hook and not any(os.path.isfile(p) for p in paths):
        # no file to check (pre-commit staged no Python file): the plain scan returns at once
        return fallback(argv)
    try:
        code, out, err = request_scan(argv)
    except (Unavailable, OSError) as e:
        reason = str(e) if isinstance(e, Unavailable) else f"{type(e).__name__}: {e}"
        sys.stderr.write(f"lockwatch: daemon unavailable: {reason}; running a plain scan\n")
        sys.stderr.flush()
        return fallback(argv)
    except KeyboardInterrupt:
        print("lockwatch: interrupted", file=sys.stderr)  # as cli.main says it
        return 130
    try:
        for stream, data in ((sys.stdout, out), (sys.stderr, err)):
            if data:
                stream.flush()
                buf = getattr(stream, "buffer", None)
                if buf is not None:
                    buf.write(data)
                    buf.flush()
                else:
                    stream.write(data.decode(getattr(stream, "encoding", None) or "utf-8", "replace"))
                    stream.flush()
    except BrokenPipeError:
        # the reader left (``| head``): as cli.main, not an error of ours, exit 2
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 2
    return code
