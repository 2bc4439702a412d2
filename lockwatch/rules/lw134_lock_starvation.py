"""LW134 lock-starvation: runtime only (lockwatch.runtime)."""

from lockwatch.rules import Rule

RULE = Rule(
    code='LW134',
    name='lock-starvation',
    kind='blocking-under-lock',
    severity='warning',
    summary='A waiter is repeatedly passed over while others take the lock',
    what='Observed at runtime by the watchdog: while one thread or task waited at least `starvation_time` seconds, the lock was acquired `starvation_passes` times (default 20) by others.',
    why='Python locks are not fair: a thread that releases and immediately re-acquires in a loop can starve every other waiter.',
    example='\nwhile True:\n    with lock:      # re-taken at once, waiters rarely win\n        step()\n',
    use_instead='\nwhile True:\n    with lock:\n        step()\n    time.sleep(0)   # let a waiter in (or use a queue)\n',
    static=False,
    runtime=True,
)
