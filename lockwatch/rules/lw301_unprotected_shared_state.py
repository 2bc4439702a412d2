"""LW301 unprotected-shared-state: state of a thread-safe class written under a lock in one
place and written, or read, without it in another (RacerD's unprotected write and
read/write race). Static half: :func:`lockwatch.static.races.unprotected`; runtime half:
the Eraser-style lockset of :mod:`lockwatch.runtime.lockset` (opt-in, watched classes).

The primary location is the unprotected access; the witness is an access of the same
attribute made while holding a lock.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static import races
from lockwatch.static.checks import finding, where
from lockwatch.static.model import short_name


def _write_sites_of_check_then_act(model, config) -> set:
    # a write already reported as the act of a check-then-act (LW302) is not reported twice
    return {(c.act.fid, c.attr) for c in races.check_then_act(model, config)}


def _held_here(model, acc):
    """(acq event index, Acq) of the locks ``acc``'s own function takes and holds at it."""
    fi = model.functions.get(acc.fid)
    if fi is None:
        return []
    return [(i, a) for i in acc.direct if isinstance(i, int) for a in fi.acqs.get(i, ())
            if a.lock in acc.locks]


def _lock_text(model, acc) -> str:
    """The witness's locks as a message names them: a lock the method reaches through
    another object is named by the code's access path, then its owner's class
    (hazelcast's ``with self._event.condition:`` is "self._event.condition
    (_Event.condition)", not a bare "_Event.condition" that reads as a lock of its own)."""
    paths = {}
    for _i, a in _held_here(model, acc):
        p = a.path
        parts = p.split(".") if isinstance(p, str) and p.startswith("@self.") else []
        if len(parts) >= 3 and all(x.isidentifier() for x in parts[1:]):
            paths.setdefault(a.lock, "self." + ".".join(parts[1:]))
    if not paths:
        return races.lock_names(acc.locks)
    named = []
    for x in acc.locks:
        n = short_name(x) if x != "?" else "a lock-like context"
        named.append((n, f"{paths[x]} ({n})" if x in paths else n))
    return ", ".join(t for _n, t in sorted(named))


def _same_method_order(model, r):
    """For an unlocked access and its locked witness in one method: the lock the method
    takes around the witness with a ``with`` statement, that statement's keyword, and
    whether the access comes after that block (True) or before it (False) in the source
    (events are in source order, and every event inside the block holds it); None when the
    witness's lock is not taken so in this method (a caller's lock, a manual ``acquire()``,
    a loop test). The source order only: an access in the ``else`` of an ``if`` whose body
    holds the block comes "after" it too, so the text says where, not "after releasing"."""
    acc, wit = r.access, r.witness
    if acc.fid != wit.fid or not wit.locks or acc.idx < 0:
        return None
    fi = model.functions.get(acc.fid)
    if fi is None:
        return None
    events = fi.summary.events
    taken = [(i, a) for i, a in _held_here(model, wit)
             if 0 <= i < len(events) and events[i].get("m") in ("with", "awith")
             and i not in acc.direct]
    if not taken:
        return None
    i, a = min(taken, key=lambda t: t[0])
    return a.lock, "async with" if events[i].get("m") == "awith" else "with", acc.idx > i


def _access_text(model, r) -> str:
    """What the unlocked access does, as both message forms say it."""
    if r.why == "write" and r.access.call:
        return f"calls {races.call_text(model, r.access)}"
    if r.why == "write":
        return f"{'mutates' if r.access.container else 'writes'} self.{r.attr}"
    return f"reads self.{r.attr}"


def _same_method_text(model, r, lock: str, kw: str, after: bool) -> str:
    m = races.method_short(model, r.access.fid)
    did = _access_text(model, r)
    if r.witness.call:
        wdid = f"calls {races.call_text(model, r.witness)}"
    else:
        wdid = "writes it" if r.witness.write else "reads it"
    where_ = "after" if after else "before"
    return (f"{m} {did} without a lock {where_} its `{kw}` block holding {short_name(lock)}, where it {wdid} "
            f"({where(r.witness.loc)})")


