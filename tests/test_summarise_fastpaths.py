"""The shortcuts the ast walk takes for speed give what the general path gives: each case
is compared with the libcst summariser (the reference) where both read the same names, and
the expected facts are checked directly, with a clean look-alike next to each.

Shortcuts covered: the errno scan of except handlers skipped when an ASCII file never
spells ``EAGAIN``/``EWOULDBLOCK``; bodies walked by statement line without ``_Line``
objects (the release analysis gets the rest after the line); the alias target taken from
the assigned value's ref (not when the name assigned is the enclosing method's ``self``);
the name of a ``def``/``class`` read directly after one space."""

from __future__ import annotations

import textwrap

from walks import same_summary, summary_dict


def _calls(summary: dict, func: str) -> dict[str, dict]:
    return {ev["f"]: ev for ev in summary["functions"][func]["events"] if ev["e"] == "call"}


# ---------------------------------------------------------------------- errno handlers
ERRNO = """
    import errno
    def read(sock):
        try:
            return sock.recv(10)
        except OSError as e:
            if e.errno == errno.{name}:
                return None
            raise
"""


def test_errno_handler_marks_the_calls_it_covers():
    for name in ("EAGAIN", "EWOULDBLOCK"):
        s = same_summary(ERRNO.format(name=name))
        assert _calls(s, "read")["sock.recv"]["xc"] == ["errno:EAGAIN"]


def test_handler_without_errno_names_marks_nothing():
    s = same_summary(ERRNO.format(name="ENOENT"))
    assert "xc" not in _calls(s, "read")["sock.recv"]


def test_errno_spelt_in_a_comment_or_string_only_marks_nothing():
    src = textwrap.dedent(ERRNO.format(name="ENOENT")) + "# EAGAIN\nX = 'EWOULDBLOCK'\n"
    s = same_summary(src)
    assert "xc" not in _calls(s, "read")["sock.recv"]


def test_errno_name_spelt_with_non_ascii_letters_is_still_found():
    # Python reads identifiers NFKC-normalised: a fullwidth "Ｅ" makes the name EAGAIN,
    # although the text never spells "EAGAIN" (libcst keeps the raw spelling: ast only)
    s = summary_dict(textwrap.dedent(ERRNO.format(name="\uff25AGAIN")))
    assert _calls(s, "read")["sock.recv"]["xc"] == ["errno:EAGAIN"]
    s = summary_dict(textwrap.dedent(ERRNO.format(name="\uff25NOENT")))
    assert "xc" not in _calls(s, "read")["sock.recv"]


# ---------------------------------------------------------------------- statement lines
def _sites(summary: dict, func: str) -> list[tuple[str, str | None]]:
    return [(site["status"], site["at"]) for site in summary["functions"][func]["acquire_sites"]]


def test_release_analysis_sees_the_rest_after_a_statement_line():
    s = same_summary("""
        import threading
        lock = threading.Lock()
        def early(flag):
            lock.acquire(); work()
            if flag: return 1
            lock.release()
        def straight():
            lock.acquire(); work()
            other(); lock.release()
        def call_between():
            lock.acquire(); work()
            other()
            lock.release()
        def guarded():
            lock.acquire(); x = 1
            try: work()
            finally: lock.release()
        def negated():
            if not lock.acquire(False): return
            a = 1; b = 2
            work()
            lock.release()
        def negated_missing():
            if not lock.acquire(False): return
            a = 1; b = 2
    """)
    assert _sites(s, "early") == [("early-exit", 6)]
    assert _sites(s, "straight") == [("ok", None)]   # calls on the release's own line: not between
    assert _sites(s, "call_between") == [("no-finally", None)]
    assert _sites(s, "guarded") == [("ok", None)]
    assert _sites(s, "negated") == [("no-finally", None)]
    assert _sites(s, "negated_missing") == [("missing", None)]


