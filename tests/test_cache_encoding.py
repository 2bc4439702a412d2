"""The cache entry's summary layout (``ModuleSummary.to_entry`` / ``from_entry``): functions
and classes as rows under a header of field names. A summary must come back equal field for
field (``to_dict()`` equal, key order included) for every file of fixtures/; an entry of
another layout (format 1: ``to_dict()`` as it is), another header or a damaged row is
never used but rebuilt; the entry stays plain, readable JSON."""

from __future__ import annotations

import json
import os
import warnings

import pool_standins
import pytest

from lockwatch.config import Config
from lockwatch.static import pool
from lockwatch.static.cache import Cache, decode_entry, encode_summary_entry
from lockwatch.static.discover import discover
from lockwatch.static.pool import summarise_files
from lockwatch.static.summary import (
    CLASS_FIELDS,
    ENTRY_FORMAT,
    FUNCTION_FIELDS,
    SUMMARY_VERSION,
    ClassSummary,
    FunctionSummary,
    ModuleSummary,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "fixtures")
KEY = "ab" + "0" * 62


def fixture_files() -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(FIXTURES):
        dirnames.sort()
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return out


def summarise(path: str) -> ModuleSummary | None:
    from lockwatch.static import summarise as s

    with open(path, "rb") as f:
        data = f.read()
    try:
        source = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return s.summarise_module(source, os.path.relpath(path, REPO), "m", False)
        except Exception:  # noqa: BLE001 - a fixture that is not valid Python has no summary
            return None


def round_trip(summary: ModuleSummary) -> ModuleSummary:
    """What a worker sends (and caches) and what the main process makes of it."""
    raw = encode_summary_entry(KEY, summary.to_entry())
    entry = decode_entry(raw, KEY)
    assert entry is not None
    return ModuleSummary.from_entry(entry["summary"])


# --------------------------------------------------------------------------- round trip

def test_every_fixture_summary_survives_encode_and_decode_field_for_field():
    files = fixture_files()
    assert len(files) > 300  # the fixtures are all there: the loop means something
    seen = functions = classes = events = 0
    for path in files:
        s = summarise(path)
        if s is None:
            continue
        back = round_trip(s)
        want = s.to_dict()
        assert back.to_dict() == want, path
        # same key order too: to_dict() of a decoded summary hashes as the original's
        assert json.dumps(back.to_dict(), ensure_ascii=False) == json.dumps(want, ensure_ascii=False), path
        assert all(type(f) is FunctionSummary for f in back.functions.values())
        assert all(type(c) is ClassSummary for c in back.classes.values())
        seen += 1
        functions += len(s.functions)
        classes += len(s.classes)
        events += sum(len(f.events) for f in s.functions.values())
    assert seen > 300 and functions > 1000 and classes > 100 and events > 3000


def test_decoded_summaries_do_not_share_mutable_fields():
    """Each decoded function owns its lists and dicts (the analysis may add to them)."""
    src = "def f():\n    pass\n\ndef g():\n    pass\n"
    s = pool_standins.summarise(src, "m.py", "m")
    back = round_trip(s)
    f, g = back.functions["f"], back.functions["g"]
    for name in ("params", "events", "locals", "reads", "defaults"):
        assert getattr(f, name) is not getattr(g, name), name


def test_from_dict_reads_both_layouts():
    s = next(s for s in map(summarise, fixture_files()) if s is not None and s.classes)
    as_json = json.loads(json.dumps(s.to_dict()))
    assert ModuleSummary.from_dict(as_json).to_dict() == s.to_dict()
    entry = json.loads(json.dumps(s.to_entry()))
    assert ModuleSummary.from_dict(entry).to_dict() == s.to_dict()


# --------------------------------------------------------------------------- the layout

def test_the_entry_is_plain_json_a_row_zips_with_its_header_into_to_dict():
    src = ("import threading\n\nclass C:\n    def __init__(self):\n        self._lock = threading.Lock()\n\n"
           "    def m(self, x=1):\n        with self._lock:\n            return x\n")
    from lockwatch.static.summarise import summarise_module

    s = summarise_module(src, "m.py", "m", False)
    entry = json.loads(encode_summary_entry(KEY, s.to_entry()))
    assert set(entry) == {"k", "summary"} and entry["k"] == KEY
    e = entry["summary"]
    assert e["version"] == SUMMARY_VERSION and e["format"] == ENTRY_FORMAT
    assert e["function_fields"] == list(FUNCTION_FIELDS) and e["class_fields"] == list(CLASS_FIELDS)
    want = s.to_dict()
    for k, row in e["functions"].items():
        assert dict(zip(e["function_fields"], row)) == want["functions"][k]
    for k, row in e["classes"].items():
        assert dict(zip(e["class_fields"], row)) == want["classes"][k]
    assert e["functions"]["C.m"][FUNCTION_FIELDS.index("events")][0]["e"] == "acq"


def test_an_attribute_outside_the_fields_is_an_error_not_a_silent_loss():
    s = pool_standins.summarise("def f():\n    pass\n", "m.py", "m")
    s.functions["f"].extra = 1
    with pytest.raises(ValueError, match="fields"):
        s.to_entry()
    c = pool_standins.summarise("def f():\n    pass\n", "m.py", "m")
    c.classes["C"] = ClassSummary("C", "C", 1, 0)
    del c.classes["C"].bases
    with pytest.raises(ValueError, match="fields"):
        c.to_entry()


