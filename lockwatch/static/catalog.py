"""What the analyser knows about code outside the project: lock factories, known types
(constructors and return types, so that ``t.join()`` is known to be ``Thread.join`` and not
``str.join``), and the blocking-call catalog. Extended by ``config.lock_factories`` and
``config.blocking_calls``.
"""

from __future__ import annotations

# dotted factory name -> sort
LOCK_FACTORIES: dict[str, str] = {
    "threading.Lock": "lock",
    "threading.RLock": "rlock",
    "threading.Condition": "condition",
    "threading.Semaphore": "semaphore",
    "threading.BoundedSemaphore": "semaphore",
    "threading._RLock": "rlock",
    "threading._CRLock": "rlock",
    "threading._PyRLock": "rlock",
    "_thread.allocate_lock": "lock",
    "_thread.allocate": "lock",
    "_thread.LockType": "lock",
    "_thread.RLock": "rlock",
    "_thread.lock": "lock",
    "multiprocessing.Lock": "lock",
    "multiprocessing.RLock": "rlock",
    "multiprocessing.Condition": "condition",
    "multiprocessing.Semaphore": "semaphore",
    "multiprocessing.BoundedSemaphore": "semaphore",
    "multiprocessing.synchronize.Lock": "lock",
    "multiprocessing.synchronize.RLock": "rlock",
    "multiprocessing.synchronize.Condition": "condition",
    "multiprocessing.synchronize.Semaphore": "semaphore",
    "multiprocessing.synchronize.BoundedSemaphore": "semaphore",
    "multiprocessing.context.BaseContext.Lock": "lock",
    "multiprocessing.context.BaseContext.RLock": "rlock",
    "multiprocessing.context.BaseContext.Condition": "condition",
    "multiprocessing.context.BaseContext.Semaphore": "semaphore",
    "multiprocessing.context.BaseContext.BoundedSemaphore": "semaphore",
    "multiprocessing.managers.SyncManager.Lock": "lock",
    "multiprocessing.managers.SyncManager.RLock": "rlock",
    "multiprocessing.managers.SyncManager.Condition": "condition",
    "multiprocessing.managers.SyncManager.Semaphore": "semaphore",
    "multiprocessing.managers.SyncManager.BoundedSemaphore": "semaphore",
    "asyncio.Lock": "async-lock",
    "asyncio.locks.Lock": "async-lock",
    "asyncio.Semaphore": "async-semaphore",
    "asyncio.BoundedSemaphore": "async-semaphore",
    "asyncio.locks.Semaphore": "async-semaphore",
    "asyncio.locks.BoundedSemaphore": "async-semaphore",
    "asyncio.Condition": "async-condition",
    "asyncio.locks.Condition": "async-condition",
    "trio.Lock": "async-lock",
    "trio.StrictFIFOLock": "async-lock",
    "trio.Semaphore": "async-semaphore",
    "trio.Condition": "async-condition",
    "anyio.Lock": "async-lock",
    "anyio.Semaphore": "async-semaphore",
    "anyio.Condition": "async-condition",
}

SORTS = ("lock", "rlock", "semaphore", "condition", "async-lock", "async-semaphore", "async-condition")
REENTRANT_SORTS = {"rlock", "condition"}      # a default Condition wraps an RLock
ASYNC_SORTS = {"async-lock", "async-semaphore", "async-condition"}
SEMAPHORE_SORTS = {"semaphore", "async-semaphore"}
CONDITION_SORTS = {"condition", "async-condition"}

# Positional index / keyword of a semaphore's initial value.
SEMAPHORE_VALUE_ARG = {"trio.Semaphore": ("initial_value", 0), "anyio.Semaphore": ("initial_value", 0)}

