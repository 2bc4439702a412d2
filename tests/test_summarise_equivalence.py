"""The ast summariser (``summarise_ast``) must give the libcst summariser's summary
(``summarise_cst``, the reference) on every file both can read: every fixture, every rule
example, a sample of this interpreter's own stdlib and a set of constructs where the two
syntax trees differ (see the docstring of ``summarise_ast``)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import warnings
from pathlib import Path

import pytest

from lockwatch.rules import all_rules
from lockwatch.static import summarise, summarise_cst
from lockwatch.static.summarise_ast import summarise_tree

REPO = Path(__file__).resolve().parent.parent
STDLIB_SAMPLE = 80


def _both(source: str, path: str = "m.py", module: str = "m", is_package: bool = False):
    """(ast summary, cst summary) as dicts, or None when either parser rejects the file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # odd escapes in real code
        try:
            tree = compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    try:
        ref = summarise_cst.summarise_module(source, path, module, is_package).to_dict()
    except summarise_cst.ParseError:
        return None   # libcst cannot read it; the ast summary is all there is
    return summarise_tree(tree, source, path, module, is_package).to_dict(), ref


def _first_difference(a, b, where="") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{where}/{k}: only in {'cst' if k not in a else 'ast'}"
            d = _first_difference(a[k], b[k], f"{where}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    if a != b:
        return f"{where}: ast={json.dumps(a)[:300]} cst={json.dumps(b)[:300]}"
    return None


def _assert_same(source: str, path: str = "m.py", module: str = "m", is_package: bool = False) -> None:
    pair = _both(source, path, module, is_package)
    if pair is None:
        return
    a, c = pair
    assert a == c, _first_difference(a, c)


# ---------------------------------------------------------------------- constructs
TRICKY = {
    "statement lines": """
        import threading
        lock = threading.Lock()
        def f():
            lock.acquire(); work()
            lock.release()
        def g():
            lock.acquire(); lock.release()
        def h():
            if lock.acquire(False): x = 1; lock.release()
    """,
    "elif and else-if": """
        def f(lock, a, b):
            lock.acquire()
            if a:
                lock.release()
            elif b:
                lock.release()
            else:
                lock.release()
        def g(lock, a, b):
            lock.acquire()
            if a:
                lock.release()
            else:
                if b:
                    lock.release()
        def h(lock, a, b):
            lock.acquire()
            if a:
                lock.release()
            elif b:
                lock.release()
        class C:
            if a:
                x = 1
            elif b:
                y = 2
            else:
                if c:
                    z = 3
    """,
    "keyword constants are names": """
        def f(self):
            x = None
            y = True
            x.foo()
            return None.__class__, y
        def g() -> None:
            z: None = None
            return lambda: (None, False)
        def h(a):
            if a < None or (1 < 2):
                pass
    """,
    "argument order": """
        def f(self, lock, a, kw):
            g(k=self.x, *self.y)
            lock.acquire(timeout=1, *a)
            lock.acquire(*a)
            lock.acquire(True, -1)
            lock.acquire(blocking=False)
            h(x=a.b, **kw)
            type(self)
            ex.enter_context(k=lock)
    """,
    "strings": '''
        from lockwatch import guarded_by
        X: "Foo" = 1
        Y: "Fo" "o" = 1
        Z: b"Foo" = 1
        @guarded_by("_lock", "a", "b" "c", f"d")
        class C:
            __guarded_by__ = {"_lock": ["x", "y" "z"], "k" "l": "m", f"n": "o"}
            name: "Optional[C]" = None
            def m(self, v: "int", w: "Optional[Bar]") -> "C":
                s = f"{self.x}" "plain" f"{self.y}"
                t = f"{self.z!r:>{self.w}}"
                u = (
                    "a"
                    "b"
                )
                return s, t, u
    ''',
    "positions": """
        async def  spaced():
            pass
        class  Spaced ( object ) :
            pass
        def \\
            continued():
            pass
        x = (1, 2)
        y = ((1, 2))
        z = ()
        g = (i for i in range(3))
        e = (  # comment
            1,
            2)
        try:
            pass
        except (ValueError, KeyError) as err:
            pass
        except \\
            TypeError as err2:
            pass
    """,
    "non-ASCII columns": """
        import threading
        café = "é"; lock = threading.Lock()
        def ñ(self):
            with self.lock_é: self.x = "ü"; self.y = café
            d = {"ß": 1}; self.z = d
            return f"{self.x}é{self.y}"
    """,
    "lambda and comprehension reads": """
        def f(self, items, k):
            cb = lambda a, *b, c=k, **d: g(key=a, other=self.x) or [i for i in items]
            s = {x for x in items if x}
            d = {k: v for k, v in items}
            return cb, s, d
        def g(a, b):
            a, b = b, a
            c, d = x.c, 1
            e, *f = items
            (h, i) = [1, 2]
    """,
    "async and loops": """
        import asyncio
        async def f(self, q):
            async with self.lock as l:
                async for item in q:
                    if not item:
                        break
                    await asyncio.sleep(0)
            for i in range(3):
                try:
                    x = await q.get()
                except Exception:
                    break
            else:
                pass
            while (m := q.get_nowait()):
                yield m
            x = yield from g()
    """,
    "match and try-star": """
        def f(lock, cmd):
            lock.acquire()
            match cmd:
                case "a":
                    lock.release()
                case _:
                    return
            del cmd.x, cmd[0]
            assert cmd, "msg"
            global G
            G += 1
    """,
    "subscripts": """
        def wrapper(*args):
            args[0].x = 1
            self = args[0]
            return args[0:1], args[1, 2], args[(1, 2)], args[a:b, c]
        def opt(a: Optional[Foo], b: typing.Optional[Bar, Baz], c: Foo | None, d: None | Foo):
            pass
    """,
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_constructs(name):
    _assert_same(textwrap.dedent(TRICKY[name]))


def test_crlf_and_form_feed():
    src = "import threading\r\nlock = threading.Lock()\r\n\x0c\r\ndef f():\r\n    with lock: x = (1,\r\n  2)\r\n"
    _assert_same(src)


# ---------------------------------------------------------------------- corpora
def _fixture_files() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "fixtures").rglob("*.py"))


