"""Everything expensive, off the hot path: new order-graph edges and the cycle search
(LW101), contention (self-deadlock LW111, wait-for cycles LW103/LW135), leaks at thread
and task end (LW122). Findings are built here with the shared model."""

from __future__ import annotations

import sys
from collections import deque

import lockwatch
from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime import state
from lockwatch.runtime.stacks import (
    stack_of,
    task_stack,
    thread_stack,
    user_location,
)

get_ident = state.get_ident


def _my_held():
    from lockwatch.runtime.primitives import my_held

    return my_held()


def _agent_stack(agent) -> list[str]:
    if isinstance(agent, int):
        if agent == get_ident():
            return stack_of(sys._getframe(1))
        return thread_stack(agent)
    return task_stack(agent)


def _emit(f: Finding) -> None:
    for old in state.findings:
        if old.code == f.code and old.fingerprint == f.fingerprint:
            return
    state.findings.append(f)


def _lockname(c: state.LockClass) -> str:
    n = c.name()
    return n if n == c.key else f"{n} ({c.key})"


# ---------------------------------------------------------------- order graph (LW101)
def prune_dead(hl) -> None:
    """Drop held entries nobody else references: a lock acquired and then dropped
    (``lock.acquire(); del lock``) can never be released, and must not lend its edges to
    every later acquisition of that thread."""
    for i in range(len(hl) - 1, -1, -1):
        try:
            if sys.getrefcount(hl[i]) <= 2:  # the held list and getrefcount's argument
                del hl[i]
        except IndexError:  # the list changed under us (cross-thread release)
            pass


def new_edge(hl, w) -> None:
    """``w`` was just taken (blocking, untimed) while the locks in ``hl`` are held, and the
    edge from the top of ``hl`` is not known yet. Record every held->w edge (lockdep), take
    a stack once for them, and search for a cycle through each new edge.

    Two locks of one class nested (``transfer(a, b)`` over two accounts, hand-over-hand
    over list nodes) cannot be ordered by class; for them the order of the *instances* is
    recorded instead, and an inversion between instances is the cycle. Such nestings never
    become a cached class edge, so each one comes here (a slow path, but a rare pattern)."""
    try:
        state.maybe_fault("edge")
        b = w._cls
        prune_dead(hl)
        with state.mutex:
            new = []
            same = []
            for h in list(hl):
                a = h._cls
                if a is b:
                    if h is not w and not _inst_known(h, w):
                        same.append(h)
                    continue
                if b in a.succ:
                    continue
                a.succ.add(b)
                new.append(a)
            if not new and not same:
                return
            frame = sys._getframe(2)
            stack = stack_of(frame)
            path, line = user_location(frame)
            who = state.agent_name(state.agent_of_held(hl) or get_ident())
            edge = state.Edge(stack, path, line, who)
            for a in new:
                state.edges[(a, b)] = edge
            for a in new:
                back = _path(b, a)
                if back is not None:
                    _report_cycle([a, *back])
            for h in same:
                _instance_edge(h, w, edge)
    except Exception as e:
        state.internal_error("edge", e)


# ---- instance order among locks of one class
def _inst_known(x, y) -> bool:
    rec = state.inst_edges.get((id(x), id(y)))
    return rec is not None and rec[0]() is x and rec[1]() is y


