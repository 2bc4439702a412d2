"""Markers that state a class's locking discipline, read by both halves of lockwatch.

Three ways to say which lock guards which attributes (use whichever reads best; they add up):

    @lockwatch.guarded_by("_lock", "balance", "history")    # class decorator
    class Account: ...

    class Account:
        __guarded_by__ = {"_lock": ["balance", "history"]}    # class attribute (a literal)

    class Account:
        def __init__(self):
            self._lock = threading.Lock()
            self.balance = 0  # guarded_by: _lock               # comment on the assignment

and one way to say a class is meant to be used from several threads, so that every
unprotected write in it is a finding even when the attribute is never locked anywhere:

    @lockwatch.thread_safe
    class Registry: ...

Statically (``lockwatch scan``) the markers are read from the source (the decorators must
be written with string literals, the class attribute as a dict literal); nothing is
imported. At runtime the decorators only record the facts on the class
(``__lockwatch_thread_safe__``, ``__guarded_by__``) and, when the race checker is running
(:mod:`lockwatch.runtime.lockset`), hand the class to it; otherwise they cost nothing.
The comment form is static only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", bound=type)

# Classes marked so far, in definition order: the lockset checker watches them when it
# starts later than their definition.
_marked: list[type] = []
# Set by lockwatch.runtime.lockset while it runs: called with every newly marked class.
_on_mark: Callable[[type], None] | None = None


def _note(cls: type) -> None:
    if cls not in _marked:
        _marked.append(cls)
    hook = _on_mark
    if hook is not None:
        hook(cls)


def thread_safe(cls: T) -> T:
    """Class decorator: instances are shared between threads; every write to their state
    outside the constructor must hold a lock (LW301), and check-then-act sequences must be
    atomic (LW302)."""
    if not isinstance(cls, type):
        raise TypeError("lockwatch.thread_safe decorates a class")
    cls.__lockwatch_thread_safe__ = True
    _note(cls)
    return cls


def guarded_by(lock: str, *attrs: str) -> Callable[[T], T]:
    """Class decorator: each attribute in ``attrs`` may be read or written only while
    ``self.<lock>`` is held (outside the constructor). Violations are LW303."""
    if not isinstance(lock, str) or not lock.isidentifier():
        raise TypeError("guarded_by(lock, *attrs): lock is the name of the lock attribute, e.g. '_lock'")
    if not attrs or not all(isinstance(a, str) and a.isidentifier() for a in attrs):
        raise TypeError("guarded_by(lock, *attrs): name at least one attribute, as strings")

    def deco(cls: T) -> T:
        if not isinstance(cls, type):
            raise TypeError("lockwatch.guarded_by(...) decorates a class")
        merged: dict[str, list[str]] = {}
        for k, v in (cls.__dict__.get("__guarded_by__") or {}).items():
            merged[k] = [v] if isinstance(v, str) else list(v)
        merged.setdefault(lock, [])
        merged[lock].extend(a for a in attrs if a not in merged[lock])
        cls.__guarded_by__ = merged
        _note(cls)
        return cls

    return deco


def declared_guards(cls: type) -> dict[str, str]:
    """attribute -> lock attribute name, from ``__guarded_by__`` along the MRO (a subclass
    declaration wins)."""
    out: dict[str, str] = {}
    for k in reversed(cls.__mro__):
        g = k.__dict__.get("__guarded_by__")
        if not isinstance(g, dict):
            continue
        for lock, attrs in g.items():
            for a in ([attrs] if isinstance(attrs, str) else attrs):
                out[a] = lock
    return out


def is_thread_safe(cls: type) -> bool:
    return bool(getattr(cls, "__lockwatch_thread_safe__", False))
