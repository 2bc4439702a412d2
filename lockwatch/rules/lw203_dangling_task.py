"""LW203 dangling-task: ``asyncio.create_task``/``ensure_future``/``loop.create_task`` whose
task is dropped (result discarded, used only inside an expression, or kept in a local that
is never read).

The event loop keeps only a weak reference to a task; one nobody references can be garbage
collected mid-flight, and its exception is never seen. Tasks that are awaited, returned,
passed on, stored in an attribute or collection, or spawned by a TaskGroup/nursery are fine.
``x.create_task(...)`` counts only when ``x`` is known to be an event loop (made by
``asyncio.get_event_loop()``/``get_running_loop()``/``new_event_loop()``, annotated so) or is
named like one (``loop``, ``self._loop``): a TaskGroup's ``create_task`` keeps its tasks.

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
            n = counts[name] = counts.get(name, 0) + 1
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
    ),
    check=check,
)
