"""Which files can say anything about locks, threads or async code on their own.

``needs_full_parse(source)`` is a byte-level test (one regular expression, no parsing) for
files that import a concurrency module, define or use ``async``/``await``, create a lock-like
object or call ``acquire``/``release``.

Decision (measured on the CPython 3.12 stdlib without tests, 686 files, 11.6 MB):

* the test passes 82 files (12%) holding 28% of the bytes; libcst's cost is about linear in
  the bytes, so a full parse of only those would cut the parse time by ~3.5x;
* but the other files cannot simply be skipped: the call graph passes through them. A helper
  module with no lock in sight that calls ``time.sleep``, ``subprocess.run`` or ``open``
  turns a call made under a lock elsewhere into a blocking-under-lock finding, and a sync
  helper called from ``async def`` into blocking-in-async. Any word list broad enough to keep
  those (sleep, open, join, wait, result, socket, ...) passes 58% of the files and 84% of the
  bytes, and buys almost nothing;
* "no calls at all" is true of almost no real file.

So, correctness first: every file gets the full summary, and the pipeline does not use this
test to skip anything. What it was meant for is a cheaper summariser for the files it
rejects; that became unnecessary when the full summariser moved to ``ast`` for every file
(``summarise_ast.py``; libcst only for syntax newer than the interpreter): 5.5 s CPU for the
whole tree (parse 2.5 s + walk 2.5 s, Python 3.11) against 80 s with libcst.

The other use, a demand-driven scan (issue #4: this test picks the seed files, the call
graph pulls in what they reach, nothing else is parsed), was measured and not adopted.
``python benchmarks/bench_demand_slice.py TREE...`` builds that slice by name resolution
over the summaries (seeds' functions, then every function, class and global their
references reach through imports, package attributes, star imports and bases):

* CPython 3.12 stdlib: 88 seeds pull in 276 of 684 modules, 61% of the bytes (with the
  tightest roots, ``--roots tight``, only functions that take a lock or await: 227 modules,
  54%, and it loses an LW112 whose finalizer does neither). Parsing would shrink by ~40%,
  the analysis by 30-40%;
* the 15 real PyPI packages of ``benchmarks/real_world_scan.py`` (code that uses
  concurrency, i.e. our users): the slice holds 37-100% of the bytes, median 93% (schedule,
  with no seed at all, nothing);
* and it is not safe for rules that report an *absence* (a thread never joined, a task
  never awaited, a lock never released): the code that clears them may sit in a module
  that mentions no concurrency and that the seed never calls (``self.worker._thread.join()``
  in a service module: a slice reports a false LW211, ``tests/test_scan_whole_program.py``).
  Precision first: the scan analyses every file.
"""

from __future__ import annotations

import re

_CONCURRENCY_MODULES = r"(?:threading|_thread|asyncio|queue|multiprocessing|concurrent|trio|anyio|gevent|eventlet)"
_PATTERN = re.compile(
    rb"\bimport[ \t]+" + _CONCURRENCY_MODULES.encode()
    + rb"|\bfrom[ \t]+" + _CONCURRENCY_MODULES.encode() + rb"\b"
    + rb"|\basync[ \t]+(?:def|with|for)\b|\bawait\b"
    + rb"|\.acquire\(|\.release\(|Lock\(|Semaphore\(|Condition\(|Event\(|Barrier\("
    + rb"|\.submit\(|Thread\(|Executor\("
)


def needs_full_parse(source: str | bytes) -> bool:
    """True when the file mentions a concurrency module, async code or lock-like calls.
    False positives are fine (a word in a comment). A False is no promise that the file
    takes no lock: ``with self.mutex:`` on a lock made in another module (or by a configured
    lock factory) does not match, which is one more reason nothing is skipped on it."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return _PATTERN.search(data) is not None
