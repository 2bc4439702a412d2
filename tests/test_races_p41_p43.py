"""Opt-in race rules (LW301/LW302), seventh batch's false alarms (docs/real-world.md, P41,
P42) and their twins, through both walks.

P41 (billiard 4.3.2 ``Pool.close``: ``if self._putlock: self._putlock.clear()``): a
mutator-named call on an attribute that holds a project object is a call of the object's
own method, not a change of a container: with a project subclass of a thread-safe type
(``threading.Semaphore``) it is no access at all; with a plain project class it is not the
act of a check-then-act, and LW301 says "calls self.x.m()" (werkzeug's ``Map.add`` /
``Map.update``), and a read of the reference no longer races it. The attribute's class is
what the linked model says: every assignment ``None`` or a constructor call the linker
resolved (also ``param or Cls(...)``). A list subclass, an unknown type, a class with a
container protocol, and rebinding the attribute itself stay reported.

P42 (asyncpg ``TCPFuzzingProxy.start``, mpire ``ProgressBarHandler.__enter__``): the
target of a Thread made in a method and kept in one attribute of ``self`` (otherwise only
``None``) runs in one thread per object, as the target of a Thread made in ``__init__``
does. A thread per call, threads in a list, a Thread made in a loop, a target also handed
elsewhere, and a handle attribute also bound to something else stay reported.
"""

from __future__ import annotations

import pytest
from walks import WALKS, summaries

from lockwatch.config import Config
from lockwatch.static.engine import analyse_summaries


def run(src: str, walk: str) -> list:
    report = analyse_summaries(summaries({"m.py": src}, walk), Config(select=["LW301", "LW302"]))
    return sorted((f.code, f.line) for f in report.findings if f.code in ("LW301", "LW302"))


def findings(src: str, walk: str) -> list:
    report = analyse_summaries(summaries({"m.py": src}, walk), Config(select=["LW301", "LW302"]))
    return [f for f in report.findings if f.code in ("LW301", "LW302")]


def line_of(src: str, marker: str) -> int:
    import textwrap

    for i, ln in enumerate(textwrap.dedent(src).splitlines(), 1):
        if marker in ln:
            return i
    raise AssertionError(marker)


# ---------------------------------------------------------------------------- P41

SEM = """
import threading


class LaxBoundedSemaphore(threading.Semaphore):
    def __init__(self, value=1):
        threading.Semaphore.__init__(self, value)
        self._initial_value = value

    def clear(self):
        while self._value < self._initial_value:
            threading.Semaphore.release(self)


class Pool:
    def __init__(self, processes=4, semaphore=None):
        self._lock = threading.Lock()
        self._cache = {}
        self._putlock = VALUE

    def apply_async(self, job, fn):
        with self._lock:
            self._cache[job] = fn

    def close(self):
        if self._putlock:  # test
            self._putlock.clear()
"""

