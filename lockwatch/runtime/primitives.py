"""Instrumented ``threading`` locks: the same behaviour as the raw ``_thread`` locks they
wrap, plus the bookkeeping lockdep needs.

The hot path (an uncontended acquire with nothing new to learn) is: one non-blocking raw
acquire, one thread-local attribute read for the held stack, a set lookup "is this edge
known" against the lock on top of the stack, one append. Stacks, cycle search, wait-for
walks only happen on a new edge or on contention (:mod:`lockwatch.runtime.detect`).

Acquisitions are not counted on the hot path: the watchdog swaps a counting ``_acq`` into
the few locks it watches (held across samples, or waited for), see
:mod:`lockwatch.runtime.watchdog`.

Behaviour kept (see tests/test_runtime_primitives.py):
- ``repr``, ``locked()``, ``_at_fork_reinit``, timeouts, try-lock, release from another
  thread (plain locks), ``Condition`` over these locks (RLock exposes ``_is_owned``,
  ``_release_save``, ``_acquire_restore`` like the C RLock; the plain lock does not, as the
  C lock does not);
- ``isinstance(x, _thread.LockType)`` / ``isinstance(x, _thread.RLock)`` via ``__class__``,
  and ``isinstance(raw, threading.Lock)`` (3.13, where Lock is a class) via the metaclass;
- every public and private method of the raw lock is defined explicitly: no ``__getattr__``
  fallback, which would make CPython give up specialising attribute access on the hot path.
"""

from __future__ import annotations

import _thread
import os
import sys

from lockwatch.runtime import state
from lockwatch.runtime.stacks import creation_site

RAW_ALLOCATE = state.RAW_ALLOCATE
RAW_LOCK_TYPE = state.RAW_LOCK_TYPE
RAW_RLOCK = state.RAW_RLOCK
get_ident = _thread.get_ident
TIMEOUT_MAX = _thread.TIMEOUT_MAX

# Per-thread held stack, fast path: a C thread-local. The same list is registered in
# state.held under the thread ident so that detectors can see every thread's stack.
_loc = _thread._local()


def my_held() -> state.Held:
    try:
        return _loc.hl
    except AttributeError:
        hl = _loc.hl = state.new_held(get_ident())
        return hl


def _new_class(frame, kind: str) -> state.LockClass:
    try:
        if state.forked:
            _after_fork_lazy()
        state.maybe_fault("create")
        key, path, line, ident, f = creation_site(frame)
        return state.lock_class(key, path, line, kind, ident, f)
    except Exception as e:
        state.internal_error("create", e)
        return state.lock_class("<unknown>", "<unknown>", 0, kind)


def _after_fork_lazy() -> None:
    state.forked = False
    from lockwatch.runtime import watchdog

    watchdog.restart_if_forked()


def _new_edge(hl, w):
    # Imported late: detect imports this module.
    from lockwatch.runtime import detect

    detect.new_edge(hl, w)


def _contended(w, timeout):
    from lockwatch.runtime import contention, detect

    # slow path only: the contention profile times the wait (see contention.py)
    return contention.timed_contended(detect.contended, w, timeout)


def _interrupted(w) -> None:
    from lockwatch.runtime import detect

    detect.interrupted(w, getattr(_loc, "hl", None))


def release_other(w) -> None:
    """Release bookkeeping when ``w`` is not on top of the releasing agent's stack: out of
    order release, or a release by another thread (then the class has no owner semantics)."""
    try:
        hl = w._hl
        if hl is None:
            return
        for i in range(len(hl) - 1, -1, -1):
            if hl[i] is w:
                del hl[i]
                break
        agent = state.agent_of_held(hl)
        if isinstance(agent, int) and agent != get_ident() and not w._reentrant:
            w._cls.handoff = True
    except Exception as e:
        state.internal_error("release", e)


