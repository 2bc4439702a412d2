"""The lifecycle tracker shared by ``lockwatch run``/``watch()`` and the pytest plugin
(lifecycle.attach): nested installs, per-test records and queries, nothing reported twice,
nothing kept alive, nothing raised into the program. Each program runs in a subprocess with a
hard timeout (the hooks patch threading and asyncio process-wide)."""

from __future__ import annotations

import pytest

try:
    from tests import runtime_helpers as rh
except ImportError:  # pragma: no cover
    import runtime_helpers as rh

PY = pytest.mark.parametrize("python", rh.PYTHONS, ids=rh.PYTHON_IDS)

# Per-test tracking as the plugin sets it up, without pytest: every start counts.
ATTACH = """
import asyncio, gc, threading, weakref
from lockwatch.runtime import lifecycle, state
from lockwatch.runtime.lifecycle import Sites, stdlib_file

SITES = Sites(hidden=lambda fn: False, library=stdlib_file, any_site=True, launcher=False)
"""


def _ok(p) -> list[str]:
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.split()


@PY
def test_installs_nest_and_the_last_uninstall_restores_exactly(tmp_path, python):
    p = rh.run_plain(tmp_path, """
        import asyncio.base_events as be, threading, warnings
        from lockwatch.runtime import lifecycle

        before = (threading.Thread.start, be.BaseEventLoop.create_task, warnings._showwarnmsg)
        lifecycle.install()
        lifecycle.install()
        lifecycle.uninstall()
        print(threading.Thread.start is not before[0], be.BaseEventLoop.create_task is not before[1])
        lifecycle.uninstall()
        lifecycle.uninstall()   # one too many: harmless
        now = (threading.Thread.start, be.BaseEventLoop.create_task, warnings._showwarnmsg)
        print(all(a is b for a, b in zip(before, now)))
    """, python=python)
    assert _ok(p) == ["True", "True", "True"]


@PY
def test_threads_are_pinned_on_the_test_and_phase_and_answered_once(tmp_path, python):
    src = ATTACH + """
pt = lifecycle.attach(SITES)
stop = threading.Event()

def start(name):
    t = threading.Thread(target=stop.wait, name=name, daemon=True)
    t.start()          # START
    return t

pt.test, pt.phase = "t1", "setup"
start("fixture")
pt.phase = "call"
start("leaked")
threading.Thread(target=stop.wait, args=(0.05,), name="short").start()
pt.test, pt.phase = "t2", "call"
start("other")
# a watch() scope inside the test reports nothing itself: the test's check does, once
mark = lifecycle.mark()
print(lifecycle.threads_alive(0, 0.0, "the watch() block ended"))
first = [r.name for r in pt.threads_left("t1", 0.5)]
again = [r.name for r in pt.threads_left("t1", 0.0)]
print(first, again, sorted(pt.tests()[0]))
late = [(r.name, r.test, r.phase, r.line) for r in pt.threads_left("t1", 0.0, include_setup=True)]
print(late)
print([f.code for f in state.findings])
stop.set()
lifecycle.detach(pt)
"""
    p = rh.run_plain(tmp_path, src, python=python)
    out = p.stdout.splitlines()
    assert p.returncode == 0, p.stdout + p.stderr
    assert out[0] == "[]"
    assert out[1] == "['leaked'] [] ['t1', 't2']"
    start = next(i for i, ln in enumerate(src.splitlines(), 1) if "# START" in ln)
    assert out[2] == f"[('fixture', 't1', 'setup', {start})]"
    assert out[3] == "[]"   # no finding of the module's own while a test tracker is attached


@PY
def test_task_records_of_a_test_outlive_the_recently_freed_window(tmp_path, python):
    # 300 tasks destroyed while pending: every record waits for its test's check (the
    # program-wide window of recently freed tasks keeps 256)
    p = rh.run_plain(tmp_path, ATTACH + """
pt = lifecycle.attach(SITES)
pt.test, pt.phase = "t", "call"

async def never():
    await asyncio.get_running_loop().create_future()

async def quick():
    await asyncio.sleep(0)

async def main():
    loop = asyncio.get_running_loop()
    for _ in range(300):
        loop.create_task(never())
    await asyncio.sleep(0)
    await loop.create_task(quick())

def run():
    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())
    for t in asyncio.all_tasks(loop):
        t._log_destroy_pending = False   # keep stderr quiet

run()
gc.collect()
recs = pt.tasks_left("t")
print(len(recs), sorted({r.pending_at for r in recs}), sorted({r.name for r in recs}))
print(pt.tasks_left("t"), [f.code for f in state.findings])
lifecycle.detach(pt)
""", python=python)
    out = _ok(p)
    assert " ".join(out) == "300 ['destroyed pending'] ['never'] [] []", p.stdout + p.stderr


