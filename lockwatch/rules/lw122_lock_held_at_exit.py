"""LW122 lock-held-at-exit: runtime only (lockwatch.runtime)."""

from lockwatch.rules import Rule

RULE = Rule(
    code='LW122',
    name='lock-held-at-exit',
    kind='acquire-without-release',
    severity='warning',
    summary='A lock is still held when the thread or task that took it ends',
    what='Observed at runtime: when a thread or asyncio task finishes while holding an instrumented lock it acquired, and nobody released the lock for it by the time the report is written.',
    why='Every later acquirer waits forever: the owner that should release the lock is gone.',
    example='\ndef worker():\n    lock.acquire()\n    if failed():\n        return          # leaves with the lock held\n    lock.release()\n',
    use_instead='\ndef worker():\n    with lock:\n        if failed():\n            return\n',
    static=False,
    runtime=True,
)