class _LockMeta(type):
    def __instancecheck__(cls, obj):
        return type.__instancecheck__(cls, obj) or isinstance(obj, cls._raw_type)

    def __call__(cls, *args, **kwargs):
        # type(threading.Lock()) cannot be instantiated up to 3.12 (bpo-43916); it is the
        # class threading.Lock itself from 3.13.
        if not cls._instantiable:
            raw = cls._raw_type
            raise TypeError(f"cannot create '{raw.__module__}.{raw.__name__}' instances")
        return cls._make(sys._getframe(1), *args, **kwargs)


_SLOTS = ("_lk", "_acq", "_rel", "_cls", "_succ", "_hl", "_n")


class Lock(metaclass=_LockMeta):
    """Instrumented ``threading.Lock`` / ``_thread.allocate_lock``."""

    __slots__ = (*_SLOTS, "__weakref__")
    _raw_type = RAW_LOCK_TYPE
    _reentrant = False
    _instantiable = sys.version_info >= (3, 13)

    @classmethod
    def _make(cls, frame):
        self = object.__new__(cls)
        lk = RAW_ALLOCATE()
        self._lk = lk
        self._acq = lk.acquire
        self._rel = lk.release
        self._hl = None
        self._n = 0
        self._cls = c = _new_class(frame, "lock")
        self._succ = c.succ  # the class's successor set, one attribute hop from the hot path
        return self

    # -- hot path ------------------------------------------------------------------
    def __enter__(self):
        try:
            if self._acq(False):
                try:
                    hl = _loc.hl
                except AttributeError:
                    hl = my_held()
                if hl and self._cls not in hl[-1]._succ:
                    _new_edge(hl, self)
                hl.append(self)
                self._hl = hl
                return True
        except BaseException:  # a signal handler raised before `with` owns the lock
            _interrupted(self)
            raise
        return _contended(self, -1)

    def __exit__(self, t, v, tb):
        self._rel()
        hl = self._hl
        try:
            x = hl.pop()
        except (IndexError, AttributeError):  # another thread's (empty) stack
            release_other(self)
            return
        if x is not self:  # out of order, or another thread's stack
            hl.append(x)
            release_other(self)

    def acquire(self, blocking=True, timeout=-1):
        if not blocking:
            if timeout != -1:
                return self._lk.acquire(blocking, timeout)  # raises ValueError like the raw lock
            if self._acq(False):
                hl = my_held()
                hl.append(self)  # a try-lock adds no edge into itself (lockdep)
                self._hl = hl
                return True
            return False
        if timeout != -1 and not 0 <= timeout <= TIMEOUT_MAX:
            return self._lk.acquire(blocking, timeout)  # raises like the raw lock
        if self._acq(False):
            try:
                hl = _loc.hl
            except AttributeError:
                hl = my_held()
            # Only untimed waits can deadlock: timed acquisitions back off by design.
            if hl and timeout == -1 and self._cls not in hl[-1]._succ:
                _new_edge(hl, self)
            hl.append(self)
            self._hl = hl
            return True
        return _contended(self, timeout)

    def release(self):
        self._rel()
        hl = self._hl
        # An explicit release may come from another thread than the taker (a lock used as
        # a signal); `with` never does, so only this path pays for the check.
        if hl is not getattr(_loc, "hl", None):
            release_other(self)
            return
        try:
            x = hl.pop()
        except (IndexError, AttributeError):
            release_other(self)
            return
        if x is not self:
            hl.append(x)
            release_other(self)

    acquire_lock = acquire
    release_lock = release

    # -- the rest behaves like the raw lock ----------------------------------------------
    def locked(self):
        return self._lk.locked()

    locked_lock = locked

    def __init_subclass__(cls, **kwargs):
        # The raw lock type is final; so is threading.Lock where it is this class (3.13).
        if cls.__module__ != __name__:
            raise TypeError(f"type '{cls._raw_type.__module__}.{cls._raw_type.__name__}' "
                            "is not an acceptable base type")
        super().__init_subclass__(**kwargs)

    def _at_fork_reinit(self):
        self._lk._at_fork_reinit()
        hl = self._hl
        self._hl = None
        if hl:
            for i in range(len(hl) - 1, -1, -1):
                if hl[i] is self:
                    del hl[i]

    def __repr__(self):
        return repr(self._lk)

    @property
    def __class__(self):  # isinstance(x, _thread.LockType) keeps working
        return self._raw_type

    def __reduce_ex__(self, protocol):
        raise TypeError(f"cannot pickle {self._raw_type.__name__!r} object")


