"""The pytest plugin's side of leak tracking: which frames belong to the test runner, and
how a thread or task a test left behind is worded as a per-test finding.

The tracking itself (hooks on ``Thread.start`` and ``BaseEventLoop.create_task``, records
pinned on the test and phase running at the time, the checks after a test) is the runtime's
(``lockwatch/runtime/lifecycle.py``, ``attach()`` and its per-test queries): one tracker for
``lockwatch run``, ``lockwatch.watch()`` and the plugin.
"""

from __future__ import annotations

import os

from lockwatch.findings import Finding, Location, make_fingerprint
from lockwatch.runtime.lifecycle import Sites, Started, stdlib_file, unawaited_site
from lockwatch.runtime.stacks import is_own

# Frames of the test runner itself are noise in a creation stack.
_RUNNER_PARTS = (
    os.sep + "_pytest" + os.sep,
    os.sep + "pluggy" + os.sep,
    os.sep + "pytest" + os.sep + "__main__.py",
    os.sep + "xdist" + os.sep,
    os.sep + "execnet" + os.sep,
    os.sep + "lockwatch" + os.sep + "plugin" + os.sep,
)


def _is_runner(filename: str) -> bool:
    return any(p in filename for p in _RUNNER_PARTS) or filename.startswith("<frozen")


def _hidden(filename: str) -> bool:
    # lockwatch's own frames too: the tracer's Thread.start wrapper (runtime/install.py) sits
    # between a thread started inside a thread and its starter, and was reported as the site
    return _is_runner(filename) or is_own(filename)


# A test's view of a creation: the runner's frames hidden, the site is the innermost frame
# outside the stdlib (doctest and exec'd code included), and every start counts, whoever
# made it: a thread a package starts for the test is the test's leak too.
SITES = Sites(hidden=_hidden, library=stdlib_file, any_site=True, launcher=False)


def join(thread, timeout: float) -> None:
    # the thread's own join, as a test's would call it
    thread.join(timeout)


def thread_finding(r: Started, test: str, grace: float) -> Finding:
    kind = "daemon thread" if r.daemon else "thread"
    return Finding(
        code="LW211",
        kind="unjoined-thread",
        severity="warning",
        message=f"{kind} {r.name!r} started by the test is still alive {grace:g}s after it ended",
        path=r.path,
        line=r.line,
        related=[Location(r.path, r.line, 1, f"{kind} {r.name!r} started here")],
        stacks=[r.stack],
        fingerprint=make_fingerprint("LW211", r.path, r.line, test),
        extra={"tests": [test], "origin": "runtime", "daemon": r.daemon},
    )


def task_finding(r: Started, test: str) -> Finding:
    why = {
        "loop end": "was still pending when its event loop finished (cancelled at shutdown)",
        "test end": "is still pending after the test ended",
        "destroyed pending": "was destroyed while still pending",
        "exception never retrieved": f"failed and its exception was never retrieved{r.detail}: nobody awaited it",
    }.get(r.pending_at, "was left pending")
    return Finding(
        code="LW203",
        kind="dangling-task",
        severity="warning",
        message=f"task {r.name} created by the test {why}",
        path=r.path,
        line=r.line,
        related=[Location(r.path, r.line, 1, f"task {r.name} created here")],
        stacks=[r.stack],
        fingerprint=make_fingerprint("LW203", r.path, r.line, test),
        extra={"tests": [test], "origin": "runtime", "pending_at": r.pending_at},
    )


def unawaited_finding(message: str, filename: str, lineno: int, test: str) -> Finding | None:
    """A 'coroutine ... was never awaited' RuntimeWarning -> LW204 at the creation site
    (from the origin the interpreter attaches when origin tracking is on)."""
    if "was never awaited" not in message:
        return None
    head = message.splitlines()[0]
    path, line, stack = unawaited_site(message, filename, lineno, SITES)
    return Finding(
        code="LW204",
        kind="dangling-task",
        severity="warning",
        message=f"{head} (created during the test)",
        path=path,
        line=line,
        related=[],
        stacks=[stack] if stack else None,
        fingerprint=make_fingerprint("LW204", path, line, head),
        extra={"tests": [test], "origin": "runtime"},
    )
