"""LW203 dangling-task: ``asyncio.create_task``/``ensure_future``/``loop.create_task`` whose
task is dropped (result discarded, used only inside an expression, or kept in a local that
is never read).

The event loop keeps only a weak reference to a task; one nobody references can be garbage
collected mid-flight, and its exception is never seen. Tasks that are awaited, returned,
passed on, stored in an attribute or collection, or spawned by a TaskGroup/nursery are fine.
``x.create_task(...)`` counts only when ``x`` is known to be an event loop (made by
``asyncio.get_event_loop()``/``get_running_loop()``/``new_event_loop()``, annotated so) or is
named like one (``loop``, ``self._loop``): a TaskGroup's ``create_task`` keeps its tasks.

A task whose coroutine cannot suspend is not at risk: ``ensure_future(self._refresh())``
where the linker resolves the call to project ``async def``s (every override included), each
a function or a private method (``_name``: a public method may be a hook that a subclass
outside the project overrides, discord.py's ``View.on_timeout``), undecorated, and without
``await``, ``async for``, ``async with`` or ``yield`` in its body
(the summary's ``await``/``yield`` events and ``awith`` acquisitions). Such a coroutine runs
to completion in the task's first step, and until then the loop's ready queue holds the
step callback, a strong reference to the task (limits' ``MemoryStorage.__setstate__``). An
unresolved callee, a coroutine first kept in a local, or one that awaits anything (even
``asyncio.sleep(0)``) stays reported. The summary records an ``await`` event too for an
``async for`` of a list/set/dict comprehension, an ``async with`` on a manager that is no
name/attribute/call/subscript chain (``async with (a if c else b):``) and an ``await`` in an
f-string concatenated with plain strings (SUMMARY_VERSION 30), so such a body stays reported.

At run time (``lockwatch run``, ``lockwatch.watch()`` and the pytest plugin alike: one
decision, ``lockwatch.runtime.lifecycle.dangling``) a task still pending when its loop's run
ends (``asyncio.run()`` returns, the loop is closed) or, in the plugin, when its test ends is
reported only when nothing refers to it, i.e. it was created and dropped. Referring to it
means a strong reference held by the program: a set, a list, a dict, an attribute, a
closure, a ``gather``, another task awaiting it, a local of a suspended coroutine. Not
counted: asyncio's own bookkeeping (the loop's weak task set, the wake-up and step
callbacks bound to the task, a ``timeout``/``wait_for`` or ``TaskGroup`` the task itself
runs), the task's own coroutines (``me = asyncio.current_task()``), a local of code running
at that moment (3.10 shows those to the collector, 3.11+ does not: left out on every
version), weak references, young garbage (collected first) and lockwatch's own records. A
task that is kept but still pending is cancelled by ``asyncio.run()`` without harm; one
that is then dropped while still pending is reported when it is destroyed ("Task was
destroyed but it is pending!"). A task whose cancellation was already requested is not
reported.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static import asyncflow
from lockwatch.static.checks import finding, function_short

# "expr" (inside some expression: an operand, a test, a method's receiver) is left out:
# `storer |= create_task(c)` keeps it, and precision comes first.
_DROPPED = {"discard": "its result is discarded", "test": "it is only tested for truth",
            "with": "it is used as a context manager (a Task is not one)"}


_SPAWNER_METHODS = frozenset({n.rsplit(".", 1)[1] for n in asyncflow.TASK_SPAWNERS} | {"create_task"})


def _is_spawner(model, fi, ev, cs) -> str | None:
    for name in asyncflow.ext_names(model, fi, ev, cs):
        if name in asyncflow.TASK_SPAWNERS:
            return name
    if cs is not None and (cs.ext or cs.targets):
        return None
    parts = ev["f"].split(".")
    if len(parts) >= 2 and parts[-1] == "create_task" and parts[-2].lower().endswith("loop"):
        return "loop.create_task"
    return None


def dropped(model, fi, ev) -> str | None:
    """Why the value a call makes is dropped, or None when it is kept."""
    u = ev.get("u")
    if u in _DROPPED:
        return _DROPPED[u]
    if u == "local" and ev.get("t") and not asyncflow.name_used(model, fi, ev["t"]):
        return f"it is kept only in the local {ev['t']!r}, which is never used"
    return None


# Decorators that leave an ``async def`` the coroutine function it is: any other one may
# wrap it in code that suspends (a retry, a rate limiter), so it proves nothing.
_PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod"})

# The coroutine arguments of the spawners: the first positional one, or by keyword.
_CORO_KEYWORDS = ("coro", "coro_or_future")


def _suspends(ev) -> bool:
    """Can this event of a coroutine's body suspend it (or make it no coroutine at all)?
    An ``await`` or ``async for`` step (both ``await`` events), an ``async with`` (an
    ``acq`` of mode ``awith``: its ``__aenter__``/``__aexit__`` are awaited, lock or not),
    a ``yield`` (an async generator, which no task runs)."""
    e = ev["e"]
    return e == "await" or e == "yield" or (e == "acq" and ev.get("m") == "awith")


def _private(name: str) -> bool:
    """``_helper`` or a mangled ``__helper``; not a dunder, which is there to be overridden."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _cannot_suspend(model, fid: str) -> bool:
    """Is project function ``fid`` an undecorated ``async def`` whose body has no point
    where it can suspend? A task running it finishes in its first step. A method must be
    private: a public one is a hook a subclass outside the project may override with code
    that awaits (discord.py's ``View.on_timeout``, an empty ``pass`` in the library), which
    the linker cannot see."""
    g = model.functions.get(fid)
    if g is None or not g.is_async:
        return False
    s = g.summary
    if s.cls is not None and not _private(s.name):
        return False
    if any(not isinstance(d, dict) or d.get("r") not in _PLAIN_DECORATORS for d in s.decorators):
        return False
    return not any(_suspends(ev) for ev in s.events)