def _instance_edge(x, y, edge) -> None:
    import weakref

    if len(state.inst_edges) > 20000:
        _purge_instance_edges()
    state.inst_edges[(id(x), id(y))] = (weakref.ref(x), weakref.ref(y), edge)
    state.inst_succ.setdefault(id(x), set()).add(id(y))
    back = _inst_path(y, x)
    if back is None:
        return
    c = x._cls
    key = ("instances", c)
    if key in state.cycles_seen:
        return
    state.cycles_seen.add(key)
    ids = [id(x), id(y), *back]  # x -> y -> ... -> x
    es = [state.inst_edges[(p, q)][2] for p, q in zip(ids, ids[1:])]
    n = len(es)
    first = es[0]
    name = c.name()
    if n == 2:
        msg = (f"two {name} locks (created at {c.key}) are taken in opposite orders: "
               f"#1 -> #2 ({es[0].path}:{es[0].line}) and #2 -> #1 ({es[1].path}:{es[1].line})")
    else:
        msg = f"{n} {name} locks (created at {c.key}) are taken in a cycle of {n}"
    related = [Location(e.path, e.line, 1, f"{e.thread} takes {name} #{(i + 1) % n + 1} while holding #{i + 1}")
               for i, e in enumerate(es)][1:]
    state.cycle_findings.append(([c], Finding(
        code="LW101",
        kind="lock-order-cycle",
        severity="error",
        message=msg,
        path=first.path,
        line=first.line,
        locks=[c.key],
        related=related,
        stacks=[e.stack for e in es],
        fingerprint=make_fingerprint("LW101", "instances", c.key),
        extra={"lock_names": [name], "instances": n},
    )))


def _inst_path(src, dst):
    """Instance ids src -> ... -> dst over live recorded instance edges, or None."""
    s, d = id(src), id(dst)
    prev = {s: None}
    q = deque([s])
    while q:
        n = q.popleft()
        for m in list(state.inst_succ.get(n, ())):
            if m in prev:
                continue
            rec = state.inst_edges.get((n, m))
            if rec is None or rec[0]() is None or rec[1]() is None:
                continue
            prev[m] = n
            if m == d:
                out = [m]
                while prev[out[-1]] is not None:
                    out.append(prev[out[-1]])
                return out[::-1][1:]  # without src
            q.append(m)
    return None


def _purge_instance_edges() -> None:
    for k, rec in list(state.inst_edges.items()):
        if rec[0]() is None or rec[1]() is None:
            del state.inst_edges[k]
            succ = state.inst_succ.get(k[0])
            if succ is not None:
                succ.discard(k[1])
                if not succ:
                    del state.inst_succ[k[0]]


def _path(src, dst):
    """Shortest class path src -> ... -> dst over recorded edges, or None."""
    if src is dst:
        return None
    prev = {src: None}
    q = deque([src])
    while q:
        n = q.popleft()
        for m in n.succ:
            if m in prev or m is n or (n, m) not in state.edges:
                continue
            prev[m] = n
            if m is dst:
                out = [m]
                while prev[out[-1]] is not None:
                    out.append(prev[out[-1]])
                return out[::-1]
            q.append(m)
    return None


def _report_cycle(cyc: list) -> None:
    # cyc = [a, b, ..., a]: edges cyc[i] -> cyc[i+1]; the first edge is the new one.
    pairs = list(zip(cyc, cyc[1:]))
    key = frozenset(pairs)
    if key in state.cycles_seen:
        return
    state.cycles_seen.add(key)
    es = [state.edges[p] for p in pairs]
    first = es[0]
    names = [_lockname(c) for c in cyc[:-1]]
    if len(pairs) == 2:
        (a, b), _ = pairs
        msg = (
            f"locks acquired in opposite orders: {a.name()} -> {b.name()} ({es[0].path}:{es[0].line}) "
            f"and {b.name()} -> {a.name()} ({es[1].path}:{es[1].line})"
        )
    else:
        chain = " -> ".join(c.name() for c in cyc)
        msg = f"lock-order cycle of {len(pairs)} locks: {chain}"
    related = [
        Location(e.path, e.line, 1, f"{e.thread} takes {b.name()} while holding {a.name()}")
        for (a, b), e in zip(pairs, es)
    ][1:]
    state.cycle_findings.append((cyc[:-1],
        Finding(
            code="LW101",
            kind="lock-order-cycle",
            severity="error",
            message=msg,
            path=first.path,
            line=first.line,
            locks=[c.key for c in cyc[:-1]],
            related=related,
            stacks=[e.stack for e in es],
            fingerprint=make_fingerprint("LW101", *sorted(c.key for c in cyc[:-1])),
            extra={"lock_names": names},
        )
    ))


