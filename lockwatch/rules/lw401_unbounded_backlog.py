"""LW401 unbounded-backlog: an unbounded queue fed in a loop (or from a callback / stream
handler) while what drains it does slower work per item or can stop on an error.

Static half: a queue is a ``queue.Queue``/``LifoQueue``/``PriorityQueue``/``SimpleQueue``,
``asyncio.Queue`` (and its variants), ``multiprocessing.Queue``/``JoinableQueue`` or a
``collections.deque`` made without a bound and kept where the analyser can follow it: an
instance attribute (``self._q``, seen from every method of the class and its subclasses,
closures included), a module global, or a local handed to a function called directly
(``asyncio.create_task(consume(q))``, ``worker(q)``). It is reported when all of these hold:

- a *feeding* call (``put``/``put_nowait``, deque ``append``/``appendleft``/``extend``)
  sits in a loop body (``for``/``while``/``async for``: a stream, a batch) or in a function
  handed out as a callback (``data_received``-style protocol methods, a method passed to a
  call or stored on another object);
- a *draining* call (``get``/``get_nowait``, deque ``popleft``/``pop``) sits in a loop that
  does slower work per item (a blocking call: I/O, sleep, subprocess, directly or through a
  callee; in a coroutine, another ``await``) or that stops on an error (``raise``, or
  ``break``/``return`` in an ``except`` handler inside the loop, unless that handler
  catches only what the drain call it wraps raises on an empty queue: ``except
  queue.Empty: break`` around ``get_nowait()``, ``except IndexError`` around ``popleft()``
  is a full drain);
- nothing limits the work in flight: no semaphore is held at the feeding call or taken in
  its loop.

A queue fed once per request is not reported, nor is one whose drain is unknown (precision
first). Only the loop that has to keep up with the producer is its *consumer*; two draining
loops are not: a flush (a loop that ends once the queue is empty, ``while not q.empty()``,
``while dq:`` or ``except Empty: break`` around a poll, in a close path: a
close/shutdown/stop/``__aexit__``-like method, or after a call that ends the feed,
``await amqp_queue.cancel(tag)``) runs once, after the feed, and cannot be outrun; and a
loop that returns the item it took (``while True: ...; msg = q.get_nowait(); return msg``,
an ``__anext__`` retrying) hands one item per call to its caller, whose loop is the
consumer (unknown). A put-back inside the draining loop, or in a loop over a function that drains the
queue (``for m in iter_queue(q):``), feeds nothing. The primary location is where the queue is created (that is where ``maxsize=``
goes); the feeding and draining sites follow as related locations.

Runtime half (:mod:`lockwatch.runtime.backlog`): a queue whose backlog passes a threshold
(``backlog_threshold``, default 5000 items) and keeps rising while it is drained, with the
producer's and the consumer's stacks.
"""

from __future__ import annotations

import re

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static.catalog import SEMAPHORE_SORTS
from lockwatch.static.checks import finding, function_short, where

# constructor -> (family, (position, keyword) of its bound argument or None)
QUEUE_FACTORIES: dict[str, tuple[str, tuple[int, str] | None]] = {
    "queue.Queue": ("queue.Queue", (0, "maxsize")),
    "queue.LifoQueue": ("queue.Queue", (0, "maxsize")),
    "queue.PriorityQueue": ("queue.Queue", (0, "maxsize")),
    "queue.SimpleQueue": ("queue.SimpleQueue", None),
    "asyncio.Queue": ("asyncio.Queue", (0, "maxsize")),
    "asyncio.LifoQueue": ("asyncio.Queue", (0, "maxsize")),
    "asyncio.PriorityQueue": ("asyncio.Queue", (0, "maxsize")),
    "asyncio.queues.Queue": ("asyncio.Queue", (0, "maxsize")),
    "multiprocessing.Queue": ("multiprocessing.Queue", (0, "maxsize")),
    "multiprocessing.JoinableQueue": ("multiprocessing.Queue", (0, "maxsize")),
    "collections.deque": ("collections.deque", (1, "maxlen")),
}
FEED = {"put", "put_nowait"}
DEQUE_FEED = {"append", "appendleft", "extend", "extendleft"}
DRAIN = {"get", "get_nowait"}
DEQUE_DRAIN = {"popleft", "pop"}
# Protocol/handler methods called once per chunk of a stream or per message.
HANDLER_NAMES = {
    "data_received", "datagram_received", "buffer_updated", "on_message", "on_data",
    "message_received", "line_received", "lineReceived", "dataReceived", "handle_read",
    "on_event", "on_line", "on_chunk", "emit",
}
# Calls that run a function once in another thread/task: not a callback stream.
ONE_SHOT = re.compile(
    r"(^threading\.(Thread|Timer)$|\.submit$|\.run_in_executor$|create_task$|ensure_future$"
    r"|^asyncio\.(run|gather|to_thread|wait_for)$|\.map$|^functools\.partial$)"
)
QUEUE_NAMES = re.compile(r"^(queue|asyncio|multiprocessing|collections)\.")


