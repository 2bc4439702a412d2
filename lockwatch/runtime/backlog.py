"""Queue backlogs at runtime (LW401 ``unbounded-backlog``): high-water marks of unbounded
``queue.Queue`` / ``asyncio.Queue`` objects, and a finding when a backlog keeps growing
past a threshold while (or after) something drains it.

Instrumentation: the queues' own ``_put``/``_get`` hooks, patched on the classes (so
``type()``/``isinstance`` are untouched, and queues created before ``install()`` are
covered too). For ``queue.Queue`` these hooks run under the queue's own mutex, for
``asyncio.Queue`` on the loop's thread, so per-queue fields need no other lock. Per put:
``len`` of the deque and a compare with the queue's high-water mark; per get: one counter.
Everything else happens only when a new high-water mark is at least half the threshold.
Bounded queues (``maxsize > 0``) are skipped: they cannot back up without limit.

A finding needs, besides size >= threshold and then a further quarter of it (still
rising):
- that the queue has been drained at least once (a queue filled first and drained later,
  e.g. results collected for after ``join()``, has no consumer racing its producer);
- both stacks: the producer's at the moment the backlog crossed the threshold, the
  consumer's as it is when the finding is made (its thread's or task's current stack: the
  slow work it is doing), or, when the consumer is gone, where it last took an item.
"""

from __future__ import annotations

import operator
import sys
import weakref

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.stacks import disp, is_own, is_wrapper, stack_of, task_stack, thread_stack

CODE = "LW401"
KIND = "unbounded-backlog"
DEFAULT_THRESHOLD = 5000

_threshold = DEFAULT_THRESHOLD
_arm_at = DEFAULT_THRESHOLD // 2
_saved: list[tuple[type, str, object, bool]] = []  # (class, attribute, original, had it)
_armed: list = []                                   # (weakref to queue, _Rec): report section
_findings: list[Finding] = []


