"""``[tool.lockwatch]`` in pyproject.toml -> a validated :class:`Config`.

Command-line options win over the file. Unknown keys and bad values raise
:class:`ConfigError` (the CLI turns it into exit status 2).

Where the file is found: walking up from the first path given (or the current directory)
to the nearest ``pyproject.toml`` that has a ``[tool.lockwatch]`` table, or a
``lockwatch.toml`` (whose top level is that table); the walk stops at a directory holding
``.git`` so that a checkout never picks up settings from an unrelated parent directory.
Paths in the file (``exclude``, ``per-file-ignores``, ``cache-dir``) are relative to the
directory holding it, which becomes :attr:`Config.root`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lockwatch.projectroot import find_project_root  # noqa: F401 - part of this module's interface


class ConfigError(Exception):
    pass


@dataclass
class Config:
    # Rule selection: codes or code prefixes ("LW1"), or kind slugs. Empty select = all.
    select: list[str] = field(default_factory=list)
    # Added to the default rule set when ``select`` is empty (opt-in rules, see Rule.default).
    extend_select: list[str] = field(default_factory=list)
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
    # Daemon threads never joined (unjoined-thread): "ignore" (fire-and-forget) or "report".
    daemon_threads: str = "ignore"
    # Scan at scale.
    jobs: int = 0                 # 0 = every core
    cache_dir: str | None = None  # None = default location
    no_cache: bool = False
    # Seconds of CPU one file may take to summarise before it is reported and skipped
    # (None: the pool's default, or LOCKWATCH_PARSE_TIMEOUT).
    parse_timeout: float | None = None
    # Where the project root is (directory holding pyproject.toml, or cwd).
    root: str = "."
    # [tool.lockwatch.runtime], passed through to the runtime tracer, which documents and
    # validates its own keys (kebab-case keys are normalised to snake_case here).
    runtime: dict[str, Any] = field(default_factory=dict)
    # The file the settings came from (None: defaults only).
    config_file: str | None = None
    # The file's extend-exclude, kept apart so a command-line --exclude can replace the
    # file's exclude while extend-exclude still applies (as in ruff).
    _extend_exclude: list[str] = field(default_factory=list, repr=False, compare=False)


# Sorts a configured lock factory may declare. Reentrancy and async-ness follow from the
# sort, so the static analyser needs nothing else to model the lock.
LOCK_SORTS = (
    "lock",
    "rlock",
    "semaphore",
    "condition",
    "async-lock",
    "async-semaphore",
    "async-condition",
)

# SPEC kind slugs, accepted in select/ignore.
KINDS = (
    "lock-order-cycle",
    "deadlock",
    "self-deadlock",
    "acquire-without-release",
    "blocking-under-lock",
    "blocking-in-async",
    "await-under-thread-lock",
    "dangling-task",
    "unjoined-thread",
    "unprotected-shared-state",
)

_CODE_PREFIX = re.compile(r"^LW\d{0,3}$", re.IGNORECASE)
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def check_selector(sel: str, where: str) -> str:
    """A selector is ALL, a code or code prefix (LW, LW1, LW101), a kind slug, or a rule's
    name (``unordered-instance-nesting``), which is turned into its code here because
    several rules share a kind."""
    s = sel.strip()
    if s.upper() == "ALL" or _CODE_PREFIX.match(s):
        return s.upper()
    if s.lower() in KINDS:
        return s.lower()
    from lockwatch.rules import (
        all_rules,  # only for rule names and kinds beyond SPEC's list
    )

    for rule in all_rules():
        if rule.name == s.lower():
            return rule.code
        if rule.kind == s.lower():
            return s.lower()
    raise ConfigError(
        f"{where}: unknown rule selector {sel!r} (expected ALL, a code or code prefix such as "
        "LW101 or LW1, a kind such as lock-order-cycle, or a rule name from 'lockwatch rules')"
    )


def split_list(text: str) -> list[str]:
    """Comma list from the command line: 'LW101, LW1' -> ['LW101', 'LW1']."""
    return [p.strip() for p in text.split(",") if p.strip()]


# ---- reading TOML ---------------------------------------------------------------------

def _toml_loads(text: str, path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        try:
            import tomli as tomllib
        except ImportError as e:
            raise ConfigError(f"{path}: reading TOML on Python 3.10 needs the 'tomli' package") from e
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read configuration: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: configuration is not valid UTF-8: {e}") from e
    return _toml_loads(text, path)


def table_from_file(path: str) -> dict[str, Any] | None:
    """The lockwatch table of a file: ``[tool.lockwatch]`` of a pyproject.toml, the whole
    document of any other TOML file (lockwatch.toml). None when a pyproject has none."""
    doc = _read_toml(path)
    if os.path.basename(path) == "pyproject.toml":
        tool = doc.get("tool", {})
        if not isinstance(tool, dict) or "lockwatch" not in tool:
            return None
        table = tool["lockwatch"]
    else:
        # lockwatch.toml: the whole document is the table (a [tool.lockwatch] fragment too).
        tool = doc.get("tool")
        table = tool["lockwatch"] if isinstance(tool, dict) and "lockwatch" in tool else doc
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.lockwatch] must be a table")
    return table


def find_config_file(start: str | None = None) -> str | None:
    """Nearest lockwatch.toml, or pyproject.toml with [tool.lockwatch], from ``start``
    (a file or directory; default cwd) upwards, stopping after a directory with .git."""
    d = os.path.abspath(start or os.getcwd())
    if not os.path.isdir(d):
        d = os.path.dirname(d)
    while True:
        for name in ("lockwatch.toml", "pyproject.toml"):
            cand = os.path.join(d, name)
            if os.path.isfile(cand):
                if name == "lockwatch.toml":
                    return cand
                try:
                    if table_from_file(cand) is not None:
                        return cand
                except ConfigError:
                    # A broken pyproject on the way up is still the user's config file:
                    # report it rather than skipping to a parent's settings.
                    return cand
        if os.path.exists(os.path.join(d, ".git")):
            return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent




# ---- validating -------------------------------------------------------------------------

def _str_list(v: Any, key: str, where: str) -> list[str]:
    if isinstance(v, str):
        raise ConfigError(f"{where}: '{key}' must be a list of strings, not a string (write [{v!r}])")
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return list(v)


def _selectors(v: Any, key: str, where: str) -> list[str]:
    return [check_selector(s, f"{where}: '{key}'") for s in _str_list(v, key, where)]


def _per_file_ignores(v: Any, key: str, where: str) -> dict[str, list[str]]:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: '{key}' must be a table of glob = [codes]")
    out: dict[str, list[str]] = {}
    for glob, codes in v.items():
        out[glob] = _selectors(codes, f"{key}.{glob}", where)
    return out


def _lock_factories(v: Any, key: str, where: str) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: '{key}' must be a table of dotted.name = \"sort\"")
    out: dict[str, str] = {}
    for name, sort in v.items():
        if not _DOTTED.match(name):
            raise ConfigError(f"{where}: '{key}': {name!r} is not a dotted name")
        if not isinstance(sort, str) or sort not in LOCK_SORTS:
            raise ConfigError(
                f"{where}: '{key}.{name}' = {sort!r}: expected one of {', '.join(LOCK_SORTS)}"
            )
        out[name] = sort
    return out


def _blocking_calls(v: Any, key: str, where: str) -> list[str]:
    out = _str_list(v, key, where)
    for name in out:
        if not _DOTTED.match(name):
            raise ConfigError(f"{where}: '{key}': {name!r} is not a dotted name")
    return out


def _daemon_threads(v: Any, key: str, where: str) -> str:
    if v not in ("ignore", "report"):
        raise ConfigError(f"{where}: '{key}' must be \"ignore\" or \"report\"")
    return v


def _jobs(v: Any, key: str, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ConfigError(f"{where}: '{key}' must be a whole number >= 0 (0 = every core)")
    return v


def _seconds(v: Any, key: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ConfigError(f"{where}: '{key}' must be a number of seconds > 0")
    return float(v)


def _path(v: Any, key: str, where: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{where}: '{key}' must be a non-empty path string")
    return v


def _runtime(v: Any, key: str, where: str) -> dict[str, Any]:
    # The tracer owns these keys; here only their shape is checked and names normalised.
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: '{key}' must be a table")
    out: dict[str, Any] = {}
    for k, val in v.items():
        norm = k.replace("-", "_")
        if not re.match(r"^[a-z][a-z0-9_]*$", norm):
            raise ConfigError(f"{where}: '{key}.{k}' is not a valid key name")
        if norm in out:
            raise ConfigError(f"{where}: '{key}.{k}' given twice (kebab-case and snake_case)")
        out[norm] = val
    return out


_KEYS: dict[str, Callable[[Any, str, str], Any]] = {
    "select": _selectors,
    "ignore": _selectors,
    "exclude": _str_list,
    "extend_exclude": _str_list,
    "per_file_ignores": _per_file_ignores,
    "lock_factories": _lock_factories,
    "blocking_calls": _blocking_calls,
    "daemon_threads": _daemon_threads,
    "jobs": _jobs,
    "parse_timeout": _seconds,
    "cache_dir": _path,
    "runtime": _runtime,
}


def parse_table(table: dict[str, Any], where: str = "[tool.lockwatch]") -> dict[str, Any]:
    """Validate a ``[tool.lockwatch]`` table; returns snake_case key -> value."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        norm = key.replace("-", "_")
        if norm not in _KEYS:
            known = ", ".join(k.replace("_", "-") for k in _KEYS)
            raise ConfigError(f"{where}: unknown key '{key}' in [tool.lockwatch] (known keys: {known})")
        if norm in out:
            raise ConfigError(f"{where}: '{key}' given twice (kebab-case and snake_case)")
        out[norm] = _KEYS[norm](value, key, where)
    return out


