"""LW102 unordered-instance-nesting: two instances of one lock class nested with nothing
ordering them (``with a.lock: with b.lock:``).

Both instance paths must be known and different (``@self._lock`` then ``%other._lock``).
A lock wrapper class (``__enter__`` takes ``self._lock``) is named by the field holding the
wrapper, so two different wrapper fields are two lock classes, not two instances of one.
Not reported when the function orders the pair (``sorted``/``min``/``max``/``id()`` or an
ordering comparison ``<``/``>`` in a test) or when the inner object hangs off the outer one
(``self.child._lock`` under ``self._lock``: a fixed hierarchy). The primary location is the
inner acquisition, or the call leading to it, in the function holding the outer lock.
Also: locks of one container entered in a loop onto an ExitStack made before the loop
(each kept while the next is taken, in the iteration order), unless the function orders.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static.checks import finding, function_short, lock_label


def _receiver(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else path


def _hierarchical(a: str, b: str) -> bool:
    ra, rb = _receiver(a), _receiver(b)
    return rb.startswith(ra + ".") or ra.startswith(rb + ".")


def check(model, config):
    seen = set()
    for se in model.self_edges:
        lc = model.locks.get(se.lock)
        if lc is None or lc.counting or lc.container:
            continue
        a, b = se.outer_path, se.inner_path
        if a == b or "?" in (a[:1], b[:1]) or a == "@global" or b == "@global":
            continue
        if _hierarchical(a, b):
            continue
        fi = model.functions.get(se.fid)
        if fi is None or fi.summary.orders:
            continue
        key = (se.fid, se.lock, se.primary.line)
        if key in seen:
            continue
        seen.add(key)
        msg = (f"{function_short(model, se.fid)} holds one {lock_label(model, se.lock)} and takes another "
               f"instance of it with no order between them: two threads nesting them the other way round deadlock")
        yield finding(RULE, msg, se.primary, se.witness, [se.lock], (se.lock, se.fid))
    yield from _loop_nesting(model, seen)


def _loop_nesting(model, seen):
    """``for k in keys: stack.enter_context(self._locks[k])`` with the ExitStack entered
    before the loop: each iteration takes another lock of the container while holding the
    ones before it, in whatever order ``keys`` has."""
    for fid, fi in model.acquiring_functions():
        if fi.summary.orders:
            continue
        events = fi.summary.events
        for idx in sorted(fi.acqs):
            ev = events[idx]
            loop_line = ev.get("lp")
            if loop_line is None or ev.get("m") != "ctx":
                continue
            held = ev.get("h") or ()
            # the innermost context held must be an ExitStack entered before the loop (one
            # made inside the loop is closed every iteration)
            inner = events[held[-1]] if held else None
            if inner is None or inner.get("l", loop_line) >= loop_line or "ExitStack" not in str(inner.get("r", "")):
                continue
            stacks = [held[-1]]
            for a in fi.acqs[idx]:
                lc = model.locks.get(a.lock)
                if lc is None or lc.counting or not lc.container or not a.blocking:
                    continue
                key = (fid, a.lock, ev["l"])
                if key in seen:
                    continue
                seen.add(key)
                outer = events[stacks[-1]]
                primary = Location(fi.path, ev["l"], ev["c"])
                related = [Location(fi.path, outer["l"], outer["c"], f"{function_short(model, fid)} holds an ExitStack"),
                           Location(fi.path, loop_line, 1, "... loops over keys in the caller's order"),
                           Location(fi.path, ev["l"], ev["c"], f"... and enters {lc.short} for each, keeping the earlier ones")]
                msg = (f"{function_short(model, fid)} takes several {lock_label(model, a.lock)} locks in a loop, "
                       f"keeping each, with no order between them: two threads taking two of them the other way "
                       f"round deadlock (sort the keys first)")
                yield finding(RULE, msg, primary, related, [a.lock], (a.lock, fid, "loop"))


RULE = Rule(
    code="LW102",
    name="unordered-instance-nesting",
    kind="lock-order-cycle",
    severity="warning",
    summary="Order nested locks of the same class (by id, key, or a fixed hierarchy)",
    what="""
