"""LW131 reports one finding per lock hold and blocking call (docs/real-world.md, fifth
batch, "Message defects seen"): websocket-client's ``frame_buffer.recv_frame`` gave four
findings for its one ``with self.lock:``, one per ``recv_*`` helper, all ending in the same
socket read, and google-api-core's throttled reopen gave three (``_reopen`` and each caller
holding the same RLock around it). Each test keeps a look-alike that must stay as it was:
separate holds, and different blocking calls in one hold, stay separate findings; a caller
whose lock the callee does not re-take (or re-takes on another instance, or outside the
blocking call) keeps its finding.
"""

from __future__ import annotations

import textwrap
from collections import Counter

from lockwatch import baseline
from lockwatch.config import Config
from lockwatch.static.engine import scan_sources


def lw131(files: dict[str, str]):
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    return [f for f in scan_sources(files, Config()).findings if f.code == "LW131"]


def lines(findings):
    return sorted((f.path, f.line) for f in findings)


# --------------------------------------------------------------------------- one per hold

# websocket/_abnf.py's frame_buffer, cut down: every recv_* helper ends in recv_strict, which
# reads from the socket
FRAME_BUFFER = """
import socket
import threading


class frame_buffer:
    def __init__(self, sock):
        self.sock = socket.create_connection(("example.com", 80))
        self.lock = threading.Lock()
        self.header = None

    def recv_strict(self, n):
        return self.sock.recv(n)

    def recv_header(self):
        self.header = self.recv_strict(2)

    def recv_length(self):
        return self.recv_strict(2)

    def recv_mask(self):
        return self.recv_strict(4)

    def recv_frame(self):
        with self.lock:
            self.recv_header(){s1}
            length = self.recv_length(){s2}
            mask = self.recv_mask(){s3}
            return self.recv_strict(length), mask{s4}
"""


def frame_buffer(s1="", s2="", s3="", s4=""):
    return {"ws.py": FRAME_BUFFER.format(s1=s1, s2=s2, s3=s3, s4=s4)}


def test_calls_under_one_hold_are_one_finding_at_the_first():
    found = lw131(frame_buffer())
    assert lines(found) == [("ws.py", 26)]
    f = found[0]
    assert f.message == (
        "frame_buffer.recv_frame calls socket.socket.recv (through frame_buffer.recv_header -> "
        "frame_buffer.recv_strict) while holding frame_buffer.lock, and 3 more calls that block "
        "the same way in the same hold: every other thread needing the lock waits too"
    )
    # the primary's witness first (hold, chain), then the other calls, in source order
    notes = [(r.line, r.note) for r in f.related]
    assert notes[0] == (25, "frame_buffer.recv_frame holds frame_buffer.lock")
    assert notes[-3:] == [
        (27, "frame_buffer.recv_frame also calls socket.socket.recv (through frame_buffer.recv_length -> frame_buffer.recv_strict)"),
        (28, "frame_buffer.recv_frame also calls socket.socket.recv (through frame_buffer.recv_mask -> frame_buffer.recv_strict)"),
        (29, "frame_buffer.recv_frame also calls socket.socket.recv (through frame_buffer.recv_strict)"),
    ]


def test_separate_holds_and_different_blocking_calls_stay_separate_findings():
    src = """
    import threading
    import time

    lock = threading.Lock()


    def pause():
        time.sleep(1)


    def tick():
        with lock:
            pause()
            pause()
            time.sleep(2)
        with lock:
            pause()
    """
    found = lw131({"m.py": src})
    # the two pause() calls of the first hold end at the same sleep: one finding; the
    # direct sleep is another blocking call; the second hold is another hold
    assert lines(found) == [("m.py", 14), ("m.py", 16), ("m.py", 18)]
    assert "and 1 more call that blocks the same way in the same hold" in found[0].message
    assert [r.line for r in found[0].related][-1] == 15
    assert "more" not in found[1].message and "more" not in found[2].message


def test_a_single_call_hold_reads_as_before():
    src = """
    import threading
    import time

    lock = threading.Lock()


    def tick():
        with lock:
            time.sleep(1)
    """
    (f,) = lw131({"m.py": src})
    assert f.message == "tick calls time.sleep while holding m.lock: every other thread needing the lock waits too"
    assert [r.line for r in f.related] == [9, 10]


# --------------------------------------------------------------------------- suppressions

def test_suppressing_the_first_call_moves_the_finding_to_the_next():
    found = lw131(frame_buffer(s1="  # lockwatch: ignore[LW131]"))
    assert lines(found) == [("ws.py", 27)]
    assert "and 2 more calls" in found[0].message
    assert 26 not in [r.line for r in found[0].related]


def test_suppressing_a_later_call_leaves_it_out_of_the_hold():
    found = lw131(frame_buffer(s3="  # lockwatch: ignore"))
    assert lines(found) == [("ws.py", 26)]
    assert "and 2 more calls" in found[0].message
    assert 28 not in [r.line for r in found[0].related]


