"""What the daemon keeps in memory, and how it is brought up to date: the engine's scan
(``engine.scan``), answered from memory.

A scan is keyed the way its report depends on things (``cache.ResultCache.key``): the
directory it runs from (display paths are relative to it), the paths given, and the
configuration that affects analysis. Each key has a ``Scan`` (the discovered files, the
``incremental.Analysis`` of their summaries); every scan shares one file table, keyed by
(absolute path, module name, package flag), holding each file's stat signature (mtime,
size, inode, ctime), content hash and summary (or its error). Bringing a scan up to date:

1. discover again (new, deleted, moved files; exclude changes);
2. stat every file; re-read and re-hash only those whose signature changed (and those whose
   mtime was within ``RACY_NS`` of when they were last hashed: a write in the same clock
   tick keeps the signature); a changed hash is re-summarised through the worker pool (with
   the per-file disk cache: the cold start is a warm scan's);
3. build the module map exactly as ``engine.summarise_discovered`` does (the first file of a
   module name wins; errors after the discovery's, in the files' order);
4. if the summaries are the very objects and the errors the same as the last analysis',
   its report stands; else ``Analysis.update`` (or ``Analysis.full`` the first time).

Everything here runs under the daemon's one analysis lock and with the process's current
directory set to the scan's (``discover`` and display paths read it).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
import json
import os
import time
from collections import OrderedDict

from lockwatch.config import Config
from lockwatch.findings import InputError, Report
from lockwatch.static.discover import SourceFile, discover
from lockwatch.static.incremental import Analysis

RACY_NS = 2_000_000_000
# Fields that only say how to run, not what to find (as in ``cache._config_fingerprint``).
_RUN_ONLY = {"jobs", "cache_dir", "no_cache", "config_file"}


def config_fingerprint(config: Config) -> str:
    d = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in _RUN_ONLY}
    d["root"] = os.path.abspath(str(d.get("root") or "."))
    return json.dumps(d, sort_keys=True, default=repr)


def _sig(st: os.stat_result) -> tuple:
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


class FileEntry:
    __slots__ = ("digest", "error", "hashed_ns", "sig", "summary", "views")

    def __init__(self, sig, digest, hashed_ns, summary, error) -> None:
        self.sig = sig
        self.digest = digest
        self.hashed_ns = hashed_ns
        self.summary = summary          # ModuleSummary, or None with ``error``
        self.error = error              # the message of the file's InputError
        self.views: dict[str, object] = {}

    def summary_for(self, display: str):
        """The summary with ``path`` = this scan's display path of the file (a summary
        holds the path it is reported under; the same file seen from two directories is
        two views of one summary)."""
        s = self.views.get(display)
        if s is None:
            s = self.summary if self.summary.path == display else copy.copy(self.summary)
            s.path = display
            self.views[display] = s
        return s

    def racy(self) -> bool:
        return self.sig[0] >= self.hashed_ns - RACY_NS


@dataclasses.dataclass
class Scan:
    key: tuple
    cwd: str
    paths: list[str]
    config: Config
    files: list[SourceFile] = dataclasses.field(default_factory=list)
    dirs: dict[str, int] = dataclasses.field(default_factory=dict)  # directory -> mtime_ns
    analysis: Analysis | None = None
    discovered_at: float = 0.0


class Project:
    """The daemon's memory: the file table and the most recently used scans."""

    def __init__(self, max_scans: int = 2, freeze: bool = False, reserve=None) -> None:
        self.reserve = reserve          # a pool.Reserve: workers kept between updates (daemon)
        self.entries: dict[tuple[str, str, bool], FileEntry] = {}
        self.scans: OrderedDict[tuple, Scan] = OrderedDict()
        self.max_scans = max_scans
        self.analyses = 0
        self.summarised = 0
        self.frozen = not freeze  # freeze the heap before the first analysis (the daemon)
        self.last: dict | None = None   # the last analysis: when, how long, why, what changed
        # files with no entry (unreadable when last tried) -> their stat signature then
        self.unread: dict[str, tuple | None] = {}

    # -- the engine stand-in ------------------------------------------------------------

    def scan(self, paths: list[str], config: Config, trigger: str = "request") -> Report:
        """``engine.scan(paths, config)``'s report, from memory (cwd = the scan's)."""
        cwd = os.getcwd()
        key = (cwd, tuple(paths), config_fingerprint(config))
        sc = self.scans.get(key)
        if sc is None:
            sc = Scan(key, cwd, list(paths), config)
            self.scans[key] = sc
            while len(self.scans) > self.max_scans:
                self.scans.popitem(last=False)
        self.scans.move_to_end(key)
        sc.config = config
        report = self.refresh(sc, trigger)
        return Report(report.source, list(report.findings), list(report.errors), dict(report.extra))

    def current(self) -> Scan | None:
        """The most recently used scan (the one the watcher keeps up to date)."""
        try:
            return next(reversed(self.scans.values()), None)
        except RuntimeError:  # changed while a status request looked (no lock there)
            return None

    def refresh(self, sc: Scan, trigger: str) -> Report:
        dirs_before = {d: _mtime(d) for d in sc.dirs} if sc.dirs else {}
        t0 = time.perf_counter()
        files, errors = discover(list(sc.paths), sc.config)
        sc.discovered_at = time.monotonic()
        t1 = time.perf_counter()
        by_module, errs, changed = self._summaries(files, sc.config)
        t2 = time.perf_counter()
        errors = list(errors) + errs
        sc.files = files
        dirs = {d for d in (os.path.dirname(f.abspath) for f in files)}
        dirs.update(os.path.abspath(p) for p in sc.paths if os.path.isdir(p))
        sc.dirs = {d: dirs_before[d] if d in dirs_before else _mtime(d) for d in dirs}
        a = sc.analysis
        if a is not None and _same(a.summaries, by_module) and a.errors == errors:
            return a.report
        if not self.frozen:
            # Everything alive now (the code, the summaries) lives as long as the daemon:
            # out of the collector's sight (gc.freeze), a collection after an update walks
            # the analyses only (old: ~2 s at load 5 on the stdlib; the whole heap: 4-8 s).
            gc.freeze()
            self.frozen = True
        t = time.perf_counter()
        try:
            sc.analysis = a.update(by_module, errors) if a is not None else Analysis.full(by_module, sc.config, errors)
        except BaseException:
            # an update may have changed the old analysis' model before it failed: never
            # build on it again (the next request analyses from scratch)
            sc.analysis = None
            raise
        self.analyses += 1
        self.last = {"at": time.time(), "seconds": time.perf_counter() - t, "trigger": trigger,
                     "mode": sc.analysis.stats.get("mode", "?"), "files_summarised": changed,
                     "modules": len(by_module), "discover_seconds": t1 - t0,
                     "files_seconds": t2 - t1}
        return sc.analysis.report

    def _summaries(self, files: list[SourceFile], config: Config):
        from lockwatch.static.pool import _read, summarise_files

        todo: list[SourceFile] = []
        contents: dict[str, bytes] = {}
        stamps: dict[str, tuple] = {}
        now = time.time_ns()
        for sf in files:
            k = (sf.abspath, sf.module, sf.is_package)
            e = self.entries.get(k)
            try:
                sig = _sig(os.stat(sf.abspath))
            except OSError:
                self.unread[sf.abspath] = None
                todo.append(sf)  # the pool reads it again and says why it cannot
                continue
            if e is not None and e.sig == sig and not e.racy():
                continue
            try:
                data = _read(sf.abspath)
            except OSError:
                self.unread[sf.abspath] = sig
                todo.append(sf)
                continue
            digest = hashlib.sha256(data).digest()
            if e is not None and e.digest == digest:
                e.sig, e.hashed_ns = sig, now
                continue
            todo.append(sf)
            contents[sf.abspath] = data
            stamps[sf.abspath] = (sig, digest)
        if todo:
            sums, errs = summarise_files(todo, config, contents=contents, reserve=self.reserve)
            by_path = {e.path: e.message for e in errs}
            for sf in todo:
                k = (sf.abspath, sf.module, sf.is_package)
                stamp = stamps.get(sf.abspath)
                s = sums.get(sf.path)
                if stamp is None:      # unreadable now: not kept, tried again next time
                    self.entries.pop(k, None)
                    continue
                self.unread.pop(sf.abspath, None)
                self.entries[k] = FileEntry(stamp[0], stamp[1], now, s,
                                            None if s is not None else by_path.get(sf.path, "not analysed"))
            self.summarised += len(todo)
            todo_errors = {e.path: e for e in errs}
        else:
            todo_errors = {}
        by_module: dict = {}
        errors: list[InputError] = []
        for sf in files:
            e = self.entries.get((sf.abspath, sf.module, sf.is_package))
            if e is None:
                err = todo_errors.get(sf.path)
                if err is not None:
                    errors.append(err)
                continue
            if e.summary is not None:
                s = e.summary_for(sf.path)
                by_module.setdefault(s.module, s)
            else:
                errors.append(InputError(sf.path, e.error))
        self._forget(files)
        return by_module, errors, len(todo)

    def _forget(self, files: list[SourceFile]) -> None:
        """Drop entries no kept scan has (deleted files), so memory follows the project."""
        if len(self.entries) <= len(files):
            return
        live = {(f.abspath, f.module, f.is_package) for sc in self.scans.values() for f in sc.files}
        live.update((f.abspath, f.module, f.is_package) for f in files)
        for k in [k for k in self.entries if k not in live]:
            del self.entries[k]

    # -- the watcher's question -----------------------------------------------------------

    def stale(self, sc: Scan) -> bool:
        """Has a file of ``sc`` (or a directory holding one) changed since it was last
        brought up to date? Stats only: safe outside the lock and whatever the cwd."""
        if sc.analysis is None:
            return True
        for d, m in list(sc.dirs.items()):
            if _mtime(d) != m:
                return True
        for sf in list(sc.files):
            e = self.entries.get((sf.abspath, sf.module, sf.is_package))
            try:
                sig = _sig(os.stat(sf.abspath))
            except OSError:
                sig = None
            if (e.sig if e is not None else self.unread.get(sf.abspath, ())) != sig:
                return True
        return False


def _mtime(d: str) -> int:
    try:
        return os.stat(d).st_mtime_ns
    except OSError:
        return -1


def _same(old: dict, new: dict) -> bool:
    return len(old) == len(new) and all(old.get(k) is v for k, v in new.items())
