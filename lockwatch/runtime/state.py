"""The tracer's bookkeeping: lock classes, held-lock stacks per thread and per task, the
order graph, what every thread/task waits on, and the findings so far.

Only raw ``_thread`` locks (saved at import, before any patching) guard it. The guard is a
raw *re-entrant* lock because a ``__del__``, gc callback or signal handler may run while a
thread is inside the bookkeeping and take an instrumented lock itself.
"""

from __future__ import annotations

import _thread
import os
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any

RAW_ALLOCATE = _thread.allocate_lock
RAW_LOCK_TYPE = _thread.LockType
RAW_RLOCK = _thread.RLock
get_ident = _thread.get_ident
monotonic = time.monotonic

mutex = RAW_RLOCK()


@dataclass
class Options:
    # Break deadlocks / self-deadlocks by raising DeadlockError (False: report only and let
    # the program behave exactly as without lockwatch).
    break_deadlocks: bool = True
    # Seconds a self-deadlocked blocking acquire waits for another thread to release the
    # lock before it is reported (plain locks may legally be released by another thread).
    self_deadlock_grace: float = 0.5
    # Seconds a suspected wait-for cycle must persist before it is reported/broken.
    deadlock_confirm: float = 0.05
    # Watchdog thresholds in seconds (None/0 = off).
    long_hold: float | None = 5.0
    long_wait: float | None = 5.0
    # A waiter passed over this many times while waiting at least starvation_time seconds.
    starvation_passes: int = 20
    starvation_time: float = 1.0
    watchdog_interval: float | None = None  # None = derived from the thresholds
    # Race checker (lockset.py): watch classes marked thread_safe/guarded_by (races), and
    # these "pkg.mod.Class" names (watch_classes); only watched classes pay for it.
    races: bool = True
    watch_classes: tuple = ()
    # Unbounded queues whose backlog passes this many items and keeps rising while drained
    # are reported (LW401, backlog.py).
    backlog_threshold: int = 5000
    # Event loop blocked this long (seconds) in one step -> LW201 (loopwatch.py; None/0 = off).
    loop_block: float | None = 0.1
    # Seconds to let threads the program started end on their own before they are reported
    # as still running at its (or a watch() scope's) end (LW211, lifecycle.py).
    thread_grace: float = 0.5
    # Daemon threads still running at the end: "ignore" (fire-and-forget by design, the
    # default, as the static LW211) or "report". Set by [tool.lockwatch] daemon-threads.
    daemon_threads: str = "ignore"

    @classmethod
    def from_mapping(cls, d: dict[str, Any]) -> "Options":
        """From ``[tool.lockwatch.runtime]`` / keyword options; raises ValueError."""
        o = cls()
        for k, v in d.items():
            k = k.replace("-", "_")
            if k == "report_only":
                o.break_deadlocks = not bool(v)
            elif k == "break_deadlocks":
                o.break_deadlocks = bool(v)
            elif k == "starvation_passes":
                o.starvation_passes = int(v or 0)
                if o.starvation_passes < 0:
                    raise ValueError("starvation_passes must be >= 0")
            elif k == "races":
                o.races = bool(v)
            elif k == "daemon_threads":
                if v not in ("ignore", "report"):
                    raise ValueError(f'daemon_threads must be "ignore" or "report", not {v!r}')
                o.daemon_threads = v
            elif k == "backlog_threshold":
                if isinstance(v, bool) or not isinstance(v, (int, str)) or int(v) < 1:
                    raise ValueError(f"backlog_threshold must be a number of items >= 1, not {v!r}")
                o.backlog_threshold = int(v)
            elif k == "watch_classes":
                names = [v] if isinstance(v, str) else v
                if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                    raise ValueError("watch_classes must be a list of 'pkg.mod.Class' names")
                o.watch_classes = tuple(names)
            elif k in ("self_deadlock_grace", "deadlock_confirm", "long_hold", "long_wait",
                       "starvation_time", "watchdog_interval", "loop_block", "thread_grace"):
                if isinstance(v, bool) or (v is not None and not isinstance(v, (int, float, str))):
                    raise ValueError(f"{k} must be a number of seconds, not {v!r}")
                fv = None if v is None else float(v)
                if fv is not None and fv < 0:
                    raise ValueError(f"{k} must be >= 0")
                setattr(o, k, fv if fv or k in ("self_deadlock_grace", "deadlock_confirm", "thread_grace")
                        else (fv or None))
            else:
                raise ValueError(f"unknown runtime option {k!r}")
        return o