Finds a function that holds the lock of one object and takes the same lock of another
object of the same class (`transfer(self, other)`: `with self._lock: with other._lock:`),
directly or through a call, without anything that orders the two; or that enters several
locks of one container in a loop onto an `ExitStack` (`stack.enter_context(self._locks[k])`)
in whatever order the keys come. A lock-order cycle
within one lock class: lockdep calls it "possible recursive locking". Two different fields
holding instances of a lock wrapper class (`self._init_lock = Lock()`, `self._write_lock =
Lock()`, where `Lock.__enter__` takes `self._lock`) are two lock classes, as two plain
locks would be; the same field of two objects is one.
""",
    why="""
`a.transfer(b)` in one thread and `b.transfer(a)` in another take the same two locks in
opposite orders: each holds one and waits for the other, forever.
""",
    example="""
def transfer(self, other: "Account", amount):
    with self._lock:
        with other._lock:
            self.balance -= amount
            other.balance += amount
""",
    use_instead="""
def transfer(self, other: "Account", amount):
    first, second = sorted((self, other), key=id)
    with first._lock:
        with second._lock:
            self.balance -= amount
            other.balance += amount
""",
    invalid=(
        Example.single('''
import threading


class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self.balance = 0

    def deposit(self, n):
        with self._lock:
            self.balance += n

    def transfer(self, other: "Account", n):
        with self._lock:
            self.balance -= n
            other.deposit(n)  # expect


def swap(a: Account, b: Account):
    with a._lock:
        with b._lock:  # expect
            a.balance, b.balance = b.balance, a.balance
'''),
        Example.single('''
import threading


class Lock:
    # a lock wrapper (httpcore's _synchronization.Lock): each field holding one is a lock
    # class of its own, named by the field
    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *a):
        self._lock.release()


class Conn:
    def __init__(self):
        self._init_lock = Lock()


def init_both(a: Conn, b: Conn):
    with a._init_lock:
        with b._init_lock:  # expect
            pass
'''),
        Example.single('''
import contextlib
import threading


class Ports:
    def __init__(self):
        self._locks = {p: threading.Lock() for p in range(8000, 8100)}

    def claim(self, ports):
        with contextlib.ExitStack() as stack:
            for port in ports:
                stack.enter_context(self._locks[port])  # expect
            return list(ports)
'''),
    ),
    valid=(
        Example.single('''
import threading


class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self.balance = 0

    def transfer(self, other: "Account", n):
        first, second = sorted((self, other), key=id)
        with first._lock:
            with second._lock:
                self.balance -= n
                other.balance += n


def swap(a: Account, b: Account):
    if id(a) > id(b):
        a, b = b, a
    with a._lock:
        with b._lock:
            a.balance, b.balance = b.balance, a.balance
'''),
        Example.single('''
import threading


class Node:
    def __init__(self, parent=None):
        self._lock = threading.Lock()
        self.parent: "Node" = parent

    def bump(self):
        with self._lock:
            with self.parent._lock:
                pass
'''),
        Example.single('''
import threading


class Lock:
    # a lock wrapper: two different fields holding one are two lock classes
    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *a):
        self._lock.release()


class Conn:
    def __init__(self):
        self._init_lock = Lock()
        self._write_lock = Lock()

    def request(self):
        with self._init_lock:
            self._write()

    def _write(self):
        with self._write_lock:
            pass
'''),
        Example.single('''
import contextlib
import threading


class Ports:
    def __init__(self):
        self._locks = {p: threading.Lock() for p in range(8000, 8100)}
        self._guard = threading.Lock()

    def claim(self, ports):
        with contextlib.ExitStack() as stack:
            for port in sorted(set(ports)):   # one global order
                stack.enter_context(self._locks[port])
            return list(ports)

    def touch(self, ports):
        with self._guard:
            for port in ports:
                with contextlib.ExitStack() as stack:   # one lock at a time
                    stack.enter_context(self._locks[port])
'''),
    ),
    check=check,
)
