"""P38 (docs/real-world.md): an ``isinstance`` test on a parameter, and a caller whose argument
fixes the answer.

discord.py's ``File.__init__(fp)`` keeps ``fp`` when ``isinstance(fp, io.IOBase)`` and opens
it otherwise; ``Attachment.to_file`` passes ``io.BytesIO(data)``, so the ``open`` never runs
there. The summary records the test as a guard on the parameter (events' ``pg`` entry
``[param, {"isa": [class refs]}]`` on the ``else`` side, or the body of ``if not
isinstance(...)``); ``graph.ConstantGuards`` rules the guarded events out at a call whose
argument is a constructor call of a class known to be a subclass of one of the tested
classes (the stdlib io table in ``catalog.IO_CLASS_BASES``, or a project class through its
MRO). The twins stay reported: a path, an argument of unknown type, a class not under the
tested one, a test combined with ``and``, a rebound parameter, a shadowed ``io``, an
explicit ``File.__init__(obj, ...)`` call, a class with ``__new__``. Both summarisers."""

from __future__ import annotations

import pytest
from walks import WALKS, findings, same_summary

FILE = """
import io


class File:
    def __init__(self, fp, filename=None):
        if isinstance(fp, io.IOBase):
            self.fp = fp
        else:
            self.fp = open(fp, "rb")
        self.filename = filename
"""


def lw201(files: dict, walk: str) -> list:
    return sorted((f.path, f.line) for f in findings(files, walk) if f.code == "LW201")


def one(caller: str, walk: str, file_src: str = FILE) -> list:
    """The LW201 findings of the caller that go through ``File.__init__``'s ``open``."""
    return sorted((f.path, f.line) for f in findings({"m.py": file_src + caller}, walk)
                  if f.code == "LW201" and "through File.__init__" in f.message)


# ---------------------------------------------------------------- the summary

def test_the_else_of_an_isinstance_test_on_a_parameter_is_guarded():
    s = same_summary(FILE)["functions"]["File.__init__"]
    (opened,) = [ev for ev in s["events"] if ev.get("f") == "open"]
    assert opened["pg"] == [["fp", {"isa": ["io.IOBase"]}]]
    assert s["guard_params"] == ["fp"]
    kept = [ev for ev in s["events"] if ev.get("r") == "@self.fp" and ev["l"] == 8]
    assert kept and "pg" not in kept[0]   # the body is not ruled out by it


def test_not_isinstance_guards_the_body_and_a_tuple_gives_every_class():
    s = same_summary("""
        import io

        def load(fp):
            if not isinstance(fp, (io.RawIOBase, io.BufferedIOBase)):
                fp = None
                return open("x")
            return fp
    """)["functions"]["load"]
    # rebound in the guarded body: the guard is dropped (the test no longer says what fp is)
    assert all("pg" not in ev for ev in s["events"])
    s = same_summary("""
        import io

        def load(fp):
            if not isinstance(fp, (io.RawIOBase, io.BufferedIOBase)):
                return open(fp)
            return fp
    """)["functions"]["load"]
    (opened,) = [ev for ev in s["events"] if ev.get("f") == "open"]
    assert opened["pg"] == [["fp", {"isa": ["io.BufferedIOBase", "io.RawIOBase"]}]]


@pytest.mark.parametrize("test", [
    "isinstance(fp, get_class())",      # a computed class
    "isinstance(fp, (io.IOBase, *more))",
    "isinstance(other, io.IOBase)",     # not a parameter
    "isinstance(fp, io.IOBase) and fp.readable()",   # the else runs for a file too
    "isinstance(fp, io.IOBase, extra)",
    "isinstance(fp=fp, cls=io.IOBase)",
])
def test_other_tests_guard_nothing(test):
    s = same_summary(f"""
        import io
        more = ()
        other = None

        def load(fp):
            if {test}:
                return fp
            else:
                return open(fp)
    """)["functions"]["load"]
    assert all("pg" not in ev for ev in s["events"])