class LockClass:
    """A lockdep class: every lock created at one site."""

    __slots__ = ("key", "path", "line", "kind", "succ", "handoff", "label")

    def __init__(self, key: str, path: str, line: int, kind: str):
        self.key = key
        self.path = path
        self.line = line
        self.kind = kind
        self.succ: set[LockClass] = set()  # classes taken while this one was held
        self.handoff = False  # released by a thread that did not take it: no owner semantics
        self.label = ""

    def name(self) -> str:
        if not self.label:
            from lockwatch.runtime.stacks import lock_label

            self.label = lock_label(self.path, self.line) or "?"
        return self.label if self.label != "?" else self.key

    def __repr__(self) -> str:  # pragma: no cover - debugging
        return f"<LockClass {self.key}>"


# A held-lock stack is an exact ``list`` (CPython specialises append/pop only for exact
# lists; a subclass cost ~100 ns per acquire+release). Its agent is kept aside.
Held = list


@dataclass
class Edge:
    stack: list[str]
    path: str
    line: int
    thread: str


class Wait:
    """What one agent (thread ident or Task) is blocked on, in ``waiting``.

    Kinds: "lock" (an instrumented lock: wait-for graph, LW103/LW133/LW134), "join" and
    "future" (a thread join, ``Future.result()``: wait-for graph, LW135), "semaphore" (an
    ``asyncio.Semaphore``/``BoundedSemaphore``: LW133 naming its holders, no owner in the
    wait-for graph since any holder may free a permit), "event" (``asyncio.Event.wait``)
    and "queue" (``asyncio.Queue.get``/``put``, ``detail`` says which): shown in reports,
    never a finding by themselves. Readers must treat a kind they do not know as "shown,
    nothing else"."""

    # A plain class with slots, not a dataclass: an asyncio queue or event wait creates one
    # per wait (a dataclass __init__ with a default_factory cost 0.7 us of a 1.9 us wait
    # registration on 3.11).
    __slots__ = ("what", "target", "since", "n0", "reported", "detail")

    def __init__(self, what: str, target: Any, since: float, n0: int = 0, reported: set | None = None,
                 detail: str = ""):
        self.what = what          # see the kinds above
        self.target = target      # lock wrapper, thread ident, Future; asyncio primitive: weakly (wait_target)
        self.since = since
        self.n0 = n0              # target lock's acquisition count when the wait began
        self.reported = set() if reported is None else reported  # watchdog: codes already reported
        self.detail = detail      # "get" | "put" for a queue wait

    def __repr__(self) -> str:  # pragma: no cover - debugging
        return f"Wait({self.what!r}, {self.target!r}, since={self.since}, detail={self.detail!r})"


class TaskKey(weakref.ref):
    """A task waiting on an asyncio Semaphore, Event or Queue, as its key in ``waiting``: a
    weak reference (equal to any other live reference to the same task), so the map neither
    keeps a pending task alive nor counts as the program referring to it (the lifecycle
    check, LW203). The entry leaves the map when the wait ends or the task is freed."""

    __slots__ = ()


def wait_target(wt):
    """What ``wt`` waits on. Waits on asyncio primitives hold it by a weak reference (the
    primitive's waiter futures refer to the waiting task: a strong one would keep a dropped
    task alive); None when it is gone."""
    t = wt.target
    return t() if isinstance(t, weakref.ref) else t


def wait_agent(key):
    """The agent a ``waiting`` key stands for (a thread ident or a Task), or None for a
    task that is gone."""
    return key() if isinstance(key, TaskKey) else key


