"""A sampling thread for what only time reveals: long waits (LW133), long holds (LW132) and
starvation (LW134).

It is a raw ``_thread`` thread (not in ``threading.enumerate()``, never joined at exit),
started lazily by ``install()`` when a threshold is set, sleeping on a raw lock so that
``stop()`` wakes it at once. Hold durations are sampled, never timed on the hot path: a
hold is "the same hold" across samples when the lock's acquisition count did not move.
"""

from __future__ import annotations

import _thread

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.stacks import task_stack, thread_stack

_stop = None          # raw lock held while the watchdog should run
_running = False
_reported: set = set()  # (code, class key): one report per lock class and kind
_holds: dict = {}       # (agent id, lock id) -> (first seen, acquisition count)
_armed: dict = {}       # id(lock) -> lock whose _acq counts acquisitions into _n


def _arm(w) -> None:
    """Make a threading lock count its acquisitions (asyncio locks always count). Costs
    only for the locks the watchdog is looking at."""
    if id(w) in _armed or not hasattr(w, "_acq"):
        return
    raw = w._lk.acquire

    def acquire(blocking=True, timeout=-1):
        ok = raw(blocking, timeout)
        if ok:
            w._n += 1
        return ok

    w._acq = acquire
    _armed[id(w)] = w


def _disarm_except(keep: set) -> None:
    for k in list(_armed):
        if k not in keep:
            w = _armed.pop(k)
            w._acq = w._lk.acquire


def interval() -> float:
    o = state.options
    if o.watchdog_interval:
        return o.watchdog_interval
    ts = [t for t in (o.long_hold, o.long_wait, o.starvation_time if o.starvation_passes else None) if t]
    if not ts:
        return 0.5
    return max(0.01, min(0.5, min(ts) / 5))


def start() -> None:
    global _stop, _running
    o = state.options
    if not (o.long_hold or o.long_wait or o.starvation_passes):
        return
    if _running:
        return
    _stop = state.RAW_ALLOCATE()
    _stop.acquire()
    _running = True
    _thread.start_new_thread(_loop, (_stop,))


def stop() -> None:
    global _running
    if _running and _stop is not None:
        _running = False
        try:
            _stop.release()
        except RuntimeError:
            pass


_restart_pending = False


def after_fork() -> None:
    # The watchdog thread did not survive the fork. Restart it lazily, at the child's next
    # lock creation or contention, not in the fork handler: a child that only checks
    # sys._current_frames() or calls exec must see exactly one thread.
    global _running, _restart_pending
    if _running:
        _running = False
        _restart_pending = True


def restart_if_forked() -> None:
    global _restart_pending
    if _restart_pending:
        _restart_pending = False
        start()


def _loop(stop_lock) -> None:
    while not stop_lock.acquire(True, interval()):
        try:
            sample()
        except Exception as e:
            state.internal_error("watchdog", e)


def _stack(agent) -> list[str]:
    return thread_stack(agent) if isinstance(agent, int) else task_stack(agent)


def _loc_of(stack: list[str], fallback) -> tuple[str, int]:
    if stack:
        p, _, ln = stack[-1].rsplit(" in ", 1)[0].rpartition(":")
        try:
            return p, int(ln)
        except ValueError:
            pass
    return fallback


def _finding(code, msg, agent, w, stacks, extra, c=None) -> Finding:
    c = c if c is not None else w._cls
    path, line = _loc_of(stacks[0] if stacks else [], (c.path, c.line))
    return Finding(
        code=code,
        kind="blocking-under-lock",
        severity="warning",
        message=msg,
        path=path,
        line=line,
        locks=[c.key],
        related=[Location(c.path, c.line, 1, f"{c.name()} created here")],
        stacks=[s for s in stacks if s],
        fingerprint=make_fingerprint(code, c.key),
        extra=extra,
    )


def _emit(f: Finding, key) -> None:
    if key in _reported:
        return
    _reported.add(key)
    state.findings.append(f)