# Callables whose result is an instance of a known external type.
KNOWN_TYPES: dict[str, str] = {
    "threading.Thread": "threading.Thread",
    "threading.Timer": "threading.Thread",
    "threading.Event": "threading.Event",
    "threading.Barrier": "threading.Barrier",
    "queue.Queue": "queue.Queue",
    "queue.LifoQueue": "queue.Queue",
    "queue.PriorityQueue": "queue.Queue",
    "queue.SimpleQueue": "queue.Queue",
    "multiprocessing.Queue": "queue.Queue",
    "multiprocessing.JoinableQueue": "queue.Queue",
    "multiprocessing.Process": "multiprocessing.Process",
    "multiprocessing.Event": "threading.Event",
    "multiprocessing.get_context": "multiprocessing.context.BaseContext",
    "multiprocessing.Manager": "multiprocessing.managers.SyncManager",
    "multiprocessing.managers.SyncManager": "multiprocessing.managers.SyncManager",
    "concurrent.futures.ThreadPoolExecutor": "concurrent.futures.Executor",
    "concurrent.futures.ProcessPoolExecutor": "concurrent.futures.Executor",
    "concurrent.futures.thread.ThreadPoolExecutor": "concurrent.futures.Executor",
    "concurrent.futures.process.ProcessPoolExecutor": "concurrent.futures.Executor",
    "concurrent.futures.Executor": "concurrent.futures.Executor",
    "concurrent.futures.Future": "concurrent.futures.Future",
    # an asyncio future's result()/exception() never wait (InvalidStateError when not
    # done): known so that a factory returning one or a concurrent future (jupyter_client's
    # ``_get_future``) is not taken for the concurrent one alone (P45, ``link``'s "extu")
    "asyncio.Future": "asyncio.Future",
    "asyncio.futures.Future": "asyncio.Future",
    "subprocess.Popen": "subprocess.Popen",
    "socket.socket": "socket.socket",
    "socket.create_connection": "socket.socket",
    "socket.create_server": "socket.socket",
    "socket.socketpair": "tuple",
    "http.client.HTTPConnection": "http.client.HTTPConnection",
    "http.client.HTTPSConnection": "http.client.HTTPConnection",
    "requests.Session": "requests.Session",
    "requests.session": "requests.Session",
    "httpx.Client": "httpx.Client",
    # asynchronous-side types (blocking-in-async, dangling-task): what ``loop``, ``f`` and
    # ``client`` are when made by these
    "httpx2.Client": "httpx.Client",
    "asyncio.get_event_loop": "asyncio.AbstractEventLoop",
    "asyncio.get_running_loop": "asyncio.AbstractEventLoop",
    "asyncio.new_event_loop": "asyncio.AbstractEventLoop",
    "asyncio.AbstractEventLoop": "asyncio.AbstractEventLoop",
    "asyncio.BaseEventLoop": "asyncio.AbstractEventLoop",
    "open": "io.TextIOWrapper",
    "io.open": "io.TextIOWrapper",
    "io.open_code": "io.TextIOWrapper",
    "os.fdopen": "io.TextIOWrapper",
    "io.TextIOWrapper": "io.TextIOWrapper",
    "io.BufferedReader": "io.TextIOWrapper",
    "io.BufferedWriter": "io.TextIOWrapper",
    "io.BufferedRandom": "io.TextIOWrapper",
    "io.FileIO": "io.TextIOWrapper",
    "pathlib.Path": "pathlib.Path",
    "pathlib.PosixPath": "pathlib.Path",
    "pathlib.WindowsPath": "pathlib.Path",
    "urllib3.PoolManager": "urllib3.PoolManager",
    "urllib3.ProxyManager": "urllib3.PoolManager",
    "urllib3.HTTPConnectionPool": "urllib3.PoolManager",
    "urllib3.HTTPSConnectionPool": "urllib3.PoolManager",
    "urllib3.connection_from_url": "urllib3.PoolManager",
    "urllib3.proxy_from_url": "urllib3.PoolManager",
    "urllib3.connectionpool.ConnectionPool": "urllib3.PoolManager",
    "urllib3.connectionpool.HTTPConnectionPool": "urllib3.PoolManager",
    "urllib3.connectionpool.HTTPSConnectionPool": "urllib3.PoolManager",
    "urllib3.poolmanager.PoolManager": "urllib3.PoolManager",
    "urllib3.poolmanager.ProxyManager": "urllib3.PoolManager",
    "urllib3.request.RequestMethods": "urllib3.PoolManager",
    "sqlite3.connect": "sqlite3.Connection",
    "sqlite3.Connection": "sqlite3.Connection",
    "smtplib.SMTP": "smtplib.SMTP",
    "smtplib.SMTP_SSL": "smtplib.SMTP",
    "ftplib.FTP": "ftplib.FTP",
    "ftplib.FTP_TLS": "ftplib.FTP",
}