def runs_to_completion(model, fi, idx: int, ev, sites) -> bool:
    """Does the task that spawner call ``ev`` (event ``idx`` of ``fi``) starts finish in its
    first step? True when its coroutine is written as a call of project ``async def``s,
    every one the linker resolves that call to (methods, aliases, imports, overrides), none
    of which can suspend (``_cannot_suspend``). Until that step runs, the loop's ready queue
    holds the step callback, a strong reference to the task: it cannot be collected
    mid-flight. Anything else (an unresolved or external callee, a coroutine kept in a local
    first, one that awaits anything, even ``asyncio.sleep(0)``) is not proven."""
    args, kws = ev.get("a") or [], ev.get("k") or {}
    if args:
        v = args[0]
    else:
        v = next((kws[k] for k in _CORO_KEYWORDS if k in kws), None)
    if not isinstance(v, dict) or not v.get("call"):
        return False
    ref, at = v["call"], (ev["l"], ev["c"])
    events = fi.summary.events
    # an argument's call event comes just before the call it is passed to (its own
    # arguments' events before it): the nearest earlier one that is this call, inside it
    for j in range(idx - 1, -1, -1):
        inner = events[j]
        if (inner["e"] != "call" or inner.get("u") != "arg" or inner.get("f") != ref
                or (inner["l"], inner["c"]) <= at):
            continue
        if (inner.get("a") or []) != (v.get("a") or []) or (inner.get("k") or {}) != (v.get("k") or {}):
            continue
        cs = sites.get(j)
        if cs is None or cs.ext or not cs.targets or cs.lockm:
            return False
        return all(_cannot_suspend(model, g) for g, _recv in cs.targets)
    return False


