"""LW303 guarded-by-violation: an attribute declared as guarded by a lock
(``@lockwatch.guarded_by("_lock", "attr", ...)``, ``__guarded_by__ = {"_lock": [...]}`` or
``# guarded_by: _lock`` on its assignment) is read or written without that lock held,
outside the constructor. A private helper called only under the lock counts as holding it.
Checked statically on every access and, at runtime, asserted on every access of a watched
instance (:mod:`lockwatch.runtime.lockset`).
"""

from __future__ import annotations

from lockwatch.rules import Example, Rule
from lockwatch.static import races
from lockwatch.static.checks import finding


def check(model, config):
    for g in races.guard_violations(model, config):
        m = races.method_short(model, g.access.fid)
        verb = "writes" if g.access.write else "reads"
        held = races.lock_names(g.access.locks)
        have = "holding no lock" if not g.access.locks else f"holding only {held}"
        msg = f"{m} {verb} self.{g.attr} {have}, but it is declared guarded by self.{g.lock_attr}"
        decl = g.declared_at
        from lockwatch.findings import Location

        rel = [Location(decl.path, decl.line, decl.column, f"self.{g.attr} declared guarded by self.{g.lock_attr}")]
        yield finding(RULE, msg, g.access.loc, rel, [g.lock_id] if g.lock_id else [],
                      (g.cid, g.attr, g.access.fid, verb))


RULE = Rule(
    code="LW303",
    name="guarded-by-violation",
    kind="unprotected-shared-state",
    severity="error",
    summary="Hold the declared lock on every access of a guarded attribute",
    what="""
Checks declarations of which lock guards which attributes: the class decorator
`@lockwatch.guarded_by("_lock", "balance", "history")`, the class attribute
`__guarded_by__ = {"_lock": ["balance", "history"]}`, or a comment
`# guarded_by: _lock` on the line that assigns the attribute (in `__init__` or the class
body). Every read and write outside the constructor must hold that lock, directly or
because every caller of the (private) helper holds it. At runtime the same declaration is
asserted on every access of an instance whose class is watched.
""",
    why="""
A declaration is a promise other code relies on; an access that skips the lock breaks it
silently, and the next refactoring builds on the broken promise.
""",
    example="""
@lockwatch.guarded_by("_lock", "balance")
class Account:
    def deposit(self, n):
        self.balance += n          # the declared lock is not held
""",
    use_instead="""
@lockwatch.guarded_by("_lock", "balance")
class Account:
    def deposit(self, n):
        with self._lock:
            self.balance += n
""",
    invalid=(
        Example.single('''
import threading

import lockwatch


@lockwatch.guarded_by("_lock", "balance")
class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self._other = threading.Lock()
        self.balance = 0

    def deposit(self, n):
        with self._other:
            self.balance += n  # expect

    def total(self):
        return self.balance  # expect
'''),
        Example.single('''
import threading


class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self.balance = 0  # guarded_by: _lock

    def deposit(self, n):
        self.balance += n  # expect
'''),
    ),
    valid=(
        Example.single('''
import threading

from lockwatch import guarded_by


@guarded_by("_lock", "balance")
class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self.balance = 0

    def deposit(self, n):
        with self._lock:
            self._add(n)

    def _add(self, n):
        self.balance += n
'''),
        Example.single('''
import threading


class Account:
    __guarded_by__ = {"_lock": ["balance"]}

    def __init__(self):
        self._lock = threading.Lock()
        self.balance = 0

    def deposit(self, n):
        with self._lock:
            self.balance += n
'''),
    ),
    check=check,
)
