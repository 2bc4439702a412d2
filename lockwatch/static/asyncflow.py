"""What the async and lifecycle checks (LW201-LW204, LW211) share: the catalog of calls that
block an event loop, which project functions reach one (composed over the call graph, with a
witness chain), task spawners, and "is this local used or handed on" from the summaries.

Everything here reads the linked model; nothing parses source or follows imports. One
fallback is deliberate: a name bound nowhere in its module (no import, no assignment) that
is the name of a module the catalog knows (``os``, ``subprocess``, ``httpx``...) is taken to
be that module. Such code cannot run as written, so this costs no precision on real
programs, and it lets the analyser read snippets that elide their imports.
"""

from __future__ import annotations

import builtins
import json

from lockwatch.findings import Location
from lockwatch.static import catalog
from lockwatch.static.graph import final_guards
from lockwatch.static.link import bind_argument, numeric_only_lookup
from lockwatch.static.link import public_class as link_public_class
from lockwatch.static.model import FunctionInfo, ProgramModel, short_name

# ---------------------------------------------------------------------------- catalog

# Calls that block the calling thread and therefore the event loop when made on it, beyond
# catalog.BLOCKING (which LW131 shares): file and filesystem I/O, process creation, DNS,
# more HTTP clients. All unconditional ("always").
LOOP_BLOCKING: set[str] = {
    # processes (ASYNC220-222)
    "subprocess.Popen", "os.popen", "os.posix_spawn", "os.posix_spawnp",
    "os.wait3", "os.wait4", "os.waitid",
    *(f"os.spawn{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
    # files (ASYNC230-232): opening, and reading/writing a file object
    # (not os.fdopen: it wraps a descriptor already open, no path lookup and no I/O, P26)
    "open", "io.open", "io.open_code",
    *(f"io.TextIOWrapper.{m}" for m in ("read", "read1", "readall", "readinto", "readline",
                                         "readlines", "write", "writelines", "flush", "truncate")),
    # filesystem queries (ASYNC240); pure path arithmetic (normpath, join, abspath) is not I/O
    *(f"os.path.{m}" for m in ("exists", "lexists", "isfile", "isdir", "islink", "ismount",
                                "isjunction", "getatime", "getmtime", "getctime", "getsize",
                                "samefile", "sameopenfile", "realpath", "_joinrealpath")),
    *(f"os.{m}" for m in ("listdir", "scandir", "walk", "stat", "lstat", "remove", "unlink",
                           "rename", "replace", "makedirs", "mkdir", "rmdir", "fsync")),
    *(f"shutil.{m}" for m in ("copy", "copy2", "copyfile", "copytree", "rmtree", "move")),
    *(f"pathlib.Path.{m}" for m in ("read_text", "read_bytes", "write_text", "write_bytes",
                                     "open", "exists", "is_file", "is_dir", "is_symlink", "stat",
                                     "lstat", "iterdir", "glob", "rglob", "mkdir", "unlink",
                                     "rmdir", "touch", "resolve", "rename", "replace",
                                     "samefile")),
    # network (ASYNC210-212); ``socket.getaddrinfo`` is LW131's (``catalog.BLOCKING``): not
    # a blocking call on a numeric address literal
    "urllib3.request", "socket.gethostbyname", "socket.gethostbyaddr",
    *(f"urllib3.PoolManager.{m}" for m in ("request", "urlopen", "request_encode_url",
                                            "request_encode_body")),
    "httpx.Client.send", "httpx.Client.stream", "requests.Session.send",
    "urllib.request.urlretrieve", "smtplib.SMTP", "smtplib.SMTP_SSL", "ftplib.FTP",
    "ftplib.FTP_TLS",
    *(f"smtplib.SMTP.{m}" for m in ("connect", "login", "starttls", "ehlo", "helo", "sendmail",
                                     "send_message", "quit")),
    *(f"ftplib.FTP.{m}" for m in ("connect", "login", "retrbinary", "retrlines", "storbinary",
                                   "storlines", "nlst", "dir", "cwd", "quit")),
    # sync database drivers: connecting and running statements wait on the server or disk
    "sqlite3.connect", "psycopg2.connect", "psycopg.connect", "pymysql.connect",
    "MySQLdb.connect", "mysql.connector.connect", "pymongo.MongoClient",
    *(f"sqlite3.Connection.{m}" for m in ("execute", "executemany", "executescript", "commit",
                                           "rollback", "backup")),
    # archives and compressed files: opening reads the disk
    "tarfile.open", "zipfile.ZipFile", "gzip.open", "bz2.open", "lzma.open", "shelve.open",
    *(f"httpx2.{v}" for v in ("get", "post", "put", "patch", "delete", "head", "options",
                               "request", "stream")),
}

# Filesystem metadata queries: a blocking syscall, but a short one on a local disk. Reported
# when written in the async def itself (as flake8-async does); not followed through calls,
# where they are mostly guarded, conditional housekeeping (seen in filelock, the stdlib).
LIGHT: set[str] = {
    *(f"os.path.{m}" for m in ("exists", "lexists", "isfile", "isdir", "islink", "ismount",
                                "isjunction", "getatime", "getmtime", "getctime", "getsize",
                                "samefile", "sameopenfile", "realpath", "_joinrealpath")),
    "os.stat", "os.lstat",
    *(f"pathlib.Path.{m}" for m in ("exists", "is_file", "is_dir", "is_symlink", "stat", "lstat",
                                     "resolve", "samefile")),
}

# Wrappers that take an already-open sync file and make it async: their argument is fine.
FILE_WRAPPERS = {"trio.wrap_file", "anyio.wrap_file"}

# Calls that start a task running on a loop.
TASK_SPAWNERS = {
    "asyncio.create_task", "asyncio.ensure_future", "asyncio.tasks.create_task",
    "asyncio.tasks.ensure_future", "asyncio.AbstractEventLoop.create_task",
}

# Longest witness followed from an async def: its call, at most two more project calls, the
# blocking call. Deeper chains are mostly conditional paths (debug logging that formats a
# traceback that reads a source file): true in theory, noise in practice.
MAX_CHAIN = 4

_BUILTINS = set(dir(builtins))
_KNOWN_MODULES = {d.split(".")[0] for d in (*catalog.BLOCKING, *catalog.KNOWN_TYPES,
                                             *catalog.LOCK_FACTORIES, *LOOP_BLOCKING)
                  if "." in d} - _BUILTINS


# Loop-blocking calls that wait on another party (a process, a peer, a server, a timer, a
# thread) rather than on the local disk: the better witness when a function does both.
_WAITS_ON_OTHERS = ("subprocess.", "os.popen", "os.posix_spawn", "os.spawn", "os.wait", "os.system",
                    "socket.", "urllib", "http.", "requests.", "httpx", "urllib3.", "smtplib.", "ftplib.",
                    "sqlite3.", "psycopg", "pymysql.", "MySQLdb.", "mysql.", "pymongo.")


def witness_rank(name: str) -> int:
    """0 for a call that waits on someone else (LW131's catalog, processes, network, a lock
    or condition wait), 1 for file and filesystem I/O: of two blocking calls in one function,
    the 0 is what takes the time and what a witness should name."""
    if name in catalog.BLOCKING or name.endswith("()") or name.startswith(_WAITS_ON_OTHERS):
        return 0
    return 1


def loop_blocking(name: str, args: list, kws: dict, extra=frozenset()) -> bool:
    """Does a call of external ``name`` (with these argument values) block the loop?"""
    return name in LOOP_BLOCKING or catalog.is_blocking(name, args, kws, extra)


# ---------------------------------------------------------------------------- model helpers


def call_sites(fi: FunctionInfo) -> dict:
    """Event index -> linked CallSite (implicit calls, idx -1, left out)."""
    return fi.sites()


def _unbound(model: ProgramModel, fi: FunctionInfo, name: str) -> bool:
    ms = model.modules.get(fi.module)
    if ms is None or ms.star_imports:
        return False
    if name in ms.globals or name in ms.imports or name in ms.functions or name in ms.classes:
        return False
    f = fi
    while f is not None and f.qualname != "<module>":
        s = f.summary
        if name in s.locals or name in s.assigned or name in s.params or name == s.vararg:
            return False
        f = model.functions.get(f"{f.module}.{s.parent}") if s.parent else None
    return True


def ext_names(model: ProgramModel, fi: FunctionInfo, ev: dict, cs=None) -> list[str]:
    """External dotted names a call event calls: the linker's, or (fallback, see the module
    doc) the literal chain when its first name is an unbound well-known module, possibly
    through a local holding an instance of a known type (``c = httpx.Client(); c.get()``)."""
    if cs is not None and cs.ext:
        return list(cs.ext)
    if cs is not None and (cs.targets or cs.lockm):
        return []
    ref = ev.get("f") or ""
    parts = ref.split(".")
    if not parts or "[]" in parts:
        return []
    head = parts[0]
    if head in _KNOWN_MODULES and _unbound(model, fi, head):
        if "()" in parts:
            i = parts.index("()")
            t = catalog.KNOWN_TYPES.get(".".join(parts[:i]))
            if t and i == len(parts) - 2:
                return [f"{t}.{parts[-1]}"]
            return []
        return [ref]
    if len(parts) == 2:
        v = fi.summary.locals.get(head) or {}
        typ = v.get("call") or v.get("ann")   # c = httpx.Client() / c: httpx.Client
        if typ and "." in typ and "()" not in typ and "[]" not in typ:
            root = typ.split(".")[0]
            if root in _KNOWN_MODULES and _unbound(model, fi, root):
                t = catalog.KNOWN_TYPES.get(typ)
                if t:
                    return [f"{t}.{parts[1]}"]
    return []


def _wrapped_in_file_wrapper(model, fi, events, idx, sites) -> bool:
    """``trio.wrap_file(open(p))``: the open is handed to a wrapper that makes it async."""
    ev = events[idx]
    if ev.get("u") != "arg":
        return False
    for j in range(idx + 1, min(idx + 6, len(events))):
        outer = events[j]
        if outer["e"] != "call":
            continue
        if any(isinstance(a, dict) and a.get("call") == ev["f"] for a in outer.get("a") or []):
            return any(n in FILE_WRAPPERS for n in ext_names(model, fi, outer, sites.get(j)))
    return False


# ---------------------------------------------------------------------------- non-blocking sockets

# A socket call that raises BlockingIOError instead of waiting does not block the loop.
# Evidence that a socket is in that mode (any one is enough), read from the summaries:
# the call sits in a ``try`` that catches a would-block error (event ``xc``); the same
# object gets ``setblocking(False)``/``settimeout(0)`` in the function, or, for
# ``self.<attr>``, in a method of the class (its bases included), directly or on the value
# that method stores there; the function hands it to the loop's readiness API
# (``add_reader``, ``sock_recv``...), which needs a non-blocking socket.
SOCKET_METHOD_PREFIX = "socket.socket."
_READINESS = {"add_reader", "add_writer", "sock_recv", "sock_recv_into", "sock_recvfrom",
              "sock_recvfrom_into", "sock_sendall", "sock_sendto", "sock_connect",
              "sock_accept", "sock_sendfile", "wait_readable", "wait_writable",
              "wait_socket_readable", "wait_socket_writable"}


def _sets_nonblocking(ev: dict) -> str | None:
    """The ref a call event puts in non-blocking mode (``x.setblocking(False)``,
    ``x.settimeout(0)``), else None."""
    f = ev.get("f") or ""
    recv, _, meth = f.rpartition(".")
    if not recv or meth not in ("setblocking", "settimeout"):
        return None
    args = ev.get("a") or []
    if len(args) != 1 or not isinstance(args[0], dict) or "const" not in args[0]:
        return None
    c = args[0]["const"]
    if isinstance(c, bool):
        return recv if c is False and meth == "setblocking" else None
    return recv if isinstance(c, (int, float)) and c == 0 else None


def _registers(ev: dict) -> str | None:
    """The ref a call event hands to a readiness API (``loop.add_reader(sock, ...)``,
    ``loop.sock_recv(sock, n)``, ``loop.add_reader(sock.fileno(), ...)``), else None."""
    f = ev.get("f") or ""
    if f.rpartition(".")[2] not in _READINESS:
        return None
    args = ev.get("a") or []
    a0 = args[0] if args and isinstance(args[0], dict) else {}
    if "r" in a0:
        return a0["r"]
    c = a0.get("call") or ""
    return c[:-len(".fileno")] if c.endswith(".fileno") and not a0.get("a") else None


def _nonblocking_refs(fi: FunctionInfo) -> set[str]:
    """Refs ``fi`` puts in non-blocking mode or hands to a readiness API."""
    out = set()
    for ev in fi.summary.events:
        if ev["e"] == "call":
            r = _sets_nonblocking(ev) or _registers(ev)
            if r:
                out.add(r)
    return out


def _nonblocking_attrs(model: ProgramModel, cid: str) -> set[str]:
    """``@self.<attr>`` refs of class ``cid`` that some method of it or of its bases makes
    non-blocking: on the attribute itself, or on the local/parameter it stores there
    (``sock.setblocking(False); self._sock = sock``). Cached on the model."""
    cache = model.__dict__.setdefault("_loop_nb_attrs", {})
    if cid in cache:
        return cache[cid]
    out: set[str] = set()
    ci = model.classes.get(cid)
    for c in (ci.mro if ci is not None else ()):
        cc = model.classes.get(c)
        if cc is None:
            continue
        for q in cc.summary.methods.values():
            f = model.functions.get(f"{cc.module}.{q}")
            if f is None:
                continue
            refs = _nonblocking_refs(f)
            if not refs:
                continue
            for r in refs:
                if r.startswith("@self.") and r.count(".") == 1:
                    out.add(r)
            for ev in f.summary.events:
                if (ev["e"] == "wr" and ev["r"].count(".") == 1 and ev["r"].startswith("@self.")
                        and (ev.get("v") or {}).get("r") in refs):
                    out.add(ev["r"])
    cache[cid] = out
    return out


def nonblocking_socket_call(model: ProgramModel, fi: FunctionInfo, ev: dict, name: str) -> bool:
    """Is this socket method call (catalog ``name``) made on a non-blocking socket? See above."""
    if not name.startswith(SOCKET_METHOD_PREFIX):
        return False
    if ev.get("xc"):
        return True
    recv = (ev.get("f") or "").rpartition(".")[0]
    if not recv or "()" in recv:
        return False
    if recv in _nonblocking_refs(fi):
        return True
    return bool(fi.cls and recv.startswith("@self.") and recv in _nonblocking_attrs(model, fi.cls))


def direct_blocking(model: ProgramModel, fi: FunctionInfo, extra=frozenset()) -> list[tuple]:
    """Calls in ``fi`` itself that block the thread: [(Step, name)]. Awaited calls are not
    (a sync callable whose result is awaited is not what we think it is), nor is the file
    handed to ``trio.wrap_file``/``anyio.wrap_file``, nor a call on a non-blocking socket
    (``nonblocking_socket_call``)."""
    return [(step, name) for _idx, step, name in _direct_blocking(model, fi, extra)]


def _direct_blocking(model: ProgramModel, fi: FunctionInfo, extra=frozenset()) -> list[tuple]:
    """``direct_blocking`` with each call's event index: [(idx, Step, name)] (the index is
    what a caller's constant arguments rule out, see ``ConstantGuards``)."""
    out = []
    events = fi.summary.events
    sites = call_sites(fi)
    for idx, ev in enumerate(events):
        if ev["e"] != "call" or ("oi" in ev and once_only(model, fi, ev)):
            continue
        cs = sites.get(idx)
        step = (fi.path, ev["l"], ev["c"])
        if cs is not None and cs.blocking:
            if not (nonblocking_socket_call(model, fi, ev, cs.blocking) or ready_get(ev, cs, cs.blocking)):
                out.append((idx, step, cs.blocking))
            continue
        if cs is not None and cs.lockm and cs.lockm[3] in ("wait", "wait_for") and cs.lockm[2]:
            lc = model.locks.get(cs.lockm[0])
            if lc is not None and not lc.is_async and ev.get("u") != "await":
                out.append((idx, step, f"{short_name(cs.lockm[0])}.{cs.lockm[3]}()"))
            continue
        if ev.get("u") == "await":
            continue
        args, kws = ev.get("a") or [], ev.get("k") or {}
        for name in ext_names(model, fi, ev, cs):
            if loop_blocking(name, args, kws, extra):
                if name in ("open", "io.open") and _wrapped_in_file_wrapper(model, fi, events, idx, sites):
                    continue
                if (nonblocking_socket_call(model, fi, ev, name) or numeric_only_lookup(model, fi, ev, name)
                        or (ev.get("dn") and name in catalog.DONE_POLLED) or ready_get(ev, cs, name)):
                    break
                out.append((idx, step, name))
                break
    return out


# ---------------------------------------------------------------------------- once-only initialisers

# P24: a blocking call in the body of a one-shot lazy initialiser (events' ``oi``: ``if
# self._log is None: self._log = Logger(self)``, hypercorn's ``Config.log``; ``global _S; if
# _S is None: _S = load()``, pymongo's public-suffix list) runs once per object (per
# process), on the first access; every later coroutine gets the cached value. LW201 neither
# reports such a call nor follows it into a helper that blocks. Not once when the summaries
# show the ref unset or set again anywhere else (``once_only``).


def once_only(model: ProgramModel, fi: FunctionInfo, ev: dict) -> bool:
    """Does event ``ev`` of ``fi`` (marked ``oi``) run at most once per object (``@self.x``)
    or per process (a global)? Not when something else in the project writes that ref:
    for ``@self.x``, a write of an attribute named ``x`` on any object anywhere (``self.x =
    None`` in a ``close()``, ``obj.x = ...``), other than an initialiser's own assignment of
    ``@self.x`` and ``self.x = ...`` in an ``__init__`` (the state before the first use); for
    a global ``g``, a ``global g`` write in another function of its module, or a write of an
    attribute named ``g`` (``mod.g = None``). Seen only as the summaries record writes:
    ``del self.x``, ``setattr`` and deeper chains (``self.a.x = None``) are not."""
    ref = ev.get("oi")
    if ref is None:
        return False
    attrs, globs = _once_resets(model)
    if ref.startswith("@self."):
        return ref[6:] not in attrs
    return ref not in attrs and (fi.module, ref) not in globs


def _once_resets(model: ProgramModel) -> tuple[set, set]:
    """(attribute names written outside their own initialiser and ``__init__``, (module,
    global) pairs written outside their own initialiser and module level): one pass over
    every write, made once per model, when the first marked event is asked about."""
    cached = model.__dict__.get("_once_resets")
    if cached is not None:
        return cached
    attrs: set[str] = set()
    globs: set[tuple] = set()
    # the model's list of write events (wr, gwr), not every event of the program
    for f, _i, ev in model.write_events():
        if ev["e"] == "wr":
            r = ev["r"]
            if r.endswith(".[]"):
                continue
            oi = ev.get("oi")
            if oi == r or (f.summary.name == "__init__" and r.startswith("@self.") and r.count(".") == 1):
                continue
            attrs.add(r.rpartition(".")[2])
        elif f.qualname != "<module>" and ev.get("oi") != ev["r"]:
            globs.add((f.module, ev["r"]))
    cached = model.__dict__["_once_resets"] = (attrs, globs)
    return cached


# ---------------------------------------------------------------------------- ready queues

# Gets that return at once from a thread queue holding an item. A coroutine that leaves
# ``while q.empty(): ... await ...`` and calls ``q.get()`` with no await in between finds
# the item: no other task has run since the test (P27, Dask's ``as_completed._anext``). The
# summary marks the call after such a loop (events' ``ne``); not a multiprocessing queue,
# whose other consumers are processes.
READY_GETS = frozenset({"queue.Queue.get", "queue.BoundedQueue.get"})


def ready_get(ev: dict, cs, name: str, ne=None) -> bool:
    """Is the blocking call ``name`` (event ``ev``, call site ``cs``) a ``get()`` of a thread
    queue in ``ne`` (default: the event's own ``ne`` mark), a queue a ``while q.empty():``
    loop has just left holding an item?"""
    ne = ev.get("ne") if ne is None else ne
    if not ne or name not in READY_GETS:
        return False
    recv, _, meth = ev["f"].rpartition(".")
    if meth != "get" or recv not in ne:
        return False
    rc = cs.recv_class if cs is not None else None
    return rc is None or rc.startswith("queue.")


def _ready_in_callee(g: FunctionInfo, ev: dict) -> frozenset:
    """For a call marked ``ne`` (event ``ev`` of a coroutine) of the sync method ``g`` on the
    same ``self`` (``return self._get_and_raise()``): the event of ``g`` that takes the item,
    when ``g``'s first call is the ``get()`` of such a queue, outside any loop (a second
    ``get()``, or one after another call, may find the queue empty)."""
    ne = ev.get("ne")
    if not ne or ev["f"].rpartition(".")[0] != "@self" or g.summary.kind != "method":
        return frozenset()
    sites = call_sites(g)
    for idx, gev in enumerate(g.summary.events):
        if gev["e"] != "call":
            continue
        cs = sites.get(idx)
        if "lp" not in gev and cs is not None and cs.blocking and ready_get(gev, cs, cs.blocking, ne):
            return frozenset((idx,))
        return frozenset()
    return frozenset()


def thread_lock_acquires(model: ProgramModel, fi: FunctionInfo) -> list[tuple]:
    """Blocking ``lock.acquire()`` of a thread (not asyncio) lock in ``fi``: [(Step, name)]."""
    out = []
    for idx in sorted(fi.acqs):
        ev = fi.summary.events[idx]
        if ev.get("m") != "acquire":
            continue
        for a in fi.acqs[idx]:
            lc = model.locks.get(a.lock)
            if lc is not None and not lc.is_async and a.blocking:
                out.append(((fi.path, ev["l"], ev["c"]), f"{short_name(a.lock)}.acquire()"))
                break
    return out


def _direct_cached(model, fi, extra) -> list[tuple]:
    cache = model.__dict__.setdefault("_loop_direct", {})
    key = (fi.id, extra)
    if key not in cache:
        cache[key] = _direct_blocking(model, fi, extra)
    return cache[key]


def _skipped(model: ProgramModel, f: FunctionInfo, cs, g: FunctionInfo, recv,
             ctx: frozenset = frozenset()) -> frozenset:
    """Events of ``g`` that this call from ``f`` rules out by a constant argument
    (``emit(x, asynchronous=True)`` never takes ``emit``'s ``if not asynchronous:`` branch),
    by the test LW131's walk applies (P16). ``ctx`` is ``f``'s own skip set, as its caller's
    call left it: a parameter of ``f`` bound to a numeric address there (P23, ``("ip", p)``)
    stays one when ``f`` passes it on (Dask's ``get_ip(host)`` -> ``_get_ip(host)``)."""
    return final_guards(model).skipped(f, cs, g, recv, ctx)


def reach_blocking(model: ProgramModel, fid: str, extra=frozenset(), skip=frozenset()) -> tuple | None:
    """The shortest way the *sync* project function ``fid`` blocks (``LIGHT`` calls aside),
    directly or through the sync functions it calls, within ``MAX_CHAIN - 1`` steps: (name, chain of steps
    ``(path, line, col, note)``), or None. Breadth first, so the first hit is a shortest
    one; a coroutine function called without ``await`` runs nothing and is not followed.
    ``skip``: ``fid``'s events its caller's constant arguments rule out; each call followed
    below rules out its callee's the same way (as LW131's walk does, ``graph._collect``).
    Only what async code reaches is ever explored (cached on the model)."""
    cache = model.__dict__.setdefault("_loop_reach", {})
    key = (fid, extra, skip)
    if key in cache:
        return cache[key]
    best = None
    seen = {(fid, skip)}
    level = [(fid, (), skip)]
    for _depth in range(MAX_CHAIN - 1):
        hits = []
        nxt = []
        for f_id, prefix, f_skip in level:
            f = model.functions.get(f_id)
            if f is None or f.is_async:
                continue
            for idx, step, name in _direct_cached(model, f, extra):
                if name not in LIGHT and not (f_skip and idx in f_skip):
                    hits.append((name, prefix + ((*step, f"... which calls {name}"),)))
            f_events = f.summary.events
            for cs in f.calls:
                if (f_skip and cs.idx in f_skip) or (cs.idx >= 0 and "oi" in f_events[cs.idx]
                                                      and once_only(model, f, f_events[cs.idx])):
                    continue
                for g_id, recv in cs.targets:
                    g = model.functions.get(g_id)
                    if g is None or g.is_async or g_id in cs.virtual:
                        continue
                    g_skip = _skipped(model, f, cs, g, recv, f_skip)
                    if (g_id, g_skip) in seen:
                        continue
                    seen.add((g_id, g_skip))
                    nxt.append((g_id, prefix + ((*cs.loc[:3], f"... calls {g.short}", g.short),), g_skip))
        if hits:
            # the call that waits on something else first (pymongo's ``_spawn``: the
            # ``subprocess.Popen`` inside ``with open(os.devnull)``, not the open), then
            # the first in the source (inner calls come first in event order at one position)
            best = min(enumerate(hits), key=lambda ih: (witness_rank(ih[1][0]), ih[1][1][-1][:3], ih[0]))[1]
            break
        level = nxt
        if not level:
            break
    cache[key] = best
    return best


def blocking_in_async(model: ProgramModel, fi: FunctionInfo, extra=frozenset()) -> list[tuple]:
    """For an ``async def``: [(primary Step, name, chain)] for each call in its body that
    blocks the loop, directly or through sync project functions; chain = witness steps
    ``(path, line, col, note)``, a step into a project function with that function's short
    name as a fifth part (so that no reader parses it back out of the note)."""
    out = []
    seen = set()
    for step, name in direct_blocking(model, fi, extra) + thread_lock_acquires(model, fi):
        if step in seen:
            continue
        seen.add(step)
        out.append((step, name, ((*step, f"{fi.short} calls {name}"),)))
    events = fi.summary.events
    for cs in fi.calls:
        step = tuple(cs.loc[:3])
        if step in seen:
            continue
        best = None
        ev = events[cs.idx] if cs.idx >= 0 else None
        if ev is not None and "oi" in ev and once_only(model, fi, ev):
            continue
        for g_id, recv in cs.targets:
            g = model.functions.get(g_id)
            # an override reached only by virtual dispatch may never run here (tqdm's
            # optional Telegram subclass): the class's own or inherited method is what
            # ``self.m()`` is known to call (as for blocking-under-lock, graph.VIRTUAL)
            if g is None or g.is_async or g_id in cs.virtual:
                continue
            skip = _skipped(model, fi, cs, g, recv)
            if ev is not None and "ne" in ev:
                skip = skip | _ready_in_callee(g, ev)   # (P27: the get that finds the item)
            r = reach_blocking(model, g_id, extra, skip)
            if r is None:
                continue
            cand = (r[0], ((*step, f"{fi.short} calls {g.short}", g.short),) + r[1])
            if best is None or (len(cand[1]), cand[0]) < (len(best[1]), best[0]):
                best = cand
        if best is not None:
            seen.add(step)
            out.append((step, best[0], best[1]))
    return sorted(out)


# ---------------------------------------------------------------------------- locals


def _scope_functions(model: ProgramModel, fi: FunctionInfo) -> list[FunctionInfo]:
    """The function and those nested in it (closures see its locals); for module level,
    every function of the module (module locals are globals)."""
    same_module = model.module_functions(fi.module)
    if fi.qualname == "<module>":
        return list(same_module)
    prefix = fi.qualname + ".<locals>."
    return [fi] + [f for f in same_module if f.qualname.startswith(prefix)]


def name_used(model: ProgramModel, fi: FunctionInfo, name: str) -> bool:
    """Is local ``name`` of ``fi`` read at all (as a value or through its attributes)?"""
    for f in _scope_functions(model, fi):
        s = f.summary
        if f is not fi and (name in s.params or (name in s.assigned and name not in s.reads)):
            continue
        if name in s.reads or name in s.attr_reads:
            return True
    return False


def name_handed_on(model: ProgramModel, fi: FunctionInfo, name: str) -> bool:
    """Is local ``name`` used as a value (passed, stored, returned, tested, captured)?"""
    for f in _scope_functions(model, fi):
        if f is not fi and f.qualname != "<module>":
            if name in f.summary.reads or name in f.summary.attr_reads:
                return True   # a closure uses it: its lifetime is not this function's
            continue
        if name in f.summary.reads:
            return True
    return False


def method_calls_on(model: ProgramModel, fi: FunctionInfo, ref: str) -> set[str]:
    """Methods called on ``ref`` (a local name or ``@self.attr``) in ``fi``'s scope."""
    out = set()
    pre = ref + "."
    for f in _scope_functions(model, fi):
        for ev in f.summary.events:
            if ev["e"] == "call":
                r = ev["f"]
                if r.startswith(pre) and "." not in r[len(pre):]:
                    out.add(r[len(pre):])
            elif ev["e"] == "acq" and ev["r"] == ref:
                out.add("__enter__")
    return out


def loc(step, note: str = "") -> Location:
    return Location(step[0], step[1], step[2], note if note else (step[3] if len(step) > 3 else ""))


# ---------------------------------------------------------------------------- async library

ASYNC_LIBRARIES = ("anyio", "trio", "asyncio")
# Callers followed up from a coroutine whose module names no async library (hypercorn's
# protocol classes, shared by its asyncio and trio workers), and how many functions at most:
# the first modules that decide are a few calls up; past that, the answer is a guess.
_LIBRARY_DEPTH = 8
_LIBRARY_NODES = 400


def module_library(model: ProgramModel, module: str) -> str | None:
    """The async library a module's code runs on, from what it imports: ``anyio`` when it
    imports anyio (its code runs on either loop, through anyio), ``trio`` when it imports
    trio and not asyncio (hypercorn's trio workers), ``asyncio`` when it imports asyncio;
    None when it imports none of them (the module does not decide)."""
    ms = model.modules.get(module)
    if ms is None:
        return None
    roots = {imp[1].split(".")[0] for imp in ms.imports.values() if imp and len(imp) > 1}
    roots.update(s.split(".")[0] for s in ms.star_imports)
    if "anyio" in roots:
        return "anyio"
    if "trio" in roots and "asyncio" not in roots:
        return "trio"
    if "asyncio" in roots:
        return "asyncio"
    return None


def async_libraries(model: ProgramModel, fi: FunctionInfo) -> frozenset[str]:
    """The async libraries whose loop runs ``fi``: its module's (``module_library``) when
    the module decides; otherwise those of the nearest callers, up the call graph, whose
    modules decide (each branch stops at the first that does); when no caller decides,
    those of its package (``package_libraries``). Empty when nothing decides: the advice
    then assumes asyncio. Kept per function on the model: LW201, LW202 and LW204 ask it
    for their advice."""
    cache = model.__dict__.setdefault("_async_libraries", {})
    got = cache.get(fi.id)
    if got is not None:
        return got
    own = module_library(model, fi.module)
    if own is not None:
        out = frozenset((own,))
    else:
        callers = model.callers()
        found: set[str] = set()
        seen = {fi.id}
        frontier = [fi.id]
        for _depth in range(_LIBRARY_DEPTH):
            nxt = []
            for fid in frontier:
                for g, _cs, _recv in callers.get(fid, ()):
                    if g.id in seen:
                        continue
                    seen.add(g.id)
                    lib = module_library(model, g.module)
                    if lib is not None:
                        found.add(lib)
                    else:
                        nxt.append(g.id)
            if not nxt or len(seen) > _LIBRARY_NODES:
                break
            frontier = nxt
        out = frozenset(found) or package_libraries(model, fi.module)
    cache[fi.id] = out
    return out


def package_libraries(model: ProgramModel, module: str) -> frozenset[str]:
    """The async libraries the modules of ``module``'s top-level package decide for: the
    guess for a coroutine that neither its module nor any caller decides (hypercorn's
    protocol methods, handed to the app as callables: the package has asyncio and trio
    workers, so either loop may run them). Empty for a package whose modules import none."""
    cache = model.__dict__.setdefault("_package_libraries", {})
    top = module.split(".", 1)[0]
    got = cache.get(top)
    if got is None:
        libs = set()
        for name in model.modules:
            if name == top or name.startswith(top + "."):
                lib = module_library(model, name)
                if lib is not None:
                    libs.add(lib)
        got = cache[top] = frozenset(libs)
    return got


def loop_advice(libs: frozenset[str], per_library: dict[str, str]) -> str:
    """The advice of ``per_library`` (library -> text) for code run by ``libs``: anyio's
    when anyio is among them (it runs on asyncio and trio alike), one library's when only
    one runs it, asyncio's and trio's, each named, when both do (hypercorn's protocol code),
    asyncio's when nothing decides."""
    if "anyio" in libs:
        return per_library["anyio"]
    if libs == {"trio"}:
        return per_library["trio"]
    if libs == {"asyncio", "trio"}:
        return f"{per_library['asyncio']} under asyncio or {per_library['trio']} under trio"
    return per_library["asyncio"]


# ---------------------------------------------------------------------------- public names


def public_call_name(model: ProgramModel, chain, name: str) -> str:
    """The name a message gives the blocking call ``name`` that ends the witness ``chain``:
    ``ProgramModel.public_call_name`` (the class the receiver was built as), and, for a file
    whose mode is a parameter of the function making the call (asyncssh's ``read_file(
    filename, mode='rb')``, which reads what ``open_file(filename, mode)`` opened), the class
    that mode gives at the chain's call of that function: its argument there, or the
    parameter's literal default. A module-level function only (as the linker's helpers);
    anything not known keeps the generic name."""
    last = chain[-1]
    shown = model.public_call_name(last[0], last[1], last[2], name)
    tmpl = model.recv_params.get(tuple(last[:3]))
    if tmpl is None or len(chain) < 2:
        return shown
    _param, gid, t, ctor, packed = tmpl
    g = model.functions.get(gid)
    if g is None or g.cls is not None or g.summary.parent:
        return shown
    prev = tuple(chain[-2][:3])
    site = next(((h, cs) for h, cs, _r in model.callers().get(gid, ()) if tuple(cs.loc[:3]) == prev), None)
    if site is None or site[1].idx < 0 or site[0].summary.events[site[1].idx].get("sa"):
        return shown   # an implicit call, or ``f(*a)``: which argument is which is not known
    site = site[1]
    args, kws = json.loads(packed)
    cls = link_public_class(t, ctor, None, [bind_argument(a, g, site.args, site.kws) for a in args],
                            {k: bind_argument(a, g, site.args, site.kws) for k, a in kws.items()})
    return f"{cls}.{name.rpartition('.')[2]}" if cls else shown
