"""LW112 lock-in-interrupting-callback: code that can run at an arbitrary point of a thread
that holds a lock (``__del__``, ``weakref.finalize``/``weakref.ref`` callbacks,
``gc.callbacks``, ``signal.signal`` handlers) takes a non-reentrant lock that ordinary code
also takes.

Finalizers run wherever the garbage collector happens to run, signal handlers between any
two bytecodes of the main thread: if that thread is inside ``with lock:`` at that moment,
the callback's ``acquire`` waits for the thread it interrupted. Only locks with one
instance (module/class level), attributes of module-level objects, locks reached through
the callback's bound object or through a variable the callback closes over are considered; a ``__del__`` taking ``self._lock`` is fine (nobody else can hold the lock of an
object being finalised). The primary location is where the callback takes the lock (or
the call in the callback that leads to it).
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static.checks import finding, function_short, lock_label


def check(model, config):
    callbacks = {}
    for fid, recv, reg, registrar in model.callbacks:
        callbacks.setdefault(fid, (recv, reg, registrar))
    if not callbacks:
        return
    # locks ordinary (non-callback) code takes directly
    ordinary: set[str] = set()
    functions = model.functions
    for fid in model.effect_fids():   # (the functions with an acquisition are among these)
        fi = functions[fid]
        if fid in callbacks:
            continue
        for acqs in fi.acqs.values():
            for a in acqs:
                if a.blocking:
                    ordinary.add(a.lock)
        for a in fi.deco_acqs:
            ordinary.add(a.lock)
    seen = set()
    for fid in sorted(callbacks):
        recv, reg, registrar = callbacks[fid]
        fi = model.functions.get(fid)
        if fi is None:
            continue
        for (lock, path), chain in sorted(fi.acq_eff.items()):
            lc = model.locks.get(lock)
            if lc is None or lc.reentrant or lc.counting or lock not in ordinary:
                continue
            if registrar == "__del__":
                if path != "@global":
                    continue
            elif not (_shared_instance(path)
                      or (recv not in ("?", None) and path.startswith("@self"))):
                continue
            primary = Location(chain[0][0], chain[0][1], chain[0][2])
            key = (fid, lock)
            if key in seen:
                continue
            seen.add(key)
            what = {"__del__": "the finalizer", "signal.signal": "the signal handler",
                    "gc.callbacks.append": "the gc callback"}.get(registrar, "the weakref callback")
            msg = (f"{what} {function_short(model, fid)} takes {lock_label(model, lock)}, which ordinary code "
                   f"also holds: if it runs while that thread holds the lock, it waits for itself")
            related = [Location(reg[0], reg[1], reg[2], reg[3] or f"registered with {registrar}")]
            related += [Location(s[0], s[1], s[2], s[3]) for s in chain]
            yield finding(RULE, msg, primary, related, [lock], (lock, fid, registrar))


def _shared_instance(path: str) -> bool:
    """A lock instance the interrupted thread can hold too: module level (``@global``), an
    attribute of a module-level object (``@global.x``), or reached through a variable the
    callback closes over (``?^fn:var``: the enclosing function registered the callback and
    uses the same object)."""
    return path == "@global" or path.startswith(("@global.", "?^"))


RULE = Rule(
    code="LW112",
    name="lock-in-interrupting-callback",
    kind="self-deadlock",
    severity="error",
    summary="Do not take non-reentrant locks in finalizers, weakref/gc callbacks or signal handlers",
    what="""
Finds `__del__` methods, `weakref.finalize`/`weakref.ref` callbacks, `gc.callbacks`
entries and `signal.signal` handlers that take (directly or through calls) a non-reentrant
lock that ordinary code also takes. These callbacks run at an arbitrary point of whatever
thread triggers them, possibly in the middle of a `with lock:` block of that very thread.
""",
    why="""
The callback then waits for a lock held by the thread it interrupted, which cannot continue
until the callback returns: the thread deadlocks with itself, at random, under memory
pressure or when a signal arrives. (This is why `logging` and `queue` use reentrant locks or
`SimpleQueue` in such places.)
""",
    example="""
_registry_lock = threading.Lock()

class Handle:
    def __del__(self):
        with _registry_lock:          # may run inside `with _registry_lock:` below
            _registry.discard(self.key)

def register(h):
    with _registry_lock:
        _registry.add(h.key)          # allocating here can trigger a gc run
""",
    use_instead="""
_pending = queue.SimpleQueue()        # reentrant-safe hand-off, drained later

class Handle:
    def __del__(self):
        _pending.put(self.key)
""",
    invalid=(
        Example.single('''
import threading

_registry_lock = threading.Lock()
_registry = set()


class Handle:
    def __init__(self, key):
        self.key = key
        register(self)

    def __del__(self):
        with _registry_lock:  # expect
            _registry.discard(self.key)


def register(h):
    with _registry_lock:
        _registry.add(h.key)
'''),
        Example.single('''
import signal
import threading

_state_lock = threading.Lock()


def _save():
    with _state_lock:
        pass


def on_term(signum, frame):
    _save()  # expect


def update():
    with _state_lock:
        pass


signal.signal(signal.SIGTERM, on_term)
'''),
        Example.single('''
import signal
import threading


class Dispatcher:
    def __init__(self):
        self._lock = threading.Lock()

    def submit(self, job):
        with self._lock:
            pass

    def shutdown(self):
        with self._lock:
            pass


DISPATCHER = Dispatcher()


def serve(jobs):
    local = Dispatcher()

    def on_term(signum, frame):
        local.shutdown()  # expect

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    for job in jobs:
        local.submit(job)
        DISPATCHER.submit(job)


def on_int(signum, frame):
    DISPATCHER.shutdown()  # expect
'''),
    ),
    valid=(
        Example.single('''
import threading

_registry_lock = threading.RLock()


class Handle:
    def __init__(self):
        self._lock = threading.Lock()

    def __del__(self):
        with self._lock:
            pass
        with _registry_lock:
            pass


def register(h):
    with _registry_lock:
        pass
'''),
        Example.single('''
import signal
import threading

_state_lock = threading.Lock()
_flag = threading.Event()


def on_term(signum, frame):
    _flag.set()


def update():
    with _state_lock:
        pass


signal.signal(signal.SIGTERM, on_term)
'''),
        Example.single('''
import signal
import threading


class Dispatcher:
    def __init__(self):
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def submit(self, job):
        with self._lock:
            pass


def serve(jobs):
    dispatcher = Dispatcher()

    def on_term(signum, frame):
        dispatcher.stopping.set()   # only flags it; submit() sees it later

    signal.signal(signal.SIGTERM, on_term)
    for job in jobs:
        dispatcher.submit(job)
'''),
    ),
    check=check,
)