# (type, method) -> type of the result
KNOWN_RETURNS: dict[tuple[str, str], str] = {
    ("concurrent.futures.Executor", "submit"): "concurrent.futures.Future",
    ("asyncio.AbstractEventLoop", "create_future"): "asyncio.Future",
    ("multiprocessing.context.BaseContext", "Queue"): "queue.Queue",
    ("multiprocessing.context.BaseContext", "Process"): "multiprocessing.Process",
    ("multiprocessing.context.BaseContext", "Event"): "threading.Event",
    ("multiprocessing.managers.SyncManager", "Queue"): "queue.Queue",
    ("multiprocessing.managers.SyncManager", "Event"): "threading.Event",
}

# Methods that lock-like types share (so that ``type.method`` names a blocking call).
# Blocking calls: dotted function or "Type.method" -> condition tag (see ``is_blocking``).
BLOCKING: dict[str, str] = {
    "time.sleep": "sleep",
    "threading.Thread.join": "join",
    "multiprocessing.Process.join": "join",
    "threading.Event.wait": "wait",
    "threading.Barrier.wait": "always",
    # ``put`` blocks only on a bounded queue: the linker types ``Queue(maxsize>0)`` (and
    # unknown maxsize) as queue.BoundedQueue, ``Queue()``/``SimpleQueue()`` as queue.Queue
    "queue.Queue.get": "queue-get",
    "queue.Queue.join": "always",
    "queue.BoundedQueue.get": "queue-get",
    "queue.BoundedQueue.put": "queue-put",
    "queue.BoundedQueue.join": "always",
    "concurrent.futures.Future.result": "timeout0",
    "concurrent.futures.Future.exception": "timeout0",
    "concurrent.futures.Executor.shutdown": "shutdown",
    "concurrent.futures.wait": "always",
    "subprocess.run": "always",
    "subprocess.call": "always",
    "subprocess.check_call": "always",
    "subprocess.check_output": "always",
    "subprocess.getoutput": "always",
    "subprocess.getstatusoutput": "always",
    "subprocess.Popen.communicate": "always",
    "subprocess.Popen.wait": "always",
    # select(rlist, wlist, xlist, timeout=None): waits for I/O unless the timeout is 0
    "select.select": "select",
    "os.system": "always",
    "os.wait": "always",
    "os.waitpid": "waitpid",
    "socket.create_connection": "always",
    "socket.socket.connect": "always",
    "socket.socket.recv": "always",
    "socket.socket.recv_into": "always",
    "socket.socket.recvfrom": "always",
    "socket.socket.accept": "always",
    "socket.socket.sendall": "always",
    # a DNS lookup, unless the host is a numeric address literal (or None, the wildcard):
    # ``numeric_lookup``; with ``AI_NUMERICHOST`` in its flags it never resolves either (P19,
    # ``link.numeric_only_lookup``)
    "socket.getaddrinfo": "lookup",
    "urllib.request.urlopen": "always",
    "http.client.HTTPConnection.request": "always",
    "http.client.HTTPConnection.getresponse": "always",
    "input": "always",
    "builtins.input": "always",
}
# Blocking calls that return at once on a future whose ``done()`` was tested true on the
# way there, or on a process whose ``poll()`` returned its exit status (recorded: ``wait()``
# returns it; P46) (the summary marks such calls, events' ``dn`` and ``dw``).
DONE_POLLED = frozenset({"concurrent.futures.Future.result", "concurrent.futures.Future.exception",
                         "subprocess.Popen.wait"})