def from_table(table: dict[str, Any], where: str = "[tool.lockwatch]", root: str = ".") -> Config:
    v = parse_table(table, where)
    cfg = Config(root=root)
    cfg.select = v.get("select", [])
    cfg.ignore = v.get("ignore", [])
    cfg.exclude = v.get("exclude", []) + v.get("extend_exclude", [])
    cfg.per_file_ignores = v.get("per_file_ignores", {})
    cfg.lock_factories = v.get("lock_factories", {})
    cfg.blocking_calls = v.get("blocking_calls", [])
    cfg.daemon_threads = v.get("daemon_threads", "ignore")
    cfg.jobs = v.get("jobs", 0)
    cfg.parse_timeout = v.get("parse_timeout")
    if "cache_dir" in v:
        cfg.cache_dir = os.path.normpath(os.path.join(root, os.path.expanduser(v["cache_dir"])))
    cfg.runtime = v.get("runtime", {})
    cfg._extend_exclude = v.get("extend_exclude", [])
    return cfg


def load(start: str | None = None, config_file: str | None = None) -> Config:
    """The project's configuration: ``config_file`` when given (a pyproject.toml or
    lockwatch.toml; an explicit pyproject without [tool.lockwatch] gives defaults), else
    the nearest one found from ``start`` upwards, else defaults rooted at the cwd."""
    if config_file is not None:
        path = os.path.abspath(config_file)
        if not os.path.isfile(path):
            raise ConfigError(f"{config_file}: configuration file not found")
    else:
        path = find_config_file(start)
        if path is None:
            return Config(root=os.getcwd())
    table = table_from_file(path)
    root = os.path.dirname(path)
    if table is None:
        cfg = Config(root=root)
    else:
        cfg = from_table(table, where=path, root=root)
    cfg.config_file = path
    return cfg


