"""Per-file summary cache: content hash -> ModuleSummary (or the file's error).

Why this shape:

* The key is sha256 over the file's bytes plus everything else the summary depends on: the
  summary layout (``SUMMARY_VERSION``) and the entry's (``ENTRY_FORMAT``), the lockwatch version, the Python minor version (the
  guard's verdicts differ between interpreters), and the file's module name and package flag
  (they are stored inside the summary, and change what its names mean). Content, not mtime: a
  checkout or a ``touch`` does not invalidate, and an edit that keeps the mtime cannot fool it.
* Not the file's path: display paths are relative to the current directory, so a key with
  one missed every entry when the same project was scanned from another directory
  (pre-commit from the repository root, a developer from a subdirectory, the pytest plugin
  from pytest's rootdir; issue #4). An entry holds no path either: the worker summarises
  under ``ENTRY_PATH`` (so no message or record it makes can mention where the file is),
  the entry stores that, and the pool sets each loaded summary's ``path`` to the display path
  of the file it is loaded for (``pool.summarise_files``). Two files with the same bytes and
  the same module name (one module under two roots) share an entry, which is right: their
  summaries differ only by that path. The absolute path is left out too, so a project that
  moves (a CI workspace, a copy) keeps its entries.
* Entries are JSON, never pickle, so a cache directory planted by someone else can at worst
  make a summary wrong, never run code. Each entry repeats its own key; an entry that does not
  parse, is truncated, carries another key or another summary version or entry format is
  ignored (a miss) and rewritten. A summary is stored as ``ModuleSummary.to_entry()``: its
  functions and classes as rows under a header of field names, which is cheaper to encode and
  to decode than ``to_dict()`` (see ``encode_summary_entry``).
* One small file per entry, written atomically (temporary file + ``os.replace``): parallel
  workers and concurrent runs never see half an entry, and a warm run loads only the entries
  of files it has, in any order.
* Errors are cached too (a syntax error, a parser crash), so a warm run reports exactly what
  the cold run did without paying for it again. A time-out is cached with its budget and
  retried when the budget is larger.
* The default directory is ``.lockwatch_cache/`` in the project root, with a ``.gitignore``
  of ``*`` (so it is never committed, like ``.ruff_cache``) and a ``CACHEDIR.TAG`` (so backup
  tools skip it). Entries live under a per-version subdirectory so old versions never collide.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from typing import Any

from lockwatch import __version__
from lockwatch.config import Config

DEFAULT_DIRNAME = ".lockwatch_cache"
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by lockwatch.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def _summary_version() -> int:
    from lockwatch.static.summary import SUMMARY_VERSION

    return SUMMARY_VERSION


def _entry_format() -> int:
    from lockwatch.static.summary import ENTRY_FORMAT

    return ENTRY_FORMAT


# The path a summary holds inside an entry, and the one a worker summarises under: none.
# What a summary's ``path`` is for a scan (its display path) is set when it is loaded.
ENTRY_PATH = ""

# Part of every key's salt: how a key is derived. Changing what goes into a key changes it,
# so entries keyed the old way (with the display path, before) are simply never found.
_KEY_DERIVATION = "k2:module,package,bytes"


class Cache:
    """A directory of JSON entries. ``get`` never raises for a bad entry; ``put_*`` never
    raises either (a cache that cannot be written only makes the next run slower)."""

    def __init__(self, directory: str) -> None:
        self.base = os.path.abspath(directory)
        self.tag = (f"lw{__version__}-s{_summary_version()}e{_entry_format()}"
                    f"-py{sys.version_info[0]}{sys.version_info[1]}")
        self.dir = os.path.join(self.base, self.tag)
        self._salt = f"{self.tag}\0{_KEY_DERIVATION}\0".encode()
        self._ready = False

    @classmethod
    def for_config(cls, config: Config) -> Cache | None:
        if config.no_cache:
            return None
        d = config.cache_dir or os.path.join(os.path.abspath(config.root or "."), DEFAULT_DIRNAME)
        return cls(d)

    # -- keys ---------------------------------------------------------------------------

    def key(self, data: bytes, module: str, is_package: bool) -> str:
        """The entry of a file with these bytes, module name and package flag, wherever it
        is and wherever it is displayed from (see the module's docstring)."""
        h = hashlib.sha256(self._salt)
        h.update(f"{module}\0{int(is_package)}\0".encode("utf-8", "surrogatepass"))
        h.update(data)
        return h.hexdigest()

    def entry_path(self, key: str) -> str:
        return os.path.join(self.dir, key[:2], key + ".json")

    # -- reading ------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        """An entry file exists (a stat; ``get`` decides whether it is usable)."""
        return os.path.isfile(self.entry_path(key))

    def get(self, key: str) -> dict[str, Any] | None:
        """The raw entry: ``{"k": key, "summary": {...}}`` or ``{"k": key, "error": msg}``
        (plus ``"timeout"`` for a time-out). None when absent or unusable."""
        try:
            with open(self.entry_path(key), "rb") as f:
                raw = f.read()
        except OSError:
            return None
        return decode_entry(raw, key)

    # -- writing ------------------------------------------------------------------------

    def put_summary(self, key: str, summary_entry: dict[str, Any]) -> None:
        """``summary_entry``: ``ModuleSummary.to_entry()``."""
        self._write(key, {"k": key, "summary": summary_entry})

    def put_error(self, key: str, message: str, timeout: float | None = None) -> None:
        entry: dict[str, Any] = {"k": key, "error": message}
        if timeout is not None:
            entry["timeout"] = timeout
        self._write(key, entry)

    def _write(self, key: str, entry: dict[str, Any]) -> None:
        try:
            data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError, RecursionError):
            return  # not JSON-able: better no entry than a wrong one
        write_atomic(self.entry_path(key), data, self)

    def prepare(self) -> None:
        """Create the directory with its .gitignore and CACHEDIR.TAG (once per process)."""
        if self._ready:
            return
        try:
            os.makedirs(self.dir, exist_ok=True)
            for name, text in ((".gitignore", "# Created by lockwatch automatically.\n*\n"),
                               ("CACHEDIR.TAG", _CACHEDIR_TAG)):
                p = os.path.join(self.base, name)
                if not os.path.exists(p):
                    _write_file_atomic(p, text.encode())
        except OSError:
            pass
        self._ready = True