for _verb in ("get", "post", "put", "patch", "delete", "head", "options", "request"):
    BLOCKING[f"requests.{_verb}"] = "always"
    BLOCKING[f"requests.Session.{_verb}"] = "always"
    BLOCKING[f"httpx.{_verb}"] = "always"
    BLOCKING[f"httpx.Client.{_verb}"] = "always"
BLOCKING["httpx.stream"] = "always"

# Callback registration: dotted callee -> index of the callback argument (LW112).
CALLBACK_REGISTRARS: dict[str, int] = {
    "weakref.finalize": 1,
    "weakref.ref": 1,
    "weakref.proxy": 1,
    "gc.callbacks.append": 0,
    "signal.signal": 1,
}

# Decorators that make a generator function a context manager (``with f():`` holds what
# ``f`` holds at its ``yield``).
CONTEXT_MANAGER_DECORATORS = {"contextlib.contextmanager", "contextlib.asynccontextmanager"}
ABSTRACT_DECORATORS = {"abc.abstractmethod", "abc.abstractproperty"}
DEFAULTDICT = {"collections.defaultdict"}
DATACLASS_FIELD = {"dataclasses.field"}


# Queue constructors whose first argument is ``maxsize``.
BOUNDABLE_QUEUES = {"queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "multiprocessing.Queue",
                    "multiprocessing.JoinableQueue"}


def lock_sort(dotted: str, extra: dict[str, str] | None = None) -> str | None:
    if extra and dotted in extra:
        s = extra[dotted]
        return s if s in SORTS else "lock"
    return LOCK_FACTORIES.get(dotted)


def _arg(args: list, kws: dict, pos: int, name: str):
    """The value dict of an argument given by position or keyword, or ``"absent"``."""
    if name in kws:
        return kws[name]
    if pos < len(args):
        return args[pos]
    return "absent"


def _const(v):
    if isinstance(v, dict) and "const" in v:
        return v["const"]
    return "?"


# ---------------------------------------------------------------------------- public names

# The linker types some objects by how they behave, not by their class: every thread or
# process queue is a ``queue.Queue`` (its ``put`` never blocks), a bounded one a
# ``queue.BoundedQueue`` (an internal name), every file object an ``io.TextIOWrapper``, a
# process event a ``threading.Event``, a urllib3 connection pool a ``urllib3.PoolManager``.
# A message names the class a user can look up instead (``multiprocessing.Queue.put``,
# ``io.BufferedReader.read``, ``multiprocessing.Event.wait``,
# ``urllib3.HTTPConnectionPool.request``), found from the receiver's constructor call by
# the linker (``link.public_class``, kept as ``CallSite.recv_class``;
# ``ProgramModel.public_call_name``); the value here is the name when that is not known.
RENAMED_TYPES = {"queue.Queue": "queue.Queue", "queue.BoundedQueue": "queue.Queue",
                 "io.TextIOWrapper": "io.TextIOWrapper", "threading.Event": "threading.Event",
                 "urllib3.PoolManager": "urllib3.PoolManager"}