def test_statement_line_ends_at_a_compound_statement_or_a_new_line():
    s = same_summary("""
        import threading
        lock = threading.Lock()
        def f():
            lock.acquire(); a = 1; b = (2,
              3); c = 4
            if a: return
            lock.release()
        def g():
            lock.acquire(); a = 1
            b = 2
            lock.release()
    """)
    assert _sites(s, "f") == [("early-exit", 7)]
    assert _sites(s, "g") == [("ok", None)]


# ---------------------------------------------------------------------- aliases
def test_alias_of_a_value_ref():
    s = same_summary("""
        class C:
            def m(self):
                lk = self._lock
                q = lk
                with q:
                    pass
                r = self.items[0]
                with r:
                    pass
    """)
    f = s["functions"]["C.m"]
    assert [ev["r"] for ev in f["events"] if ev["e"] == "acq"] == ["@self._lock", "@self.items.[]"]
    assert "lk" not in f["locals"] and "q" not in f["locals"]


def test_closure_rebinding_the_methods_self_is_no_alias_of_self():
    # ``self = self.other`` in a closure: the value is read while ``self`` is still the
    # method's, but the alias is made once ``self`` is the closure's own local, so it
    # stands for ``self.other`` (as libcst's walk has it), not ``@self.other``
    s = same_summary("""
        class C:
            def m(self):
                def cb():
                    self = self.other
                    s = self
                    with s._lock:
                        pass
                def cb2():
                    me = self
                    with me._lock:
                        pass
                return cb, cb2
    """)
    acq = [ev["r"] for ev in s["functions"]["C.m.<locals>.cb"]["events"] if ev["e"] == "acq"]
    assert acq == ["self.other._lock"]
    acq = [ev["r"] for ev in s["functions"]["C.m.<locals>.cb2"]["events"] if ev["e"] == "acq"]
    assert acq == ["@self._lock"]


# ---------------------------------------------------------------------- def/class names
def test_definition_names_and_positions():
    s = same_summary("""
        def plain(): pass
        def  two_spaces(): pass
        def\tafter_tab(): pass
        def \\
            continued(): pass
        async def coro(): pass
        async  def  coro2(): pass
        class  K: pass
        class L(K):
            def  m(self): pass
        def é(): pass
    """)
    got = {q: (f["line"], f["col"]) for q, f in s["functions"].items()}
    assert got["plain"] == (2, 5)
    assert got["two_spaces"] == (3, 6)
    assert got["after_tab"] == (4, 5)
    assert got["continued"] == (6, 5)
    assert got["coro"] == (7, 11)
    assert got["coro2"] == (8, 13)
    assert got["L.m"] == (11, 10)
    assert got["é"] == (12, 5)
    assert (s["classes"]["K"]["line"], s["classes"]["K"]["col"]) == (9, 8)


# ---------------------------------------------------------------------- call arguments
def test_walrus_in_arguments_rebinds_before_any_value_is_read():
    # all arguments are walked before the callee's ref and the argument values are read:
    # a ``:=`` in an argument changes them (the walk takes a shortcut only without ``:=``)
    s = same_summary("""
        class C:
            def m(self):
                lk = self._a
                use(lk, (lk := self._b), lk)
                lk.m(lk := self._c)
    """)
    calls = _calls(s, "C.m")
    assert calls["use"]["a"] == [{"r": "@self._b"}, None, {"r": "@self._b"}]
    assert "@self._c.m" in calls and "@self._b.m" not in calls


def test_arguments_without_walrus():
    s = same_summary("""
        class C:
            def m(self, x):
                lk = self._a
                use(lk, x, self, 1, None, *x)
                lk.m(x, "s", f(x))
    """)
    calls = _calls(s, "C.m")
    assert calls["use"]["a"] == [{"r": "@self._a"}, {"r": "x"}, {"r": "@self"}, {"const": 1},
                                 {"const": None}]
    assert calls["@self._a.m"]["a"] == [{"r": "x"}, {"const": "str", "s": "s"}, {"call": "f", "a": [{"r": "x"}], "k": {}}]
    assert {"lk", "x", "self", "None", "use", "f"} <= set(s["functions"]["C.m"]["reads"])
