"""Stand-in summarisers for the pool tests. Workers import them by "module:function" name
(spawned processes do not see monkeypatching), so they live in an importable module."""

from __future__ import annotations

import ast
import os
import signal
import threading
import time

from lockwatch.static.summary import FunctionSummary, ModuleSummary


class ParseError(Exception):
    pass


def summarise(source: str, path: str, module: str, is_package: bool = False) -> ModuleSummary:
    """Real enough to check plumbing: one FunctionSummary per def, with its line."""
    if "CRASH_SEGV" in source:
        # Aimed at this thread, as a real fault would be: a process-directed signal may be
        # delivered to another thread while this one carries on and returns a result.
        signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(60)
    if "CRASH_EXIT" in source:
        os._exit(3)
    if "HANG_FOREVER" in source:  # like libcst on a huge expression: busy
        while True:
            pass
    if "SLEEP_FOREVER" in source:  # stuck without using the CPU
        while True:
            time.sleep(1)
    if "RAISE_BUG" in source:
        raise KeyError("bug in summariser")
    if "DEEP_RECURSE" in source:
        def down(n):
            return down(n + 1)
        down(0)
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ParseError(str(e)) from None
    ms = ModuleSummary(module=module, path=path, is_package=is_package)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ms.functions[node.name] = FunctionSummary(
                qualname=node.name, name=node.name, line=node.lineno, col=node.col_offset + 1,
                is_async=isinstance(node, ast.AsyncFunctionDef))
    return ms


def summarise_py314(source: str, path: str, module: str, is_package: bool = False) -> ModuleSummary:
    """Stands for a libcst that knows syntax newer than the running interpreter."""
    if "def f[" in source or "type X =" in source:
        return ModuleSummary(module=module, path=path, is_package=is_package)
    return summarise(source, path, module, is_package)


SPEC = "pool_standins:summarise"
SPEC_NEWER = "pool_standins:summarise_py314"