# The C fast path (``_fastpath.c``): the same __enter__/__exit__ as above, without two
# interpreter frames per `with`. Optional: not built without a compiler, never on a
# free-threaded interpreter, and LOCKWATCH_PURE_PYTHON=1 keeps the Python methods.
try:
    if os.environ.get("LOCKWATCH_PURE_PYTHON"):
        raise ImportError("LOCKWATCH_PURE_PYTHON is set")
    from lockwatch.runtime import _fastpath

    if not all(hasattr(_fastpath, n) for n in ("setup", "enter", "exit", "rlock_enter", "rlock_exit")):
        raise ImportError("a stale build of lockwatch.runtime._fastpath")  # use the Python methods
except ImportError:
    _fastpath = None
else:
    _fastpath.setup(_loc, my_held, _new_edge, _interrupted, _contended, release_other)
    Lock.__enter__ = _fastpath.enter
    Lock.__exit__ = _fastpath.exit


class RLock(metaclass=_LockMeta):
    """Instrumented ``threading.RLock`` (wraps the C RLock; ``_cnt`` mirrors its count)."""

    __slots__ = (*_SLOTS, "_cnt", "__weakref__")
    _raw_type = RAW_RLOCK
    _reentrant = True
    _instantiable = True

    @classmethod
    def _make(cls, frame, *args, **kwargs):
        self = object.__new__(cls)
        lk = RAW_RLOCK(*args, **kwargs)
        self._lk = lk
        self._acq = lk.acquire
        self._rel = lk.release
        self._hl = None
        self._n = 0
        self._cnt = 0
        self._cls = c = _new_class(frame, "rlock")
        self._succ = c.succ
        return self

    def __enter__(self):
        try:
            hl = _loc.hl
        except AttributeError:
            hl = my_held()
        if self._cnt and self._hl is hl:  # re-entry: never blocks, adds no edge
            self._acq()
            self._cnt += 1
            return True
        try:
            if self._acq(False):
                if hl and self._cls not in hl[-1]._succ:
                    _new_edge(hl, self)
                hl.append(self)
                self._hl = hl
                self._cnt = 1
                return True
        except BaseException:  # a signal handler raised before `with` owns the lock
            _interrupted(self)
            raise
        ok = _contended(self, -1)
        if ok:
            self._cnt = 1
        return ok

    def acquire(self, blocking=True, timeout=-1):
        hl = my_held()
        if self._cnt and self._hl is hl:
            ok = self._lk.acquire(blocking, timeout)
            if ok:
                self._cnt += 1
            return ok
        if not blocking or (timeout != -1 and not 0 <= timeout <= TIMEOUT_MAX):
            ok = self._lk.acquire(blocking, timeout)
            if ok:
                hl.append(self)
                self._hl = hl
                self._cnt = 1
                self._n += 1  # off the hot path: always counted (the watchdog's hold identity)
            return ok
        if self._acq(False):
            if hl and timeout == -1 and self._cls not in hl[-1]._succ:
                _new_edge(hl, self)
            hl.append(self)
            self._hl = hl
            self._cnt = 1
            return True
        ok = _contended(self, timeout)
        if ok:
            self._cnt = 1
        return ok

    def release(self):
        self._rel()  # raises RuntimeError when not owned, before any bookkeeping
        c = self._cnt - 1
        if c > 0:
            self._cnt = c
            return
        self._cnt = 0
        hl = self._hl
        try:
            x = hl.pop()
        except (IndexError, AttributeError):
            release_other(self)
            return
        if x is not self:
            hl.append(x)
            release_other(self)

    def __exit__(self, t, v, tb):
        self._rel()
        c = self._cnt - 1
        if c > 0:
            self._cnt = c
            return
        self._cnt = 0
        hl = self._hl
        try:
            x = hl.pop()
        except (IndexError, AttributeError):
            release_other(self)
            return
        if x is not self:
            hl.append(x)
            release_other(self)

    # Condition support, as the C RLock provides it.
    def _is_owned(self):
        return self._lk._is_owned()

    def _release_save(self):
        st = self._lk._release_save()
        self._cnt = 0
        release_other(self)
        return st

    def _acquire_restore(self, st):
        self._lk._acquire_restore(st)
        try:
            hl = my_held()
            if hl and self._cls not in hl[-1]._succ:
                _new_edge(hl, self)
            hl.append(self)
            self._hl = hl
            self._cnt = st[0] if isinstance(st, tuple) else 1
            self._n += 1  # a Condition.wait() in between: a new hold
        except Exception as e:
            state.internal_error("rlock-restore", e)

    def _at_fork_reinit(self):
        self._lk._at_fork_reinit()
        self._cnt = 0
        hl = self._hl
        self._hl = None
        if hl:
            for i in range(len(hl) - 1, -1, -1):
                if hl[i] is self:
                    del hl[i]

    def __repr__(self):
        return repr(self._lk)

    if hasattr(RAW_RLOCK, "_recursion_count"):  # 3.12+

        def _recursion_count(self):
            return self._lk._recursion_count()

    if hasattr(RAW_RLOCK, "locked"):  # 3.14+

        def locked(self):
            return self._lk.locked()

    @property
    def __class__(self):
        return self._raw_type

    def __reduce_ex__(self, protocol):
        raise TypeError(f"cannot pickle {self._raw_type.__name__!r} object")