def _bound(v) -> bool:
    """Does the argument value bound the queue? Unknown values count as a bound."""
    if v is None:
        return False
    if isinstance(v, dict) and "const" in v:
        c = v["const"]
        if c is None:
            return False
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            return c > 0
    return True


def _arg(ev: dict, pos: int, kw: str):
    k = ev.get("k") or {}
    if kw in k:
        return k[kw]
    a = ev.get("a") or []
    return a[pos] if pos < len(a) else None


class _Slots:
    """Where each queue lives, and how names in a function resolve to those places."""

    def __init__(self, model):
        self.m = model
        self.created: dict[tuple, dict] = {}   # slot -> creation info
        self.alias: dict[tuple, tuple] = {}    # parameter slot -> queue slot

    def cls_of(self, fi):
        seen = 0
        while fi is not None and seen < 20:
            if fi.cls:
                return fi.cls
            p = fi.summary.parent
            fi = self.m.functions.get(f"{fi.module}.{p}") if p else None
            seen += 1
        return None

    def resolve(self, fi, base: str):
        """Slot of the object named ``base`` in function ``fi`` (``@self.x``, ``name``)."""
        parts = base.split(".")
        if parts[0] == "@self" and len(parts) == 2:
            cid = self.cls_of(fi)
            ci = self.m.classes.get(cid) if cid else None
            for c in (ci.mro if ci is not None and ci.mro else [cid] if cid else []):
                s = ("attr", c, parts[1])
                if s in self.created:
                    return s
            return None
        if len(parts) == 1 and not base.startswith("@"):
            name = base
            g = fi
            depth = 0
            while g is not None and depth < 20:
                if name in g.summary.assigned or name in g.summary.params:
                    s = ("local", g.id, name)
                    return self.alias.get(s, s)
                p = g.summary.parent
                g = self.m.functions.get(f"{g.module}.{p}") if p else None
                depth += 1
            ms = self.m.modules.get(fi.module)
            imp = ms.imports.get(name) if ms is not None else None
            if imp and imp[0] == "from":
                return ("global", imp[1], imp[2])
            return ("global", fi.module, name)
        if len(parts) == 2 and not base.startswith("@"):
            ms = self.m.modules.get(fi.module)
            imp = ms.imports.get(parts[0]) if ms is not None else None
            if imp and imp[0] == "module":
                return ("global", imp[1], parts[1])
        return None


