"""P33 (fourth real-world batch, docs/real-world.md): a function-local import binds a name in
that function only.

The summarisers used to register a function-local import module-wide when the module had no
such name yet, and to drop it when it had one, so inside the function the module's binding
won: ``from time import sleep`` at the top and ``from asyncio import sleep`` inside a
coroutine gave a false LW201 "calls time.sleep"; and SQLAlchemy's ``testing_engine``, which
imports ``create_engine`` from the sync or the async package under ``if asyncio:``/``else:``,
had its engine typed async by the first import, so ``eng.connect().close()`` on the sync
default was a false LW204. Now a function-local import that rebinds a name to another target
makes the name unknown in that function (precision first: never the other binding); an
import in an ``except`` handler (the ``try: import fast / except ImportError: import slow``
fallback) keeps the first target; a lazy import of a name the module does not bind still
resolves everywhere it did. Every case runs through both summarisers."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings, summarise


def _findings(files: dict[str, str], walk: str) -> list:
    # keyed by module name here: "pkg.mod" is the file pkg/mod.py
    by_path = {m.replace(".", "/") + ".py": src for m, src in files.items()}
    return sorted((f.code, f.location.path, f.location.line) for f in findings(by_path, walk))


def _both(files: dict[str, str]) -> list:
    a = _findings(files, "ast")
    assert a == _findings(files, "cst")
    return a


SHADOW = """
import threading
from time import sleep

def pace(n):
    sleep(n)

async def tick(n):
    from asyncio import sleep
    await sleep(n)
"""


def test_local_import_shadows_module_binding():
    assert _both({"m": SHADOW}) == []


def test_module_binding_still_used_where_not_shadowed():
    # the twin: the coroutine forgot its import and calls time.sleep
    src = SHADOW.replace("    from asyncio import sleep\n    await sleep(n)", "    sleep(n)")
    assert _both({"m": src}) == [("LW201", "m.py", 9)]


ENGINES = {
    "pkg.sync_engine": """
        class Connection:
            def close(self):
                pass

        class Engine:
            def connect(self):
                return Connection()

        def create_engine(url):
            return Engine()
    """,
    "pkg.async_engine": """
        class AsyncConnection:
            async def close(self):
                pass

        class AsyncEngine:
            def connect(self):
                return AsyncConnection()

        def create_async_engine(url):
            return AsyncEngine()
    """,
    "pkg.provision": """
        from pkg import engines

        def setup(url):
            eng = engines.testing_engine(url)
            eng.connect().close()
    """,
}

BRANCH = """
    def testing_engine(url, asyncio=False):
        if asyncio:
            from pkg.async_engine import create_async_engine as create_engine
        else:
            from pkg.sync_engine import create_engine
        return create_engine(url)
"""


def test_two_imports_of_one_name_in_branches_are_unknown():
    assert _both({**ENGINES, "pkg.engines": BRANCH}) == []


@pytest.mark.parametrize("which", ["async", "sync"])
def test_one_local_import_still_resolves(which):
    # a lazy import the module does not bind elsewhere: resolved as before
    line = ("from pkg.async_engine import create_async_engine as create_engine" if which == "async"
            else "from pkg.sync_engine import create_engine")
    src = f"""
        def testing_engine(url):
            {line}
            return create_engine(url)
    """
    expected = [("LW204", "pkg/provision.py", 6)] if which == "async" else []
    assert _both({**ENGINES, "pkg.engines": src}) == expected


def test_import_fallback_in_except_handler_keeps_the_first():
    # try: the preferred module / except ImportError: the fallback: the first binding stays
    src = """
        def testing_engine(url):
            try:
                from pkg.async_engine import create_async_engine as create_engine
            except ImportError:
                from pkg.sync_engine import create_engine
            return create_engine(url)
    """
    assert _both({**ENGINES, "pkg.engines": src}) == [("LW204", "pkg/provision.py", 6)]


def test_lazy_import_under_lock_still_found():
    # the common lazy import inside a function keeps resolving (LW131 through it)
    src = """
        import threading

        _lock = threading.Lock()

        def refresh():
            import subprocess
            with _lock:
                subprocess.run(["true"])
    """
    assert _both({"m": src}) == [("LW131", "m.py", 9)]


@pytest.mark.parametrize("walk", WALKS)
def test_summary_marks_the_shadowed_name_local(walk):
    s = summarise(textwrap.dedent(SHADOW), "m.py", walk)
    assert s.imports["sleep"] == ["from", "time", "sleep"]
    tick = s.functions["tick"]
    assert "sleep" in tick.locals and not tick.locals["sleep"]


def test_reexport_from_the_package_shares_the_binding():
    # Dask's utils_test.py: the module imports distributed.worker.Worker, a function imports
    # the same class from the package that re-exports it; the call through it stays resolved.
    files = {
        "dist.__init__": "from dist.worker import Worker\n",
        "dist.worker": """
            import time

            class Worker:
                def __init__(self, addr):
                    time.sleep(0.1)
        """,
        "dist.utils_test": """
            from dist.worker import Worker

            def run_worker(addr):
                from dist import Worker

                async def _():
                    return Worker(addr)
                return _
        """,
    }
    assert _both(files) == [("LW201", "dist/utils_test.py", 8)]


def test_module_global_of_the_same_name_is_not_the_import():
    src = """
        sleep = None   # filled in by configure()

        async def tick(n):
            from asyncio import sleep
            await sleep(n)
    """
    assert _both({"m": src}) == []
