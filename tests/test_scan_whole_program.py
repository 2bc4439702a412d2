"""The scan analyses every file, not only those a byte-level pre-pass flags as concurrency
code plus what they call (issue #4's "demand-driven" slice; measured and not adopted, see
``lockwatch/static/prefilter.py`` and ``benchmarks/bench_demand_slice.py``).

Why, as a test: rules that report the *absence* of something (a join, an await, a release)
need the code that would clear them, and that code can live in a module that never mentions
threads and that the flagged module never calls. Here ``service.py`` joins the worker's
thread; a slice seeded by ``worker.py`` would not contain it and would report a false LW211.
"""

from __future__ import annotations

from lockwatch.config import Config
from lockwatch.static import engine
from lockwatch.static.prefilter import needs_full_parse

WORKER = (
    "import threading\n"
    "\n"
    "\n"
    "class Worker:\n"
    "    def __init__(self):\n"
    "        self._thread = threading.Thread(target=self._run)\n"
    "        self._thread.start()\n"
    "\n"
    "    def _run(self):\n"
    "        pass\n"
)

SERVICE = (
    "from app.worker import Worker\n"
    "\n"
    "\n"
    "class Service:\n"
    "    def __init__(self):\n"
    "        self.worker = Worker()\n"
    "\n"
    "    def close(self):\n"
    "        self.worker._thread.{stop}\n"
)


def scan(tmp_path, stop: str):
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "worker.py").write_text(WORKER)
    (app / "service.py").write_text(SERVICE.format(stop=stop))
    return engine.scan([str(app)], Config(root=str(tmp_path), no_cache=True))


def test_a_join_in_a_module_without_concurrency_words_clears_lw211(tmp_path):
    report = scan(tmp_path, "join()")
    assert not needs_full_parse(SERVICE.format(stop="join()"))  # the pre-pass would skip it
    assert report.findings == []


def test_without_that_join_the_thread_is_reported(tmp_path):
    report = scan(tmp_path, "name")
    assert [(f.code, f.location.path.rsplit("/", 1)[-1], f.location.line) for f in report.findings] \
        == [("LW211", "worker.py", 6)]
