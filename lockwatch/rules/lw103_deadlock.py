"""LW103 deadlock: runtime only (lockwatch.runtime)."""

from lockwatch.rules import Rule

RULE = Rule(
    code='LW103',
    name='deadlock',
    kind='deadlock',
    severity='error',
    summary="Threads or tasks wait on each other's locks in a cycle",
    what="Observed at runtime: before a blocking acquisition waits, the tracer walks the wait-for graph (who holds each lock, what each thread or task waits on). When the wait would close a cycle, every thread's stack is reported and, unless `--report-only`, `lockwatch.DeadlockError` is raised in the thread or task that closes it, so the program fails instead of hanging.",
    why='A deadlock hangs the program (or a test run) with no output; the stacks of all threads involved are what a fix needs.',
    example='\n# thread 1                 # thread 2\nwith a:                    with b:\n    with b:                    with a:\n        ...                        ...\n',
    use_instead='\n# one global order: always a before b\nwith a:\n    with b:\n        ...\n',
    static=False,
    runtime=True,
)
