"""Advice that names the async library running the code (docs/real-world.md, B23 and the
third batch: hypercorn's trio workers were told ``asyncio.to_thread``). The library is the
coroutine's module's when its imports decide (anyio; trio without asyncio; asyncio); else its
callers' up the call graph (hypercorn's protocol classes, imported by neither, are run by its
asyncio and its trio workers); else its package's. LW201's offload, LW202's lock and LW204's
way to start a task follow it. Each shape has a look-alike where the old advice stays right.
Both summarisers (tests/walks.py)."""

from __future__ import annotations

import pytest

from lockwatch.static import asyncflow
from tests.walks import WALKS, findings

# hypercorn/protocol/http_stream.py's shape: a protocol class that imports no async library,
# whose coroutine reaches a file open (its logger) and is awaited by the workers
PROTO = """
class Stream:
    def log(self):
        with open("/tmp/access.log", "a") as f:
            f.write("x")

    async def handle(self, event):
        self.log()
"""
ASYNCIO_WORKER = """
import asyncio

from srv.proto import Stream


async def serve():
    await Stream().handle(1)
    await asyncio.sleep(0)
"""
TRIO_WORKER = ASYNCIO_WORKER.replace("import asyncio", "import trio").replace("asyncio.sleep", "trio.sleep")
ANYIO_WORKER = ASYNCIO_WORKER.replace("import asyncio", "import anyio").replace("asyncio.sleep", "anyio.sleep")

BOTH = "(offload it with asyncio.to_thread under asyncio or trio.to_thread.run_sync under trio; or use an async API)"
ASYNCIO = "(offload it with asyncio.to_thread or use an async API)"
TRIO = "(offload it with trio.to_thread.run_sync or use an async API)"
ANYIO = "(offload it with anyio.to_thread.run_sync or use an async API)"


def messages(files: dict[str, str], walk: str, code: str = "LW201", path: str | None = None) -> list[str]:
    return [f.message for f in findings(files, walk) if f.code == code and (path is None or f.path == path)]


def program(**workers: str) -> dict[str, str]:
    files = {"srv/__init__.py": "", "srv/proto.py": PROTO}
    files.update({f"srv/{name}.py": src for name, src in workers.items()})
    return files


@pytest.mark.parametrize("walk", WALKS)
def test_shared_coroutine_run_by_asyncio_and_trio_names_both_offloads(walk):
    msgs = messages(program(aio=ASYNCIO_WORKER, tri=TRIO_WORKER), walk, path="srv/proto.py")
    assert msgs and all(m.endswith(BOTH) for m in msgs), msgs


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("workers", "advice"), [
    ({"tri": TRIO_WORKER}, TRIO),
    ({"aio": ASYNCIO_WORKER}, ASYNCIO),
    ({"any": ANYIO_WORKER}, ANYIO),
    ({"any": ANYIO_WORKER, "tri": TRIO_WORKER}, ANYIO),   # anyio runs on trio too
])
def test_shared_coroutine_takes_its_callers_library(walk, workers, advice):
    msgs = messages(program(**workers), walk, path="srv/proto.py")
    assert msgs and all(m.endswith(advice) for m in msgs), msgs


@pytest.mark.parametrize("walk", WALKS)
def test_uncalled_coroutine_takes_its_packages_libraries(walk):
    # hypercorn's WSStream.app_send is handed to the app as a callable: no linked caller;
    # the package has asyncio and trio workers, so either loop may run it
    worker = """
    import asyncio
    import trio

    from srv.proto import Stream
    """
    files = program(aio=ASYNCIO_WORKER.replace("await Stream().handle(1)", "pass"),
                    tri=TRIO_WORKER.replace("await Stream().handle(1)", "pass"))
    msgs = messages(files, walk, path="srv/proto.py")
    assert msgs and all(m.endswith(BOTH) for m in msgs), msgs
    # look-alikes: a package of trio code only; a package that imports no async library;
    # one module importing both trio and asyncio decides asyncio (as before)
    msgs = messages(program(tri=TRIO_WORKER.replace("await Stream().handle(1)", "pass")), walk,
                    path="srv/proto.py")
    assert msgs and all(m.endswith(TRIO) for m in msgs), msgs
    msgs = messages(program(), walk, path="srv/proto.py")
    assert msgs and all(m.endswith(ASYNCIO) for m in msgs), msgs
    msgs = messages(program(both=worker), walk, path="srv/proto.py")
    assert msgs and all(m.endswith(ASYNCIO) for m in msgs), msgs