def _collect(model):
    slots = _Slots(model)
    # 1. creations: the calls linked to a queue factory (the index, in model order)
    for fi, idx, ev in model.call_events(ext=QUEUE_FACTORIES):
        fid = fi.id
        cs = fi.sites()[idx]
        fac = next((QUEUE_FACTORIES[n] for n in cs.ext if n in QUEUE_FACTORIES), None)
        if fac is None:
            continue
        t = ev.get("t")
        if not isinstance(t, str) or ev.get("u") not in ("attr", "local"):
            continue
        family, bound_arg = fac
        bounded = bound_arg is not None and _bound(_arg(ev, *bound_arg))
        if t.startswith("@self.") and t.count(".") == 1:
            cid = slots.cls_of(fi)
            if cid is None:
                continue
            slot = ("attr", cid, t.split(".")[1])
            label = f"{model.classes[cid].name if cid in model.classes else cid}.{t.split('.')[1]}"
        elif "." not in t and not t.startswith("@"):
            slot = ("global", fi.module, t) if fi.summary.qualname == "<module>" else ("local", fid, t)
            label = t
        else:
            continue
        info = slots.created.get(slot)
        if info is None or (info["bounded"] and not bounded):
            # several assignments: one unbounded creation is enough to worry
            slots.created[slot] = {
                "bounded": bounded, "family": family, "label": label,
                "loc": Location(cs.loc[0], cs.loc[1], cs.loc[2], f"{label} created without a bound"),
                "fid": fid,
            }
    # 2. locals handed to directly called functions: the parameter is the same queue
    if not slots.created:
        return slots
    # a ref resolves to a created slot only when its last name is a slot's (or an alias's)
    # name, or it is a bare imported name (``from m import q``: the slot's name is m's)
    names = {s[2] for s in slots.created}
    for fi in model.functions.values():
        evs = fi.summary.events
        imports = None
        for cs in fi.calls:
            if cs.idx < 0 or not cs.targets:
                continue
            ev = evs[cs.idx]
            a = ev.get("a")
            k = ev.get("k")
            if not a and not k:
                continue
            # the arguments that are references (this runs for every linked call)
            vals = [(i, None, v) for i, v in enumerate(a) if isinstance(v, dict) and isinstance(v.get("r"), str)] if a else []
            if k:
                vals += [(None, kw, v) for kw, v in k.items() if isinstance(v, dict) and isinstance(v.get("r"), str)]
            for pos, kw, v in vals:
                r = v["r"]
                if r.rpartition(".")[2] not in names:
                    if "." in r:
                        continue
                    if imports is None:
                        ms = model.modules.get(fi.module)
                        imports = ms.imports if ms is not None else {}
                    if r not in imports:
                        continue
                src = slots.resolve(fi, r)
                if src is None or src not in slots.created:
                    continue
                for gid, recv in cs.targets:
                    g = model.functions.get(gid)
                    if g is None:
                        continue
                    params = list(g.summary.params)
                    if kw is not None:
                        pname = kw if kw in params else None
                    else:
                        off = 1 if (recv is not None and g.summary.self_name) else 0
                        pname = params[pos + off] if pos + off < len(params) else None
                    if pname:
                        slots.alias[("local", gid, pname)] = src
                        names.add(pname)
    return slots


_QUEUE_METHODS = frozenset(FEED) | frozenset(DRAIN) | frozenset(DEQUE_FEED) | frozenset(DEQUE_DRAIN)


class _Callbacks:
    """Functions handed out to be called back: protocol handler names, methods passed to a
    call (not a one-shot thread/task start) or stored on another object.

    Asked only for the few functions that feed a queue outside a loop. A reference made in
    a function of module ``M`` names ``M.<name>`` (a function of ``M``, or a method of a class
    of ``M``: a class and its methods share their module), so whether ``fid`` is handed out
    is decided by the functions of the modules whose name prefixes ``fid``; those are walked
    once each, on first need, instead of every event of the program."""

    def __init__(self, model):
        self.m = model
        self._by_module: dict[str, set[str]] = {}

    def __contains__(self, fid: str) -> bool:
        fi = self.m.functions.get(fid)
        if fi is not None and fi.summary.name in HANDLER_NAMES and fi.cls:
            return True
        parts = fid.split(".")
        for n in range(1, len(parts)):
            module = ".".join(parts[:n])
            found = self._by_module.get(module)
            if found is None:
                found = self._by_module[module] = _handed_out(self.m, self.m.module_functions(module))
            if fid in found:
                return True
        return False


