"""The resident process: ``python -I -c '...; from lockwatch.daemon.server import main'``,
started detached by the client (``lockwatch daemon start`` or ``scan --daemon``).

A scan request is answered by running the command line itself, ``cli.main(argv)``, in the
client's directory and with the client's scan environment (``SCAN_ENV``), stdout and stderr
captured in the client's encodings, and with the engine's scan answered from memory
(``state.Project.scan`` in place of ``cli._engine_scan``). So every option behaves as in a
plain scan, because it is the plain scan's code that runs; only where the report comes from
differs. The configuration is read per request, as the CLI does.

Threads: the main thread accepts connections, one thread per connection (so ``status``
answers while a scan runs), and a watcher that polls the current scan's files every
``POLL`` seconds and brings it up to date on its own after a short debounce, so that the
commit-time request finds the analysis done. Scans and updates hold one lock: the analysis
never runs twice at once, and a request that comes during an update waits for it.

The process exits when asked (``stop``), after ``idle_timeout`` seconds without a request,
on SIGTERM/SIGINT/SIGHUP, and when lockwatch's own code changes on disk (an upgrade: a
daemon must never answer with old code). It removes its socket when it goes.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import io
import os
import signal
import socket
import sys
import threading
import time
import traceback

from lockwatch import __version__
from lockwatch.daemon import (
    DEFAULT_IDLE_TIMEOUT,
    PACKAGE_DIR,
    SCAN_ENV,
    Paths,
    protocol,
)

POLL = 0.5
DEBOUNCE = 0.15          # a change must hold still this long before the watcher analyses
DEBOUNCE_MAX = 2.0
REDISCOVER_EVERY = 5.0   # the watcher re-runs discovery this often even with no dir change
CODE_CHECK_EVERY = 2.0
# The linked model has reference cycles, so a replaced analysis is freed only by a
# collection (~0.5-2 s on the CPython stdlib, depending on load). It runs right after the
# analysis that replaced one (the watcher's, or a request's once its answer is sent), so
# that the background work after a save is one stretch, done before the commit asks.
# Each request also leaves a little cyclic garbage of its own (argparse's parser):
# collected after this many requests, when the daemon has been quiet for GC_IDLE seconds.
GC_REQUESTS = 200
GC_IDLE = 5.0
# Test-only: seconds each scan request sleeps before answering (to kill or time out a daemon
# in the middle of a request). Read once, at start-up, from the daemon's environment.
_DELAY_ENV = "LOCKWATCH_DAEMON_TEST_DELAY"


def code_stamp() -> tuple:
    """(path, mtime, size) of every .py file of the lockwatch package this process runs."""
    out = []
    for dirpath, dirnames, filenames in os.walk(PACKAGE_DIR):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for n in sorted(filenames):
            if n.endswith(".py"):
                p = os.path.join(dirpath, n)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                out.append((p, st.st_mtime_ns, st.st_size))
    return tuple(out)


class _Fault(BaseException):
    """An error in the daemon's own machinery during a scan. A BaseException so that
    ``cli.main``'s handler (which turns a crash into exit 2) lets it through: the client
    then falls back to a plain scan instead of showing the daemon's error as the scan's."""


class _Capture(io.TextIOWrapper):
    def __init__(self, encoding: str, errors: str, tty: bool) -> None:
        super().__init__(io.BytesIO(), encoding=encoding or "utf-8", errors=errors or "strict",
                         write_through=True)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def value(self) -> bytes:
        self.flush()
        return self.buffer.getvalue()


class Server:
    def __init__(self, root: str, idle_timeout: float, warm: bool = False) -> None:
        self.paths = Paths(root)
        self.root = self.paths.root
        self.idle_timeout = idle_timeout
        self.warm = warm
        self.lock = threading.Lock()          # the analysis: scans, updates, gc
        self.stopping = threading.Event()
        self.started = time.time()
        self.last_request = time.monotonic()
        self.requests = 0
        self.busy: str | None = None         # what holds the analysis lock, for status
        self.pending_change = False          # the watcher saw a change not yet analysed
        self.garbage = 0                     # analyses since the last collection
        self.requests_since_gc = 0
        self.last_activity = time.monotonic()
        self.code = code_stamp()
        self.stale_code = False
        self.delay = float(os.environ.get(_DELAY_ENV) or 0)
        self.sock: socket.socket | None = None
        self.lock_fd: int | None = None
        self.project = None
        self.cli = None

    # -- life cycle -----------------------------------------------------------------------

    def log(self, msg: str) -> None:
        try:
            sys.__stderr__.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {msg}\n")
            sys.__stderr__.flush()
        except (OSError, ValueError, AttributeError):
            pass

    def claim(self) -> bool:
        """Take the project's lock file and bind the socket; False if a daemon runs."""
        fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            os.unlink(self.paths.socket)  # a stale socket: whoever bound it is gone (lock free)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            s.bind(self.paths.socket)
        finally:
            os.umask(old)
        s.listen(16)
        s.settimeout(POLL)
        self.sock = s
        self.sock_ino = os.stat(self.paths.socket).st_ino
        return True

    def serve(self) -> int:
        if not self.claim():
            self.log(f"a daemon for {self.root} is already running")
            return 3
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.log(f"lockwatch {__version__} daemon for {self.root} listening on {self.paths.socket}")
        try:
            self._load()
            threading.Thread(target=self._watch, name="lockwatch-watcher", daemon=True).start()
            if self.warm:
                threading.Thread(target=self._warm_up, name="lockwatch-warm", daemon=True).start()
            while not self.stopping.is_set():
                try:
                    conn, _ = self.sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self.stopping.is_set():
                        break
                    raise
                threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
        finally:
            self._close()
        return 0

    def _load(self) -> None:
        # Imported after the socket is up: a client connects at once and waits for the answer.
        gc.disable()  # collected explicitly after each analysis (see _collect)
        from lockwatch import cli
        from lockwatch.daemon.state import Project

        self.cli = cli
        from lockwatch.daemon import workers

        self.project = Project(freeze=True, reserve=workers.RESERVE)
        cli._engine_scan = self._engine_scan
        cli._IN_DAEMON = True
        from lockwatch.static import engine

        engine._import_analysis()

    def _close(self) -> None:
        self.stopping.set()
        try:
            if self.sock is not None:
                self.sock.close()
            st = os.stat(self.paths.socket)
            if st.st_ino == self.sock_ino:
                os.unlink(self.paths.socket)
        except OSError:
            pass
        # let a scan in progress finish its answer (its connection is still open)
        if self.lock.acquire(timeout=30):
            self.lock.release()
        from lockwatch.daemon import workers

        workers.shutdown()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
        self.log("stopped")

    # -- requests ---------------------------------------------------------------------------

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                uid = protocol.peer_uid(conn)
                if uid is not None and uid != os.getuid():
                    self.log(f"refused a connection from uid {uid}")
                    return
                try:
                    header, _ = protocol.recv(conn)
                except EOFError:
                    return  # a client checking that we listen (client.wait_until_up)
                op = header.get("op")
                if header.get("version") != __version__:
                    protocol.send(conn, {"ok": False, "stale": True,
                                         "error": f"daemon is lockwatch {__version__}"})
                    return
                if op == "status":
                    protocol.send(conn, dict(self.status(), ok=True))
                elif op == "stop":
                    protocol.send(conn, {"ok": True, "pid": os.getpid()})
                    self.log("stop requested")
                    self.stopping.set()
                elif op == "scan":
                    self._scan_request(conn, header)
                else:
                    protocol.send(conn, {"ok": False, "error": f"unknown request {op!r}"})
        except (OSError, EOFError, protocol.ProtocolError) as e:
            self.log(f"connection dropped: {e}")
        except Exception:  # noqa: BLE001 - logged; the client falls back
            self.log("error handling a request:\n" + traceback.format_exc())

    def _code_changed(self) -> bool:
        if not self.stale_code and code_stamp() != self.code:
            self.stale_code = True
            self.log("lockwatch's code changed on disk: exiting")
            self.stopping.set()
        return self.stale_code

    def _scan_request(self, conn: socket.socket, req: dict) -> None:
        self.last_request = time.monotonic()
        self.requests += 1
        self.requests_since_gc += 1
        if self._code_changed():
            protocol.send(conn, {"ok": False, "stale": True, "error": "lockwatch's code changed on disk"})
            return
        argv = req.get("argv")
        if not (isinstance(argv, list) and argv[:1] == ["scan"] and all(isinstance(a, str) for a in argv)):
            protocol.send(conn, {"ok": False, "error": "only 'scan' commands are answered"})
            return
        with self.lock:
            self.busy = "request"
            try:
                if self.delay:
                    time.sleep(self.delay)
                try:
                    code, out, err = self._run_cli(argv, req)
                except _Fault as e:
                    self.log(f"scan failed in the daemon: {e}")
                    protocol.send(conn, {"ok": False, "error": f"the daemon failed: {e}"})
                    return
            finally:
                self.busy = None
                self.last_request = time.monotonic()
        protocol.send(conn, {"ok": True, "code": code}, (out, err))
        if self.garbage:
            self._collect()

    def _run_cli(self, argv: list[str], req: dict) -> tuple[int, bytes, bytes]:
        streams = req.get("streams") or {}
        so, se = streams.get("stdout") or {}, streams.get("stderr") or {}
        env = req.get("env") or {}
        saved_out, saved_err = sys.stdout, sys.stderr
        try:
            os.chdir(req["cwd"])
        except (OSError, KeyError, TypeError) as e:
            raise _Fault(f"cannot enter the client's directory: {e}") from None
        for k in SCAN_ENV:
            v = env.get(k)
            if isinstance(v, str):
                os.environ[k] = v
            else:
                os.environ.pop(k, None)
        out = _Capture(so.get("encoding"), so.get("errors"), bool(so.get("isatty")))
        # stderr never a terminal: the progress line is for a scan the user watches run
        err = _Capture(se.get("encoding"), se.get("errors") or "backslashreplace", False)
        sys.stdout, sys.stderr = out, err
        try:
            code = self.cli.main(argv)
        finally:
            sys.stdout, sys.stderr = saved_out, saved_err
            try:
                os.chdir(self.root)
            except OSError:
                pass
        return int(code), out.value(), err.value()

    def _engine_scan(self, paths, config, progress=None):
        """``cli._engine_scan`` in the daemon: the report from memory."""
        before = self.project.analyses
        try:
            report = self.project.scan(list(paths), config)
        except BaseException as e:  # noqa: BLE001 - any failure here is the daemon's
            self.log("scan failed:\n" + traceback.format_exc())
            raise _Fault(f"{type(e).__name__}: {e}") from None
        finally:
            self.last_activity = time.monotonic()
        self._log_analysis(before)
        return report

    def _log_analysis(self, before: int) -> None:
        last = self.project.last
        if self.project.analyses != before:
            self.garbage += 1
        if self.project.analyses != before and last:
            self.log(f"analysis #{self.project.analyses} ({last['trigger']}, {last['mode']}): "
                     f"{last['seconds']:.2f} s, {last['files_summarised']} file(s) summarised "
                     f"(stat, hash, summarise: {last['files_seconds']:.2f} s; discovery "
                     f"{last['discover_seconds']:.2f} s), {last['modules']} modules")

    def status(self) -> dict:
        p = self.project
        sc = p.current() if p is not None else None
        up_to_date = (sc is not None and sc.analysis is not None and self.busy in (None, "gc")
                      and not self.pending_change and not p.stale(sc))
        return {
            "pid": os.getpid(), "root": self.root, "version": __version__,
            "socket": self.paths.socket, "uptime": time.time() - self.started,
            "idle_timeout": self.idle_timeout,
            "idle": time.monotonic() - self.last_request,
            "requests": self.requests, "analyses": p.analyses if p else 0,
            "files": len(sc.files) if sc else 0, "summarised": p.summarised if p else 0,
            "scan": {"cwd": sc.cwd, "paths": sc.paths} if sc else None,
            "last": p.last if p else None, "busy": self.busy,
            "up_to_date": up_to_date,
            "peak_rss_mib": round(_peak_rss_mib(), 1),
            "kept_workers": _kept_workers(),
        }

    # -- background -------------------------------------------------------------------------

    def _warm_up(self) -> None:
        """``daemon start``: analyse the project as its pre-commit hook will ask for it (the
        root as '.', from the root, its configuration), before the first commit."""
        with self.lock:
            self.busy = "warm-up"
            try:
                os.chdir(self.root)
                from lockwatch.config import load

                config = load(start=".")
                self.project.scan(["."], config, trigger="warm-up")
                self._log_analysis(0)
                self._collect(locked=True)
            except Exception:  # noqa: BLE001 - the first request will say what is wrong
                self.log("warm-up failed:\n" + traceback.format_exc())
            finally:
                self.busy = None
                self.last_activity = time.monotonic()

    def _watch(self) -> None:
        last_code = last_disc = time.monotonic()
        while not self.stopping.wait(POLL):
            try:
                now = time.monotonic()
                if now - self.last_request > self.idle_timeout and self.busy is None:
                    self.log(f"idle for {self.idle_timeout:g} s: exiting")
                    self.stopping.set()
                    return
                if now - last_code > CODE_CHECK_EVERY:
                    last_code = now
                    if self._code_changed():
                        return
                quiet = now - max(self.last_activity, self.last_request) > GC_IDLE
                if self.busy is None and (self.garbage or (self.requests_since_gc >= GC_REQUESTS and quiet)):
                    self._collect()
                sc = self.project.current()
                if sc is None or sc.analysis is None:
                    continue
                changed = self.project.stale(sc)
                if not changed and now - last_disc < REDISCOVER_EVERY:
                    continue
                if changed:
                    self.pending_change = True
                    self._settle(sc)
                last_disc = time.monotonic()
                with self.lock:
                    if self.project.current() is not sc or self.stopping.is_set():
                        self.pending_change = False
                        continue
                    self.busy = "watcher"
                    try:
                        os.chdir(sc.cwd)
                        before = self.project.analyses
                        self.project.refresh(sc, "watcher")
                        self._log_analysis(before)
                        if self.garbage:
                            self._collect(locked=True)
                    finally:
                        self.busy = None
                        self.pending_change = False
                        self.last_activity = time.monotonic()
                        try:
                            os.chdir(self.root)
                        except OSError:
                            pass
            except Exception:  # noqa: BLE001 - the watcher must not die; requests still work
                self.pending_change = False
                self.log("watcher error:\n" + traceback.format_exc())

    def _settle(self, sc) -> None:
        """Wait until the files hold still (an editor's save, a checkout in progress)."""
        deadline = time.monotonic() + DEBOUNCE_MAX
        before = self._snapshot(sc)
        while time.monotonic() < deadline and not self.stopping.is_set():
            time.sleep(DEBOUNCE)
            now = self._snapshot(sc)
            if now == before:
                return
            before = now

    @staticmethod
    def _snapshot(sc) -> tuple:
        out = []
        for sf in list(sc.files):
            try:
                st = os.stat(sf.abspath)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        for d in list(sc.dirs):
            try:
                out.append(os.stat(d).st_mtime_ns)
            except OSError:
                out.append(None)
        return tuple(out)

    def _collect(self, locked: bool = False) -> None:
        """The cyclic garbage of replaced analyses (refcounting alone never frees a linked
        model), collected while no request waits. The long-lived part of the heap was
        frozen before the first analysis (state.Project), so this walks the analyses only."""
        if not locked and not self.lock.acquire(blocking=False):
            return
        busy, self.busy = self.busy, "gc"
        try:
            self.garbage = 0
            self.requests_since_gc = 0
            t = time.perf_counter()
            n = gc.collect()
            self.log(f"gc: {n} objects freed in {time.perf_counter() - t:.2f} s")
        finally:
            self.busy = busy if locked else None
            if not locked:
                self.lock.release()


def _kept_workers() -> list[int]:
    from lockwatch.daemon import workers

    return workers.kept_pids()


def _peak_rss_mib() -> float:
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):
        return 0.0
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lockwatch-daemon")
    p.add_argument("--root", required=True)
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    p.add_argument("--warm", action="store_true")
    args = p.parse_args(argv)
    try:
        os.chdir(args.root)
    except OSError as e:
        print(f"lockwatch daemon: cannot enter {args.root}: {e}", file=sys.stderr)
        return 2
    return Server(args.root, args.idle_timeout, args.warm).serve()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
