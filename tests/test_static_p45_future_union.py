"""P45: a project factory that returns an asyncio.Future when a loop runs and a
concurrent.futures.Future otherwise (jupyter_client's ``_get_future``). Its result may be
either; an asyncio future's ``result()``/``exception()`` never wait, so a call of one of them
on that result is not a blocking call (a method of an object that may be one of several
known types blocks only when it blocks for every one of them). A factory that makes only
concurrent futures keeps its LW201 (and its LW131 under a lock)."""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.static import catalog
from lockwatch.static.engine import scan_sources

UNION = """\
import asyncio
{imports}


def _get_future({params}):
{body}


class KernelManager:
    def __init__(self):
        self._ready = None

    @property
    def ready(self):
        if not self._ready:
            self._ready = _get_future({args})
        return self._ready


async def shutdown_kernel(km: KernelManager):
    if km.ready.exception():
        raise RuntimeError("the kernel failed to start")
    return km.ready.result()
"""

FACTORIES = {
    # jupyter_client's own shape: asyncio first, from asyncio.futures
    "loop-probe": ("from asyncio.futures import Future\nfrom concurrent.futures import Future as CFuture", "",
                   """
try:
    asyncio.get_running_loop()
    return Future()
except RuntimeError:
    return CFuture()""", ""),
    # the concurrent future first: the first known return no longer decides alone
    "concurrent-first": ("import concurrent.futures", "",
                         """
try:
    asyncio.get_running_loop()
except RuntimeError:
    return concurrent.futures.Future()
return asyncio.Future()""", ""),
    # a constant argument picks the branch; the asyncio one through the loop's own factory
    "constant-arg": ("from concurrent.futures import Future as CFuture", "threaded",
                     """
if threaded:
    return CFuture()
return asyncio.get_running_loop().create_future()""", "False"),
}


def _codes(src: str) -> list[str]:
    compile(src, "kernel.py", "exec")   # a program that does not parse would give nothing
    return [f.code for f in scan_sources({"kernel.py": src}).findings]


def _program(imports: str, params: str, body: str, args: str) -> str:
    return UNION.format(imports=imports, params=params, args=args,
                        body=textwrap.indent(body.strip("\n"), "    "))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_future_that_may_be_an_asyncio_one_is_not_reported(name):
    assert _codes(_program(*FACTORIES[name])) == []


def test_a_factory_of_concurrent_futures_only_keeps_lw201():
    src = _program("from concurrent.futures import Future as CFuture", "", "return CFuture()", "")
    assert _codes(src) == ["LW201", "LW201"]   # exception() and result() both wait


def test_two_blocking_types_still_block():
    # Thread or Process: join() blocks for both, so the call is blocking whichever it is
    src = textwrap.dedent("""
        import asyncio
        import multiprocessing
        import threading


        def _worker(use_process):
            if use_process:
                return multiprocessing.Process(target=print)
            return threading.Thread(target=print)


        async def stop(use_process):
            w = _worker(use_process)
            w.start()
            w.join()
    """)
    assert _codes(src) == ["LW201"]


def test_under_a_lock_the_same_rule_holds():
    body = """
        import threading
        from asyncio import Future
        from concurrent.futures import Future as CFuture

        _lock = threading.Lock()


        def make(loop_running):
            if loop_running:
                return Future()
            return CFuture()


        def make_concurrent():
            return CFuture()


        def peek():
            f = make(True)
            with _lock:
                return f.done() and f.exception()


        def wait_for_it():
            f = make_concurrent()
            with _lock:
                return f.exception()
    """
    found = scan_sources({"m.py": textwrap.dedent(body)}).findings
    assert [(f.code, f.location.line) for f in found] == [("LW131", 28)]


@pytest.mark.parametrize("spelling", ["asyncio.Future", "asyncio.futures.Future"])
def test_asyncio_future_is_a_known_type(spelling):
    assert catalog.KNOWN_TYPES[spelling] == "asyncio.Future"
    assert "asyncio.Future.result" not in catalog.BLOCKING