QUEUE_TYPES = frozenset({"queue.Queue", "queue.BoundedQueue"})
FILE_TYPES = frozenset({"io.TextIOWrapper"})
# Constructors of objects the linker types as another class (KNOWN_TYPES), and the methods of
# multiprocessing contexts/managers that make them (KNOWN_RETURNS): the class to name. Others
# (``threading.Event()``, ``urllib3.PoolManager()``) are what the type says.
PUBLIC_CONSTRUCTORS = {
    "multiprocessing.Event": "multiprocessing.Event",
    "urllib3.HTTPConnectionPool": "urllib3.HTTPConnectionPool",
    "urllib3.HTTPSConnectionPool": "urllib3.HTTPSConnectionPool",
    "urllib3.connectionpool.HTTPConnectionPool": "urllib3.HTTPConnectionPool",
    "urllib3.connectionpool.HTTPSConnectionPool": "urllib3.HTTPSConnectionPool",
    "urllib3.connection_from_url": "urllib3.HTTPConnectionPool",
}
PUBLIC_BY_METHOD = {("threading.Event", "Event"): "multiprocessing.Event"}
# methods of multiprocessing contexts/managers whose result the linker types as a queue
# (KNOWN_RETURNS): ``ctx.Queue()``
QUEUE_METHODS = frozenset(m for (_t, m), r in KNOWN_RETURNS.items() if r == "queue.Queue")
FILE_OPENERS = frozenset({"open", "io.open", "os.fdopen"})
FILE_CLASSES = frozenset({"io.FileIO", "io.BufferedReader", "io.BufferedWriter", "io.BufferedRandom",
                          "io.TextIOWrapper"})


def literal_text(v) -> str | None:
    """The text of a string literal argument, when the summary kept it: ``{"const": "str",
    "s": text}`` (the summarisers keep the text of short literals, file modes among them;
    a long one is ``{"const": "str"}`` alone, and a file opened with it keeps its generic
    name)."""
    if isinstance(v, dict) and v.get("const") == "str" and isinstance(v.get("s"), str):
        return v["s"]
    return None


def queue_class(ctor: str | None, by_method: str | None) -> str | None:
    """The public class of a queue built by ``ctor`` (a dotted constructor,
    ``multiprocessing.Queue``), or by a method call named ``by_method`` on an object
    (``mp_ctx.Queue()``: only multiprocessing contexts and managers make queues that way)."""
    if ctor is not None and KNOWN_TYPES.get(ctor) == "queue.Queue":
        return ctor
    if ctor is None and by_method in QUEUE_METHODS:
        return "multiprocessing.Queue"
    return None


def made_class(t: str, ctor: str | None, by_method: str | None) -> str | None:
    """The public class of an object of catalog type ``t`` (not a file) built by ``ctor``
    (a dotted constructor) or by a method named ``by_method`` of a multiprocessing context or
    manager: queues by ``queue_class``, the rest by ``PUBLIC_CONSTRUCTORS`` /
    ``PUBLIC_BY_METHOD``. None when the type's own name is right or not known."""
    if t in QUEUE_TYPES:
        return queue_class(ctor, by_method)
    if ctor is not None:
        return PUBLIC_CONSTRUCTORS.get(ctor) if KNOWN_TYPES.get(ctor) == t else None
    return PUBLIC_BY_METHOD.get((t, by_method))


def file_class(opener: str | None, args: list, kws: dict) -> str | None:
    """The class of the file object ``opener(args, kws)`` returns, as ``open`` decides it
    from a literal mode: text -> ``io.TextIOWrapper``; binary -> ``io.BufferedReader``
    (read), ``io.BufferedWriter`` (w/a/x), ``io.BufferedRandom`` (``+``), ``io.FileIO``
    when unbuffered (``buffering=0``). None when not known (a mode that is not a literal)."""
    if opener == "io.open_code":
        return "io.BufferedReader"
    if opener in FILE_CLASSES:
        return opener
    if opener not in FILE_OPENERS:
        return None
    m = _arg(args, kws, 1, "mode")
    if m == "absent":
        return "io.TextIOWrapper"
    mode = literal_text(m)
    if mode is None:
        return None
    if "b" not in mode:
        return "io.TextIOWrapper"
    if _const(_arg(args, kws, 2, "buffering")) == 0:
        return "io.FileIO"
    if "+" in mode:
        return "io.BufferedRandom"
    return "io.BufferedReader" if "r" in mode else "io.BufferedWriter"