# ---------------------------------------------------------------- the calls

RULED_OUT = {
    "bytesio positional": """
async def to_file(data):
    return File(io.BytesIO(data), filename="a.bin")
""",
    "stringio by keyword": """
async def to_file(data):
    return File(fp=io.StringIO(data))
""",
    "buffered reader": """
async def wrap(raw):
    return File(io.BufferedReader(raw))
""",
    "a project subclass of an io class": """
class Buffer(io.BytesIO):
    pass


async def to_file(data):
    return File(Buffer(data))
""",
    "a method of the caller's class": """
class Attachment:
    async def read(self):
        return b""

    async def to_file(self):
        data = await self.read()
        return File(io.BytesIO(data))
""",
}

STAYS = {
    "a str path": """
async def upload():
    return File("/var/tmp/report.bin")
""",
    "a parameter of unknown type": """
async def upload(path):
    return File(path)
""",
    "a local (not followed)": """
async def upload(data, raw):
    buf = raw
    if data:
        buf = io.BytesIO(data)
    return File(buf)
""",
    "io.open is no class": """
async def upload(path):
    return File(io.open(path, "rb"))
""",
    "a project class not under io.IOBase": """
class Path:
    def __init__(self, p):
        self.p = p


async def upload(p):
    return File(Path(p))
""",
    "a class with __new__": """
class Buffer(io.BytesIO):
    def __new__(cls, data):
        return data


async def upload(data):
    return File(Buffer(data))
""",
    "io shadowed in the caller": """
async def upload(io):
    return File(io.BytesIO(b""))
""",
    "the method called by name": """
async def upload(data):
    obj = object.__new__(File)
    return File.__init__(obj, io.BytesIO(data))
""",
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("case", sorted(RULED_OUT))
def test_a_constructed_io_object_rules_the_open_out(case, walk):
    assert one(RULED_OUT[case], walk) == []


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("case", sorted(STAYS))
def test_the_twins_keep_lw201(case, walk):
    assert len(one(STAYS[case], walk)) == 1


@pytest.mark.parametrize("walk", WALKS)
def test_a_class_not_under_the_tested_io_base_keeps_it(walk):
    narrow = FILE.replace("io.IOBase", "io.BufferedIOBase")
    assert len(one("""
async def to_file(text):
    return File(io.StringIO(text))
""", walk, narrow)) == 1
    assert one("""
async def to_file(data):
    return File(io.BytesIO(data))
""", walk, narrow) == []


@pytest.mark.parametrize("walk", WALKS)
def test_a_project_hierarchy_and_from_imports_across_modules(walk):
    files = {
        "pkg/__init__.py": "",
        "pkg/streams.py": """
class Stream:
    pass


class MemoryStream(Stream):
    pass


class Other:
    pass
""",
        "pkg/upload.py": """
from pkg.streams import Stream


def attach(src):
    if isinstance(src, Stream):
        f = src
    else:
        f = open(src, "rb")
    return f
""",
        "pkg/client.py": """
from io import BytesIO

from pkg.streams import MemoryStream, Other
from pkg.upload import attach


async def from_memory():
    return attach(MemoryStream())


async def from_other():
    return attach(Other())
""",
    }
    assert lw201(files, walk) == [("pkg/client.py", 13)]


@pytest.mark.parametrize("walk", WALKS)
def test_from_io_import_names(walk):
    src = """
from io import BytesIO, IOBase


def attach(fp):
    if not isinstance(fp, IOBase):
        fp = None
    return fp


def open_unless_file(fp):
    if not isinstance(fp, IOBase):
        return open(fp)
    return fp


async def ok(data):
    return open_unless_file(BytesIO(data))


async def bad(path):
    return open_unless_file(path)
"""
    assert lw201({"m.py": src}, walk) == [("m.py", 22)]