@PY
def test_loop_end_and_test_end_while_attached(tmp_path, python):
    p = rh.run_plain(tmp_path, ATTACH + """
pt = lifecycle.attach(SITES)
kept = set()

async def sleeper():
    await asyncio.sleep(30)

async def forget():
    asyncio.create_task(sleeper())      # dropped, still pending as the loop ends: reported
    t = asyncio.create_task(sleeper())
    kept.add(t)              # kept (the runtime's LW203 meaning, lifecycle.dangling): not a leak
    await asyncio.sleep(0)

pt.test, pt.phase = "t1", "call"
asyncio.run(forget())
pt.test = "t2"
loop = asyncio.new_event_loop()
t = loop.create_task(sleeper())         # kept in a global, pending after the test: not a leak
loop.create_task(sleeper())             # dropped, pending after the test: reported
loop.run_until_complete(asyncio.sleep(0))
print([(r.pending_at, r.test) for r in pt.tasks_left("t1")])
print([(r.pending_at, r.test) for r in pt.tasks_left("t2")])
print([f.code for f in state.findings])
for x in asyncio.all_tasks(loop):
    x.cancel()
loop.run_until_complete(asyncio.sleep(0))
loop.close()
lifecycle.detach(pt)
""", python=python)
    out = p.stdout.splitlines()
    assert p.returncode == 0, p.stdout + p.stderr
    assert out == ["[('loop end', 't1')]", "[('test end', 't2')]", "[]"]


@PY
def test_tracking_keeps_nothing_alive(tmp_path, python):
    p = rh.run_plain(tmp_path, ATTACH + """
pt = lifecycle.attach(SITES)
pt.test, pt.phase = "t", "call"

async def work():
    await asyncio.sleep(0)

async def main():
    t = asyncio.get_running_loop().create_task(work())
    await t
    return weakref.ref(t)

task_ref = asyncio.run(main())
th = threading.Thread(target=lambda: None)
th.start()
th.join()
thread_ref = weakref.ref(th)
del th
gc.collect()
print(task_ref() is None, thread_ref() is None)
lifecycle.detach(pt)
""", python=python)
    assert _ok(p) == ["True", "True"]


@PY
def test_detach_forgets_the_tests_records_and_the_program_view_resumes(tmp_path, python):
    # `lockwatch run -m pytest --lockwatch`: the program's own view before and after the
    # session, the session's threads are the plugin's alone
    p = rh.run_plain(tmp_path, ATTACH + """
from lockwatch.runtime import api
api.install()
stop = threading.Event()
pt = lifecycle.attach(SITES)
pt.test, pt.phase = "t", "call"
threading.Thread(target=stop.wait, name="in-test").start()
lifecycle.detach(pt)
threading.Thread(target=stop.wait, name="after").start()
fs = lifecycle.threads_alive(0, 0.0)
print([f.message.split("'")[1] for f in fs])
stop.set()
api.uninstall()
""", python=python)
    assert _ok(p) == ["['after']"]


@PY
def test_a_failing_hook_never_reaches_the_program(tmp_path, python):
    p = rh.run_plain(tmp_path, ATTACH + """
class Odd(threading.Thread):
    # a name nobody but lockwatch asks for, that cannot be read
    @property
    def name(self):
        raise RuntimeError("odd")
    @name.setter
    def name(self, v):
        pass

def run(label):
    ran = []
    t = Odd(target=lambda: ran.append(1))
    t.start()
    t.join()
    return ran

lifecycle.install()
a = run("program")
pt = lifecycle.attach(SITES)
b = run("test")
lifecycle.detach(pt)
lifecycle.uninstall()
print(a, b, sorted({e.split(":")[0] for e in state.errors}))
""", python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "[1] [1] ['internal error in lockwatch runtime (lifecycle-thread)']"


@PY
def test_nested_trackers_answer_only_for_their_own_tests(tmp_path, python):
    # a pytest session run in-process inside a test of another one (pytester), both with
    # the plugin: the inner session's end must not answer for the outer test's threads
    p = rh.run_plain(tmp_path, ATTACH + """
stop = threading.Event()
outer = lifecycle.attach(SITES)
outer.test, outer.phase = "outer", "call"
threading.Thread(target=stop.wait, name="outer-1", daemon=True).start()
inner = lifecycle.attach(SITES)
inner.test, inner.phase = "inner", "call"
threading.Thread(target=stop.wait, name="inner-1", daemon=True).start()
print(sorted(inner.tests()[0]), [r.name for r in inner.threads_left("outer", 0.0, include_setup=True)])
print([r.name for r in inner.threads_left("inner", 0.0)])
lifecycle.detach(inner)
threading.Thread(target=stop.wait, name="outer-2", daemon=True).start()
print(sorted(outer.tests()[0]), sorted(r.name for r in outer.threads_left("outer", 0.0)))
stop.set()
lifecycle.detach(outer)
print(threading.Thread.start.__module__)
""", python=python)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["['inner'] []", "['inner-1']", "['outer'] ['outer-1', 'outer-2']", "threading"]