@pytest.mark.parametrize("walk", WALKS)
def test_a_module_that_decides_is_not_overridden_by_its_callers(walk):
    # an asyncio module's coroutine awaited from trio code keeps asyncio's advice: the
    # module's own imports say which loop it was written for
    proto = "import asyncio\n" + PROTO
    files = {"srv/__init__.py": "", "srv/proto.py": proto, "srv/tri.py": TRIO_WORKER}
    msgs = messages(files, walk, path="srv/proto.py")
    assert msgs and all(m.endswith(ASYNCIO) for m in msgs), msgs


# LW202: the lock to use instead
LW202_SRC = """
import threading

import {lib}

lock = threading.Lock()


async def update(state):
    with lock:
        await {lib}.sleep(0)
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("lib", "use"), [("trio", "(use a trio.Lock)"), ("anyio", "(use an anyio.Lock)"),
                                          ("asyncio", "(use an asyncio.Lock)")])
def test_lw202_names_the_lock_of_the_library(walk, lib, use):
    msgs = messages({"m.py": LW202_SRC.format(lib=lib)}, walk, "LW202")
    assert len(msgs) == 1 and msgs[0].endswith(use), msgs


# LW204: how to start the coroutine instead
LW204_SRC = """
import {lib}


async def notify(x):
    await {lib}.sleep(0)


def on_event(x):
    notify(x)
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("lib", "start"), [
    ("trio", "(await it, or start it in a nursery with nursery.start_soon)"),
    ("anyio", "(await it, or start it in a task group with start_soon)"),
    ("asyncio", "(await it, or schedule it with asyncio.create_task and keep the task)"),
])
def test_lw204_names_the_way_to_start_a_task_of_the_library(walk, lib, start):
    msgs = messages({"m.py": LW204_SRC.format(lib=lib)}, walk, "LW204")
    assert len(msgs) == 1 and msgs[0].endswith(start), msgs


def test_async_libraries_stops_at_the_first_deciding_caller():
    # a neutral helper called by a neutral coroutine called from trio: trio (two hops up);
    # the deciding module's own callers (asyncio code awaiting the trio worker) are not asked
    from lockwatch.static.engine import build_model
    from tests.walks import summaries

    files = {"srv/__init__.py": "", "srv/proto.py": PROTO,
             "srv/mid.py": "from srv.proto import Stream\n\n\nasync def relay():\n    await Stream().handle(1)\n",
             "srv/tri.py": "import trio\n\nfrom srv.mid import relay\n\n\nasync def serve():\n    await relay()\n",
             "srv/top.py": "import asyncio\n\nfrom srv.tri import serve\n\n\nasync def main():\n    await serve()\n"}
    m = build_model(summaries(files, "ast"))
    assert asyncflow.async_libraries(m, m.functions["srv.proto.Stream.handle"]) == {"trio"}
    assert asyncflow.async_libraries(m, m.functions["srv.mid.relay"]) == {"trio"}
    assert asyncflow.async_libraries(m, m.functions["srv.top.main"]) == {"asyncio"}


# --------------------------------------------------------------------------- file mode down the chain

# asyncssh/misc.py's shape (2.24.1): read_file's mode is its own parameter, defaulting to 'rb',
# handed to a helper that opens the file; add_keys reaches it through load_keypairs, which
# passes no mode, so the file read is binary (an io.BufferedReader), not text
ASYNCSSH_MISC = """
def open_file(filename, mode, buffering=-1):
    return open(filename, mode, buffering=buffering)


def read_file(filename, mode="rb"):
    with open_file(filename, mode) as f:
        return f.read()
"""
ASYNCSSH_AGENT = """
from ssh.misc import read_file


def load_keypairs(keylist):
    return read_file({call})


async def add_keys(keylist):
    return load_keypairs(keylist)
"""


