"""The runtime race checker (lockwatch.runtime.lockset): Eraser-style locksets on watched
classes, run under ``lockwatch run`` in a subprocess (the tracer patches threading)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COUNTER = '''
import threading


class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self.n = 0
        self.safe = 0

    def incr(self):
        self.n += 1

    def incr_safe(self):
        with self._lock:
            self.safe += 1
'''

GUARDED = '''
import threading

import lockwatch


@lockwatch.guarded_by("_lock", "balance")
class Account:
    def __init__(self):
        self._lock = threading.Lock()
        self.balance = 0

    def deposit(self, n):
        with self._lock:
            self.balance += n

    def peek(self):
        return self.balance
'''


def _run(tmp_path, modules: dict, driver: str, *opts: str) -> tuple[dict, subprocess.CompletedProcess]:
    for name, src in modules.items():
        (tmp_path / name).write_text(textwrap.dedent(src))
    (tmp_path / "driver.py").write_text(textwrap.dedent(driver))
    out = tmp_path / "report.json"
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", "lockwatch", "run", "--format", "json", "--output", str(out),
                        *opts, "driver.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60, check=False)
    assert out.is_file(), p.stderr
    return json.loads(out.read_text()), p


def _codes(report, attr=None):
    return sorted(f["code"] for f in report["findings"]
                  if f["code"].startswith("LW30") and (attr is None or f.get("attribute", "").endswith(attr)))


TWO_THREADS = '''
import threading
import time
from ctr import Counter

c = Counter()
gate = threading.Barrier(2)


def work(meth):
    gate.wait()
    for _ in range(300):
        getattr(c, meth)()
        time.sleep(0)   # let the other thread interleave


ts = [threading.Thread(target=work, args=(METHOD,)) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(c.n, c.safe)
'''


def test_unlocked_counter_shared_by_two_threads_is_reported_with_both_stacks(tmp_path):
    report, p = _run(tmp_path, {"ctr.py": COUNTER}, TWO_THREADS.replace("METHOD", "'incr'"),
                     "--watch-class", "ctr.Counter")
    races = [f for f in report["findings"] if f["code"] == "LW301"]
    assert len(races) == 1, (report, p.stderr)
    f = races[0]
    assert f["kind"] == "unprotected-shared-state"
    assert f["attribute"] == "ctr.Counter.n"
    assert (f["path"], f["line"]) == ("ctr.py", 12)
    assert len(f["stacks"]) == 2 and all(s and s[0].startswith("ctr.py:12 in incr") for s in f["stacks"])
    assert "Thread-" in f["message"]


def test_locked_counter_and_the_read_after_join_are_clean(tmp_path):
    report, p = _run(tmp_path, {"ctr.py": COUNTER}, TWO_THREADS.replace("METHOD", "'incr_safe'"),
                     "--watch-class", "ctr.Counter")
    assert _codes(report) == [], report
    assert p.stdout.split() == ["0", "600"]


def test_unwatched_class_is_not_checked(tmp_path):
    report, _ = _run(tmp_path, {"ctr.py": COUNTER}, TWO_THREADS.replace("METHOD", "'incr'"))
    assert _codes(report) == []


def test_queue_hand_off_is_not_sharing(tmp_path):
    driver = '''
    import queue
    import threading
    from ctr import Counter

    q = queue.Queue()


    def producer():
        for _ in range(50):
            c = Counter()
            c.incr()
            q.put(c)
        q.put(None)


    def consumer():
        while (c := q.get()) is not None:
            c.incr()
            c.incr()


    ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    '''
    report, p = _run(tmp_path, {"ctr.py": COUNTER}, driver, "--watch-class", "ctr.Counter")
    assert _codes(report) == [], (report, p.stderr)


GUARD_DRIVER = '''
import threading
from acct import Account

a = Account()
ts = [threading.Thread(target=a.deposit, args=(1,)) for _ in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
PEEK
'''


def test_declared_guard_is_asserted_on_every_access(tmp_path):
    report, p = _run(tmp_path, {"acct.py": GUARDED}, GUARD_DRIVER.replace("PEEK", "print(a.peek())"))
    lw303 = [f for f in report["findings"] if f["code"] == "LW303"]
    assert [(f["path"], f["line"]) for f in lw303] == [("acct.py", 18)], (report, p.stderr)
    assert "declared to guard" in lw303[0]["message"]


def test_declared_guard_respected_is_clean_and_no_races_turns_markers_off(tmp_path):
    report, _ = _run(tmp_path, {"acct.py": GUARDED}, GUARD_DRIVER.replace("PEEK", "print(3)"))
    assert _codes(report) == []
    report, _ = _run(tmp_path, {"acct.py": GUARDED}, GUARD_DRIVER.replace("PEEK", "print(a.peek())"),
                     "--no-races")
    assert _codes(report) == []


def test_watch_and_stop_restore_the_class_exactly():
    from lockwatch.runtime import lockset

    class Plain:
        pass

    class Own:
        def __setattr__(self, k, v):
            object.__setattr__(self, k, v * 2)

    before = (dict(Plain.__dict__), Own.__dict__["__setattr__"])
    lockset.watch_class(Plain)
    lockset.watch_class(Own)
    try:
        assert "__setattr__" in Plain.__dict__ and "__getattribute__" in Own.__dict__
        o = Own()
        o.x = 2
        assert o.x == 4   # the class's own __setattr__ still runs
    finally:
        lockset.stop()
    assert dict(Plain.__dict__) == before[0]
    assert Own.__dict__["__setattr__"] is before[1] and "__getattribute__" not in Own.__dict__


@pytest.mark.parametrize("bad", [["x"], "--watch-class"])
def test_option_validation(tmp_path, bad):
    from lockwatch.runtime import state

    if bad == "--watch-class":
        (tmp_path / "driver.py").write_text("pass\n")
        p = subprocess.run([sys.executable, "-m", "lockwatch", "run", "--watch-class"], cwd=tmp_path,
                           env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=60,
                           check=False)
        assert p.returncode == 2 and "--watch-class needs a value" in p.stderr
    else:
        assert state.Options.from_mapping({"watch_classes": bad}).watch_classes == ("x",)
        with pytest.raises(ValueError):
            state.Options.from_mapping({"watch_classes": [1]})


def test_runtime_codes_match_the_rule_modules():
    # the tracer repeats code/kind/severity so as not to import the static analyser
    from lockwatch.rules import get
    from lockwatch.runtime import lockset

    for r in (lockset._LW301, lockset._LW303):
        rule = get(r.code)
        assert (r.kind, r.severity) == (rule.kind, rule.severity)


def test_in_place_mutation_through_an_attribute_counts_as_a_write():
    from lockwatch.runtime import lockset

    def classify(stmt):
        code = compile(stmt, "<probe>", "exec")
        import dis

        loads = [i for i in dis.get_instructions(code) if i.opname == "LOAD_ATTR" and i.argval in ("d", "items")]
        assert loads, stmt
        return lockset._classify(code, loads[0].offset)

    assert classify("self.d[k] = v")
    assert classify("del self.d[k]")
    assert classify("self.d[k] += 1")
    assert classify("self.items.append(x)")
    assert classify("self.d.setdefault(k, [])")
    assert not classify("y = self.d[k]")
    assert not classify("y = len(self.items)")
    assert not classify("self.d.get(k)")
    assert not classify("for x in self.items: pass")
