"""lockwatch: a deadlock and race detector for Python.

Static half: ``lockwatch scan`` (see :mod:`lockwatch.static.engine`).
Runtime half: ``lockwatch run`` and :func:`watch` (see :mod:`lockwatch.runtime`).
"""

__version__ = "0.3.0"


class DeadlockError(RuntimeError):
    """Raised by the runtime tracer in the thread whose blocking acquisition would
    complete a wait-for cycle (or re-acquire a non-reentrant lock it already holds),
    instead of letting the program hang. Mirrors importlib's ``_DeadlockError``."""


def __getattr__(name):
    # The runtime API is imported lazily so that ``lockwatch scan`` never pays for
    # (or is affected by) the tracer's imports.
    if name in ("watch", "install", "uninstall"):
        from lockwatch.runtime import api

        return getattr(api, name)
    if name in ("thread_safe", "guarded_by"):
        from lockwatch import annotations

        return getattr(annotations, name)
    raise AttributeError(name)