def cycle_findings(items=None) -> list[Finding]:
    """LW101 findings, without cycles through a lock that turned out to be released by
    other threads than its taker (a signal, not a mutex: order means nothing there)."""
    items = list(state.cycle_findings if items is None else items)
    return [f for classes, f in items if not any(c.handoff for c in classes)]


# ---------------------------------------------------------------- wait-for graph
def _holds(hl, w) -> bool:
    for x in hl:
        if x is w:
            return True
    return False


def owner_of(wt):
    """The agent ``wt`` is waiting for, or None when nobody in particular is."""
    if wt.what == "lock":
        w = wt.target
        if w._cls.handoff:
            return None
        hl = w._hl
        if hl is not None and _holds(hl, w):
            return state.agent_of_held(hl)
        return None
    if wt.what in ("join", "future"):
        t = wt.target
        if wt.what == "future":
            t = _running.get(id(t))
            if t is None:
                return None
        import threading

        return t if t in threading._active else None
    return None


def walk(start):
    """The wait-for cycle through ``start``, as [(agent, Wait, owner), ...], or None."""
    path = []
    seen = {id(start)}
    agent = start
    for _ in range(10000):
        wt = state.waiting.get(agent)
        if wt is None:
            return None
        owner = owner_of(wt)
        if owner is None:
            return None
        path.append((agent, wt, owner))
        if owner is start or owner == start:
            return path
        if id(owner) in seen:
            return None
        seen.add(id(owner))
        agent = owner
    return None


def _type_name(obj) -> str:
    t = type(obj)
    mod = t.__module__
    return f"asyncio.{t.__qualname__}" if mod.startswith("asyncio") else f"{mod}.{t.__qualname__}"


def _describe_wait(wt) -> str:
    what, t = wt.what, state.wait_target(wt)
    if what == "lock":
        return _lockname(t._cls)
    if what == "join":
        return f"join() of {state.agent_name(t)}"
    if what == "future":
        return "Future.result()"
    if what == "semaphore":
        c = getattr(t, "_lw_cls", None)
        return f"{_type_name(t)} {_lockname(c)}" if c is not None else _type_name(t)
    if what == "event":
        return f"{_type_name(t)}.wait()"
    if what == "queue":
        if wt.detail == "put":
            return f"{_type_name(t)}.put() (queue full, maxsize {getattr(t, 'maxsize', '?')})"
        return f"{_type_name(t)}.get() (queue empty)"
    return f"{what} {t!r}"  # a kind this module does not know: shown, nothing else


def describe_wait(wt) -> str:
    """What ``wt`` waits on, for messages; never raises."""
    try:
        return _describe_wait(wt)
    except Exception as e:
        state.internal_error("describe-wait", e)
        return str(getattr(wt, "what", "?"))


def waits_shown(exclude=(), limit: int = 50) -> dict:
    """Every agent in the wait map but ``exclude`` (those the finding already shows), by
    name: what it waits on, for how long, its stack. Tasks waiting on an asyncio Event or
    Queue are often why a deadlocked or long-waiting program is stuck, so the reports that
    show the agents involved show these too."""
    out: dict = {}
    try:
        now = state.monotonic()
        for key, wt in list(state.waiting.items()):
            if len(out) >= limit:
                break
            agent = state.wait_agent(key)
            if agent is None or any(agent is x or agent == x for x in exclude):
                continue
            out[state.agent_name(agent)] = {
                "waits_for": describe_wait(wt),
                "kind": wt.what,
                "seconds": round(now - wt.since, 3),
                "stack": _agent_stack(agent),
            }
    except Exception as e:
        state.internal_error("waits-shown", e)
    return out