def check(model, config):
    skip = _write_sites_of_check_then_act(model, config)
    for r in races.unprotected(model, config, skip):
        cls = model.classes[r.cid].name
        m = races.method_short(model, r.access.fid)
        wm = races.method_short(model, r.witness.fid)
        wl = _lock_text(model, r.witness)
        if r.witness.locks:
            if r.witness.call:
                # the object's own method, not a write of the attribute (werkzeug's
                # ``self._matcher.update()``)
                did = f"calls {races.call_text(model, r.witness)}"
                how = f"{wm} {did} holding {wl} ({where(r.witness.loc)})"
                note = f"{wm} {did} holding {wl}"
            else:
                how = f"{wm} {'writes' if r.witness.write else 'reads'} it holding {wl} ({where(r.witness.loc)})"
                note = f"{wm} {'writes' if r.witness.write else 'reads'} self.{r.attr} holding {wl}"
        elif r.witness is r.access:
            how = f"{cls} is declared thread-safe: two threads can run {m} at once"
            note = f"{m} writes self.{r.attr} in every thread that runs it"
        else:
            how = f"{wm} writes it too ({where(r.witness.loc)}) and {cls} is declared thread-safe"
            note = f"{wm} writes self.{r.attr}"
        did = _access_text(model, r)
        msg = f"{m} {did} without a lock, {'but' if r.why == 'write' else 'racing'} {how}"
        order = _same_method_order(model, r)
        if order is not None:
            # one method on both sides: say where the access is against its own hold
            # (ddtrace's ``limit``: "writes self.budget without a lock after its `with` block holding
            # _lock, where it writes it"), not "limit writes it without a lock, but limit
            # writes it holding"
            msg = _same_method_text(model, r, *order)
        wit = Location(r.witness.loc.path, r.witness.loc.line, r.witness.loc.column, note)
        yield finding(RULE, msg, r.access.loc, [wit], races.real_locks(r.witness.locks),
                      (r.cid, r.attr, r.access.fid, r.why))