def write_atomic(path: str, data: bytes, cache: Cache | None = None) -> None:
    """Write an entry: temporary file in the same directory, then rename over. Also used by
    worker processes, which encode and write the entries of the files they parsed while the
    main process analyses (``pool.write_entries``)."""
    if cache is not None:
        cache.prepare()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_file_atomic(path, data)
    except OSError:
        pass


def _write_file_atomic(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def decode_entry(raw: bytes, key: str) -> dict[str, Any] | None:
    """An entry's bytes -> the entry (see ``Cache.get``), None when they are not one for
    ``key``. (A cold scan's summaries reach the main process as marshal bytes of the same
    entry dict, ``pool.analyse``; ``tests/test_pool_transport_equal.py`` checks that both
    give equal summaries.)"""
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("k") != key:
        return None
    if "summary" in entry:
        s = entry["summary"]
        if not isinstance(s, dict) or s.get("version") != _summary_version() \
                or s.get("format") != _entry_format():
            return None
    elif not isinstance(entry.get("error"), str):
        return None
    return entry


def encode_summary_entry(key: str, summary_entry: dict[str, Any]) -> bytes:
    """The bytes of a summary's cache entry; ``summary_entry`` is ``ModuleSummary.to_entry()``
    (its rows instead of ``to_dict()``'s per-function dicts: bench_summarise --encode)."""
    return _ENTRY_ENCODER.encode({"k": key, "summary": summary_entry}).encode("utf-8", "surrogatepass")


# One encoder for every entry (``json.dumps`` with options builds one per call).
# check_circular=False: a summary is a tree of fresh dicts and lists (no cycles by
# construction); skipping the cycle bookkeeping gives the same bytes ~24% faster
# (bench_summarise --encode: 0.94 -> 0.71 ms per stdlib file).
_ENTRY_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)