def good_entry() -> dict:
    s = pool_standins.summarise("def f():\n    pass\n", "m.py", "m")
    s.classes["C"] = ClassSummary("C", "C", 3, 0)
    return json.loads(json.dumps(s.to_entry()))


@pytest.mark.parametrize("damage", [
    "old layout", "another format", "another version", "another header", "short row",
    "long row", "row not a list", "no format",
])
def test_from_entry_rejects_what_is_not_this_layout(damage):
    e = good_entry()
    assert ModuleSummary.from_entry(e).functions["f"].line == 1
    if damage == "old layout":
        e = json.loads(json.dumps(ModuleSummary.from_entry(e).to_dict()))
    elif damage == "another format":
        e["format"] = ENTRY_FORMAT + 1
    elif damage == "another version":
        e["version"] = SUMMARY_VERSION + 1
    elif damage == "another header":
        e["function_fields"] = e["function_fields"][::-1]
    elif damage == "short row":
        e["functions"]["f"] = e["functions"]["f"][:-1]
    elif damage == "long row":
        e["classes"]["C"] = e["classes"]["C"] + [None]
    elif damage == "row not a list":
        e["functions"]["f"] = dict(zip(FUNCTION_FIELDS, e["functions"]["f"]))
    elif damage == "no format":
        del e["format"]
    with pytest.raises((ValueError, TypeError, KeyError)):
        ModuleSummary.from_entry(e)


def test_decode_entry_refuses_another_entry_format():
    s = pool_standins.summarise("def f():\n    pass\n", "m.py", "m")
    raw = encode_summary_entry(KEY, s.to_entry())
    assert decode_entry(raw, KEY) is not None
    assert decode_entry(raw.replace(b'"format":%d' % ENTRY_FORMAT, b'"format":1', 1), KEY) is None
    old = json.dumps({"k": KEY, "summary": s.to_dict()}).encode()   # format 1: to_dict() as it is
    assert decode_entry(old, KEY) is None


def test_the_cache_directory_is_per_entry_format(tmp_path):
    """Entries of another format live under another directory: never even opened."""
    c = Cache(str(tmp_path))
    assert f"-s{SUMMARY_VERSION}e{ENTRY_FORMAT}-" in c.tag
    assert c.dir.endswith(c.tag)


# --------------------------------------------------------------------------- through the cache

def setup(tmp_path, n=4):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(n):
        (src / f"m{i}.py").write_text(f"class K{i}:\n    def f{i}(self):\n        pass\n")
    cfg = Config(root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    files, _ = discover([str(src)], cfg)
    return cfg, files


def run(files, cfg, spec=pool_standins.SPEC):
    s, e = summarise_files(files, cfg, summariser=spec)
    return {k: v.to_dict() for k, v in s.items()}, [x.to_dict() for x in e]


def rewrite_entries(cfg, how):
    for dirpath, _, fs in os.walk(cfg.cache_dir):
        for f in fs:
            if f.endswith(".json") and not f.startswith(".tmp"):
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    data = fh.read()
                with open(p, "wb") as fh:
                    fh.write(how(data))


@pytest.mark.parametrize("how", [
    # the same summary in format 1 (to_dict() as it is), as 3f0cc24 wrote it
    lambda d: json.dumps({"k": json.loads(d)["k"],
                          "summary": ModuleSummary.from_entry(json.loads(d)["summary"]).to_dict()}).encode(),
    lambda d: d.replace(b'"function_fields":["qualname"', b'"function_fields":["name"', 1),
    lambda d: d.replace(b'"class_fields":["qualname","name","line"', b'"class_fields":["qualname","name"', 1),
    lambda d: d.replace(b'"format":%d' % ENTRY_FORMAT, b'"format":%d' % (ENTRY_FORMAT + 1), 1),
    lambda d: d.replace(b'"functions":{"', b'"functions":{"x":[1],"', 1),   # a row too short
], ids=["format 1", "function header", "class header", "format", "short row"])
def test_an_entry_of_another_layout_is_ignored_and_rebuilt(tmp_path, how):
    cfg, files = setup(tmp_path)
    cold = run(files, cfg)
    assert len(cold[0]) == 4 and not cold[1]
    rewrite_entries(cfg, how)
    # a summariser that cannot load would turn every file into an error: the damaged
    # entries must not be read as summaries ...
    bad_warm = run(files, cfg, spec="pool_standins:does_not_exist")
    assert len(bad_warm[1]) == 4 and not bad_warm[0]
    # ... they are rebuilt by a working one, and then read
    assert run(files, cfg) == cold
    assert run(files, cfg, spec="pool_standins:does_not_exist") == cold


def test_a_summary_that_cannot_be_laid_out_is_an_internal_error_for_that_file(tmp_path):
    ok, msg, cache_timeout = pool.analyse(
        _extra_attribute, None, "def f():\n    pass\n", "m.py", "m", False)
    assert ok is False and cache_timeout is False
    assert msg.startswith("internal error: cannot send the summary (ValueError")


def _extra_attribute(source, path, module, is_package=False):
    s = pool_standins.summarise(source, path, module, is_package)
    for f in s.functions.values():
        f.note = "set outside __init__"
    return s