def report_wait_cycle(cyc, frame) -> Finding:
    through_wait = any(wt.what != "lock" for _, wt, _ in cyc)
    code, kind = ("LW135", "blocking-under-lock") if through_wait else ("LW103", "deadlock")
    parts = []
    for agent, wt, owner in cyc:
        tail = f" held by {state.agent_name(owner)}" if wt.what == "lock" else ""
        parts.append(f"{state.agent_name(agent)} waits for {_describe_wait(wt)}{tail}")
    path, line = user_location(frame)
    stacks = [stack_of(frame)]
    related = []
    for agent, wt, owner in cyc[1:]:
        st = _agent_stack(agent)
        stacks.append(st)
        if st:
            loc = st[-1].rsplit(" in ", 1)[0]
            p, _, ln = loc.rpartition(":")
            try:
                related.append(Location(p, int(ln), 1, f"{state.agent_name(agent)} waits for {_describe_wait(wt)}"))
            except ValueError:
                pass
    involved = [a for a, _, _ in cyc]
    others = {}
    for ident, f in sys._current_frames().items():
        if ident in involved:
            continue
        others[state.agent_name(ident)] = stack_of(f)
    locks = [wt.target._cls.key for _, wt, _ in cyc if wt.what == "lock"]
    if through_wait:
        msg = "wait cycle through a non-lock wait while holding a lock: " + "; ".join(parts)
    else:
        msg = "; ".join(parts)
    f = Finding(
        code=code,
        kind=kind,
        severity="error",
        message=msg,
        path=path,
        line=line,
        locks=locks,
        related=related,
        stacks=stacks,
        fingerprint=make_fingerprint(code, path, line, *sorted(locks)),
        extra={"other_threads": others, "waiting": waits_shown(involved),
               "broken": state.options.break_deadlocks},
    )
    _emit(f)
    return f


def _deadlock_error(f: Finding) -> lockwatch.DeadlockError:
    return lockwatch.DeadlockError(f"lockwatch: {f.code} {f.kind}: {f.message}")


# ---------------------------------------------------------------- contention
def contended(w, timeout):
    """Blocking acquire of thread lock ``w`` whose non-blocking try failed."""
    me = get_ident()
    hl = _my_held()
    opts = state.options
    if state.forked:
        from lockwatch.runtime.primitives import _after_fork_lazy

        _after_fork_lazy()
    try:
        self_owned = (
            timeout < 0 and not w._reentrant and not w._cls.handoff and w._hl is hl and _holds(hl, w)
        )
    except Exception as e:
        state.internal_error("contended", e)
        self_owned = False
    if self_owned:
        # A plain lock may be released by another thread: give it a grace period first.
        if w._acq(True, opts.self_deadlock_grace):
            w._cls.handoff = True
            _push(w, hl, True)
            return True
        if w._hl is hl and _holds(hl, w):
            f = _report_self_deadlock(w, sys._getframe(2))
            if opts.break_deadlocks:
                raise _deadlock_error(f)
    if timeout == -1:
        # lockdep records the dependency at the attempt, so an inversion that deadlocks
        # (and is broken below) is still in the order graph.
        _push_edge(w, hl)
    wt = state.Wait("lock", w, state.monotonic(), w._n)
    state.waiting[me] = wt
    try:
        if timeout < 0:
            try:
                cyc = walk(me)
            except Exception as e:
                state.internal_error("walk", e)
                cyc = None
            if cyc:
                if w._acq(True, opts.deadlock_confirm):
                    state.waiting.pop(me, None)
                    _push(w, hl, False)
                    return True
                with state.mutex:
                    try:
                        cyc = walk(me)
                        f = report_wait_cycle(cyc, sys._getframe(2)) if cyc else None
                    except Exception as e:
                        state.internal_error("deadlock-report", e)
                        f = None
                    if f is not None and opts.break_deadlocks:
                        # Leave the wait-for graph before releasing the guard, so that the
                        # other members of the cycle do not break it a second time.
                        state.waiting.pop(me, None)
                        raise _deadlock_error(f)
        try:
            ok = w._acq(True, timeout)
            if ok:
                state.waiting.pop(me, None)
                _push(w, hl, False)
        except BaseException:
            interrupted(w, hl)
            raise
    finally:
        state.waiting.pop(me, None)
    return ok


