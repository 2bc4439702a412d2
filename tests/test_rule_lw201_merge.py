"""LW201 reports one finding per blocking call reached through a sync helper, not one per
coroutine call that reaches it (docs/real-world.md, sixth batch, "Message defects seen"):
python-telegram-bot's one ``path.open()`` in ``parse_file_input`` gave 20 findings, one per
``Bot.send_*`` call, and its pickle helpers 30. The finding sits at the first of those calls
in the report's order, the others are its related locations, the message says how many reach
it. Look-alikes that must stay as they were: two helpers (two blocking calls) stay two
findings, calls written in the coroutine itself stay one finding each. A suppression on one
coroutine's line (or a per-file ignore of its file) leaves out only that call; the merged
finding keeps the fingerprint its first call had on its own, so old baselines still match.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from lockwatch import baseline
from lockwatch.config import Config
from lockwatch.findings import Report, make_fingerprint
from lockwatch.report.json import render_json
from lockwatch.report.sarif import sarif_log
from lockwatch.static.engine import scan_sources
from tests.walks import WALKS, findings

ADVICE = ": every other task stalls until it returns (offload it with asyncio.to_thread or use an async API)"

# telegram/_utils/files.py + telegram/_bot.py, cut down: every send_* coroutine hands its
# file argument to one helper that opens a local path
FILES = """
from pathlib import Path


def parse_file_input(file_input):
    if isinstance(file_input, (str, Path)):
        with Path(file_input).open("rb") as f:
            return f.read()
    return file_input
"""
BOT = """
import asyncio

from tg.files import parse_file_input


class Bot:
    async def _post(self, endpoint, data):
        await asyncio.sleep(0)

    async def send_photo(self, photo):{s1}
        data = {{"photo": parse_file_input(photo)}}{s2}
        await self._post("sendPhoto", data)

    async def send_audio(self, audio, thumbnail=None):
        data = {{"audio": parse_file_input(audio)}}{s3}
        data["thumbnail"] = parse_file_input(thumbnail){s4}
        await self._post("sendAudio", data)

    async def send_document(self, document):
        data = {{"document": parse_file_input(document)}}{s5}
        await self._post("sendDocument", data)