def apply_overrides(cfg: Config, **opts: Any) -> Config:
    """Command-line options win over the file. ``None`` means "not given"."""
    if opts.get("select") is not None:
        cfg.select = [check_selector(s, "--select") for s in opts["select"]]
    if opts.get("extend_select") is not None:
        extra = [check_selector(s, "--extend-select") for s in opts["extend_select"]]
        # With an explicit select list, extend it; otherwise add to the default set (which
        # leaves out opt-in rules) instead of replacing the default set with just these.
        if cfg.select:
            cfg.select = cfg.select + extra
        else:
            cfg.extend_select = cfg.extend_select + extra
    if opts.get("ignore") is not None:
        cfg.ignore = cfg.ignore + [check_selector(s, "--ignore") for s in opts["ignore"]]
    if opts.get("exclude") is not None:
        cfg.exclude = list(opts["exclude"]) + list(cfg._extend_exclude)
    if opts.get("extend_exclude") is not None:
        cfg.exclude = cfg.exclude + list(opts["extend_exclude"])
    if opts.get("jobs") is not None:
        if opts["jobs"] < 0:
            raise ConfigError("--jobs must be >= 0 (0 = every core)")
        cfg.jobs = opts["jobs"]
    if opts.get("cache_dir") is not None:
        cfg.cache_dir = os.path.abspath(opts["cache_dir"])
    if opts.get("no_cache"):
        cfg.no_cache = True
    return cfg
