"""The async and lifecycle checks (LW201-LW204, LW211) beyond their rule examples: witness
chains through the call graph, offloading, the unbound-module fallback, ownership of
threads, the daemon-threads setting, and the summary facts they rely on."""

from __future__ import annotations

import importlib.util
import os

import pytest

from lockwatch.config import Config, ConfigError, from_table
from lockwatch.static.engine import scan_sources
from lockwatch.static.summarise import summarise_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scan(src: str | dict, code: str, **cfg):
    files = {"app.py": src} if isinstance(src, str) else src
    rep = scan_sources(files, Config(select=[code], **cfg))
    assert not rep.errors, rep.errors
    return [f for f in rep.findings if f.code == code]


def lines(findings):
    return sorted(f.line for f in findings)


# ------------------------------------------------------------------ LW201 blocking-in-async

def test_blocking_through_two_sync_calls_has_the_chain_as_witness():
    found = scan('''
import time


def backoff(n):
    time.sleep(n)


def retry(fn):
    backoff(1)
    return fn()


async def handler(fn):
    return retry(fn)
''', "LW201")
    assert len(found) == 1
    f = found[0]
    assert f.line == 15 and "time.sleep" in f.message and "through" in f.message
    assert [r.line for r in f.related] == [15, 10, 6]
    assert "calls retry" in f.related[0].note and "time.sleep" in f.related[-1].note


def test_chains_deeper_than_the_limit_are_not_followed():
    src = '''
import time


def c():
    time.sleep(1)


def b():
    c()


def a():
    b()


def top():
    a()


async def near():
    a()


async def far():
    top()
'''
    found = scan(src, "LW201")
    assert lines(found) == [22]
    assert [r.line for r in found[0].related] == [22, 14, 10, 6]


def test_filesystem_queries_count_only_when_written_in_the_async_def():
    found = scan('''
import os


def cached(path):
    if os.path.exists(path):
        return open(path).read()


def probe(path):
    return os.path.isfile(path)


async def handler(path):
    os.path.isfile(path)
    probe(path)
    cached(path)
''', "LW201")
    assert lines(found) == [15, 17]
    assert "open" in found[1].message


def test_callables_handed_to_threads_are_not_calls_but_a_called_nested_def_is():
    found = scan('''
import asyncio
import functools
import time

import anyio


async def handler():
    def work():
        time.sleep(1)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(work)
    await asyncio.to_thread(time.sleep, 1)
    await loop.run_in_executor(None, functools.partial(time.sleep, 1))
    await anyio.to_thread.run_sync(work)
    f = lambda: time.sleep(1)
    work()
''', "LW201")
    assert lines(found) == [19]


def test_awaited_coroutine_is_judged_on_its_own_not_through_the_caller():
    found = scan('''
import time


async def slow():
    time.sleep(1)


async def caller():
    await slow()
''', "LW201")
    assert lines(found) == [6]


def test_sync_function_blocking_is_not_blocking_in_async():
    assert scan('''
import time
import requests


def job():
    time.sleep(1)
    requests.get("http://x")
''', "LW201") == []


def test_each_blocking_call_is_its_own_finding():
    found = scan('''
import time


async def poll():
    time.sleep(1)
    time.sleep(2)
''', "LW201")
    assert lines(found) == [6, 7]
    assert found[0].fingerprint != found[1].fingerprint


def test_unbound_module_names_are_the_catalog_modules_but_bound_names_are_not():
    # snippets that elide imports are read as if they had them ...
    assert lines(scan('''
async def run():
    subprocess.run(["ls"])
    os.system("ls")
''', "LW201")) == [3, 4]
    # ... but a name the module binds is that binding, whatever it is called
    assert scan('''
from myproject import subprocess


async def run(os):
    subprocess.run(["ls"])
    os.system("ls")
''', "LW201") == []


def test_thread_lock_acquire_and_condition_wait_block_the_loop_asyncio_ones_do_not():
    found = scan('''
import asyncio
import threading

tlock = threading.Lock()
cond = threading.Condition()
alock = asyncio.Lock()


async def run():
    tlock.acquire()
    tlock.release()
    with cond:
        cond.wait()
    await alock.acquire()
    alock.release()
    tlock.acquire(blocking=False)
''', "LW201")
    assert lines(found) == [11, 14]


def test_file_wrapped_for_async_use_is_fine_plain_open_is_not():
    found = scan('''
import trio


async def read(path):
    f = await trio.wrap_file(open(path))
    g = open(path)
    return f, g
''', "LW201")
    assert lines(found) == [7]


# ------------------------------------------------------------------ LW202 await-under-thread-lock

def test_lock_held_through_a_wrapper_and_a_contextmanager_across_await():
    found = scan('''
import contextlib
import threading


class Guard:
    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()


_lock = threading.RLock()


@contextlib.contextmanager
def locked():
    with _lock:
        yield


async def a(guard: Guard, fetch):
    with guard:
        await fetch()


async def b(fetch):
    with locked():
        await fetch()
    await fetch()
''', "LW202")
    assert lines(found) == [29, 34]
    assert any("Guard._lock" in lk for lk in found[0].locks)


def test_await_after_release_is_fine():
    assert scan('''
import threading

lock = threading.Lock()


async def f(fetch):
    lock.acquire()
    x = 1
    lock.release()
    await fetch()
    with lock:
        y = 2
    await fetch()
''', "LW202") == []


# ------------------------------------------------------------------ LW203 / LW204