def configure(threshold: int | None) -> None:
    global _threshold, _arm_at
    t = DEFAULT_THRESHOLD if threshold is None else int(threshold)
    if t < 1:
        raise ValueError("backlog_threshold must be >= 1")
    _threshold = t
    _arm_at = max(1, t // 2)


class _Rec:
    """What an armed queue (high-water mark >= threshold/2) remembers."""

    __slots__ = ("site", "kind", "gets_at_cross", "producer", "feed", "next_check", "reported", "hwm",
                 "gets")

    def __init__(self, site, kind: str) -> None:
        self.site = site              # (path, line) of the queue's creation, or None
        self.kind = kind
        self.gets_at_cross = -1
        self.producer: list[str] | None = None
        self.feed: tuple[str, int] | None = None
        self.next_check = 0      # size at which "still rising" is (re)checked
        self.reported = False    # ... and it made a finding
        self.hwm = 0             # kept here too: the queue may be gone by report time
        self.gets = 0


def _user_frame(f):
    """The innermost frame that is neither lockwatch nor a stdlib wrapper (queue, asyncio)."""
    while f is not None and (is_own(f.f_code.co_filename) or is_wrapper(f.f_code.co_filename)):
        f = f.f_back
    return f


def _site(f) -> tuple[str, int] | None:
    f = _user_frame(f)
    return (disp(f.f_code.co_filename), f.f_lineno) if f is not None else None


def _current_agent():
    try:
        import asyncio

        t = asyncio.current_task() if _has_running_loop() else None
    except Exception:
        t = None
    return t if t is not None else state.get_ident()


def _has_running_loop() -> bool:
    try:
        import asyncio.events as ev

        return ev._get_running_loop() is not None
    except Exception:
        return False


# ------------------------------------------------------------------------- the hooks
def _note_init(q) -> None:
    # Creation site, one frame walk per queue.
    try:
        q._lw_site = _site(sys._getframe(2))
    except Exception:
        q._lw_site = None


def _first_get(q) -> None:
    # Where the consumer drains, remembered once per queue.
    try:
        q._lw_getter = (_current_agent(), _site(sys._getframe(2)))
    except Exception as e:
        state.internal_error("backlog", e)


def _rising(q, n: int, kind: str) -> None:
    """A new high-water mark at least half the threshold (called under the queue's mutex
    or on its loop)."""
    try:
        rec = q._lw
        if rec is None:
            if getattr(q, "maxsize", 0) and q.maxsize > 0:
                return
            rec = q._lw = _Rec(getattr(q, "_lw_site", None), kind)
            with state.mutex:
                _armed.append((weakref.ref(q), rec))
        rec.hwm = n
        rec.gets = q._lw_gets
        if rec.reported:
            return
        if rec.gets_at_cross < 0:
            if n < _threshold:
                return
            # crossing: the producer is the thread/task putting right now
            f = _user_frame(sys._getframe(1))
            rec.producer = stack_of(f) if f is not None else []
            rec.feed = _site(f)
            rec.gets_at_cross = q._lw_gets
            rec.next_check = _threshold + max(1, _threshold // 4)
            return
        if n >= rec.next_check:
            if q._lw_gets == 0:
                # Never drained yet: filled first, drained later (not a race), or the
                # consumer has not started; look again when the backlog has doubled.
                rec.next_check = 2 * n
                return
            rec.reported = True
            _report(q, rec, n)
    except Exception as e:
        state.internal_error("backlog", e)


def _report(q, rec: _Rec, n: int) -> None:
    drained = q._lw_gets - rec.gets_at_cross
    agent, get_site = getattr(q, "_lw_getter", (None, None))
    consumer: list[str] = []
    alive = False
    if isinstance(agent, int):
        consumer = thread_stack(agent) if agent != state.get_ident() else []
        alive = bool(consumer)
    elif agent is not None:
        try:
            alive = not agent.done()
        except Exception:
            alive = False
        consumer = task_stack(agent) if alive else []
    if not consumer and get_site:
        consumer = [f"{get_site[0]}:{get_site[1]} in (last seen taking an item)"]
    qname = "asyncio.Queue" if rec.kind == "asyncio" else "queue.Queue"
    if drained > 0:
        how = (f"the consumer took only {drained} item(s) while it grew past "
               f"{_threshold} (drained slower than it is fed)")
    else:
        how = ("nothing has taken an item since it passed "
               f"{_threshold} (the consumer stopped draining{'' if alive else ' or ended'})")
    site = rec.site or rec.feed or ("<unknown>", 0)
    msg = (f"unbounded {qname} created at {site[0]}:{site[1]} holds {n} items and is still "
           f"growing: {how}; give it a maxsize so the producer waits")
    related = []
    if rec.feed:
        related.append(Location(rec.feed[0], rec.feed[1], 1, "fed here (producer, at the threshold)"))
    if get_site:
        related.append(Location(get_site[0], get_site[1], 1, "drained here (consumer)"))
    f = Finding(
        code=CODE, kind=KIND, severity="warning", message=msg,
        path=site[0], line=site[1], related=related,
        locks=[],
        stacks=[rec.producer or [], consumer],
        fingerprint=make_fingerprint(CODE, site[0], site[1], qname),
        extra={"backlog": {"size": n, "threshold": _threshold, "drained_since_threshold": drained}},
    )
    with state.mutex:
        _findings.append(f)


# ------------------------------------------------------------------ patch the classes
def _wrap_queue(cls, store: str, flavour: str) -> None:
    """Hook ``_put``/``_get``/``__init__`` of a queue class. ``store`` names the
    attribute holding the items (``queue`` in queue.Queue, ``_queue`` in
    asyncio.Queue). Both hooks run under the queue's own mutex (or on the loop's
    thread), so the counters need no lock."""
    orig_put, orig_get, orig_init = cls._put, cls._get, cls.__init__
    items = operator.attrgetter(store)

    def _put(self, item):
        orig_put(self, item)
        n = len(items(self))
        if n > self._lw_hwm:
            self._lw_hwm = n
            if n >= _arm_at:
                _rising(self, n, flavour)

    def _get(self):
        if not self._lw_gets:
            _first_get(self)
        self._lw_gets += 1
        return orig_get(self)

    def __init__(self, *a, **k):
        orig_init(self, *a, **k)
        _note_init(self)

    _patch(cls, "_put", _put)
    _patch(cls, "_get", _get)
    if "__init__" in cls.__dict__:
        __init__.__doc__ = orig_init.__doc__
        _patch(cls, "__init__", __init__)


def _patch(cls, name: str, value) -> None:
    had = name in cls.__dict__
    _saved.append((cls, name, cls.__dict__.get(name), had))
    setattr(cls, name, value)


def _defaults(cls) -> None:
    for name, v in (("_lw_hwm", 0), ("_lw_gets", 0), ("_lw", None), ("_lw_site", None)):
        _patch(cls, name, v)


def install(threshold: int | None = None) -> None:
    configure(threshold)
    if _saved:
        return
    try:
        import queue

        _defaults(queue.Queue)
        # PriorityQueue/LifoQueue define their own _put/_get (on a list); Queue's own hooks
        # cover Queue and the user subclasses that do not.
        for cls in (queue.Queue, queue.PriorityQueue, queue.LifoQueue):
            _wrap_queue(cls, "queue", "thread")
        import asyncio

        _defaults(asyncio.Queue)
        for cls in (asyncio.Queue, asyncio.PriorityQueue, asyncio.LifoQueue):
            _wrap_queue(cls, "_queue", "asyncio")
    except Exception as e:
        state.internal_error("backlog-install", e)
        uninstall()


def uninstall() -> None:
    while _saved:
        cls, name, orig, had = _saved.pop()
        try:
            if had:
                setattr(cls, name, orig)
            else:
                delattr(cls, name)
        except Exception as e:  # pragma: no cover
            state.internal_error("backlog-uninstall", e)


def findings(since: int = 0) -> list[Finding]:
    with state.mutex:
        return list(_findings[since:])


def high_water_marks(limit: int = 20) -> dict:
    """The report's ``backlog`` section: the armed queues, largest high-water mark first."""
    rows = []
    with state.mutex:
        armed = list(_armed)
    for ref, rec in armed:
        q = ref()
        site = rec.site or rec.feed
        rows.append({
            "queue": "asyncio.Queue" if rec.kind == "asyncio" else "queue.Queue",
            "created": f"{site[0]}:{site[1]}" if site else "<unknown>",
            "high_water": q._lw_hwm if q is not None else rec.hwm,
            "size": q.qsize() if q is not None else None,
            "taken": q._lw_gets if q is not None else rec.gets,
            "reported": rec.reported,
        })
    rows.sort(key=lambda r: -r["high_water"])
    return {"threshold": _threshold, "queues": rows[:limit]}


def reset() -> None:
    with state.mutex:
        del _findings[:]
        del _armed[:]