def sample(now: float | None = None) -> None:
    from lockwatch.runtime.detect import owner_of

    o = state.options
    now = state.monotonic() if now is None else now
    keep: set = set()
    for agent, wt in list(state.waiting.items()):
        if wt.what != "lock":
            # A semaphore may be waited on too long (LW133, below). Events, queues, joins,
            # futures and kinds this loop does not know are no finding by themselves.
            if wt.what == "semaphore" and o.long_wait and "wait" not in wt.reported:
                _semaphore_wait(agent, wt, now, o)
            continue
        w = wt.target
        if w._cls.handoff:  # a lock used as a signal: waiting on it is waiting for an event
            continue
        if o.starvation_passes:
            keep.add(id(w))
            if id(w) not in _armed and hasattr(w, "_acq"):
                _arm(w)
                wt.n0 = w._n  # passes are counted from here on
        dur = now - wt.since
        owner = owner_of(wt)
        if o.long_wait and dur >= o.long_wait and "wait" not in wt.reported:
            wt.reported.add("wait")
            if ("LW133", w._cls.key) not in _reported:
                stacks = [_stack(agent)] + ([_stack(owner)] if owner is not None else [])
                who = state.agent_name(owner) if owner is not None else "another thread"
                _emit(
                    _finding(
                        "LW133",
                        f"{state.agent_name(agent)} has waited {dur:.1f}s (threshold {o.long_wait:g}s) for "
                        f"{w._cls.name()}, held by {who}",
                        agent, w, stacks, {"seconds": round(dur, 3), "threshold": o.long_wait,
                                           "waiting": _others(agent, owner)},
                    ),
                    ("LW133", w._cls.key),
                )
        if o.starvation_passes and "starve" not in wt.reported:
            passes = w._n - wt.n0
            if passes >= o.starvation_passes and dur >= o.starvation_time:
                wt.reported.add("starve")
                stacks = [_stack(agent)] + ([_stack(owner)] if owner is not None else [])
                _emit(
                    _finding(
                        "LW134",
                        f"{state.agent_name(agent)} starves on {w._cls.name()}: passed over {passes} times "
                        f"in {dur:.1f}s while other threads took it",
                        agent, w, stacks, {"passes": passes, "seconds": round(dur, 3)},
                    ),
                    ("LW134", w._cls.key),
                )
    if not o.long_hold:
        _holds.clear()
        _disarm_except(keep)
        return
    from lockwatch.runtime.detect import prune_dead

    live = set()
    hkeep: set = set()
    for agent, hl in list(state.held.items()):
        prune_dead(hl)
        for w in list(hl):
            if w._cls.handoff:
                continue
            key = (id(agent), id(w))
            live.add(key)
            hkeep.add(id(w))
            rec = _holds.get(key)
            if rec is None or id(w) not in _armed and hasattr(w, "_acq"):
                _arm(w)  # from now on a re-acquisition shows in _n
                _holds[key] = (now, w._n)
                continue
            if rec[1] != w._n:  # released and taken again since: not one hold
                del _holds[key]
                hkeep.discard(id(w))
                continue
            dur = now - rec[0]
            if dur >= o.long_hold and ("LW132", w._cls.key) not in _reported:
                _emit(
                    _finding(
                        "LW132",
                        f"{state.agent_name(agent)} has held {w._cls.name()} for {dur:.1f}s "
                        f"(threshold {o.long_hold:g}s)",
                        agent, w, [_stack(agent)], {"seconds": round(dur, 3), "threshold": o.long_hold},
                    ),
                    ("LW132", w._cls.key),
                )
    for key in list(_holds):
        if key not in live:
            del _holds[key]
    _disarm_except(keep | hkeep)


def _others(*shown) -> dict:
    from lockwatch.runtime.detect import waits_shown

    return waits_shown([a for a in shown if a is not None])


def _ended(task) -> bool:
    try:
        return task.done()
    except Exception:
        return False


def _semaphore_wait(agent, wt, now: float, o) -> None:
    """LW133 for a task waiting on an asyncio (Bounded)Semaphore, naming the tasks that
    hold its permits. A semaphore nobody holds (a ``Semaphore(0)`` used as a signal) or
    whose permits were given back by other tasks than their takers is waited on as on an
    event: no finding."""
    from lockwatch.runtime.aio import holders

    sem = state.wait_target(wt)
    c = getattr(sem, "_lw_cls", None)
    dur = now - wt.since
    if c is None or c.handoff or dur < o.long_wait:
        return
    agent = state.wait_agent(agent)
    if agent is None:
        return
    hs, gone = holders(sem)
    if not hs and not gone:
        return
    wt.reported.add("wait")
    if ("LW133", c.key) in _reported:
        return
    from lockwatch.runtime.detect import _lockname, _type_name

    names = [state.agent_name(h) + (" (ended without releasing it)" if _ended(h) else "") for h in hs]
    if gone:
        names.append(f"{gone} task{'s' if gone > 1 else ''} that ended without releasing it")
    _emit(
        _finding(
            "LW133",
            f"{state.agent_name(agent)} has waited {dur:.1f}s (threshold {o.long_wait:g}s) for "
            f"{_type_name(sem)} {_lockname(c)}, held by {', '.join(names)}",
            agent, sem, [_stack(agent)] + [_stack(h) for h in hs],
            {"seconds": round(dur, 3), "threshold": o.long_wait, "holders": names,
             "waiting": _others(agent, *hs)},
            c,
        ),
        ("LW133", c.key),
    )


def reset() -> None:
    _reported.clear()
    _holds.clear()
    _disarm_except(set())