# ---- the global state (module-level for speed: the hot path reads these directly) ----
classes: dict[str, LockClass] = {}    # key (name) -> class
by_site: dict[tuple, LockClass] = {}   # creation call instruction -> class
held: dict[Any, Held] = {}            # agent -> Held
agent_of: dict[int, Any] = {}         # id(Held) -> agent (the list is kept alive by `held`/orphans)
waiting: dict[Any, Wait] = {}         # agent (or TaskKey) -> Wait
edges: dict[tuple, Edge] = {}         # (LockClass, LockClass) -> first witness
cycles_seen: set = set()
inst_edges: dict = {}                 # (id x, id y) -> (weakref x, weakref y, Edge): y taken holding x, same class
inst_succ: dict = {}                  # id x -> {id y}
findings: list = []
cycle_findings: list = []             # (classes, LW101 finding), filtered at report time
errors: list = []
orphans: list = []                    # (agent name, lock wrapper, Held) left at thread/task end
options = Options()
_error_keys: set[str] = set()
forked = False                        # set in a fork child until the watchdog is restarted
fault: str | None = None              # test hook: name of a stage that raises on purpose


def lock_class(key: str, path: str, line: int, kind: str, ident=None, frame=None) -> LockClass:
    """The class of a lock created at ``ident`` (a call instruction). Its name is the
    ``path:line`` of creation; a second creation call on the same line gets ``:column``."""
    ident = ident or (key,)
    c = by_site.get(ident)
    if c is None:
        with mutex:
            c = by_site.get(ident)
            if c is None:
                name = key
                if name in classes:
                    from lockwatch.runtime.stacks import _column

                    col = _column(frame) if frame is not None else None
                    name = f"{key}:{col}" if col else f"{key}#{len(by_site)}"
                    n = 2
                    while name in classes:
                        name = f"{key}#{n}"
                        n += 1
                c = classes[name] = LockClass(name, path, line, kind)
                by_site[ident] = c
    return c


def new_held(agent) -> Held:
    h: Held = []
    agent_of[id(h)] = agent
    held[agent] = h
    return h


def agent_of_held(hl):
    return agent_of.get(id(hl)) if hl is not None else None


def internal_error(stage: str, exc: BaseException) -> None:
    """Record a tracer bug without disturbing the program: in the report's errors and, once
    per stage, on stderr."""
    try:
        msg = f"internal error in lockwatch runtime ({stage}): {type(exc).__name__}: {exc}"
        errors.append(msg)
        if stage not in _error_keys:
            _error_keys.add(stage)
            sys.stderr.write(f"lockwatch: {msg}\n")
    except Exception:
        pass


def maybe_fault(stage: str) -> None:
    if fault == stage:
        raise RuntimeError(f"injected fault at {stage}")


def agent_name(agent) -> str:
    if isinstance(agent, int):
        import threading

        t = threading._active.get(agent)
        return f"thread {t.name!r}" if t is not None else f"thread {agent}"
    try:
        return f"task {agent.get_name()!r}"
    except Exception:
        return f"task {agent!r}"


def reset() -> None:
    """Forget everything learned (tests, a fresh watch())."""
    with mutex:
        classes.clear()
        by_site.clear()
        edges.clear()
        cycles_seen.clear()
        inst_edges.clear()
        inst_succ.clear()
        del findings[:]
        del cycle_findings[:]
        del errors[:]
        del orphans[:]
        waiting.clear()
        _error_keys.clear()


def _after_fork_in_child() -> None:
    # Only the forking thread survives: its bookkeeping stays, every other agent is gone.
    global mutex, forked
    mutex = RAW_RLOCK()
    forked = True
    me = get_ident()
    for agent in list(held):
        if agent != me:
            agent_of.pop(id(held.pop(agent)), None)
    waiting.clear()
    try:
        from lockwatch.runtime import watchdog

        watchdog.after_fork()
    except Exception as e:  # pragma: no cover
        internal_error("fork", e)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
