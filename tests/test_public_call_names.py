"""The linker records, on a linked method call of a queue or file object, the public class
the receiver was built as (``CallSite.recv_class``), from the constructor call it evaluated;
messages read it from the model (``ProgramModel.public_call_name``) and re-resolve nothing.
One test per receiver shape, each with a look-alike whose class is not known."""

from __future__ import annotations

from tests.test_static_link import model_of


def classes(m, fid: str) -> dict[tuple[int, str], str | None]:
    """(line, catalog name) -> recv_class of the renamed-type calls linked in ``fid``."""
    out = {}
    for cs in m.functions[fid].calls:
        for name in cs.ext:
            if name.rpartition(".")[0] in ("queue.Queue", "queue.BoundedQueue", "io.TextIOWrapper"):
                out[(cs.loc[1], name)] = cs.recv_class
    return out


def shown(m, fid: str, line: int, name: str) -> str:
    cs = next(c for c in m.functions[fid].calls if c.loc[1] == line and name in c.ext)
    return m.public_call_name(cs.loc[0], cs.loc[1], cs.loc[2], name)


def test_call_result_used_at_once():
    m = model_of({"m.py": """
        import multiprocessing


        def f(p):
            open(p, "rb").read()
            open(p).read()
            multiprocessing.Queue(3).put(1)
            open(p, "wb", 0).write(b"")
        """})
    assert classes(m, "m.f") == {
        (6, "io.TextIOWrapper.read"): "io.BufferedReader",
        # the look-alike in the same function: same ref, no mode, a text file
        (7, "io.TextIOWrapper.read"): "io.TextIOWrapper",
        # (a chained call's queue is not known bounded: the ref has no arguments)
        (8, "queue.Queue.put"): "multiprocessing.Queue",
        (9, "io.TextIOWrapper.write"): "io.FileIO",
    }
    assert shown(m, "m.f", 6, "io.TextIOWrapper.read") == "io.BufferedReader.read"
    assert shown(m, "m.f", 8, "queue.Queue.put") == "multiprocessing.Queue.put"


def test_local():
    m = model_of({"m.py": """
        import multiprocessing
        import queue


        def f(p, mode, ctx):
            a = open(p, "r+b")
            a.read()
            b = open(p, mode)
            b.read()
            q = multiprocessing.Queue(10)
            q.get()
            t = queue.Queue(10)
            t.get()
        """})
    assert classes(m, "m.f") == {
        (8, "io.TextIOWrapper.read"): "io.BufferedRandom",
        # a mode that is not a literal: not known, the message keeps the generic name
        (10, "io.TextIOWrapper.read"): None,
        (12, "queue.BoundedQueue.get"): "multiprocessing.Queue",
        (14, "queue.BoundedQueue.get"): "queue.Queue",
    }
    assert shown(m, "m.f", 10, "io.TextIOWrapper.read") == "io.TextIOWrapper.read"
    assert shown(m, "m.f", 12, "queue.BoundedQueue.get") == "multiprocessing.Queue.get"
    # the internal name is never shown
    assert shown(m, "m.f", 14, "queue.BoundedQueue.get") == "queue.Queue.get"


def test_self_attribute_set_in_another_method():
    m = model_of({"m.py": """
        import multiprocessing


        class Pool:
            def start(self):
                self._q = multiprocessing.Queue(100)
                self._f = open("log", "ab")

            def stop(self):
                self._q.put(None)
                self._f.write(b"x")
        """})
    assert classes(m, "m.Pool.stop") == {
        (11, "queue.BoundedQueue.put"): "multiprocessing.Queue",
        (12, "io.TextIOWrapper.write"): "io.BufferedWriter",
    }


def test_self_attribute_set_in_a_base_class():
    m = model_of({"base.py": """
        import multiprocessing


        class Base:
            def __init__(self, ctx):
                self._q = ctx.Queue()
                self._r = multiprocessing.get_context("spawn").Queue()
        """, "m.py": """
        import queue
        from base import Base


        class Child(Base):
            def drain(self):
                self._r.get()

        class Plain:
            def __init__(self):
                self._r = queue.Queue()

            def drain(self):
                self._r.get()
        """})
    assert classes(m, "m.Child.drain") == {(8, "queue.Queue.get"): "multiprocessing.Queue"}
    # the look-alike: a thread queue keeps its own name
    assert classes(m, "m.Plain.drain") == {(15, "queue.Queue.get"): "queue.Queue"}


def test_module_global():
    m = model_of({"m.py": """
        import multiprocessing
        import queue

        JOBS = multiprocessing.JoinableQueue(5)
        LOG = open("app.log", "a")
        EVENTS: queue.Queue


        def f():
            JOBS.put(1)
            LOG.write("x")
            EVENTS.get()
        """})
    assert classes(m, "m.f") == {
        (11, "queue.BoundedQueue.put"): "multiprocessing.JoinableQueue",
        (12, "io.TextIOWrapper.write"): "io.TextIOWrapper",
        # an annotation is no constructor call: the message keeps the generic name
        (13, "queue.Queue.get"): None,
    }
    assert shown(m, "m.f", 13, "queue.Queue.get") == "queue.Queue.get"


def test_project_helper_binds_its_parameters():
    # asyncssh's ``open_file(path, mode)``: the caller's literal mode decides the class
    m = model_of({"m.py": """
        def open_file(filename, mode, buffering=-1):
            return open(filename, mode, buffering=buffering)


        def f(p, mode):
            a = open_file(p, "r+b")
            a.read()
            open_file(p, "rb", 0).read()
            b = open_file(p, mode)
            b.read()
        """})
    assert classes(m, "m.f") == {
        (8, "io.TextIOWrapper.read"): "io.BufferedRandom",
        (9, "io.TextIOWrapper.read"): "io.FileIO",
        (11, "io.TextIOWrapper.read"): None,
    }


def test_parameter_receiver_is_not_known():
    m = model_of({"m.py": """
        import queue


        def f(q: queue.Queue):
            q.get()
        """})
    assert classes(m, "m.f") == {(6, "queue.Queue.get"): None}
    assert shown(m, "m.f", 6, "queue.Queue.get") == "queue.Queue.get"


def test_other_names_are_returned_as_they_are():
    m = model_of({"m.py": "import time\n\ndef f():\n    time.sleep(1)\n"})
    assert m.public_call_name("m.py", 4, 4, "time.sleep") == "time.sleep"
    # a renamed type at a place with no linked call: the public default
    assert m.public_call_name("m.py", 99, 1, "queue.BoundedQueue.put") == "queue.Queue.put"
