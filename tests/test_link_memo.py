"""The linker's memos give each scope, class and file its own answer: a ref is memoised per
(function, class, module), the overrides of a method per (class, method name), and the
display path of a lock definition per file. Each test has two look-alike places that a
memo keyed too coarsely would confuse."""

from __future__ import annotations

import textwrap

from lockwatch.config import Config
from lockwatch.static.engine import build_model, module_name
from lockwatch.static.summarise import summarise_module


def model_of(files: dict[str, str]):
    sums = {}
    for path, src in files.items():
        mod, is_pkg = module_name(path)
        sums[mod] = summarise_module(textwrap.dedent(src), path, mod, is_pkg)
    return build_model(sums, Config())


def acquired(m, fid: str) -> set[str]:
    return {a.lock for acqs in m.functions[fid].acqs.values() for a in acqs}


def targets(m, fid: str) -> set[str]:
    return {t for cs in m.functions[fid].calls for t, _recv in cs.targets}


def test_same_name_means_the_local_in_one_function_and_the_global_in_the_next():
    m = model_of({"a.py": """
        import threading

        lock = threading.Lock()


        def shadowed():
            lock = threading.RLock()
            with lock:
                pass


        def plain():
            with lock:
                pass


        def shadowed_again():
            lock = threading.Lock()
            with lock:
                pass
        """})
    assert acquired(m, "a.shadowed") == {"a.shadowed.lock"}
    assert acquired(m, "a.plain") == {"a.lock"}
    assert acquired(m, "a.shadowed_again") == {"a.shadowed_again.lock"}
    assert m.locks["a.shadowed.lock"].sort == "rlock"
    assert m.locks["a.shadowed_again.lock"].sort == "lock"


def test_self_ref_means_each_class_own_attribute():
    m = model_of({"a.py": """
        import threading


        class First:
            def __init__(self):
                self._lock = threading.Lock()

            def run(self):
                with self._lock:
                    pass


        class Second:
            def __init__(self):
                self._lock = threading.RLock()

            def run(self):
                with self._lock:
                    pass
        """})
    assert acquired(m, "a.First.run") == {"a.First._lock"}
    assert acquired(m, "a.Second.run") == {"a.Second._lock"}


def test_overrides_are_found_per_class_not_per_method_name():
    # both bases call self.step() from two methods; only Base has a subclass overriding it
    m = model_of({"base.py": """
        class Base:
            def step(self):
                pass

            def run(self):
                self.step()

            def again(self):
                self.step()


        class Lone:
            def step(self):
                pass

            def run(self):
                self.step()
        """, "sub.py": """
        from base import Base


        class Sub(Base):
            def step(self):
                pass
        """})
    assert targets(m, "base.Base.run") == {"base.Base.step", "sub.Sub.step"}
    assert targets(m, "base.Base.again") == {"base.Base.step", "sub.Sub.step"}
    assert targets(m, "base.Lone.run") == {"base.Lone.step"}


def test_each_lock_definition_keeps_its_own_file():
    m = model_of({"pkg/one.py": """
        import threading

        lock = threading.Lock()


        def f():
            mine = threading.Lock()
            with mine:
                pass
        """, "pkg/two.py": """
        import threading

        lock = threading.Lock()


        def f():
            mine = threading.Lock()
            with mine:
                pass
        """})
    assert m.locks["pkg.one.lock"].path.endswith("pkg/one.py")
    assert m.locks["pkg.one.f.mine"].path.endswith("pkg/one.py")
    assert m.locks["pkg.two.lock"].path.endswith("pkg/two.py")
    assert m.locks["pkg.two.f.mine"].path.endswith("pkg/two.py")
