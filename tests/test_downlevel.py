"""``lockwatch.static.downlevel``: 3.12 syntax respelled for older parsers, positions kept.

The rewrite is only worth having if (a) it never moves anything (every reported line and
column must be the file's own), (b) the summary it leads to is the one libcst's walk makes
of the original file, and (c) whatever it cannot respell safely still goes to libcst.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lockwatch.static import summarise, summarise_cst
from lockwatch.static.downlevel import rewrite

REPO = Path(__file__).resolve().parent.parent
STDLIB_312 = Path("/root/.pyenv/versions/3.12.1/lib/python3.12")
older = pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ parses these natively")

GENERIC = textwrap.dedent("""\
    import threading

    lock = threading.Lock()


    class Box[T: (int, str)](object):
        def __init__(self):
            self._lock = threading.Lock()

        def put[U](self, item: U) -> None:
            with self._lock:
                with lock:
                    self.item = item


    async def fetch[*Ts, **P](x):
        with lock:
            return x


    type Pair[K] = tuple[K, K]  # lockwatch: ignore[LW131]
    """)

FSTRINGS = textwrap.dedent("""\
    import threading

    lock = threading.Lock()


    def show(args, x):
        with lock:
            text = f'({', '.join(args)}) {x['k']!r:>{10}}'
        return text + f"{'same' if x else "other"}"
    """)


def _same_layout(a: str, b: str) -> None:
    assert len(a.encode("utf-8")) == len(b.encode("utf-8"))
    assert a.splitlines() != b.splitlines() or a == b
    assert [len(x.encode("utf-8")) for x in a.splitlines(True)] == \
           [len(x.encode("utf-8")) for x in b.splitlines(True)]
    # comments are never touched
    assert [x[x.index("#"):] for x in a.splitlines() if "#" in x] == \
           [x[x.index("#"):] for x in b.splitlines() if "#" in x]


def test_type_parameters_are_blanked_in_place():
    out = rewrite(GENERIC)
    assert out is not None
    _same_layout(GENERIC, out)
    assert "class Box               (object):" in out
    assert "def put   (self, item: U)" in out
    assert "async def fetch          (x):" in out
    alias = "type Pair[K] = tuple[K, K]"
    assert "\n" + "pass".ljust(len(alias)) + "  # lockwatch: ignore[LW131]\n" in out
    ast.parse(out)


def test_nested_quotes_get_the_other_quote():
    out = rewrite(FSTRINGS)
    assert out is not None
    _same_layout(FSTRINGS, out)
    assert """f'({", ".join(args)}) {x["k"]!r:>{10}}'""" in out
    assert """f"{'same' if x else 'other'}\"""" in out
    assert rewrite("x = f'{\"a\" + 'b'}'\n") == "x = f'{\"a\" + \"b\"}'\n"
    ast.parse(out)


def test_text_in_strings_and_comments_is_left_alone():
    src = 'doc = """\nclass C[T]:\n"""\n# def f[T](): in a comment\nx = f"{1}"\n'
    assert rewrite(src) is None   # valid before 3.12: nothing to respell


@pytest.mark.parametrize("src", [
    'x = f"{a["k"]\\n}"\n',                       # backslash in a field
    'x = f"{a[\'k\']  # c\n}"\n',                 # comment in a field
    "x = f'{f'{1}'}'\n",                          # f-string nested with the same quote
    "x = f'{'a\"b'}'\n",                         # the other quote is in its text
    "type Alias = make_alias()\n",                # a call in the alias value
    "type Alias = tuple[\n    int, int]\n",       # an alias over two lines
    'class C[T: "Fwd"]:\n    pass\n',             # a string in the type parameters
    "class C[]:\n    pass\n",                     # invalid in every Python: not made valid
])
def test_what_it_cannot_respell_is_left_to_libcst(src):
    assert rewrite(src) is None


@older
@pytest.mark.parametrize("src", [GENERIC, FSTRINGS], ids=["pep695", "pep701"])
def test_summary_is_libcsts(src):
    got = summarise.summarise_module(src, "m.py", "m").to_dict()
    ref = summarise_cst.summarise_module(src, "m.py", "m").to_dict()
    assert got == ref


@older
@pytest.mark.parametrize("name", ["typing.py", "turtle.py"])
def test_the_312_stdlib_files_that_needed_libcst(name):
    path = STDLIB_312 / name
    if not path.is_file():
        pytest.skip("no CPython 3.12 stdlib here")
    src = path.read_text(encoding="utf-8")
    with pytest.raises(SyntaxError):
        ast.parse(src)
    assert rewrite(src) is not None
    got = summarise.summarise_module(src, str(path), name[:-3]).to_dict()
    ref = summarise_cst.summarise_module(src, str(path), name[:-3]).to_dict()
    assert got == ref


@older
def test_respelled_files_do_not_import_libcst():
    code = textwrap.dedent(f"""
        import sys
        from lockwatch.static.summarise import summarise_module
        s = summarise_module({GENERIC!r} + {FSTRINGS!r}.replace("import threading", ""), "m.py", "m")
        assert "Box.put" in s.functions and "show" in s.functions, sorted(s.functions)
        print("libcst" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@older
def test_unrespellable_newer_syntax_still_reaches_libcst():
    src = "import threading\nlock = threading.Lock()\ntype A = tuple[\n    int]\ndef f[T](x: T) -> T:\n    with lock:\n        return x\n"
    assert rewrite(src) is None
    s = summarise.summarise_module(src, "m.py", "m")
    assert s.functions["f"].events[0]["r"] == "lock"