def interrupted(w, hl) -> None:
    """A signal handler raised (KeyboardInterrupt) somewhere between taking the raw lock
    and the caller owning it. The raw C lock would have let the exception surface inside
    the ``with`` body, whose exit releases the lock; do the same rather than leak a held
    lock. The raw lock may also not have been taken (the wait itself was interrupted): then
    it is free or someone else's, as the bookkeeping tells."""
    try:
        if hl is not None and _holds(hl, w):
            for i in range(len(hl) - 1, -1, -1):
                if hl[i] is w:
                    del hl[i]
                    break
        else:
            for other in list(state.held.values()):
                if _holds(other, w):
                    return  # another thread's hold
            for _, ow, ohl in list(state.orphans):
                if ow is w and _holds(ohl, w):
                    return
        if w._reentrant:
            if w._lk._is_owned():
                w._cnt = 0
                w._rel()
        elif w._lk.locked():
            w._rel()
    except Exception as e:
        state.internal_error("interrupt", e)


def _push_edge(w, hl) -> None:
    try:
        if hl and w._cls not in hl[-1]._succ:
            new_edge(hl, w)
    except Exception as e:
        state.internal_error("edge", e)


def _push(w, hl, edge: bool) -> None:
    try:
        if edge:
            _push_edge(w, hl)
        hl.append(w)
        w._hl = hl
    except Exception as e:
        state.internal_error("push", e)


def _report_self_deadlock(w, frame) -> Finding:
    path, line = user_location(frame)
    agent = state.agent_of_held(w._hl) or get_ident()
    name = _lockname(w._cls)
    f = Finding(
        code="LW111",
        kind="self-deadlock",
        severity="error",
        message=f"{state.agent_name(agent)} blocks acquiring non-reentrant {name}, which it already holds",
        path=path,
        line=line,
        locks=[w._cls.key],
        related=[Location(w._cls.path, w._cls.line, 1, f"{w._cls.name()} created here")],
        stacks=[stack_of(frame)],
        fingerprint=make_fingerprint("LW111", path, line, w._cls.key),
        extra={"broken": state.options.break_deadlocks},
    )
    _emit(f)
    return f


# ---------------------------------------------------------------- joins and futures
_running: dict[int, int] = {}  # id(Future) -> ident of the pool thread running it


def wait_on(what: str, target, timeout, call):
    """Run ``call()`` (a join or Future.result) registered as a wait of the current thread
    on ``target``; a wait cycle closed by it is reported (LW135) and, untimed, broken."""
    me = get_ident()
    if timeout is not None:
        return call()
    wt = state.Wait(what, target, state.monotonic())
    state.waiting[me] = wt
    try:
        cyc = None
        try:
            cyc = walk(me)
        except Exception as e:
            state.internal_error("walk", e)
        if cyc:
            with state.mutex:
                cyc = walk(me)
                if cyc:
                    f = report_wait_cycle(cyc, sys._getframe(2))
                    if state.options.break_deadlocks:
                        state.waiting.pop(me, None)
                        raise _deadlock_error(f)
        return call()
    finally:
        state.waiting.pop(me, None)


# ---------------------------------------------------------------- leaks (LW122)
def agent_ended(agent, name: str | None = None) -> None:
    """A thread or task finished: whatever it still holds may be a leak. Checked again at
    report time, because a plain lock may be released later by another thread."""
    hl = state.held.pop(agent, None)
    if hl is not None and not hl:
        state.agent_of.pop(id(hl), None)
    if hl:
        name = name or state.agent_name(agent)
        for w in list(hl):
            state.orphans.append((name, w, hl))


def leak_findings(orphans=None) -> list[Finding]:
    out = []
    for name, w, hl in list(state.orphans if orphans is None else orphans):
        try:
            if not _holds(hl, w):
                continue
            if not w.locked() if hasattr(w, "locked") else False:
                continue
            c = w._cls
            out.append(
                Finding(
                    code="LW122",
                    kind="acquire-without-release",
                    severity="warning",
                    message=f"{_lockname(c)} is still held after {name} ended",
                    path=c.path,
                    line=c.line,
                    locks=[c.key],
                    related=[],
                    stacks=None,
                    fingerprint=make_fingerprint("LW122", c.key),
                    extra={"agent": name},
                )
            )
        except Exception as e:
            state.internal_error("leaks", e)
    return out
