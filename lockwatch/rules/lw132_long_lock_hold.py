"""LW132 long-lock-hold: runtime only (lockwatch.runtime)."""

from lockwatch.rules import Rule

RULE = Rule(
    code='LW132',
    name='long-lock-hold',
    kind='blocking-under-lock',
    severity='warning',
    summary='A lock is held longer than the configured threshold',
    what="Observed at runtime by the watchdog: one continuous hold of a lock lasted longer than `long_hold` seconds (default 5). Reported with the holder's stack at that moment.",
    why='Long holds serialise every other thread that needs the lock; usually I/O or sleeping under the lock.',
    example='\nwith lock:\n    data = requests.get(url).json()\n',
    use_instead='\ndata = requests.get(url).json()\nwith lock:\n    cache[url] = data\n',
    static=False,
    runtime=True,
)