def test_suppressing_every_call_silences_the_hold():
    sup = "  # lockwatch: ignore[LW131]"
    assert lw131(frame_buffer(sup, sup, sup, sup)) == []


def test_a_suppression_of_another_code_does_not_count():
    found = lw131(frame_buffer(s1="  # lockwatch: ignore[LW101]"))
    assert lines(found) == [("ws.py", 26)]
    assert "and 3 more" in found[0].message


# --------------------------------------------------------------------------- baselines

ONE_HOLD = """
import threading
import time

lock = threading.Lock()


def pause():
    time.sleep(1)


def tick():
    with lock:
{body}
"""


def tick(*calls):
    return {"m.py": ONE_HOLD.format(body="\n".join(f"        {c}" for c in calls))}


def test_a_merged_finding_keeps_the_fingerprint_of_its_first_call():
    (alone,) = lw131(tick("pause()"))
    (merged,) = lw131(tick("pause()", "pause()"))
    assert merged.line == alone.line and "1 more call" in merged.message
    # a baseline written when the first call was the only one still covers the finding
    assert merged.fingerprint == alone.fingerprint
    entries = baseline.baseline_dict([alone])["findings"]
    accepted = Counter((e["code"], e["fingerprint"]) for e in entries)
    assert baseline.apply_baseline([merged], accepted) == []


def test_a_new_first_call_is_a_new_finding_for_the_baseline():
    src = ONE_HOLD.replace("def tick", "def doze():\n    pause()\n\n\ndef tick")
    (alone,) = lw131({"m.py": src.format(body="        x = 1\n        pause()")})
    (merged,) = lw131({"m.py": src.format(body="        doze()\n        pause()")})
    # doze() reaches the same sleep, so it joins pause()'s finding, as its new first call
    assert merged.line == alone.line - 1 and "1 more call" in merged.message
    assert merged.fingerprint != alone.fingerprint


# --------------------------------------------------------------------------- callee re-takes

# google/api_core/bidi.py, cut down: _reopen holds the RLock and sleeps in the throttle; its
# callers hold the same RLock around the call
BIDI = """
import threading
import time


class _Throttle:
    def __init__(self):
        self._entry_lock = threading.Lock()

    def __enter__(self):
        with self._entry_lock:
            time.sleep(1)

    def __exit__(self, *exc):
        pass


class ResumableBidiRpc:
    def __init__(self):
        self._operational_lock = threading.RLock()
        self._reopen_throttle = _Throttle()
        self._peer = None

    def _on_call_done(self, future):
        with self._operational_lock:
            self._reopen()

    def _reopen(self):
        with self._operational_lock:
            with self._reopen_throttle:
                self.open()

    def _recoverable(self, method):
        with self._operational_lock:
            self._reopen()

    def open(self):
        pass
{extra}
"""


def bidi(extra=""):
    return {"bidi.py": BIDI.format(extra=textwrap.indent(textwrap.dedent(extra), "    "))}


def test_callers_holding_the_rlock_the_callee_retakes_are_not_repeated():
    found = lw131(bidi())
    # _Throttle.__enter__ (its own lock) and _reopen; not _on_call_done nor _recoverable
    assert lines(found) == [("bidi.py", 12), ("bidi.py", 30)]
    assert found[1].message.startswith("ResumableBidiRpc._reopen calls time.sleep (through _Throttle.__enter__)")


def test_a_caller_holding_another_instance_of_the_lock_is_kept():
    found = lw131(bidi("""
        def relay(self, peer: "ResumableBidiRpc"):
            with self._operational_lock:
                peer._reopen()
    """))
    assert ("bidi.py", 42) in lines(found)
    assert ("bidi.py", 26) not in lines(found)


def test_a_callee_that_blocks_outside_its_own_hold_leaves_the_caller_reported():
    found = lw131(bidi("""
        def _restart(self):
            with self._operational_lock:
                pass
            time.sleep(1)

        def restart(self):
            with self._operational_lock:
                self._restart()
    """))
    assert ("bidi.py", 47) in lines(found)      # restart's call of _restart
    assert ("bidi.py", 43) not in lines(found)  # the sleep is outside _restart's hold


def test_a_caller_holding_a_second_lock_keeps_its_finding_for_that_lock():
    found = lw131(bidi("""
        _guard = threading.Lock()

        def guarded(self):
            with self._guard:
                with self._operational_lock:
                    self._reopen()
    """))
    hit = [f for f in found if f.line == 45]
    assert len(hit) == 1
    assert "while holding ResumableBidiRpc._guard:" in hit[0].message
    assert hit[0].related[0].note == "ResumableBidiRpc.guarded holds ResumableBidiRpc._guard"


def test_a_non_reentrant_lock_retaken_is_left_to_the_self_deadlock_rule():
    # the same shape with a plain Lock is a self-deadlock (LW111); LW131 is not deduplicated
    # for it (the brief's case is the reentrant one)
    src = BIDI.replace("threading.RLock()", "threading.Lock()").format(extra="")
    files = {"bidi.py": src}
    assert ("bidi.py", 26) in lines(lw131(files))
