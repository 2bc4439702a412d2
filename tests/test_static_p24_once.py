"""P24 (docs/real-world.md, hypercorn C19/C20, pymongo C49/C50): a blocking call in the
body of a one-shot lazy initialiser runs once per object (per process), on first use; every
later coroutine gets the cached value. The summaries mark such a body's events (``oi``,
SUMMARY_VERSION 31, both walks); LW201 neither reports a marked blocking call nor follows a
marked call into a helper that blocks (``asyncflow.once_only``), unless the project writes
the attribute/global again elsewhere.

Shapes (summarise_ast ``_Builder._once_ref``): ``if self.x is None:`` / ``if not self.x:`` /
``if g is None:`` / ``if not g:`` (``global g``), no ``else``/``elif``, the body assigning
that same ref at its own top level (not a falsy literal), no ``return``/``break``/
``continue`` in the body. Everything else stays as it was: the twins below are reported."""

from __future__ import annotations

import textwrap

import pytest
from walks import WALKS, findings, same_summary

LOGGER = """
import json


class Logger:
    def __init__(self, config):
        self.level = "info"
        if config.logconfig is not None:
            with open(config.logconfig) as f:
                self.level = json.load(f)["level"]

    async def info(self, msg):
        print(msg)
"""

CACHED_IS_NONE = """
class Config:
    logconfig = None
    _log = None

    @property
    def log(self):
        if self._log is None:
            self._log = Logger(self)
        return self._log
"""

CACHED_NOT = """
class Config:
    logconfig = None

    def __init__(self):
        self._log = None

    @property
    def log(self):
        if not self._log:
            self._log = Logger(self)
        return self._log
"""

USE = """

async def serve(config: Config):
    await config.log.info("Running")


async def handle(config: Config, request):
    await config.log.info(f"request {request}")
"""


def _lw201(src: str, walk: str) -> list[int]:
    return sorted(f.line for f in findings({"m.py": src}, walk) if f.code == "LW201")


def _prog(config: str, extra: str = "") -> str:
    return LOGGER + textwrap.dedent(config) + textwrap.dedent(extra) + USE


# ---------------------------------------------------------------------- the summary mark
def test_mark_on_the_body_only_and_both_walks_agree():
    s = same_summary(_prog(CACHED_IS_NONE))
    evs = s["functions"]["Config.log"]["events"]
    marked = [(e["e"], e.get("f") or e.get("r")) for e in evs if "oi" in e]
    assert marked == [("call", "Logger"), ("wr", "@self._log")]
    assert {e["oi"] for e in evs if "oi" in e} == {"@self._log"}
    # the test's read and the return's read are outside the body
    assert [e["e"] for e in evs if "oi" not in e] == ["rd", "rd"]


def test_nested_initialisers_keep_the_innermost_ref():
    s = same_summary("""
        class C:
            def m(self):
                if self._a is None:
                    self._a = 1
                    if self._b is None:
                        self._b = open("b")
                    open("a")
    """)
    calls = {e["f"] + str(e["l"]): e.get("oi") for e in s["functions"]["C.m"]["events"] if e["e"] == "call"}
    assert calls == {"open7": "@self._b", "open8": "@self._a"}


@pytest.mark.parametrize("body, why", [
    ("if self._x is None:\n        self._x = open('p').read()\n    else:\n        pass", "else"),
    ("if self._x is None:\n        self._x = 1\n    elif self._y:\n        pass", "elif"),
    ("if self._x is None:\n        for _ in range(2):\n            self._x = open('p')", "loop"),
    ("if self._x is None:\n        try:\n            self._x = open('p')\n        except OSError:\n            pass", "try"),
    ("if self._x is None:\n        with open('p') as f:\n            self._x = f.read()", "with"),
    ("if self._x is None:\n        self._x = None\n        open('p')", "None assigned"),
    ("if not self._x:\n        self._x = []\n        open('p')", "empty list assigned"),
    ("if not self._x:\n        self._x = ''\n        open('p')", "empty str assigned"),
    ("if self._x is None:\n        open('p')\n        if self._z:\n            return\n        self._x = 1", "return"),
    ("if self._x is not None:\n        self._x = open('p')", "is not None"),
    ("if self._x == None:\n        self._x = open('p')", "== None"),
    ("if self._x.y is None:\n        self._x.y = open('p')", "deeper attribute"),
    ("if self._x is None:\n        self._y = open('p')", "other attribute"),
    ("if self._x is None:\n        open('p')", "no assignment"),
    ("if self._x is None:\n        (self._x, b) = open('p'), 1", "tuple target"),
    ("if self._x is None:\n        self._x += open('p').read()", "augmented"),
])
def test_not_a_one_shot_initialiser(body, why):
    src = "class C:\n    def m(self):\n        " + body.replace("\n", "\n    ") + "\n"
    s = same_summary(src)
    assert not [e for e in s["functions"]["C.m"]["events"] if "oi" in e], why