"""
HELPER = "... which calls pathlib.Path.open"


def bot(s2="", s3="", s4="", s5="", only_photo=False, extra=None):
    src = BOT.format(s1="", s2=s2, s3=s3, s4=s4, s5=s5)
    if only_photo:
        src = src[:src.index("    async def send_audio")]
    files = {"tg/__init__.py": "", "tg/files.py": FILES, "tg/bot.py": src}
    files.update(extra or {})
    return files


def lw201(files: dict[str, str], config: Config | None = None):
    files = {p: textwrap.dedent(s) for p, s in files.items()}
    return sorted((f for f in scan_sources(files, config or Config()).findings if f.code == "LW201"),
                  key=lambda f: (f.path, f.line))


def lines(found):
    return [(f.path, f.line) for f in found]


def fingerprint(fid: str, name: str, *callees: str, n: int = 1) -> str:
    """What a coroutine call's finding had as its fingerprint when each call was reported
    on its own (9dcfe17): rule, coroutine, catalog name, helpers, n-th such call."""
    return make_fingerprint("LW201", fid, name, *callees, n)


# --------------------------------------------------------------------------- one per helper call


@pytest.mark.parametrize("walk", WALKS)
def test_coroutines_through_one_helper_are_one_finding_at_the_first(walk):
    found = [f for f in findings(bot(), walk) if f.code == "LW201"]
    assert lines(found) == [("tg/bot.py", 12)]
    f = found[0]
    assert f.message == (
        "async Bot.send_photo calls pathlib.Path.open (through parse_file_input), which blocks "
        "the event loop (reached from 4 calls in 3 coroutines)" + ADVICE)
    # the first call's witness, then every other coroutine call, in source order, each
    # saying which coroutine calls which helper
    assert [(r.path, r.line, r.note) for r in f.related] == [
        ("tg/bot.py", 12, "Bot.send_photo calls parse_file_input"),
        ("tg/files.py", 7, HELPER),
        ("tg/bot.py", 16, "Bot.send_audio also calls pathlib.Path.open (through parse_file_input)"),
        ("tg/bot.py", 17, "Bot.send_audio also calls pathlib.Path.open (through parse_file_input)"),
        ("tg/bot.py", 21, "Bot.send_document also calls pathlib.Path.open (through parse_file_input)"),
    ]
    # the fingerprint send_photo's call had on its own: a baseline written before still matches
    assert f.fingerprint == fingerprint("tg.bot.Bot.send_photo", "pathlib.Path.open", "parse_file_input")


def test_count_says_coroutines_when_each_calls_once():
    found = lw201(bot(s4="  # lockwatch: ignore[LW201]"))
    assert len(found) == 1
    assert "which blocks the event loop (reached from 3 coroutines):" in found[0].message


def test_one_coroutine_calling_the_helper_twice():
    src = """
    import asyncio
    from tg.files import parse_file_input


    async def upload(a, b):
        x = parse_file_input(a)
        y = parse_file_input(b)
        await asyncio.sleep(0)
        return x, y
    """
    found = lw201({"tg/__init__.py": "", "tg/files.py": FILES, "tg/up.py": src})
    assert lines(found) == [("tg/up.py", 7)]
    assert "(reached from 2 calls in this coroutine)" in found[0].message
    assert found[0].related[-1].line == 8 and found[0].related[-1].note.startswith("upload also calls")


def test_a_single_coroutine_call_keeps_its_message():
    found = lw201(bot(only_photo=True))
    assert lines(found) == [("tg/bot.py", 12)]
    assert found[0].message == (
        "async Bot.send_photo calls pathlib.Path.open (through parse_file_input), which blocks "
        "the event loop" + ADVICE)
    assert [r.line for r in found[0].related] == [12, 7]


def test_through_different_helper_paths_to_one_call():
    # telegram's Bot._parse_file_input wraps parse_file_input for some callers only: the
    # blocking call is the same, so is the finding (the witness names each path)
    src = """
    from tg.files import parse_file_input


    def wrap(x):
        return parse_file_input(x)


    async def a(x):
        return wrap(x)


    async def b(x):
        return parse_file_input(x)
    """
    found = lw201({"tg/__init__.py": "", "tg/files.py": FILES, "tg/m.py": src})
    assert lines(found) == [("tg/m.py", 10)]
    assert found[0].related[-1].note == "b also calls pathlib.Path.open (through parse_file_input)"
    assert found[0].fingerprint == fingerprint("tg.m.a", "pathlib.Path.open", "wrap", "parse_file_input")


# --------------------------------------------------------------------------- look-alikes


def test_two_helpers_are_two_findings():
    src = """
    import time


    def load(path):
        with open(path) as f:
            return f.read()


    def pause():
        time.sleep(1)


    async def a():
        load("x")
        pause()


    async def b():
        load("y")
        pause()
    """
    found = lw201({"app.py": src})
    assert lines(found) == [("app.py", 15), ("app.py", 16)]
    by_line = {f.line: f for f in found}
    assert "calls open (through load)" in by_line[15].message
    assert "calls time.sleep (through pause)" in by_line[16].message
    assert [r.line for r in by_line[15].related] == [15, 6, 20]
    assert [r.line for r in by_line[16].related] == [16, 11, 21]


def test_one_helper_with_two_blocking_calls_reached_alike_stays_per_call():
    # the helper's two calls are two places to fix, but the walk names the first one only
    # (as before); two coroutines through it give one finding, not one per coroutine
    src = """
    import time


    def slow(path):
        time.sleep(1)
        time.sleep(2)


    async def a():
        slow("x")


    async def b():
        slow("y")
    """
    found = lw201({"app.py": src})
    assert lines(found) == [("app.py", 11)]
    assert [r.line for r in found[0].related] == [11, 6, 15]


def test_direct_calls_stay_one_finding_each():
    src = """
    import time


    async def a():
        time.sleep(1)
        time.sleep(2)


    async def b():
        time.sleep(1)
    """
    found = lw201({"app.py": src})
    assert lines(found) == [("app.py", 6), ("app.py", 7), ("app.py", 11)]
    assert all("reached from" not in f.message for f in found)
    assert [len(f.related) for f in found] == [1, 1, 1]
    assert found[1].fingerprint == fingerprint("app.a", "time.sleep", n=2)


# --------------------------------------------------------------------------- suppressions, baselines


def test_suppressing_one_coroutine_line_leaves_out_only_that_call():
    found = lw201(bot(s3="  # lockwatch: ignore[LW201]"))
    assert lines(found) == [("tg/bot.py", 12)]
    assert [r.line for r in found[0].related] == [12, 7, 17, 21]
    assert "(reached from 3 calls in 3 coroutines)" not in found[0].message
    assert "(reached from 3 coroutines)" in found[0].message


def test_suppressing_the_first_call_moves_the_finding_to_the_next():
    found = lw201(bot(s2="  # lockwatch: ignore[LW201]"))
    assert lines(found) == [("tg/bot.py", 16)]
    f = found[0]
    assert f.message.startswith("async Bot.send_audio calls pathlib.Path.open")
    assert [r.line for r in f.related] == [16, 7, 17, 21]
    # the fingerprint send_audio's first call had on its own
    assert f.fingerprint == fingerprint("tg.bot.Bot.send_audio", "pathlib.Path.open", "parse_file_input")


def test_a_suppression_for_another_code_leaves_the_call_in():
    found = lw201(bot(s2="  # lockwatch: ignore[LW131]"))
    assert lines(found) == [("tg/bot.py", 12)]
    assert len(found[0].related) == 5


def test_suppressing_every_call_silences_it():
    s = "  # lockwatch: ignore[LW201]"
    assert lw201(bot(s2=s, s3=s, s4="  # lockwatch: ignore", s5=s)) == []


def test_per_file_ignore_of_the_first_coroutine_file_leaves_out_only_its_calls():
    # a test module that sorts first must not carry (and hide) the package's finding
    test_src = """
    from tg.files import parse_file_input


    async def test_send(tmp):
        parse_file_input(tmp)
    """
    files = bot(extra={"a_tests/test_bot.py": test_src})
    assert lines(lw201(files)) == [("a_tests/test_bot.py", 6)]
    found = lw201(files, Config(per_file_ignores={"a_tests/*": ["LW201"]}))
    assert lines(found) == [("tg/bot.py", 12)]
    assert all(r.path != "a_tests/test_bot.py" for r in found[0].related)


def test_a_baseline_of_the_first_call_alone_still_matches(tmp_path):
    path = str(tmp_path / "baseline.json")
    baseline.write_baseline(path, lw201(bot(only_photo=True)))
    assert baseline.apply_baseline(lw201(bot()), baseline.load_baseline(path)) == []


# --------------------------------------------------------------------------- output formats


def test_json_and_sarif_carry_the_other_calls_as_related_locations():
    found = lw201(bot())
    rep = Report("static", findings=found)
    d = json.loads(render_json(rep))
    rel = d["findings"][0]["related"]
    assert [(r["line"], r["note"].split(" ")[0]) for r in rel[2:]] == [
        (16, "Bot.send_audio"), (17, "Bot.send_audio"), (21, "Bot.send_document")]
    res = sarif_log(rep)["runs"][0]["results"][0]
    texts = [loc["message"]["text"] for loc in res["relatedLocations"]]
    assert texts[2] == "Bot.send_audio also calls pathlib.Path.open (through parse_file_input)"
    assert res["partialFingerprints"]["lockwatch/v1"] == found[0].fingerprint