P41_CLEAN = {
    # billiard's shape: the caller's semaphore or the project subclass built here
    "or_subclass": "semaphore or LaxBoundedSemaphore(processes)",
    "subclass": "LaxBoundedSemaphore(processes)",
    # the same ``or`` with the threading type itself (the summary keeps no value for it)
    "or_threading": "semaphore or threading.Semaphore(processes)",
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("case", sorted(P41_CLEAN))
def test_p41_clear_of_a_thread_safe_project_object_is_no_act(case, walk):
    assert run(SEM.replace("VALUE", P41_CLEAN[case]), walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_p41_subclass_without_init_typed_by_the_linker(walk):
    # no __init__ of its own: the constructor call has no linked site; the linker's target
    # for ``self._putlock.clear()`` (the class named as the call is) says which class it is
    src = SEM.replace("VALUE", "LaxBoundedSemaphore(processes)").replace(
        "    def __init__(self, value=1):\n        threading.Semaphore.__init__(self, value)\n"
        "        self._initial_value = value\n\n", "")
    assert "_initial_value = value" not in src
    assert run(src, walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_p41_threading_semaphore_itself_was_and_is_clean(walk):
    assert run(SEM.replace("VALUE", "threading.Semaphore(processes)"), walk) == []


PLAIN = """
import threading


class Matcher:
    def __init__(self):
        self._rules = []

    def add(self, rule):
        self._rules.append(rule)

    def update(self):
        self._rules.sort()
    EXTRA


class Map:
    def __init__(self):
        self._matcher = Matcher()
        self._remap = True
        self._remap_lock = threading.Lock()

    def add(self, rule):
        self._matcher.add(rule)  # add

    def update(self):
        with self._remap_lock:
            self._matcher.update()  # update
            self._remap = False

    def merge(self):
        return self._matcher  # read

    def reset(self):
        if self._matcher:  # test
            self._matcher.update()
"""


@pytest.mark.parametrize("walk", WALKS)
def test_p41_plain_project_object_call_is_said_as_a_call(walk):
    src = PLAIN.replace("EXTRA", "")
    fs = findings(src, walk)
    # the unlocked call stays an LW301 (the object is changed by both methods), said as a
    # call; the read of the reference races nothing; ``if self._matcher: ..update()`` is no
    # check-then-act (LW301 reports reset's unlocked call instead)
    assert sorted((f.code, f.line) for f in fs) == [("LW301", line_of(src, "# add")),
                                                    ("LW301", line_of(src, "# test") + 1)]
    add = next(f for f in fs if f.line == line_of(src, "# add"))
    assert add.message.startswith("Map.add calls self._matcher.add(...) without a lock, but Map.update "
                                  "calls self._matcher.update() holding Map._remap_lock (m.py:")
    assert add.related[0].note == "Map.update calls self._matcher.update() holding Map._remap_lock"


@pytest.mark.parametrize("walk", WALKS)
def test_p41_twin_container_protocol_stays_a_mutation(walk):
    # a class with __len__: ``if self._matcher:`` tests what update() changes
    src = PLAIN.replace("EXTRA", "def __len__(self):\n        return len(self._rules)")
    got = run(src, walk)
    assert ("LW302", line_of(src, "# test")) in got
    assert ("LW301", line_of(src, "# read")) in got
    f = next(f for f in findings(src, walk) if f.line == line_of(src, "# add"))
    assert "Map.add mutates self._matcher without a lock" in f.message


TWIN = """
import threading


class LaxBoundedSemaphore(threading.Semaphore):
    def clear(self):
        pass


class PendingJobs(list):
    def clear(self):
        del self[:]


class Other:
    def clear(self):
        pass


class Pool:
    def __init__(self, processes=4, jobs=None):
        self._lock = threading.Lock()
        self._pending = PendingJobs()
        self._putlock = LaxBoundedSemaphore(processes)
        self._given = jobs
        self._mixed = Other()

    def apply_async(self, job):
        with self._lock:
            self._pending.append(job)
            self._given.append(job)
            self._mixed = PendingJobs()

    def flush(self):
        if self._pending:  # pending
            self._pending.clear()

    def flush_given(self):
        if self._given:  # given
            self._given.clear()

    def flush_mixed(self):
        if self._mixed:  # mixed
            self._mixed.clear()

    def terminate(self):
        if self._putlock is not None:  # rebind
            self._putlock = None
"""


@pytest.mark.parametrize("walk", WALKS)
def test_p41_twins_stay_reported(walk):
    got = run(TWIN, walk)
    for marker in ("# pending", "# given", "# mixed", "# rebind"):
        assert ("LW302", line_of(TWIN, marker)) in got, marker


# ---------------------------------------------------------------------------- P42

PROXY = """
import threading


def find_port():
    return 5432


class Proxy:
    def __init__(self, port=None):
        self.port = port
        self.thread = None

    def start(self):
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,))
        self.thread.start()
        started.wait()

    def stop(self):
        self.thread.join()
        STOP

    def _run(self, started):
        if self.port is None:  # test
            self.port = find_port()
        started.set()
"""


class_handler = """
import threading


class Handler:
    def __init__(self):
        self.bar_id = None
        self.thread = None
        self.cond = threading.Condition(threading.Lock())
        self.exc = None

    def __enter__(self):
        self.thread = threading.Thread(target=self._handler)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join()

    def set_exception(self, e):
        with self.cond:
            self.exc = e

    def _handler(self):
        self._register({})
        with self.cond:
            while self.exc is None:
                self.cond.wait(0.1)

    def _register(self, dashboard):
        if self.bar_id is None:  # test
            self.bar_id = len(dashboard) + 1
"""


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("stop", ["pass", "self.thread = None"])
def test_p42_thread_kept_in_one_attribute_confines_its_target(stop, walk):
    assert run(PROXY.replace("STOP", stop), walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_p42_enter_made_thread_confines_its_target_and_helpers(walk):
    assert run(class_handler, walk) == []


P42_TWINS = {
    # a thread per call, no handle
    "per_call": ("        threading.Thread(target=self._run, args=(started,)).start()\n"
                 "        self.thread = None\n"),
    # the threads in a list
    "listed": ("        self.threads = []\n"
               "        self.threads.append(threading.Thread(target=self._run, args=(started,)))\n"),
    # one handle, several threads: made in a loop
    "loop": ("        for _ in range(2):\n"
             "            self.thread = threading.Thread(target=self._run, args=(started,))\n"
             "            self.thread.start()\n"),
    # the same target handed to a second thread elsewhere
    "twice": ("        self.thread = threading.Thread(target=self._run, args=(started,))\n"
              "        threading.Thread(target=self._run, args=(started,)).start()\n"),
    # the handle attribute also holds another object
    "rebound": ("        self.thread = threading.Thread(target=self._run, args=(started,))\n"
                "        self.thread = object()\n"),
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("case", sorted(P42_TWINS))
def test_p42_twins_stay_reported(case, walk):
    body = P42_TWINS[case]
    src = PROXY.replace("STOP", "pass").replace(
        "        self.thread = threading.Thread(target=self._run, args=(started,))\n", body)
    assert ("LW302", line_of(src, "# test")) in run(src, walk)


@pytest.mark.parametrize("walk", WALKS)
def test_p42_twin_starter_itself_run_by_threads(walk):
    # the method making the thread is itself handed to threads: it may run in several
    src = PROXY.replace("STOP", "threading.Thread(target=self.start).start()")
    assert ("LW302", line_of(src, "# test")) in run(src, walk)


# ---------------------------------------------------------------------------- P43

CACHE = """
import collections
import threading


class ChannelCache:
    _singleton = None
    _lock = threading.RLock()

    def __init__(self):
        self._mapping = collections.OrderedDict()

    @staticmethod
    def get():
        with ChannelCache._lock:
            if ChannelCache._singleton is None:
                ChannelCache._singleton = MAKE
        return ChannelCache._singleton

    def _evict_locked(self, key):
        channel = self._mapping.pop(key)  # pop
        channel.close()

    @staticmethod
    def _perform_evictions():
        while True:
            with ChannelCache._lock:
                key = next(iter(ChannelCache._singleton._mapping))
                ChannelCache._singleton._evict_locked(key)

    def get_channel(self, key, make):
        with self._lock:
            channel = self._mapping[key] = make()
            return channel
    EXTRA
"""


def cache(make: str = "ChannelCache()", extra: str = "") -> str:
    return CACHE.replace("MAKE", make).replace("EXTRA", extra)


@pytest.mark.parametrize("walk", WALKS)
def test_p43_helper_called_through_the_singleton_under_the_class_lock(walk):
    assert run(cache(), walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_p43_classmethod_caller_through_cls(walk):
    src = cache().replace("""    @staticmethod
    def _perform_evictions():
        while True:
            with ChannelCache._lock:
                key = next(iter(ChannelCache._singleton._mapping))
                ChannelCache._singleton._evict_locked(key)""", """    @classmethod
    def _perform_evictions(cls):
        while True:
            with cls._lock:
                key = next(iter(cls._singleton._mapping))
                cls._singleton._evict_locked(key)""")
    assert "cls._singleton._evict_locked(key)" in src
    assert run(src, walk) == []


UNLOCKED = """@staticmethod
    def clear():
        for key in list(ChannelCache._singleton._mapping):
            ChannelCache._singleton._evict_locked(key)
"""

SHADOWED = """@staticmethod
    def clear(ChannelCache):
        with _other_lock:
            ChannelCache._singleton._evict_locked(1)


_other_lock = threading.Lock()
"""


@pytest.mark.parametrize("walk", WALKS)
def test_p43_twin_a_second_caller_through_the_singleton_without_the_lock(walk):
    src = cache(extra=UNLOCKED)
    assert run(src, walk) == [("LW301", line_of(src, "# pop"))]


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("make", ["make_cache()", "object()"])
def test_p43_twin_singleton_not_known_to_be_the_class(make, walk):
    src = cache(make=make)
    assert run(src, walk) == [("LW301", line_of(src, "# pop"))]


@pytest.mark.parametrize("walk", WALKS)
def test_p43_twin_class_name_rebound_in_the_caller(walk):
    # ``ChannelCache`` is the caller's parameter there: another object, not the singleton
    src = cache(extra=SHADOWED).replace(
        "                ChannelCache._singleton._evict_locked(key)", "                pass")
    assert ("LW301", line_of(src, "# pop")) in run(src, walk)


CTOR_THREADS = """
import threading


class Crawler:
    def __init__(self):
        self.slot = None
        MAKE

    def _run(self):
        if self.slot is None:  # test
            self.slot = object()
"""


@pytest.mark.parametrize("walk", WALKS)
def test_constructor_made_thread_confines_its_target(walk):
    src = CTOR_THREADS.replace("MAKE", "threading.Thread(target=self._run).start()")
    assert run(src, walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_constructor_threads_made_in_a_loop_do_not_confine(walk):
    # one hand-off event, several threads running _run: the constructor rule's own twin
    src = CTOR_THREADS.replace("MAKE", "for _ in range(2):\n            threading.Thread(target=self._run).start()")
    assert run(src, walk) == [("LW302", line_of(src, "# test"))]