def check(model, config):
    # the only calls _is_spawner can name: a linked spawner, or (without the linker's names,
    # ext_names finds only names ending with the called ref's own last part) a call of a
    # ``create_task``/``ensure_future``
    candidates: dict[str, list] = {}
    for fi, idx, ev in model.call_events(ext=asyncflow.TASK_SPAWNERS, last=_SPAWNER_METHODS):
        candidates.setdefault(fi.id, []).append((idx, ev))
    for fid in sorted(candidates):
        fi = model.functions[fid]
        sites = asyncflow.call_sites(fi)
        counts: dict = {}
        for idx, ev in candidates[fid]:
            cs = sites.get(idx)
            name = _is_spawner(model, fi, ev, cs)
            if name is None:
                continue
            why = dropped(model, fi, ev)
            if why is None:
                continue
            # counted before the exemption: the other findings' fingerprints stay as they were
            n = counts[name] = counts.get(name, 0) + 1
            if runs_to_completion(model, fi, idx, ev, sites):
                continue
            where = Location(fi.path, ev["l"], ev["c"])
            # ``from asyncio.tasks import ensure_future``: the documented name is asyncio's
            shown = "asyncio." + name[len("asyncio.tasks."):] if name.startswith("asyncio.tasks.") else name
            msg = (f"{function_short(model, fid)} starts a task with {shown} but {why}: the loop "
                   f"holds tasks only weakly, so it can be garbage-collected before it finishes and "
                   f"its exception is never seen (keep a reference, e.g. in a set with "
                   f"add_done_callback(set.discard), or use a TaskGroup)")
            yield finding(RULE, msg, where, [Location(fi.path, ev["l"], ev["c"], f"{fi.short} creates the task")],
                          [], (fid, name, ev.get("u"), n))


RULE = Rule(
    code="LW203",
    name="dangling-task",
    kind="dangling-task",
    severity="warning",
    runtime=True,  # also reported by `lockwatch run` (lockwatch/runtime/loopwatch.py, lifecycle.py)
    summary="Keep a reference to every task you create",
    what="""
Finds `asyncio.create_task(...)`, `asyncio.ensure_future(...)` and `loop.create_task(...)`
whose task is dropped: the result is discarded, or stored in a local variable that is
never read. A task that is awaited, returned, passed to a call,
stored in an attribute or a collection, or spawned through a `TaskGroup`/nursery is fine.

A task whose coroutine cannot suspend is fine too: the call of a project `async def`
(resolved through methods, aliases and imports, every override included), a function or a
private method (`_name`: a public method may be overridden outside the project), undecorated,
whose body has no `await`, `async for`, `async with` or `yield`. It finishes in the task's first
step, and until that step runs the loop's ready queue holds the task. A coroutine that
awaits anything, even `asyncio.sleep(0)`, or one that cannot be resolved, is reported.

At run time a dropped task is reported when it is still pending as its loop ends or is
destroyed pending, or when it failed and asyncio logs "exception was never retrieved": the
last also for a coroutine that cannot suspend, which the static check leaves out (the task
cannot be lost, and its error is logged).
""",
    why="""
The event loop keeps only weak references to tasks. A task nobody else references may be
garbage-collected before it finishes (the work silently stops), and if it fails, its
exception is never retrieved: the error vanishes.
""",
    example="""
async def on_message(msg):
    asyncio.create_task(store(msg))   # may be collected mid-flight
""",
    use_instead="""
background = set()

async def on_message(msg):
    task = asyncio.create_task(store(msg))
    background.add(task)
    task.add_done_callback(background.discard)
""",
    invalid=(
        Example.single('''
import asyncio


async def store(msg):
    await asyncio.sleep(0)


async def on_message(msg):
    asyncio.create_task(store(msg))  # expect
    task = asyncio.ensure_future(store(msg))  # expect
    loop = asyncio.get_running_loop()
    loop.create_task(store(msg))  # expect
'''),
        Example.single('''
import asyncio


class Cache:
    async def _fill(self):
        self.data = await self._load()

    async def _load(self):
        return {}

    def __setstate__(self, state):
        self.__dict__.update(state)
        asyncio.ensure_future(self._fill())  # expect
'''),
    ),
    valid=(
        Example.single('''
import asyncio

background = set()


async def store(msg):
    await asyncio.sleep(0)


async def on_message(msg):
    task = asyncio.create_task(store(msg))
    background.add(task)
    task.add_done_callback(background.discard)
    t2 = asyncio.create_task(store(msg))
    await t2
    async with asyncio.TaskGroup() as tg:
        tg.create_task(store(msg))
    return asyncio.create_task(store(msg))
'''),
        Example.single('''
import asyncio


class Storage:
    def __init__(self):
        self.timer = None

    async def _expire(self):
        await asyncio.sleep(1)

    async def _schedule(self):
        # no await: runs to completion in the task's first step
        if not self.timer or self.timer.done():
            self.timer = asyncio.create_task(self._expire())

    def __setstate__(self, state):
        self.__dict__.update(state)
        asyncio.ensure_future(self._schedule())
'''),
    ),
    check=check,
)
