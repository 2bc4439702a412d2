"""Only for the optional C fast path of the runtime tracer; everything else is in
pyproject.toml. A failed build (no compiler) leaves the pure-Python tracer, which behaves
the same, only slower (see lockwatch/runtime/_fastpath.c for why it exists)."""

import sysconfig

from setuptools import Extension, setup

ext_modules = []
if not sysconfig.get_config_var("Py_GIL_DISABLED"):  # the C code relies on the GIL
    ext_modules.append(Extension("lockwatch.runtime._fastpath", ["lockwatch/runtime/_fastpath.c"], optional=True))

setup(ext_modules=ext_modules)
