"""LW204 (kind dangling-task): a call of a project ``async def`` whose coroutine is never
awaited, scheduled or returned: the result is discarded, or kept in a local never read.

Async generators (called to be iterated) and functions with decorators that may replace
them are left out: precision first.
"""

from __future__ import annotations

from lockwatch.findings import Location
from lockwatch.rules import Example, Rule
from lockwatch.static import asyncflow
from lockwatch.static.checks import finding, function_short

# Decorators that leave a coroutine function a coroutine function.
_TRANSPARENT = {"staticmethod", "classmethod", "abstractmethod", "abc.abstractmethod",
                "override", "typing.override", "functools.wraps", "wraps"}


# How to run a coroutine concurrently, by the async library that runs the caller
# (asyncflow.async_libraries): trio and anyio start tasks in a nursery / task group.
SCHEDULE = {"asyncio": "schedule it with asyncio.create_task and keep the task",
            "trio": "start it in a nursery with nursery.start_soon",
            "anyio": "start it in a task group with start_soon"}


def _plain_coroutine_function(fi) -> bool:
    if not fi.is_async:
        return False
    s = fi.summary
    if any(ev["e"] == "yield" for ev in s.events):
        return False   # an async generator: calling it is how you iterate it
    for d in s.decorators:
        r = d.get("r") if isinstance(d, dict) else None
        if r is None or r not in _TRANSPARENT:
            return False
    return True


def check(model, config):
    # only a call linked to a plain coroutine function can qualify (the index: not every
    # call of the program)
    plain: dict[str, bool] = {}

    def is_plain(fid):
        r = plain.get(fid)
        if r is None:
            g = model.functions.get(fid)
            r = plain[fid] = g is not None and _plain_coroutine_function(g)
        return r

    candidates: dict[str, list] = {}
    coroutines = {fid for fid, _fi in model.async_functions()}   # (most callees are not)
    for fi, idx, ev in model.call_events(targets=lambda g: g in coroutines and is_plain(g)):
        candidates.setdefault(fi.id, []).append((idx, ev))
    for fid in sorted(candidates):
        fi = model.functions[fid]
        sites = asyncflow.call_sites(fi)
        counts: dict = {}
        for idx, ev in candidates[fid]:
            cs = sites.get(idx)
            if cs is None or not cs.targets or cs.ext:
                continue
            targets = [model.functions.get(t) for t, _r in cs.targets]
            if not all(g is not None and _plain_coroutine_function(g) for g in targets):
                continue
            u = ev.get("u")
            if u == "discard":
                why = "its coroutine is discarded"
            elif u == "test":
                why = "its coroutine is only tested for truth (always true)"
            elif u == "local" and ev.get("t") and not asyncflow.name_used(model, fi, ev["t"]):
                why = f"its coroutine is kept only in the local {ev['t']!r}, which is never used"
            else:
                continue
            g = targets[0]
            n = counts[g.id] = counts.get(g.id, 0) + 1
            start = asyncflow.loop_advice(asyncflow.async_libraries(model, fi), SCHEDULE)
            msg = (f"{function_short(model, fid)} calls async {g.short} but {why}: it never runs "
                   f"(await it, or {start})")
            related = [Location(fi.path, ev["l"], ev["c"], f"{fi.short} calls {g.short}"),
                       Location(g.path, g.line, g.col, f"{g.short} is a coroutine function")]
            yield finding(RULE, msg, Location(fi.path, ev["l"], ev["c"]), related, [], (fid, g.id, u, n))


RULE = Rule(
    code="LW204",
    name="unawaited-coroutine",
    kind="dangling-task",
    severity="error",
    runtime=True,  # also reported by `lockwatch run` (lockwatch/runtime/loopwatch.py, lifecycle.py)
    summary="Await (or schedule) every coroutine you create",
    what="""
Finds calls of a project `async def` whose coroutine is never awaited, scheduled or
returned: the call's result is discarded, or kept in a local variable that is never read.
Calls that are awaited, returned, passed on (`asyncio.run(main())`, `create_task(work())`,
`gather(...)`) or stored are fine; async generators and functions behind decorators that
may replace them are not checked.
""",
    why="""
Calling an `async def` only creates a coroutine object; its body does not run until it is
awaited or scheduled. A forgotten `await` silently skips the work (a write that never
happens, a lock never released) and Python only warns when the object is garbage-collected,
far from the call, if at all.
""",
    example="""
async def close(self):
    self._flush()          # async def _flush: never runs
""",
    use_instead="""
async def close(self):
    await self._flush()
""",
    invalid=(
        Example.single('''
import asyncio


class Writer:
    async def _flush(self):
        await asyncio.sleep(0)

    async def close(self):
        self._flush()  # expect
        pending = self._flush()  # expect


def shutdown(w: Writer):
    w.close()  # expect
'''),
    ),
    valid=(
        Example.single('''
import asyncio


class Writer:
    async def _flush(self):
        await asyncio.sleep(0)

    async def _lines(self):
        yield "a"

    async def close(self):
        await self._flush()
        pending = self._flush()
        await pending
        async for line in self._lines():
            print(line)
        return self._flush()


def shutdown(w: Writer):
    asyncio.run(w.close())
    task = asyncio.ensure_future(w.close())
    return task
'''),
    ),
    check=check,
)