def chain_read(call: str, walk: str) -> list[str]:
    files = {"ssh/__init__.py": "", "ssh/misc.py": ASYNCSSH_MISC,
             "ssh/agent.py": ASYNCSSH_AGENT.format(call=call)}
    return [f for f in findings(files, walk) if f.code == "LW201"]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("call", "shown"), [
    ("keylist", "io.BufferedReader.read"),             # the parameter's default, 'rb'
    ("keylist, 'rb'", "io.BufferedReader.read"),
    ("keylist, mode='r+b'", "io.BufferedRandom.read"),
    ("keylist, 'r'", "io.TextIOWrapper.read"),          # look-alike: a text read stays text
    ("keylist, keylist", "io.TextIOWrapper.read"),      # a mode not known: the generic name
    ("*keylist", "io.TextIOWrapper.read"),              # which argument is the mode: not known
])
def test_file_mode_passed_down_the_chain_names_the_class(walk, call, shown):
    fs = chain_read(call, walk)
    assert len(fs) == 1, [f.message for f in fs]
    assert fs[0].message.startswith(f"async add_keys calls {shown} (through load_keypairs -> read_file),"), fs[0].message
    assert fs[0].related[-1].note == f"... which calls {shown}"


@pytest.mark.parametrize("walk", WALKS)
def test_file_mode_of_a_method_parameter_keeps_the_generic_name(walk):
    # only module-level functions are bound (as the linker's helpers): a method's parameters
    # are not matched to a call's arguments here (self, overrides)
    misc = """
    def open_file(filename, mode):
        return open(filename, mode)


    class Keys:
        def read_file(self, filename, mode="rb"):
            with open_file(filename, mode) as f:
                return f.read()


    async def add_keys(keys, path):
        return keys.read_file(path)
    """
    fs = [f for f in findings({"m.py": misc.replace("keys.read_file", "Keys().read_file")}, walk) if f.code == "LW201"]
    assert len(fs) == 1 and "calls io.TextIOWrapper.read (through Keys.read_file)" in fs[0].message, fs


# --------------------------------------------------------------------------- classes a user can look up

# the linker types a process event as a threading.Event and a urllib3 connection pool as a
# urllib3.PoolManager (they behave alike); the message names the class the code built
NAMES = [
    ("import multiprocessing\nev = multiprocessing.Event()\n\n\nasync def f():\n    ev.wait()\n",
     "multiprocessing.Event.wait"),
    (("import multiprocessing\n\n\nasync def f():\n    ctx = multiprocessing.get_context('spawn')\n"
     "    e = ctx.Event()\n    e.wait()\n"), "multiprocessing.Event.wait"),
    (("import multiprocessing\n\n\nclass W:\n    def __init__(self):\n        self.stop = multiprocessing.Event()\n\n"
     "    async def run(self):\n        self.stop.wait()\n"), "multiprocessing.Event.wait"),
    (("import urllib3\n\n\nasync def f(u):\n    p = urllib3.HTTPConnectionPool('example.com')\n"
     "    p.request('GET', u)\n"), "urllib3.HTTPConnectionPool.request"),
    ("import urllib3\n\n\nasync def f(u):\n    p = urllib3.connection_from_url(u)\n    p.urlopen('GET', u)\n",
     "urllib3.HTTPConnectionPool.urlopen"),
    # look-alikes: the type's own name is the class built
    ("import threading\nev = threading.Event()\n\n\nasync def f():\n    ev.wait()\n", "threading.Event.wait"),
    ("import urllib3\n\n\nasync def f(u):\n    p = urllib3.PoolManager()\n    p.request('GET', u)\n",
     "urllib3.PoolManager.request"),
]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("src", "shown"), NAMES)
def test_event_and_pool_calls_name_the_class_built(walk, src, shown):
    fs = [f for f in findings({"m.py": src}, walk) if f.code == "LW201"]
    assert len(fs) == 1, [f.message for f in fs]
    assert f" calls {shown}, which blocks" in fs[0].message, fs[0].message
    assert fs[0].related[-1].note.endswith(f"calls {shown}")