def _handed_out(model, funcs) -> set[str]:
    """The functions that calls in ``funcs`` pass as an argument (to anything but a
    one-shot thread/task start) or that ``funcs`` store on another object."""
    out: set[str] = set()
    functions = model.functions
    for fi in funcs:
        evs = fi.summary.events
        ext_by_idx = None
        cid = fi.cls
        ci = model.classes.get(cid) if cid else None
        methods = ci.summary.methods if ci is not None else None
        prefix = fi.module + "."
        for idx, ev in enumerate(evs):
            e = ev["e"]
            if e == "call":
                a = ev.get("a")
                k = ev.get("k")
                if not a and not k:
                    continue
                # the functions the arguments name (``_ref_target``, inlined: this runs for
                # every call of the module), first: most name none, and only then is the
                # (costlier) one-shot test of the callee needed
                found = []
                for v in (*(a or ()), *(k.values() if k else ())):
                    if not isinstance(v, dict):
                        continue
                    r = v.get("r")
                    if not isinstance(r, str):
                        continue
                    if r.startswith("@"):
                        if not cid or not r.startswith("@self.") or r.count(".") != 1:
                            continue
                        m = methods.get(r[6:]) if methods is not None else None
                        if m:
                            found.append(f"{ci.module}.{m}")
                    elif "." not in r and prefix + r in functions:
                        found.append(prefix + r)
                if not found:
                    continue
                if ext_by_idx is None:
                    ext_by_idx = {cs.idx: cs.ext for cs in fi.calls}
                names = ext_by_idx.get(idx) or [ev.get("f", "")]
                if any(ONE_SHOT.search(n or "") for n in names) or ONE_SHOT.search(ev.get("f", "")):
                    continue
                out.update(found)
            elif e == "wr" and isinstance(ev.get("v"), dict):
                if str(ev.get("r", "")).startswith("@self.") and ev["r"].count(".") <= 1:
                    continue
                g = _ref_target(functions, fi, cid, ci, ev["v"].get("r"))
                if g is not None:
                    out.add(g)
    return out


def _ref_target(functions, fi, cid, ci, r) -> str | None:
    """The project function a callable reference in ``fi`` names (``@self.method`` of its
    class, a function of its module), else None."""
    if not _callable_ref(r):
        return None
    if r.startswith("@self.") and cid:
        m = ci.summary.methods.get(r.split(".")[1]) if ci is not None else None
        return f"{ci.module}.{m}" if m else None
    if not r.startswith("@"):
        g = f"{fi.module}.{r}"
        if g in functions:
            return g
    return None


def _callable_ref(r) -> bool:
    """``@self.method`` or a bare name: the two forms that can name a function here."""
    return isinstance(r, str) and (r.count(".") == 1 and r.startswith("@self.") or "." not in r and not r.startswith("@"))


def _is_semaphore(model, slots: "_Slots", fi, idx: int, ev: dict) -> bool:
    for a in fi.acqs.get(idx, ()):
        lc = model.locks.get(a.lock)
        if lc is not None and lc.sort in SEMAPHORE_SORTS:
            return True
    # counting semaphores take no part in lock ordering, so the linker may not list them:
    # resolve the reference by hand (a global, or an attribute of the class or its bases)
    r = ev.get("r")
    if not isinstance(r, str):
        return False
    parts = r.split(".")
    ids = []
    if parts[0] == "@self" and len(parts) == 2:
        cid = slots.cls_of(fi)
        ci = model.classes.get(cid) if cid else None
        ids = [f"{c}.{parts[1]}" for c in (ci.mro if ci is not None and ci.mro else [cid] if cid else [])]
    elif len(parts) == 1 and not r.startswith("@"):
        g = slots.resolve(fi, r)
        if g is not None and g[0] == "global":
            ids = [f"{g[1]}.{g[2]}"]
    return any(model.locks.get(i) is not None and model.locks[i].sort in SEMAPHORE_SORTS for i in ids)


def _semaphore_limited(model, slots, fi, ev: dict) -> bool:
    evs = fi.summary.events
    for i in ev.get("h", ()):
        if 0 <= i < len(evs) and _is_semaphore(model, slots, fi, i, evs[i]):
            return True
    lp = ev.get("lp")
    if lp is None:
        return False
    return any(other["e"] == "acq" and other.get("lp") == lp and _is_semaphore(model, slots, fi, i, other)
               for i, other in enumerate(evs))


def _slow_work(model, fi, lp: int, get_idx: set[int]):
    """(what, location) of slower work per item in loop ``lp`` of ``fi``, else None."""
    evs = fi.summary.events
    for cs in fi.calls:
        if cs.idx < 0 or cs.idx in get_idx or evs[cs.idx].get("lp") != lp:
            continue
        names = [n for n in cs.ext if not QUEUE_NAMES.match(n) or not n.endswith((".get", ".put"))]
        if cs.blocking and not cs.blocking.startswith("queue."):
            return f"calls {cs.blocking}", cs.loc
        for gid, _ in cs.targets:
            g = model.functions.get(gid)
            if g is not None and any(not n.startswith("queue.") for n in g.block_eff):
                name = next(n for n in g.block_eff if not n.startswith("queue."))
                return f"calls {g.short}, which calls {name}", cs.loc
        del names
    if fi.is_async:
        after_get = {i + 1 for i in get_idx}
        for i, ev in enumerate(evs):
            if ev["e"] == "await" and ev.get("lp") == lp and i not in after_get:
                # the `async for` step of the drain loop itself is not work per item
                if ev["l"] == lp:
                    continue
                return "awaits other work", (fi.path, ev["l"], ev["c"], "")
    return None