def test_every_fixture():
    bad = []
    for rel in _fixture_files():
        src = (REPO / rel).read_text(encoding="utf-8")
        pair = _both(src, rel, Path(rel).stem)
        if pair and pair[0] != pair[1]:
            bad.append(f"{rel}: {_first_difference(*pair)}")
    assert not bad, "\n".join(bad)


def test_every_rule_example():
    bad = []
    n = 0
    for rule in all_rules():
        for ex in (*rule.valid, *rule.invalid):
            for path, src in ex.files.items():
                n += 1
                mod = path[:-3].replace("/", ".").removesuffix(".__init__")
                pair = _both(src, path, mod, path.endswith("__init__.py"))
                if pair and pair[0] != pair[1]:
                    bad.append(f"{rule.code} {path}: {_first_difference(*pair)}")
    assert n > 80
    assert not bad, "\n".join(bad)


def _stdlib_sample() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in ("test", "tests", "site-packages", "__pycache__")
                             and not d.startswith("idle_test"))
        files += [str(rel / f) for f in sorted(filenames) if f.endswith(".py")]
    files.sort()
    step = max(1, len(files) // STDLIB_SAMPLE)
    return files[::step][:STDLIB_SAMPLE]


@pytest.mark.parametrize("rel", _stdlib_sample())
def test_stdlib_sample(rel):
    path = Path(sysconfig.get_paths()["stdlib"]) / rel
    try:
        src = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        pytest.skip("not UTF-8 text")
    mod = rel[:-3].replace(os.sep, ".").removesuffix(".__init__")
    _assert_same(src, str(path), mod, rel.endswith("__init__.py"))


# ---------------------------------------------------------------------- the entry point
def test_entry_point_uses_ast_and_never_imports_libcst_for_plain_files():
    code = textwrap.dedent("""
        import sys
        from lockwatch.static.summarise import summarise_module
        s = summarise_module("import threading\\nlock = threading.Lock()\\n", "m.py", "m")
        assert "lock" in s.globals, s.globals
        print("libcst" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 701 f-strings from 3.12")
def test_pep701_nested_quotes():
    _assert_same(textwrap.dedent("""
        def f(self, args):
            return f'({', '.join(args)}){self.x}', f"{'a' "b"}" f'{self.y}'
    """))


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="PEP 695 syntax is native from 3.12")
def test_newer_syntax_falls_back_to_libcst():
    src = "import threading\nlock = threading.Lock()\ndef f[T](x: T) -> T:\n    with lock:\n        return x\n"
    s = summarise.summarise_module(src, "m.py", "m")
    assert s.functions["f"].events[0]["e"] == "acq"
    assert s.functions["f"].events[0]["r"] == "lock"


def test_syntax_errors_are_parse_errors():
    with pytest.raises(summarise.ParseError, match=r"syntax error at line 2"):
        summarise.summarise_module("x = 1\ndef (:\n", "bad.py", "bad")
    with pytest.raises(summarise.ParseError, match=r"too many nested parentheses|nesting too deep"):
        summarise.summarise_module("x = " + "(" * 300 + ")" * 300 + "\n", "deep.py", "deep")


def test_tree_handed_over_is_used():
    src = "import threading\nlock = threading.Lock()\n"
    tree = compile("other = 1\n", "m.py", "exec", ast.PyCF_ONLY_AST)
    s = summarise.summarise_module(src, "m.py", "m", tree=tree)
    assert "other" in s.globals and "lock" not in s.globals
