"""``[tool.lockwatch]`` in pyproject.toml -> a validated :class:`Config`.

Command-line options win over the file. Unknown keys and bad values raise
:class:`ConfigError` (the CLI turns it into exit status 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ConfigError(Exception):
    pass


@dataclass
class Config:
    # Rule selection: codes or code prefixes ("LW1"), or kind slugs. Empty select = all.
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    # Glob patterns (gitignore-like, relative to the project root) of paths not to scan.
    exclude: list[str] = field(default_factory=list)
    # glob -> codes ignored in matching files.
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    # Extra dotted names of callables that create locks: name -> "lock" | "rlock" | "semaphore"
    # | "condition" | "async-lock" (reentrancy follows from the sort).
    lock_factories: dict[str, str] = field(default_factory=dict)
    # Extra dotted names (functions or Class.method) that block.
    blocking_calls: list[str] = field(default_factory=list)
    # Scan at scale.
    jobs: int = 0                 # 0 = every core
    cache_dir: str | None = None  # None = default location
    no_cache: bool = False
    # Where the project root is (directory holding pyproject.toml, or cwd).
    root: str = "."