# What a non-blocking drain call raises when the queue is empty, per family: a loop that
# breaks (or returns) in a handler of only these, around that very call, has drained the
# queue; it has not stopped on an error.
EMPTY_ERRORS = {
    "queue.Queue": {"Empty"}, "queue.SimpleQueue": {"Empty"}, "multiprocessing.Queue": {"Empty"},
    "asyncio.Queue": {"QueueEmpty"}, "collections.deque": {"IndexError"},
}


def _polls(ev: dict, family: str) -> bool:
    """Does this drain call raise when the queue is empty instead of waiting for an item
    (``get_nowait()``, ``get(block=False)``, ``get(timeout=...)``, deque ``popleft()``)?"""
    meth = ev.get("f", "").rpartition(".")[2]
    if family == "collections.deque" or meth == "get_nowait":
        return True
    if meth != "get":
        return False
    block = _arg(ev, 0, "block")
    return (isinstance(block, dict) and block.get("const") is False) or _arg(ev, 1, "timeout") is not None


def _drained(exit_ev: dict, family: str, polls: list) -> bool:
    """Is this handler exit the end of a drain: ``except Empty: break`` around a poll?"""
    hx, tb = exit_ev.get("hx"), exit_ev.get("tb")
    if not hx or not tb or exit_ev.get("x") not in ("break", "return"):
        return False
    if not set(hx) <= EMPTY_ERRORS.get(family, set()):
        return False
    return any(tb[0] <= ev["l"] < tb[1] and ev.get("lp") == exit_ev.get("lp") for ev in polls)


def _loops_over(fi, lp, fids: set) -> bool:
    """Is loop ``lp`` of ``fi`` a ``for`` over the result of a call of one of ``fids``
    (a call on the loop's line that is not in its body)?"""
    if lp is None or not fids:
        return False
    sites = fi.sites()
    for idx, ev in enumerate(fi.summary.events):
        if ev["e"] == "call" and ev["l"] == lp and ev.get("lp") != lp:
            cs = sites.get(idx)
            if cs is not None and any(g in fids for g, _ in cs.targets):
                return True
    return False


# A method that runs when the object is closed: what it drains is what is left over.
CLOSE_NAMES = re.compile(
    r"^_*(on_?)?a?(close|closed|shutdown|stop|stopped|teardown|dispose|terminate|cleanup)$"
    r"|^__(a?exit|del)__$"
)
# Calls that end a feed (a consumer subscription cancelled, a producer stopped or joined).
FEED_ENDS = {"cancel", "basic_cancel", "close", "aclose", "stop", "shutdown", "unsubscribe",
             "remove_done_callback", "remove_reader"}


def _until_empty(slots, fi, lp: int, slot, family: str, polls: list) -> bool:
    """Does loop ``lp`` of ``fi`` end once the queue is empty: ``while not q.empty()`` /
    ``while q.qsize()`` (``while dq:`` for a deque) in its test, or ``except Empty: break``
    around a poll in its body?"""
    for ev in fi.summary.events:
        if ev.get("lp") != lp or ev["l"] != lp:
            continue
        # an event on the loop's own line that carries its ``lp`` sits in a ``while`` test
        # (a ``for`` loop's iterable is outside the loop)
        if ev["e"] == "call":
            base, _, meth = ev.get("f", "").rpartition(".")
            if meth in ("empty", "qsize") and base and slots.resolve(fi, base) == slot:
                return True
        elif ev["e"] == "rd" and family == "collections.deque":
            r = ev.get("r")
            if isinstance(r, str) and slots.resolve(fi, r) == slot:
                return True
    return any(ev["e"] == "exit" and ev.get("lp") == lp and _drained(ev, family, polls)
               for ev in fi.summary.events)


