"""What the static tests share (the pattern tests ``test_static_p*``, the summariser shortcut
tests): summarise test sources with both walks, the ast summariser and the libcst one (which must agree on every case), and analyse
them as one program. Sources are keyed by path; module names come from the paths as a scan
gives them (``engine.module_name``: ``pkg/__init__.py`` is the package ``pkg``)."""

from __future__ import annotations

import ast
import json
import textwrap

from lockwatch.config import Config
from lockwatch.static import summarise_cst
from lockwatch.static.engine import analyse_summaries, module_name
from lockwatch.static.summarise_ast import summarise_tree

WALKS = ["ast", "cst"]


def summarise(src: str, path: str, walk: str):
    """One file's summary by the given walk ("ast" or "cst")."""
    mod, is_pkg = module_name(path)
    if walk == "ast":
        tree = compile(src, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        return summarise_tree(tree, src, path, mod, is_pkg)
    return summarise_cst.summarise_module(src, path, mod, is_pkg)


def summaries(files: dict[str, str], walk: str) -> dict:
    """{path: source} (dedented here) -> {module: summary}."""
    out = {}
    for path, src in files.items():
        s = summarise(textwrap.dedent(src), path, walk)
        out[s.module] = s
    return out


def findings(files: dict[str, str], walk: str) -> list:
    """The findings of the program made of ``files``, default configuration."""
    return analyse_summaries(summaries(files, walk), Config()).findings


def summary_dict(source: str, walk: str = "ast") -> dict:
    """``m.py``'s summary as a dict (``to_dict()``), source as given."""
    return summarise(source, "m.py", walk).to_dict()


def same_summary(source: str) -> dict:
    """The ast summary of the dedented source, after checking that it is the libcst
    summary, byte for byte."""
    source = textwrap.dedent(source)
    a = summary_dict(source, "ast")
    assert json.dumps(a) == json.dumps(summary_dict(source, "cst"))
    return a