def test_a_local_is_not_a_global():
    s = same_summary("""
        _S = None

        def f():
            s = _S
            if s is None:
                s = open("p").read()
            return s

        def g():
            if _S is None:
                _S2 = open("p").read()
    """)
    for fn in ("f", "g"):
        assert not [e for e in s["functions"][fn]["events"] if "oi" in e]


def test_one_line_body_is_marked():
    s = same_summary("""
        class C:
            def m(self):
                if not self._x: self._x = 1; open("y")
    """)
    assert [e.get("oi") for e in s["functions"]["C.m"]["events"] if e["e"] == "call"] == ["@self._x"]


# ---------------------------------------------------------------------- LW201: positives
@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("config", [CACHED_IS_NONE, CACHED_NOT], ids=["is-None", "not"])
def test_cached_property_is_not_reported(config, walk):
    assert _lw201(_prog(config), walk) == []


SUFFIXES = """
import json

_PUBLIC_SUFFIXES = None


def _load():
    with open("suffixes.json") as f:
        return json.load(f)


def is_public_suffix(domain):
    global _PUBLIC_SUFFIXES
    if _PUBLIC_SUFFIXES is None:
        _PUBLIC_SUFFIXES = _load()
    return domain in _PUBLIC_SUFFIXES


async def resolve(host):
    if is_public_suffix(host):
        raise ValueError(host)
    return host
"""


@pytest.mark.parametrize("walk", WALKS)
def test_global_filled_on_first_call_is_not_reported(walk):
    assert _lw201(SUFFIXES, walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_global_tested_with_not_is_not_reported(walk):
    src = SUFFIXES.replace("if _PUBLIC_SUFFIXES is None:", "if not _PUBLIC_SUFFIXES:")
    assert _lw201(src, walk) == []


@pytest.mark.parametrize("walk", WALKS)
def test_lazy_init_written_in_the_coroutine_is_not_reported(walk):
    src = """
        class Store:
            _data = None

            async def get(self, key):
                if self._data is None:
                    self._data = open("store.db").read()
                return key in self._data
    """
    assert _lw201(textwrap.dedent(src), walk) == []


# ---------------------------------------------------------------------- LW201: twins
UNCACHED = {
    "no-assignment": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    return Logger(self)
                return self._log
    """,
    "local-assigned": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                log = self._log
                if self._log is None:
                    log = Logger(self)
                return log
    """,
    "other-attribute": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    self._logger = Logger(self)
                return self._logger
    """,
    "else-branch": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    self._log = Logger(self)
                else:
                    self._log = Logger(self)
                return self._log
    """,
    "call-after-the-if": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    self._log = 1
                return Logger(self)
    """,
    "reset-elsewhere": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    self._log = Logger(self)
                return self._log

            def reload(self):
                self._log = None
    """,
    "reset-from-outside": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    self._log = Logger(self)
                return self._log


        def reload(config):
            config._log = None
    """,
    "inside-try": """
        class Config:
            logconfig = None
            _log = None

            @property
            def log(self):
                if self._log is None:
                    try:
                        self._log = Logger(self)
                    except OSError:
                        pass
                return self._log
    """,
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("name", sorted(UNCACHED))
def test_twins_stay_reported(name, walk):
    # serve's and handle's calls reach the one open: one merged finding at serve's
    src = _prog(UNCACHED[name])
    serve = src.splitlines().index('    await config.log.info("Running")') + 1
    assert _lw201(src, walk) == [serve]


@pytest.mark.parametrize("walk", WALKS)
def test_global_reset_elsewhere_stays_reported(walk):
    src = SUFFIXES + """

def reset():
    global _PUBLIC_SUFFIXES
    _PUBLIC_SUFFIXES = None
"""
    assert _lw201(src, walk) == [SUFFIXES.splitlines().index("    if is_public_suffix(host):") + 1]


@pytest.mark.parametrize("walk", WALKS)
def test_global_not_declared_is_a_local(walk):
    src = SUFFIXES.replace("    global _PUBLIC_SUFFIXES\n", "    _PUBLIC_SUFFIXES = None\n")
    assert _lw201(src, walk) == [SUFFIXES.splitlines().index("    if is_public_suffix(host):") + 1]


# ---------------------------------------------------------------------- LW131 unchanged
@pytest.mark.parametrize("walk", WALKS)
def test_lazy_init_under_a_thread_lock_is_still_lw131(walk):
    src = textwrap.dedent("""
        import subprocess
        import threading


        class Registry:
            def __init__(self):
                self._lock = threading.Lock()
                self._data = None

            def data(self):
                with self._lock:
                    if self._data is None:
                        self._data = subprocess.check_output(["git", "describe"])
                    return self._data
    """)
    got = [(f.code, f.line) for f in findings({"m.py": src}, walk)]
    assert got == [("LW131", 14)]
