"""P46: ``Popen.wait()`` after a loop ``while p.poll() is None: await asyncio.sleep(...)`` (or
after ``if p.poll() is not None:``) does not wait: ``poll()`` has seen the exit and recorded
the status, which ``wait()`` returns at once. jupyter_client reaches ``poll()`` through its
own ``async def poll(self)`` returning ``self.process.poll()``: the linker sees through such
a one-method wrapper. A ``wait()`` with no such test before it keeps its LW201."""

from __future__ import annotations

import ast
import textwrap

import pytest

from lockwatch.static import summarise_cst
from lockwatch.static.engine import scan_sources
from lockwatch.static.summarise_ast import summarise_tree

DIRECT = """\
import asyncio
import subprocess


async def reap(proc: subprocess.Popen):
{body}
"""

CLEAN_DIRECT = {
    "poll-loop": """
while proc.poll() is None:
    await asyncio.sleep(0.1)
return proc.wait()""",
    "if-not-none": """
if proc.poll() is not None:
    return proc.wait()""",
    "early-return": """
if proc.poll() is None:
    return None
return proc.wait()""",
    "conditional-expression": """
return proc.wait() if proc.poll() is not None else None""",
}

BLOCKING_DIRECT = {
    "no-poll": """
await asyncio.sleep(0.1)
return proc.wait()""",
    "still-running": """
if proc.poll() is None:
    return proc.wait()""",
    "loop-with-break": """
while proc.poll() is None:
    if await asyncio.sleep(0.1):
        break
return proc.wait()""",
    "another-process": """
other = subprocess.Popen(["true"])
while proc.poll() is None:
    await asyncio.sleep(0.1)
return other.wait()""",
    "rebound-after-the-loop": """
while proc.poll() is None:
    await asyncio.sleep(0.1)
proc = subprocess.Popen(["true"])
return proc.wait()""",
}


def _codes(src: str) -> list[str]:
    compile(src, "prov.py", "exec")   # a program that does not parse would give nothing
    return [f.code for f in scan_sources({"prov.py": src}).findings]


def _direct(body: str) -> str:
    return DIRECT.format(body=textwrap.indent(body.strip("\n"), "    "))


@pytest.mark.parametrize("name", sorted(CLEAN_DIRECT))
def test_wait_after_poll_saw_the_exit_is_not_reported(name):
    assert _codes(_direct(CLEAN_DIRECT[name])) == []


def _wait_reported(src: str) -> bool:
    """Is there an LW201 at the line of the ``.wait()`` call (``Popen(...)`` itself is one
    too: a fork on the loop)?"""
    line = next(i for i, text in enumerate(src.splitlines(), 1) if ".wait()" in text)
    return ("LW201", line) in [(f.code, f.location.line) for f in scan_sources({"prov.py": src}).findings]


@pytest.mark.parametrize("name", sorted(BLOCKING_DIRECT))
def test_wait_that_may_wait_is_still_reported(name):
    assert _wait_reported(_direct(BLOCKING_DIRECT[name]))


WRAPPER = """\
import asyncio
import subprocess


class LocalProvisioner:
    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.other: subprocess.Popen | None = None

    {poll_def}(self):
{poll_body}

    async def wait(self):
        ret = 0
        if self.process:
            while {awaited}self.poll() is None:
                await asyncio.sleep(0.1)
            ret = self.process.wait()
            self.process = None
        return ret
"""

JUPYTER_POLL = """
ret = 0
if self.process:
    ret = self.process.poll()
return ret"""


def _wrapper(poll_def="async def poll", poll_body=JUPYTER_POLL, awaited="await ") -> str:
    return WRAPPER.format(poll_def=poll_def, awaited=awaited,
                          poll_body=textwrap.indent(poll_body.strip("\n"), " " * 8))


def test_jupyter_clients_poll_wrapper_is_seen_through():
    assert _codes(_wrapper()) == []


def test_a_sync_one_line_wrapper_is_seen_through():
    assert _codes(_wrapper("def poll", "return self.process.poll()", "")) == []


@pytest.mark.parametrize("poll_def, poll_body, awaited", [
    ("async def poll", JUPYTER_POLL, ""),                          # a coroutine object is never None
    ("async def poll", "return self.other.poll()", "await "),     # polls another process
    ("async def poll", "return self.process.returncode", "await "),   # not a poll()
    ("def poll", "return self.process.poll() or self.other.poll()", ""),
])
def test_a_wrapper_that_does_not_poll_this_process_keeps_lw201(poll_def, poll_body, awaited):
    assert _codes(_wrapper(poll_def, poll_body, awaited)) == ["LW201"]


def test_a_reassignment_between_the_loop_and_wait_ends_the_mark():
    src = _wrapper().replace("            ret = self.process.wait()",
                             "            self.process = subprocess.Popen(['true'])\n"
                             "            ret = self.process.wait()")
    assert _wait_reported(src)


def test_under_a_lock_too():
    src = textwrap.dedent("""
        import subprocess
        import threading

        _lock = threading.Lock()


        def reap(proc: subprocess.Popen):
            with _lock:
                if proc.poll() is not None:
                    return proc.wait()
                return None


        def reap_now(proc: subprocess.Popen):
            with _lock:
                return proc.wait()
    """)
    found = scan_sources({"m.py": src}).findings
    assert [(f.code, f.location.line) for f in found] == [("LW131", 17)]


def test_both_summarisers_mark_the_wait():
    src = _wrapper() + _direct(CLEAN_DIRECT["poll-loop"]).replace("import asyncio\nimport subprocess\n", "")
    a = summarise_tree(ast.parse(src), src, "prov.py", "prov", False).to_dict()
    b = summarise_cst.summarise_module(src, "prov.py", "prov", False).to_dict()
    assert a == b
    marks = {(ev["f"], ev.get("dn"), json_dw(ev)) for fn in a["functions"].values()
             for ev in fn["events"] if ev["e"] == "call" and ev["f"].endswith(".wait")}
    assert marks == {("@self.process.wait", None, (("@self", 1),)), ("proc.wait", 1, None)}


def json_dw(ev):
    dw = ev.get("dw")
    return tuple(tuple(x) for x in dw) if dw else None