def _flush(slots, fi, lp: int, slot, family: str, polls: list) -> bool:
    """Is loop ``lp`` of ``fi`` a flush at close rather than the queue's consumer?

    The consumer is the loop that has to keep up with the producer, for as long as it
    runs. A loop that empties what is left (it ends once the queue is empty) in a close
    path (a close/shutdown/``__aexit__``-like method, or after a call that ends the feed
    outside any loop: ``await amqp_queue.cancel(tag)``, ``producer.join()``) runs once,
    after the feed, and cannot be outrun (P37, aio-pika ``QueueIterator._on_close``)."""
    if not _until_empty(slots, fi, lp, slot, family, polls):
        return False
    if CLOSE_NAMES.match(fi.summary.name):
        return True
    for ev in fi.summary.events:
        if ev["l"] >= lp:
            break
        if ev["e"] == "call" and "lp" not in ev and ev.get("f", "").rpartition(".")[2] in FEED_ENDS:
            return True
    return False


def _hands_back(fi, lp: int, ev: dict) -> bool:
    """Does loop ``lp`` of ``fi`` return the item its drain call ``ev`` took
    (``while True: ... msg = q.get_nowait(); ...; return msg``)? Then the loop waits or
    retries for one item per call and the caller does the work per item: the loop is not
    the consumer (aio-pika ``RobustQueueIterator.__anext__``)."""
    t = ev.get("t")
    if not isinstance(t, str) or "." in t or t.startswith("@"):
        return False
    if {"r": t} not in fi.summary.returns:
        return False
    return any(e["e"] == "exit" and e.get("x") == "return" and not e.get("err")
               and e.get("lp") == lp and e["l"] > ev["l"] for e in fi.summary.events)


def _stops_on_error(fi, lp: int, family: str = "", polls: list = ()):
    for ev in fi.summary.events:
        if ev["e"] == "exit" and ev.get("lp") == lp and ev.get("err") and not _drained(ev, family, polls):
            return ev
    return None


def check(model, config):
    slots = _collect(model)
    unbounded = {s: i for s, i in slots.created.items() if not i["bounded"]}
    if not unbounded:
        return
    callbacks = _Callbacks(model)  # walks a module's events on first need
    feeds: dict[tuple, list] = {}
    drains: dict[tuple, list] = {}
    # the calls of a queue method (the index, not every call event of the program)
    for fi, idx, ev in model.call_events(last=_QUEUE_METHODS):
        f = ev.get("f", "")
        base, _, meth = f.rpartition(".")
        if not base:
            continue
        if meth not in _QUEUE_METHODS:
            continue
        slot = slots.resolve(fi, base)
        info = unbounded.get(slot)
        if info is None:
            continue
        deque = info["family"] == "collections.deque"
        if (meth in DEQUE_FEED) if deque else (meth in FEED):
            feeds.setdefault(slot, []).append((fi, idx, ev))
        elif (meth in DEQUE_DRAIN) if deque else (meth in DRAIN):
            drains.setdefault(slot, []).append((fi, idx, ev))
    for slot, info in sorted(unbounded.items(), key=lambda kv: (kv[1]["loc"].path, kv[1]["loc"].line)):
        hot_feeds = []
        limited = False
        # a put-back inside the draining loop itself (a partial write re-queued) feeds nothing;
        # nor does one in a loop over a function that drains it (``for m in iter_queue(q):``)
        drain_loops = {(fi.id, ev.get("lp")) for fi, _, ev in drains.get(slot, ())}
        drain_fids = {fi.id for fi, _, _ in drains.get(slot, ())}
        for fi, idx, ev in feeds.get(slot, ()):
            if (fi.id, ev.get("lp")) in drain_loops or _loops_over(fi, ev.get("lp"), drain_fids):
                continue
            args = ev.get("a") or []
            if args and isinstance(args[0], dict) and "const" in args[0]:
                continue  # put(None) once per worker: a stop signal, not a stream of work
            if _semaphore_limited(model, slots, fi, ev):
                limited = True
                break
            if "lp" in ev:
                hot_feeds.append((fi, ev, "in a loop"))
            else:
                if fi.id not in callbacks:
                    continue
                hot_feeds.append((fi, ev, "from a callback"))
        if limited or not hot_feeds:
            continue
        drain_why = None
        for fi, idx, ev in drains.get(slot, ()):
            lp = ev.get("lp")
            if lp is None:
                continue
            polls = [e for f2, _, e in drains.get(slot, ()) if f2 is fi and _polls(e, info["family"])]
            if _flush(slots, fi, lp, slot, info["family"], polls) or _hands_back(fi, lp, ev):
                continue  # empties what is left at close, or one item per call: not the consumer
            gets = {i for _, i, e in drains.get(slot, ()) if _ is fi}
            slow = _slow_work(model, fi, lp, gets)
            if slow is not None:
                drain_why = (fi, ev, f"{function_short(model, fi.id)} {slow[0]} for every item", slow[1])
                break
            stop = _stops_on_error(fi, lp, info["family"], polls)
            if stop is not None:
                drain_why = (fi, ev, f"{function_short(model, fi.id)} stops draining on an error",
                             (fi.path, stop["l"], stop["c"], ""))
                break
        if drain_why is None:
            continue
        ffi, fev, how = hot_feeds[0]
        dfi, dev, dwhy, dloc = drain_why
        feed_loc = Location(ffi.path, fev["l"], fev["c"], f"{function_short(model, ffi.id)} feeds it {how}")
        drain_loc = Location(dfi.path, dev["l"], dev["c"], f"{function_short(model, dfi.id)} drains it")
        work_loc = Location(dloc[0], dloc[1], dloc[2], dwhy)
        related = [feed_loc]
        for fi2, ev2, how2 in hot_feeds[1:3]:
            related.append(Location(fi2.path, ev2["l"], ev2["c"], f"{function_short(model, fi2.id)} feeds it {how2}"))
        related += [drain_loc, work_loc]
        msg = (f"unbounded {info['family']} {info['label']} is fed {how} ({where(feed_loc)}) while "
               f"{dwhy} ({where(work_loc)}): the backlog can grow until memory runs out; "
               f"bound it (maxsize) so the producer waits")
        yield finding(RULE, msg, info["loc"], related, [],
                      (info["label"], info["family"], function_short(model, ffi.id),
                       function_short(model, dfi.id)))


