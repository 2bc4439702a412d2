"""LW102 unordered-instance-nesting: two instances of one lock class nested with nothing
ordering them (``with a.lock: with b.lock:``).

Both instance paths must be known and different (``@self._lock`` then ``%other._lock``).
Not reported when the function orders the pair (``sorted``/``min``/``max``/``id()`` or an
ordering comparison ``<``/``>`` in a test) or when the inner object hangs off the outer one
(``self.child._lock`` under ``self._lock``: a fixed hierarchy). The primary location is the
inner acquisition, or the call leading to it, in the function holding the outer lock.
"""

from __future__ import annotations

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


RULE = Rule(
    code="LW102",
    name="unordered-instance-nesting",
    kind="lock-order-cycle",
    severity="warning",
    summary="Order nested locks of the same class (by id, key, or a fixed hierarchy)",
    what="""
Finds a function that holds the lock of one object and takes the same lock of another
object of the same class (`transfer(self, other)`: `with self._lock: with other._lock:`),
directly or through a call, without anything that orders the two. A lock-order cycle
within one lock class: lockdep calls it "possible recursive locking".
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
    ),
    check=check,
)