if _fastpath is not None:
    RLock.__enter__ = _fastpath.rlock_enter
    RLock.__exit__ = _fastpath.rlock_exit


_frozen_prefix = "<frozen"


class _Factory:
    """A factory that, like the builtin it replaces, does not bind as a method when stored
    on a class (``locktype = _thread.allocate_lock`` in CPython's lock tests)."""

    def __init__(self, name: str, module: str, raw_ok: bool):
        self.__name__ = self.__qualname__ = name
        self.__module__ = module
        self._raw_ok = raw_ok

    def __call__(self):
        f = sys._getframe(1)
        # importlib's module locks (frozen bootstrap) stay raw: they have their own
        # deadlock detection and are taken inside every import.
        if self._raw_ok and f.f_code.co_filename.startswith(_frozen_prefix):
            return RAW_ALLOCATE()
        return Lock._make(f)

    def __repr__(self):
        return f"<built-in function {self.__name__}>"


allocate_lock = _Factory("allocate_lock", "_thread", True)   # patched _thread.allocate_lock
lock_factory = _Factory("allocate_lock", "_thread", False)   # threading.Lock up to 3.12


def rlock_factory(*args, **kwargs):
    """Patched ``threading.RLock`` (a function, as in threading)."""
    if (args or kwargs) and sys.version_info >= (3, 13):
        import warnings

        warnings.warn("Passing arguments to RLock is deprecated and will be removed in 3.15",
                      DeprecationWarning, stacklevel=2)
    return RLock._make(sys._getframe(1), *args, **kwargs)


# Look like what they replace (module checks such as test.support.check__all__).
for _obj, _like in ((Lock, RAW_LOCK_TYPE), (RLock, RAW_RLOCK)):
    _obj.__module__ = _like.__module__
    _obj.__name__ = _obj.__qualname__ = _like.__name__
rlock_factory.__module__ = "threading"
rlock_factory.__name__ = rlock_factory.__qualname__ = "RLock"