# --------------------------------------------------------------------------- LW211 / LW203 names and advice

LW211_SHAPES = [
    # (source of f's body, what the message names, how it says to end it)
    ("    ctx = multiprocessing.get_context('spawn')\n    p = ctx.Process(target=print)\n    p.start()\n",
     "a process (multiprocessing.Process)", "(join it)"),
    ("    p = multiprocessing.Process(target=print)\n    p.start()\n",
     "a process (multiprocessing.Process)", "(join it)"),
    ("    t = threading.Thread(target=print)\n    t.start()\n", "a thread (threading.Thread)", "(join it)"),
    ("    ex = ThreadPoolExecutor(2)\n    ex.submit(print)\n",
     "an executor (concurrent.futures.ThreadPoolExecutor)", "(shut it down, or use a with block)"),
    ("    ctx = multiprocessing.get_context('spawn')\n    pool = ctx.Pool(2)\n    pool.apply_async(print)\n",
     "a pool (multiprocessing.Pool)", "(close and join it, or use a with block)"),
]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("body", "what", "advice"), LW211_SHAPES)
def test_lw211_names_the_public_class_and_a_way_to_end_it(walk, body, what, advice):
    # a Thread or a Process has no with block (no __enter__); a context's Process is a
    # multiprocessing.Process (BaseContext is not a documented class)
    src = ("import multiprocessing\nimport threading\nfrom concurrent.futures import ThreadPoolExecutor\n\n\n"
           "def f():\n" + body)
    msgs = messages({"m.py": src}, walk, "LW211")
    assert len(msgs) == 1, msgs
    assert f"f starts {what} that is never" in msgs[0] and msgs[0].endswith(advice), msgs[0]
    assert "BaseContext" not in msgs[0]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("imp", "call", "shown"), [
    ("from asyncio.tasks import ensure_future", "ensure_future", "asyncio.ensure_future"),
    ("from asyncio.tasks import create_task", "create_task", "asyncio.create_task"),
    ("import asyncio", "asyncio.ensure_future", "asyncio.ensure_future"),   # look-alike
])
def test_lw203_names_the_documented_spawner(walk, imp, call, shown):
    # g can suspend: a task whose coroutine cannot is not at risk (not reported)
    src = f"import asyncio\n{imp}\n\n\nasync def g():\n    await asyncio.sleep(0)\n\n\nasync def f():\n    {call}(g())\n"
    msgs = messages({"m.py": src}, walk, "LW203")
    assert len(msgs) == 1 and msgs[0].startswith(f"f starts a task with {shown} but"), msgs


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize(("make", "use", "says"), [
    ("ThreadPoolExecutor(2)", "self.w.submit(print)", "no code shuts down self.w; "),
    ("threading.Thread(target=print)", "self.w.start()", "no code joins self.w; "),
])
def test_lw211_attribute_verdict_names_the_finish_of_its_kind(walk, make, use, says):
    src = ("import threading\nfrom concurrent.futures import ThreadPoolExecutor\n\n\nclass A:\n"
           f"    def __init__(self):\n        self.w = {make}\n\n    def go(self):\n        {use}\n")
    msgs = messages({"m.py": src}, walk, "LW211")
    assert len(msgs) == 1 and says in msgs[0], msgs


@pytest.mark.parametrize("walk", WALKS)
def test_lw211_thrown_away_handle_is_told_to_keep_a_reference(walk):
    src = "import threading\n\n\ndef f():\n    threading.Thread(target=print).start()\n"
    msgs = messages({"m.py": src}, walk, "LW211")
    assert len(msgs) == 1 and "the handle is thrown away, so it can never be joined" in msgs[0], msgs
    assert msgs[0].endswith("(keep a reference and join it)"), msgs
