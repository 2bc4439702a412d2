"""LW133 long-lock-wait: runtime only (lockwatch.runtime)."""

from lockwatch.rules import Rule

RULE = Rule(
    code='LW133',
    name='long-lock-wait',
    kind='blocking-under-lock',
    severity='warning',
    summary='An acquisition waits longer than the configured threshold',
    what="Observed at runtime by the watchdog: a thread or task has waited longer than `long_wait` seconds (default 5) to acquire a lock, or an `asyncio.Semaphore`/`BoundedSemaphore` held by other tasks. Reported with the waiter's stack and the holders' stacks (a semaphore names every task holding a permit). Waits on an `asyncio.Event` or `asyncio.Queue` are not findings (waiting for work is normal); they are listed in the report's `waiting` section of a deadlock or long-wait finding.",
    why='A long wait is a hang in the making (or a deadlock through something the tracer cannot see).',
    example='\nwith lock:\n    time.sleep(30)  # every other thread waits 30 s\n',
    use_instead='\ntime.sleep(30)\nwith lock:\n    ...\n',
    static=False,
    runtime=True,
)