def test_task_in_local_used_later_in_a_closure_is_kept():
    assert scan('''
import asyncio


async def work():
    await asyncio.sleep(0)   # a task that can suspend (one that cannot is not at risk)


async def main():
    t = asyncio.create_task(work())

    def stop():
        t.cancel()

    return stop
''', "LW203") == []


def test_task_discarded_tested_or_in_a_dropped_display():
    found = scan('''
import asyncio


async def work():
    await asyncio.sleep(0)   # a task that can suspend (one that cannot is not at risk)


async def main(cond):
    asyncio.ensure_future(work())
    if asyncio.create_task(work()):
        pass
    [asyncio.create_task(work())]
    keep = [asyncio.create_task(work())]
    return keep
''', "LW203")
    assert lines(found) == [10, 11, 13]


def test_unknown_receiver_create_task_is_not_judged_loop_named_one_is():
    found = scan('''
import asyncio


async def work():
    await asyncio.sleep(0)   # a task that can suspend (one that cannot is not at risk)


def schedule(group, loop, self_loop):
    group.create_task(work())
    loop.create_task(work())
''', "LW203")
    assert lines(found) == [11]


def test_unawaited_coroutine_not_reported_for_decorated_or_generator_callees():
    found = scan('''
import functools


def task(fn):
    return fn


@task
async def job():
    pass


async def gen():
    yield 1


async def plain():
    pass


async def main():
    job()
    gen()
    plain()
''', "LW204")
    assert lines(found) == [25]


# ------------------------------------------------------------------ LW211 unjoined-thread

THREADS = '''
import threading


def work():
    pass


def a():
    t = threading.Thread(target=work, daemon=True)
    t.start()


def b():
    t = threading.Thread(target=work)
    t.daemon = True
    t.start()


def c():
    t = threading.Thread(target=work)
    t.start()
'''


def test_daemon_threads_follow_the_setting():
    assert lines(scan(THREADS, "LW211")) == [21]
    assert lines(scan(THREADS, "LW211", daemon_threads="report")) == [10, 15, 21]


def test_daemon_threads_setting_is_validated():
    assert from_table({"daemon-threads": "report"}).daemon_threads == "report"
    assert from_table({}).daemon_threads == "ignore"
    with pytest.raises(ConfigError):
        from_table({"daemon-threads": "yes"})


def test_thread_subclass_owned_by_an_attribute_joined_by_stop():
    src = '''
import threading


class Worker(threading.Thread):
    def __init__(self, q):
        super().__init__()
        self.q = q

    def run(self):
        pass


class Service:
    def __init__(self, q):
        self._worker = Worker(q)

    def start(self):
        self._worker.start()
%s
'''
    stop = '''
    def stop(self):
        self._worker.join()
'''
    assert scan(src % stop, "LW211") == []
    assert lines(scan(src % "", "LW211")) == [16]


def test_handles_handed_on_are_not_judged():
    assert scan('''
import threading
from concurrent.futures import ThreadPoolExecutor


def work():
    pass


def start_all(registry):
    t = threading.Thread(target=work)
    t.start()
    registry["w"] = t


def make():
    pool = ThreadPoolExecutor()
    pool.submit(work)
    return pool


def never_started():
    t = threading.Thread(target=work)
    return None
''', "LW211") == []


# ------------------------------------------------------------------ summary facts

def test_summary_records_value_reads_apart_from_attribute_reads():
    ms = summarise_module('''
def f(g):
    a = g()
    b = g()
    c = g()
    a.start()
    b.daemon = True
    keep(c)
    cb = lambda: d.cancel()
''', "m.py", "m")
    s = ms.functions["f"]
    assert "c" in s.reads and "a" not in s.reads and "b" not in s.reads
    assert {"a", "b", "d"} <= set(s.attr_reads)


def test_summary_result_uses_for_tests_and_displays():
    ms = summarise_module('''
def f(g):
    if g():
        pass
    [g()]
    return [g()]
''', "m.py", "m")
    uses = [e["u"] for e in ms.functions["f"].events if e["e"] == "call"]
    assert uses == ["test", "discard", "return"]


# ------------------------------------------------------------------ the peer-suite score script

def _score_module():
    spec = importlib.util.spec_from_file_location(
        "flake8_async_score", os.path.join(ROOT, "benchmarks", "flake8_async_score.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_score_script_reads_every_annotation_on_a_line(tmp_path):
    mod = _score_module()
    src = "x = 1\nf(g())  # ASYNC210: 4, 'a' # ASYNC211_asyncio: 9, 'b'\n# ASYNC300: 1\n"
    assert mod.annotations(src) == {2: {"ASYNC210", "ASYNC211"}, 3: {"ASYNC300"}}
    d = tmp_path / "pkg" / "tests" / "eval_files"
    d.mkdir(parents=True)
    (d / "async251.py").write_text("import time\n\n\nasync def f():\n    time.sleep(1)  # ASYNC251: 4\n"
                                   "    time.sleep(0)\n    open('x')\n")
    (d / "async100.py").write_text("# not scored\n")
    res = mod.score(mod.eval_files(str(tmp_path / "pkg")))
    assert res["files"] == ["async251.py"]
    assert res["codes"]["ASYNC251"]["flagged"] == res["codes"]["ASYNC251"]["annotated"] == 1
    assert len(res["unannotated"]) == 1 and "async251.py:7" in res["unannotated"][0]


def test_unjoined_message_names_an_executor_with_its_article():
    src = '''
import concurrent.futures


class Fetcher:
    def __init__(self):
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)

    def fetch(self, url):
        return self._pool.submit(print, url)
'''
    (f,) = scan(src, "LW211")
    assert "Fetcher.__init__ starts an executor (" in f.message, f.message