class ResultCache:
    """Whole-scan results: one JSON report per project state, so that a scan of an
    unchanged project (the common warm case: CI re-runs, a second ``lockwatch scan``) costs
    reading and hashing the files, not linking and checking the whole program again.

    The analysis is interprocedural, so a per-file cache alone cannot skip link/graph/checks:
    any file may change any finding. The key is therefore everything the report depends on:

    * every discovered file's display path, module name, package flag and content hash, and
      every discovery error (a file that became unreadable changes the report);
    * the configuration that affects analysis (rules, ignores, lock factories, catalogs...);
    * the analyser itself: lockwatch version, summary layout, Python minor version, and a hash
      of lockwatch's own source files (a development checkout changes its code without
      changing its version; a stale report from old code must never be served).

    Unlike a per-file entry, this one *is* keyed by the display paths, on purpose: what it
    stores is a finished report, whose findings, related locations and input errors carry
    display paths (relative to the directory the scan ran from), and whose fingerprints are
    hashed from them (``findings.make_fingerprint``). Served to a scan from another directory,
    it would show paths that are wrong there; rewriting them would mean knowing every place a
    report holds a path, hashes included. So a scan from a new directory misses here once (and stores its own report, one of
    the ``KEEP``), and still parses nothing: its files' summaries come from the per-file
    entries, which do not depend on the directory. Equal display paths (with equal module
    names, contents and configuration, the project root included) mean an equal report.

    Entries live next to the per-file ones (same directory, same JSON-only, same atomic
    writes); a corrupt or foreign entry is a miss. Only the newest few are kept."""

    KEEP = 8

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.dir = os.path.join(cache.dir, "results")

    @classmethod
    def for_config(cls, config: Config) -> "ResultCache | None":
        c = Cache.for_config(config)
        return cls(c) if c is not None else None

    def key(self, files: list, errors: list, config: Config,
            contents: dict[str, bytes] | None = None) -> str | None:
        """``files``: ``SourceFile``s; ``errors``: discovery ``InputError``s. None when a file
        cannot be read now (the scan proper will report it; nothing to reuse).
        ``contents``, when given, receives each file's bytes by absolute path: on a miss the
        scan summarises exactly the bytes the key was made of, and reads nothing twice."""
        from lockwatch.static.pool import _read  # never blocks on a file swapped for a FIFO

        h = hashlib.sha256(self.cache._salt)
        h.update(_code_fingerprint().encode())
        h.update(_config_fingerprint(config).encode("utf-8", "surrogatepass"))
        for e in errors:
            h.update(f"E\0{e.path}\0{e.message}\0".encode("utf-8", "surrogatepass"))
        for sf in files:
            try:
                data = _read(sf.abspath)
            except OSError:
                return None
            if contents is not None:
                contents[sf.abspath] = data
            h.update(f"F\0{sf.path}\0{sf.module}\0{int(sf.is_package)}\0{len(data)}\0".encode(
                "utf-8", "surrogatepass"))
            h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.dir, key + ".json")

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._path(key), "rb") as f:
                entry = json.loads(f.read())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("k") != key or not isinstance(entry.get("report"), dict):
            return None
        try:
            os.utime(self._path(key))  # newest-used survives pruning
        except OSError:
            pass
        return entry["report"]

    def put(self, key: str, report_dict: dict[str, Any]) -> None:
        try:
            data = json.dumps({"k": key, "report": report_dict}, separators=(",", ":"),
                              ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError, RecursionError):
            return
        write_atomic(self._path(key), data, self.cache)
        self._prune()

    def _prune(self) -> None:
        try:
            entries = [os.path.join(self.dir, n) for n in os.listdir(self.dir) if n.endswith(".json")]
            entries.sort(key=lambda p: os.stat(p).st_mtime_ns, reverse=True)
            for p in entries[self.KEEP:]:
                os.unlink(p)
        except OSError:
            pass


_CODE_FINGERPRINT: str | None = None


def _code_fingerprint() -> str:
    """Hash of lockwatch's own ``.py`` files (~0.5 MB: a few milliseconds)."""
    global _CODE_FINGERPRINT
    if _CODE_FINGERPRINT is None:
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        h = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(pkg):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(".py"):
                    p = os.path.join(dirpath, name)
                    h.update(os.path.relpath(p, pkg).encode("utf-8", "surrogatepass"))
                    try:
                        with open(p, "rb") as f:
                            h.update(hashlib.sha256(f.read()).digest())
                    except OSError:
                        pass
        _CODE_FINGERPRINT = h.hexdigest()
    return _CODE_FINGERPRINT


# Fields that only say how to run, not what to find.
_RUN_ONLY = {"jobs", "cache_dir", "no_cache", "config_file"}


def _config_fingerprint(config: Config) -> str:
    import dataclasses

    d = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in _RUN_ONLY}
    d["root"] = os.path.abspath(str(d.get("root") or "."))
    return json.dumps(d, sort_keys=True, default=repr)
