"""Patch and unpatch the lock factories.

Everything built on ``threading.Lock``/``RLock`` (Condition, Semaphore, Event, Barrier,
queue.Queue, concurrent.futures, logging handlers) looks those names up in the
``threading`` module when it *creates* a lock, so patching the factories covers them for
objects created after ``install()``. Locks created before stay raw and untracked.

Modules that did ``from threading import Lock`` before install keep the old reference. We
rebind such module-level names in already imported non-stdlib modules (and put them back
on uninstall): user code imported before ``lockwatch.install()`` is covered too, while the
stdlib is left alone.

``install()`` nests: each call increments a count; the factories are restored exactly
when the count drops back to zero.
"""

from __future__ import annotations

import _thread
import sys
import sysconfig
import threading

from lockwatch.runtime import primitives, state

_guard = state.RAW_ALLOCATE()
_count = 0
_saved: list[tuple[object, str, object]] = []  # (owner, attribute, original)

ORIG_THREAD_LOCK = threading.Lock
ORIG_THREAD_RLOCK = threading.RLock
ORIG_ALLOCATE = _thread.allocate_lock
ORIG_BOOTSTRAP = threading.Thread._bootstrap_inner
ORIG_JOIN = threading.Thread.join


_ABSENT = object()  # restore by deleting: the attribute was not in the class's own __dict__


def _set(owner, name: str, value) -> None:
    _saved.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


def _set_class_attr(cls: type, name: str, value) -> None:
    """Replace ``cls.__dict__[name]`` exactly: an inherited or missing attribute is deleted
    again on restore rather than copied into ``cls``."""
    _saved.append((cls, name, cls.__dict__.get(name, _ABSENT)))
    setattr(cls, name, value)


def _bootstrap_inner(self):
    try:
        ORIG_BOOTSTRAP(self)
    finally:
        try:
            from lockwatch.runtime import detect

            detect.agent_ended(_thread.get_ident(), f"thread {self.name!r}")
        except Exception as e:
            state.internal_error("thread-end", e)


def _join(self, timeout=None):
    if timeout is not None or self.ident is None or self.ident == _thread.get_ident():
        return ORIG_JOIN(self, timeout)
    from lockwatch.runtime import detect

    return detect.wait_on("join", self.ident, timeout, lambda: ORIG_JOIN(self, timeout))


def _patch_futures() -> None:
    try:
        import concurrent.futures._base as base
        import concurrent.futures.thread as cft
    except Exception:  # pragma: no cover
        return
    from lockwatch.runtime import detect

    orig_result = base.Future.result
    orig_run = cft._WorkItem.run

    def result(self, timeout=None):
        if timeout is not None or self.done():
            return orig_result(self, timeout)
        return detect.wait_on("future", self, timeout, lambda: orig_result(self, timeout))

    def run(self, *args, **kwargs):
        key = id(self.future)
        detect._running[key] = _thread.get_ident()
        try:
            return orig_run(self, *args, **kwargs)
        finally:
            detect._running.pop(key, None)

    result.__doc__ = orig_result.__doc__
    _set(base.Future, "result", result)
    _set(cft._WorkItem, "run", run)


def _patch_asyncio() -> None:
    try:
        import asyncio
        import asyncio.locks

        from lockwatch.runtime import aio
    except Exception as e:  # pragma: no cover
        state.internal_error("install-asyncio", e)
        return
    _set(asyncio.locks, "Lock", aio.Lock)
    _set(asyncio, "Lock", aio.Lock)
    # Semaphore/BoundedSemaphore, Event.wait, Queue.get/put: their waiting methods are
    # wrapped on the stdlib classes (see aio.wait_patches for why not subclasses).
    try:
        patches = aio.wait_patches()
    except Exception as e:  # pragma: no cover - an asyncio without these methods
        state.internal_error("install-asyncio", e)
        return
    for cls, name, value in patches:
        _set_class_attr(cls, name, value)


def _stdlib_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    out = []
    for k in ("stdlib", "platstdlib"):
        p = paths.get(k)
        if p:
            out.append(p)
    return tuple(out)


def _rebind_imported(replacements: dict[int, object]) -> None:
    stdlib = _stdlib_prefixes()
    for name, mod in list(sys.modules.items()):
        if mod is None or name.startswith("lockwatch") or name in ("threading", "_thread", "asyncio"):
            continue
        fn = getattr(mod, "__file__", None) or ""
        if not fn or fn.startswith(stdlib) and "site-packages" not in fn:
            continue
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        try:
            items = list(d.items())
        except Exception:
            continue
        for k, v in items:
            new = replacements.get(id(v))
            if new is not None and v is not new:
                _saved.append((mod, k, v))
                try:
                    setattr(mod, k, new)
                except Exception:
                    _saved.pop()


def install() -> None:
    global _count
    with _guard:
        _count += 1
        if _count > 1:
            return
        try:
            _set(threading, "Lock", primitives.Lock if sys.version_info >= (3, 13) else primitives.lock_factory)
            _set(threading, "RLock", primitives.rlock_factory)
            _set(_thread, "allocate_lock", primitives.allocate_lock)
            _set(threading.Thread, "_bootstrap_inner", _bootstrap_inner)
            _set(threading.Thread, "join", _join)
            _patch_futures()
            import asyncio.locks

            orig_alock = asyncio.locks.Lock
            _patch_asyncio()
            from lockwatch.runtime import backlog, contention

            backlog.install(state.options.backlog_threshold)
            contention.install()
            from lockwatch.runtime import aio

            _rebind_imported(
                {
                    id(ORIG_THREAD_LOCK): threading.Lock,
                    id(ORIG_THREAD_RLOCK): primitives.rlock_factory,
                    id(ORIG_ALLOCATE): primitives.allocate_lock,
                    id(orig_alock): aio.Lock,
                }
            )
        except Exception:
            _restore()
            _count = 0
            raise


def _restore() -> None:
    while _saved:
        owner, name, value = _saved.pop()
        try:
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        except Exception as e:  # pragma: no cover
            state.internal_error("uninstall", e)


def uninstall() -> None:
    global _count
    with _guard:
        if _count == 0:
            return
        _count -= 1
        if _count == 0:
            _restore()
            from lockwatch.runtime import backlog, contention

            backlog.uninstall()
            contention.uninstall()


def installed() -> bool:
    return _count > 0
