"""prefilter.needs_full_parse: passes concurrency code, rejects plain code (a look-alike
next to every positive)."""

import pytest

from lockwatch.static.prefilter import needs_full_parse


@pytest.mark.parametrize("src", [
    "import threading\n",
    "from concurrent.futures import ThreadPoolExecutor\n",
    "import asyncio, os\n",
    "async def f():\n    pass\n",
    "def f(x):\n    return await_it(await x)\n",
    "lk = make()\nlk.acquire()\n",
    "self._lock = Lock()\n",
    b"from queue import Queue\n",
])
def test_passes(src):
    assert needs_full_parse(src)


@pytest.mark.parametrize("src", [
    "import os\n",
    "from threadpoolctl import x\n",          # not 'threading'
    "def asyncish():\n    pass\n",
    "awaiting = 1\n",
    "def f(clock):\n    return clock\n",       # 'clock' is not a lock call
    "x = 'acquire'\n",
])
def test_rejects(src):
    assert not needs_full_parse(src)