# ---------------------------------------------------------------------------- open descriptors

# Wrapping a descriptor that is already open (an fstat; no path lookup, no read or write)
# waits for nothing, unlike ``open(path)``: ``os.fdopen(fd)`` (never in the blocking sets),
# and ``open(fd)`` / ``io.open(fd)`` when the file argument is certainly a descriptor (an int literal, a
# ``fileno()``, an ``FD_RESULTS`` call). The linker keeps such a call out of the call's
# external names, so neither LW131 nor LW201 takes it for a blocking call; the file object
# it returns is still an ``io.TextIOWrapper`` whose reads and writes block (P26).
FD_OPENERS = frozenset({"open", "io.open"})
FD_RESULTS = frozenset({"os.dup", "os.open", "os.memfd_create", "os.eventfd"})


# ---------------------------------------------------------------------------- datagram sockets

# ``connect()`` on a datagram socket only records the peer (and picks the local address that
# routes to it): no packet, no handshake, nothing that waits, provided the address is numeric
# (a host *name* is resolved by connect() itself, a blocking getaddrinfo). ``get_ip()``
# helpers do this to learn the outgoing interface. The linker types the socket (type argument
# of ``socket.socket``) and asks ``datagram_connect_waits`` about the address.
DATAGRAM_TYPES = frozenset({"SOCK_DGRAM"})


def socket_is_datagram(args: list, kws: dict) -> bool:
    """``socket.socket(family, type, ...)``: is the type argument ``SOCK_DGRAM``
    (``socket.SOCK_DGRAM``, a ``from socket import SOCK_DGRAM``, or ``SOCK_DGRAM | flags``)?"""
    v = _arg(args, kws, 1, "type")
    if not isinstance(v, dict):
        return False
    refs = v.get("flags") or ([v["r"]] if v.get("r") else [])
    return any(r.rpartition(".")[2] in DATAGRAM_TYPES for r in refs)


def socket_is_unix(args: list, kws: dict) -> bool:
    """``socket.socket(family, ...)``: is the family argument ``AF_UNIX``? A Unix-domain
    datagram socket's ``connect(path)`` only records the peer's path (the kernel looks it up
    and fails at once if nothing is bound there): no name to resolve, nothing that waits (P44:
    datadog's dogstatsd client connects one under its socket lock)."""
    v = _arg(args, kws, 0, "family")
    if not isinstance(v, dict):
        return False
    refs = v.get("flags") or ([v["r"]] if v.get("r") else [])
    return any(r.rpartition(".")[2] == "AF_UNIX" for r in refs)


def numeric_host(v) -> bool:
    """Is value ``v`` a string literal that is a numeric IPv4/IPv6 address? Read from the mark
    ``{"const": "str", "s": text, "ip": text}`` that both summarisers put on such a literal
    (``literals.str_value``); checked again here with the same test, since a summary may come
    from a cache entry."""
    if not isinstance(v, dict) or not isinstance(v.get("ip"), str):
        return False
    from lockwatch.static.literals import is_ip_address

    return is_ip_address(v["ip"])


def datagram_connect_waits(args: list, kws: dict) -> bool:
    """``sock.connect(address)`` on a datagram socket: may it wait? Only a literal
    ``(host, port, ...)`` tuple whose host is a numeric address is known not to."""
    a = _arg(args, kws, 0, "address")
    return not (isinstance(a, dict) and numeric_host(a.get("cont")))


def numeric_lookup(args: list, kws: dict) -> bool:
    """``socket.getaddrinfo(host, port, ...)``: is ``host`` a numeric address literal (parsed,
    not resolved: P23's rule for a datagram connect) or ``None`` (the wildcard or loopback
    address)? Then the call asks no resolver and does not wait (ddtrace's dogstatsd resolves
    its agent's host under its socket lock: a host name there is reported, ``"127.0.0.1"``
    is not)."""
    h = _arg(args, kws, 0, "host")
    return numeric_host(h) or (isinstance(h, dict) and "const" in h and h["const"] is None)