RULE = Rule(
    code="LW401",
    name="unbounded-backlog",
    kind="unbounded-backlog",
    severity="warning",
    summary="Bound a queue that is fed in a loop faster than it is drained",
    what="""
Finds `queue.Queue`, `queue.SimpleQueue`, `asyncio.Queue`, `multiprocessing.Queue` and
`collections.deque` work queues created without a bound (`maxsize`/`maxlen`) that are fed in
a loop (a batch, a stream read with `async for`) or from a callback or protocol handler
(`data_received`, a method handed to a subscription), while the loop that drains them does
slower work per item (a blocking call such as I/O or `sleep`, directly or in a callee; in a
coroutine another `await`) or stops on an error without draining the rest. A semaphore held
while feeding (limiting the work in flight) makes it clean. The finding points at the
creation (where the bound goes) and lists the feeding and draining sites. At runtime,
`lockwatch run` reports a queue whose backlog passes `backlog_threshold` items (default
5000) and keeps rising while it is drained, with the producer's and the consumer's stacks.
""",
    why="""
A producer faster than its consumer fills an unbounded queue until the process runs out of
memory, usually in production, under load, long after the code was written; when the
consumer dies on an error the queue grows with nothing draining it at all. A bounded queue
makes the producer wait (back-pressure), so a slow consumer slows the producer down instead
of eating memory.
""",
    example="""
jobs = queue.Queue()                   # no bound

def crawl(urls):
    for url in urls:
        jobs.put(url)                  # fed in a loop

def worker():
    while True:
        url = jobs.get()
        save(requests.get(url).text)   # slow I/O per item
""",
    use_instead="""
jobs = queue.Queue(maxsize=100)        # put() blocks while 100 are waiting

def crawl(urls):
    for url in urls:
        jobs.put(url)
""",
    static=True,
    runtime=True,
    invalid=(
        Example.single('''
import queue
import threading
import requests

jobs = queue.Queue()  # expect


def crawl(urls):
    for url in urls:
        jobs.put(url)


def worker():
    while True:
        url = jobs.get()
        requests.get(url)


threading.Thread(target=worker, daemon=True).start()
'''),
        Example.single('''
import asyncio


class Relay:
    def __init__(self, writer):
        self._out = asyncio.Queue()  # expect
        self._writer = writer

    async def pump(self, reader):
        async for line in reader:
            self._out.put_nowait(line)

    async def forward(self):
        while True:
            line = await self._out.get()
            self._writer.write(line)
            await self._writer.drain()
'''),
        Example.single('''
import collections
import logging
import threading


class Uploader:
    def __init__(self, client):
        self._pending = collections.deque()  # expect
        self._client = client
        self._cv = threading.Condition()

    def on_message(self, msg):
        with self._cv:
            self._pending.append(msg)
            self._cv.notify()

    def run(self):
        while True:
            with self._cv:
                while not self._pending:
                    self._cv.wait()
                msg = self._pending.popleft()
            try:
                self._client.send(msg)
            except OSError:
                logging.exception("upload failed")
                return
'''),
        Example.single('''
import asyncio


class Consumer:
    def __init__(self, amqp_queue, handler):
        self._amqp_queue = amqp_queue
        self._handler = handler
        self._queue = asyncio.Queue()  # expect

    async def start(self):
        self._tag = await self._amqp_queue.consume(self.on_message)

    async def on_message(self, message):
        await self._queue.put(message)

    async def close(self):
        await self._amqp_queue.cancel(self._tag)
        while not self._queue.empty():
            await self._queue.get_nowait().nack()

    async def run(self):
        while True:
            msg = await self._queue.get()
            await self._handler(msg)
            await msg.ack()
'''),
    ),
    valid=(
        Example.single('''
import queue
import threading
import requests

jobs = queue.Queue(maxsize=100)


def crawl(urls):
    for url in urls:
        jobs.put(url)


def worker():
    while True:
        url = jobs.get()
        requests.get(url)


threading.Thread(target=worker, daemon=True).start()
'''),
        Example.single('''
import queue
import threading
import requests

jobs = queue.Queue()
slots = threading.BoundedSemaphore(100)


def crawl(urls):
    for url in urls:
        slots.acquire()
        jobs.put(url)


def worker():
    while True:
        url = jobs.get()
        try:
            requests.get(url)
        finally:
            slots.release()
'''),
        Example.single('''
import queue
import threading
import requests

jobs = queue.Queue()


def handle_request(url):
    jobs.put(url)


def worker():
    while True:
        url = jobs.get()
        requests.get(url)
'''),
        Example.single('''
import asyncio


async def pipeline(reader, writer):
    out = asyncio.Queue(maxsize=64)

    async def pump():
        async for line in reader:
            await out.put(line)

    async def forward():
        while True:
            line = await out.get()
            writer.write(line)
            await writer.drain()

    await asyncio.gather(pump(), forward())
'''),
        Example.single('''
import queue
import threading
import urllib.request

tasks = queue.Queue()


def worker():
    while True:
        url = tasks.get()
        if url is None:
            return
        urllib.request.urlopen(url).read()


def run(urls, n=4):
    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    tasks.put(urls[0])
    for _ in threads:
        tasks.put(None)
    for t in threads:
        t.join()
'''),
        Example.single('''
import collections


class Sender:
    def __init__(self, sock):
        self._buffer = collections.deque()
        self._sock = sock

    def send_ready(self):
        while self._buffer:
            data = self._buffer.popleft()
            try:
                n = self._sock.send(data)
            except BlockingIOError:
                self._buffer.appendleft(data)
                break
            except OSError:
                return
            if n < len(data):
                self._buffer.appendleft(data[n:])
'''),
        Example.single('''
import queue

results = queue.Queue()


def collect(items):
    for x in items:
        results.put(x * 2)


def total():
    n = 0
    while not results.empty():
        n += results.get()
    return n
'''),
        Example.single('''
import asyncio


class QueueIterator:
    def __init__(self, amqp_queue):
        self._amqp_queue = amqp_queue
        self._queue = asyncio.Queue()
        self._ready = asyncio.Event()

    async def start(self):
        self._tag = await self._amqp_queue.consume(self.on_message)

    async def on_message(self, message):
        await self._queue.put(message)
        self._ready.set()

    async def close(self):
        await self._amqp_queue.cancel(self._tag)
        while not self._queue.empty():
            await self._queue.get_nowait().nack()

    def __aiter__(self):
        return self

    async def __anext__(self):
        while True:
            await self._ready.wait()
            if not self._queue.empty():
                msg = self._queue.get_nowait()
                if self._queue.empty():
                    self._ready.clear()
                return msg
            await asyncio.sleep(0.5)
'''),
    ),
    check=check,
)