RULE = Rule(
    code="LW301",
    name="unprotected-shared-state",
    kind="unprotected-shared-state",
    default=False,
    severity="warning",
    summary="Access shared state under the lock that guards it everywhere",
    what="""
In a class that takes a lock (or is declared thread-safe with `@lockwatch.thread_safe` or
`[tool.lockwatch.runtime] watch-classes`), finds an attribute that is accessed under a lock
in one method and written without it in another, or read without it while another method
mutates it in place under the lock (a plain read of an attribute that is only ever rebound
is atomic and not reported; nor are reads in `__repr__`/`__str__`). A private helper
called only while the lock is held counts as locked, also when called on the class's
singleton read through the class (`with Cache._lock: Cache._singleton._evict(key)`, where
the class attribute `_singleton` is `None` in the class body and only ever assigned
`Cache()`). Classes that are locks themselves
(they define `acquire` and `release`) are skipped. Constructors, state only set in `__init__`, and attributes holding queues, events,
deques or locks are never reported. A call named like a container mutator (`update`, `add`,
`clear`, ...) on an attribute that holds an instance of one project class (every assignment
`None` or a constructor call of it, also `param or Cls(...)`) is that object's own method:
not reported when the class reaches a thread-safe type (a `threading.Semaphore` subclass) or
takes its own lock; on a plain class it is reported as a call (`Map.add calls
self._matcher.add(...) without a lock, but Map.update calls self._matcher.update() holding
Map._remap_lock`), and a read of the attribute does not race it. When one method makes both accesses, the
message says whether the unlocked one comes after or before that method's `with` block in
the source; a lock held on another object (`with
self._event.condition:`) is named by that path, then its class. At runtime (opt-in), an Eraser-style lockset per
attribute of the watched classes reports an attribute written by one thread and accessed by
another with no lock in common, with both stacks.
""",
    why="""
The lock shows the author meant the state to be shared between threads; one access without
it lets another thread see a half-done update or overwrite it (a lost update). Free-threaded
Python (3.13t) no longer hides these interleavings behind the GIL.
""",
    example="""
class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self._n = 0

    def incr(self):
        with self._lock:
            self._n += 1

    def reset(self):
        self._n = 0        # written without the lock
""",
    use_instead="""
    def reset(self):
        with self._lock:
            self._n = 0
""",
    runtime=True,
    invalid=(
        Example.single('''
import threading


class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self._n = 0
        self._log = []

    def incr(self):
        with self._lock:
            self._n += 1
            self._log.append(self._n)

    def reset(self):
        self._n = 0  # expect

    def peek(self):
        return self._n

    def history(self):
        return list(self._log)  # expect
'''),
        Example.single('''
import threading


class Registry:
    def __init__(self):
        self._lock = threading.RLock()
        self._items = []

    def add(self, x):
        with self._lock:
            self._append(x)

    def _append(self, x):
        self._items.append(x)

    def drop_all(self):
        self._items.clear()  # expect
'''),
        Example.single('''
import threading


class Matcher:
    def __init__(self):
        self._rules = []

    def add(self, rule):
        self._rules.append(rule)

    def update(self):
        self._rules.sort()


class Map:
    """werkzeug's Map: add() changes the matcher through its method, update() does under
    the lock (reported as calls, not as writes of self._matcher)."""

    def __init__(self):
        self._matcher = Matcher()
        self._remap_lock = threading.Lock()

    def add(self, rule):
        self._matcher.add(rule)  # expect

    def update(self):
        with self._remap_lock:
            self._matcher.update()
'''),
    ),
    valid=(
        Example.single('''
import threading


class Counter:
    def __init__(self, name):
        self._lock = threading.Lock()
        self._n = 0
        self.name = name

    def incr(self):
        with self._lock:
            self._n += 1

    def reset(self):
        with self._lock:
            self._bump(0)

    def _bump(self, v):
        self._n = v

    def label(self):
        return self.name
'''),
        Example.single('''
import queue
import threading


class Pipe:
    def __init__(self):
        self._lock = threading.Lock()
        self._q = queue.Queue()
        self._closed = False

    def put(self, x):
        self._q.put(x)

    def close(self):
        with self._lock:
            if not self._closed:
                self._closed = True
'''),
        Example.single('''
import threading


class LaxBoundedSemaphore(threading.Semaphore):
    def __init__(self, value=1):
        threading.Semaphore.__init__(self, value)
        self._initial_value = value

    def clear(self):
        while self._value > 0:
            self.acquire(False)


class Pool:
    """clear() is the semaphore's own (thread-safe) method, called with or without the
    pool's lock."""

    def __init__(self, processes, semaphore=None):
        self._lock = threading.Lock()
        self._putlock = semaphore or LaxBoundedSemaphore(processes)

    def reset(self):
        with self._lock:
            self._putlock.clear()

    def close(self):
        self._putlock.clear()
'''),
        Example.single('''
import collections
import threading


class ChannelCache:
    """grpc's cache: the eviction thread calls the helper on the singleton under the
    class's lock, the same RLock get_channel takes as self._lock."""

    _singleton = None
    _lock = threading.RLock()

    def __init__(self):
        self._mapping = collections.OrderedDict()

    @staticmethod
    def get():
        with ChannelCache._lock:
            if ChannelCache._singleton is None:
                ChannelCache._singleton = ChannelCache()
        return ChannelCache._singleton

    def _evict_locked(self, key):
        self._mapping.pop(key).close()

    @staticmethod
    def _perform_evictions():
        with ChannelCache._lock:
            key = next(iter(ChannelCache._singleton._mapping))
            ChannelCache._singleton._evict_locked(key)

    def get_channel(self, key, make):
        with self._lock:
            channel = self._mapping[key] = make()
            return channel
'''),
    ),
    check=check,
)