def datagram_connect_host(args: list, kws: dict) -> str | None:
    """``sock.connect((host, port))`` on a datagram socket: the name ``host`` when the
    address is a literal tuple whose host is a bare name (a parameter, for
    ``graph.ConstantGuards``: its argument decides whether the connect waits, P23), else
    None."""
    a = _arg(args, kws, 0, "address")
    h = a.get("cont") if isinstance(a, dict) else None
    if isinstance(h, dict) and len(h) == 1 and isinstance(h.get("r"), str) and h["r"].isidentifier():
        return h["r"]
    return None


def is_blocking(name: str, args: list, kws: dict, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    """Is a call of catalog entry ``name`` with these argument values a thread-blocking call?"""
    if name in extra:
        return True
    tag = BLOCKING.get(name)
    if tag is None:
        return False
    if tag == "always":
        return True
    if tag == "sleep":
        return _const(_arg(args, kws, 0, "secs")) not in (0, 0.0)
    if tag == "join":
        return _const(_arg(args, kws, 0, "timeout")) not in (0, 0.0)
    if tag == "wait":
        return _const(_arg(args, kws, 0, "timeout")) not in (0, 0.0)
    if tag in ("queue-get", "queue-put"):
        off = 1 if tag == "queue-put" else 0
        block = _arg(args, kws, off, "block")
        timeout = _arg(args, kws, off + 1, "timeout")
        if block != "absent" and _const(block) is not True:
            return False
        return timeout == "absent" or _const(timeout) is None
    if tag == "select":
        return _const(_arg(args, kws, 3, "timeout")) not in (0, 0.0)
    if tag == "waitpid":
        # os.waitpid(pid, options): blocks unless options is non-zero (WNOHANG); options
        # that are not a constant are not assumed to block (precision first)
        return _const(_arg(args, kws, 1, "options")) == 0
    if tag == "timeout0":
        # Future.result(timeout=30) under a lock still blocks every other user of the
        # lock for up to 30 s: only a zero timeout (a poll) is non-blocking
        return _const(_arg(args, kws, 0, "timeout")) not in (0, 0.0)
    if tag == "lookup":
        return not numeric_lookup(args, kws)
    if tag == "shutdown":
        w = _arg(args, kws, 0, "wait")
        return w == "absent" or _const(w) is True
    return False


# P38: the stdlib io classes a call can construct, each with the io base classes it is an
# instance of (``isinstance(io.BytesIO(b), io.IOBase)``): a callee that tests
# ``isinstance(fp, io.IOBase)`` and opens ``fp`` otherwise never opens it when given one.
# Only classes whose constructor returns an instance of the class (no factory such as
# ``io.open``); the bases themselves cannot be made usefully, so they are not listed.
_IO_BUFFERED = ("io.BufferedIOBase", "io.IOBase")
IO_CLASS_BASES: dict[str, tuple] = {
    "io.BytesIO": _IO_BUFFERED,
    "io.BufferedReader": _IO_BUFFERED,
    "io.BufferedWriter": _IO_BUFFERED,
    "io.BufferedRandom": _IO_BUFFERED,
    "io.BufferedRWPair": _IO_BUFFERED,
    "io.StringIO": ("io.TextIOBase", "io.IOBase"),
    "io.TextIOWrapper": ("io.TextIOBase", "io.IOBase"),
    "io.FileIO": ("io.RawIOBase", "io.IOBase"),
}


def io_subclass(cls: str, base: str) -> bool:
    """Is an instance of the io class ``cls`` (a key of ``IO_CLASS_BASES``) an instance of
    ``base``?"""
    bases = IO_CLASS_BASES.get(cls)
    return bases is not None and (base == cls or base in bases)
