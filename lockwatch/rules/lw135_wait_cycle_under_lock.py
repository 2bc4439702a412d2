"""LW135 wait-cycle-under-lock: runtime only (lockwatch.runtime)."""

from lockwatch.rules import Rule

RULE = Rule(
    code='LW135',
    name='wait-cycle-under-lock',
    kind='blocking-under-lock',
    severity='error',
    summary='A thread holding a lock waits (join, Future.result) for a thread that waits for that lock',
    what='Observed at runtime: the wait-for graph includes joins and `Future.result()` (the pool thread running the future). When a thread that holds a lock waits for a thread or future whose thread is waiting for that lock, the cycle is reported and, unless `--report-only`, broken with `lockwatch.DeadlockError`.',
    why='Neither side can proceed: the joiner never releases the lock the other needs to finish.',
    example='\nwith lock:\n    t.join()        # t needs `lock` to finish\n',
    use_instead='\nwith lock:\n    snapshot = state.copy()\nt.join()\n',
    static=False,
    runtime=True,
)
