"""P28 (third real-world batch, docs/real-world.md): an ``acquire()`` in a retry loop whose
``break`` carries the lock into the ``try/finally`` right after the loop (LW121).

paramiko's ``Transport._send_user_message`` takes ``clear_to_send_lock`` in a ``while
True:`` loop: either ``Event.is_set()`` says go and it ``break``s holding the lock into
``try: send finally: release()``, or it releases and retries. The release analysis now
follows a ``break`` (of the loop whose body holds the acquire) to the statements after the
loop when those release the lock, and ``is_set()`` (no argument) is not a call that can
raise. The break path is judged like straight-line code with one difference: a call that
can raise between the acquire and that ``try`` makes it "no-finally" (the twins below).
Every case runs through both summarisers, which must give the same summary."""

from __future__ import annotations

import textwrap

import pytest
from walks import findings, same_summary

HEAD = """
import threading
import time


class Transport:
    def __init__(self):
        self.clear_to_send = threading.Event()
        self.lock = threading.Lock()
        self.active = True
        self.out = []
"""

# paramiko's shape: the break path goes straight into the try/finally
PARAMIKO = """
    def send(self, data):
        start = time.time()
        while True:
            self.clear_to_send.wait(0.1)
            if not self.active:
                return
            self.lock.acquire()
            if self.clear_to_send.is_set():
                break
            self.lock.release()
            if time.time() > start + 30:
                raise TimeoutError("key exchange")
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""

# a call that can raise between the loop and the try: that path leaves the lock held
CALL_BEFORE_TRY = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if self.clear_to_send.is_set():
                break
            self.lock.release()
        data = self.compress(data)
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""

# the test that decides to break is a call that can raise
CALL_IN_TEST = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if self.ready(data):
                break
            self.lock.release()
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""

# a call in the branch, before its break
CALL_BEFORE_BREAK = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if self.clear_to_send.is_set():
                self.log("go")
                break
            self.lock.release()
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""

# the release after the loop is straight-line code after a call
NO_FINALLY_AFTER = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if self.clear_to_send.is_set():
                break
            self.lock.release()
        self.out.append(data)
        self.lock.release()
"""

# a return between the loop and the try
RETURN_AFTER = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if self.clear_to_send.is_set():
                break
            self.lock.release()
        if not data:
            return
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""

# a bare break in the loop body (for loop), then the try/finally
FOR_BREAK = """
    def send(self, data):
        for _ in range(3):
            self.lock.acquire()
            break
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""

# a path that releases and returns inside the loop, next to the break path
RELEASE_RETURN = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if not self.active:
                self.lock.release()
                return
            if self.clear_to_send.is_set():
                break
            self.lock.release()
        try:
            self.out.append(data)
        finally:
            self.lock.release()
"""


def _lw121(body: str, walk: str) -> list:
    src = textwrap.dedent(HEAD) + textwrap.indent(textwrap.dedent(body), "    ")
    return sorted((f.location.line, f.message) for f in findings({"m.py": src}, walk) if f.code == "LW121")


def _both(body: str) -> list:
    a = _lw121(body, "ast")
    assert a == _lw121(body, "cst")
    return a


def _sites(body: str) -> list:
    src = textwrap.dedent(HEAD) + textwrap.indent(textwrap.dedent(body), "    ")
    s = same_summary(src)
    return [(site["status"], site["at"]) for site in s["functions"]["Transport.send"]["acquire_sites"]]


@pytest.mark.parametrize("body", [PARAMIKO, FOR_BREAK, RELEASE_RETURN], ids=["paramiko", "for-break", "release-return"])
def test_break_into_try_finally_is_released(body):
    assert _sites(body) == [("ok", None)]
    assert _both(body) == []


@pytest.mark.parametrize("body, status", [
    (CALL_BEFORE_TRY, "no-finally"),
    (CALL_IN_TEST, "no-finally"),
    (CALL_BEFORE_BREAK, "no-finally"),
    (NO_FINALLY_AFTER, "no-finally"),
    (RETURN_AFTER, "early-exit"),
    (RELEASE_RETURN.replace("        try:", "        self.log(data)\n        try:"), "no-finally"),
], ids=["call-before-try", "call-in-test", "call-before-break", "no-finally-after", "return-after",
        "release-return-call-before-try"])
def test_break_path_that_can_leave_the_lock_held_stays_reported(body, status):
    (site,) = _sites(body)
    assert site[0] == status
    (found,) = _both(body)
    assert "acquires Transport.lock" in found[1]


def test_return_after_the_loop_is_named():
    lines = textwrap.dedent(HEAD + RETURN_AFTER).splitlines()
    ret = next(i for i, ln in enumerate(lines, 1) if ln.strip() == "return")
    assert _sites(RETURN_AFTER) == [("early-exit", ret)]


def test_is_set_is_not_a_call_that_can_raise():
    body = """
    def send(self, data):
        self.lock.acquire()
        if self.clear_to_send.is_set():
            self.count = 1
        self.lock.release()
    """
    assert _sites(body) == [("ok", None)]
    # with an argument it is not the Event predicate: it counts
    assert _sites(body.replace("is_set()", "is_set(data)")) == [("no-finally", None)]
    # nor is a call on the way to the receiver
    assert _sites(body.replace("self.clear_to_send.is_set()", "self.event().is_set()")) == [("no-finally", None)]


def test_break_of_a_nested_loop_stays_inside():
    # the break leaves the inner loop only: the outer loop's release decides, after a call
    body = """
    def send(self, data):
        while True:
            self.lock.acquire()
            for item in data:
                if item:
                    break
            self.lock.release()
        try:
            self.out.append(data)
        finally:
            self.lock.release()
    """
    assert _sites(body) == [("ok", None)]


def test_after_loop_without_release_is_left_alone():
    # the lock leaves the loop held and the function never releases it after the loop:
    # judged as before P28 (an acquirer, or a leak the rule does not chase)
    body = """
    def send(self, data):
        while True:
            self.lock.acquire()
            if self.clear_to_send.is_set():
                break
            self.lock.release()
        self.out.append(data)
    """
    assert _sites(body) == [("ok", None)]


def test_loop_inside_a_branch():
    # the loop inside an ``if``: what follows the loop in that branch is where the break goes
    body = """
    def send(self, data):
        if data:
            while True:
                self.lock.acquire()
                if self.clear_to_send.is_set():
                    break
                self.lock.release()
            try:
                self.out.append(data)
            finally:
                self.lock.release()
    """
    assert _sites(body) == [("ok", None)]
