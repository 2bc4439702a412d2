"""discover(): which files, which module names, what is skipped and what is reported."""

from __future__ import annotations

import os

import pytest

from lockwatch.config import Config
from lockwatch.static.discover import discover


def touch(p, text="x = 1\n"):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def by_module(files):
    return {f.module: f for f in files}


def test_module_names_packages_src_layout_and_top_level(tmp_path):
    touch(tmp_path / "src/pkg/__init__.py")
    touch(tmp_path / "src/pkg/sub/__init__.py")
    touch(tmp_path / "src/pkg/sub/mod.py")
    touch(tmp_path / "script.py")
    touch(tmp_path / "notapkg/helper.py")  # no __init__: top-level module of its own root
    files, errors = discover([str(tmp_path)], Config(root=str(tmp_path)))
    assert errors == []
    m = by_module(files)
    assert set(m) == {"pkg", "pkg.sub", "pkg.sub.mod", "script", "helper"}
    assert m["pkg"].is_package and m["pkg.sub"].is_package and not m["pkg.sub.mod"].is_package
    assert m["pkg.sub.mod"].root == str(tmp_path / "src")
    assert m["script"].root == str(tmp_path)
    assert m["helper"].root == str(tmp_path / "notapkg")
    assert m["pkg.sub.mod"].abspath == str(tmp_path / "src/pkg/sub/mod.py")


def test_display_paths_are_relative_to_cwd(tmp_path, monkeypatch):
    touch(tmp_path / "a/b.py")
    monkeypatch.chdir(tmp_path)
    files, _ = discover(["a"], Config())
    assert [f.path for f in files] == ["a/b.py"]


def test_order_is_deterministic_and_dirs_are_sorted(tmp_path):
    for name in ["z.py", "a.py", "m/b.py", "m/a.py", "c/x.py"]:
        touch(tmp_path / name)
    files, _ = discover([str(tmp_path)], Config(root=str(tmp_path)))
    rel = [os.path.relpath(f.abspath, tmp_path) for f in files]
    assert rel == ["a.py", "z.py", "c/x.py", "m/a.py", "m/b.py"]
    again, _ = discover([str(tmp_path)], Config(root=str(tmp_path)))
    assert [f.abspath for f in again] == [f.abspath for f in files]


def test_only_py_files_when_walking_but_a_named_file_is_taken(tmp_path):
    touch(tmp_path / "a.py")
    touch(tmp_path / "b.pyi")
    touch(tmp_path / "c.txt")
    touch(tmp_path / "tool")  # a script without suffix
    files, _ = discover([str(tmp_path)], Config(root=str(tmp_path)))
    assert [f.module for f in files] == ["a"]
    files, _ = discover([str(tmp_path / "tool")], Config(root=str(tmp_path)))
    assert [f.module for f in files] == ["tool"]


def test_default_skips_while_walking(tmp_path):
    touch(tmp_path / "keep.py")
    for d in [".git", ".venv", "venv", "__pycache__", "node_modules", ".tox", "build", "dist",
              "lib/site-packages/dep", "proj.egg-info", ".lockwatch_cache"]:
        touch(tmp_path / d / "skipped.py")
    touch(tmp_path / "myenv/pyvenv.cfg", "home = /usr\n")  # a venv under any name
    touch(tmp_path / "myenv/lib/x.py")
    files, errors = discover([str(tmp_path)], Config(root=str(tmp_path)))
    assert [f.module for f in files] == ["keep"]
    assert errors == []


def test_build_package_is_not_skipped(tmp_path):
    touch(tmp_path / "build/__init__.py")
    touch(tmp_path / "build/steps.py")
    files, _ = discover([str(tmp_path)], Config(root=str(tmp_path)))
    assert {f.module for f in files} == {"build", "build.steps"}


def test_explicitly_named_default_skipped_dir_is_scanned(tmp_path):
    touch(tmp_path / "build/gen.py")
    touch(tmp_path / ".venv/tool.py")
    files, _ = discover([str(tmp_path / "build"), str(tmp_path / ".venv/tool.py")], Config(root=str(tmp_path)))
    assert {f.module for f in files} == {"gen", "tool"}


@pytest.mark.parametrize("pattern,gone", [
    ("vendor", {"vendor.lib"}),          # bare name: any component
    ("vendor/", {"vendor.lib"}),
    ("*_pb2.py", {"api_pb2"}),
    ("pkg/gen", {"pkg.gen.x"}),          # anchored at root
    ("gen", {"pkg.gen.x"}),
    ("**/gen", {"pkg.gen.x"}),
    ("x.py", {"pkg.gen.x"}),
    ("nomatch", set()),
])
def test_exclude_globs(tmp_path, pattern, gone):
    touch(tmp_path / "vendor/__init__.py", "")
    touch(tmp_path / "vendor/lib.py")
    touch(tmp_path / "api_pb2.py")
    touch(tmp_path / "pkg/__init__.py", "")
    touch(tmp_path / "pkg/gen/__init__.py", "")
    touch(tmp_path / "pkg/gen/x.py")
    touch(tmp_path / "main.py")
    all_mods = {"vendor", "vendor.lib", "api_pb2", "pkg", "pkg.gen", "pkg.gen.x", "main"}
    files, _ = discover([str(tmp_path)], Config(root=str(tmp_path), exclude=[pattern]))
    mods = {f.module for f in files}
    assert gone <= all_mods - mods
    assert "main" in mods and "pkg" in mods


def test_anchored_exclude_does_not_match_deeper_same_name(tmp_path):
    touch(tmp_path / "gen/a.py")
    touch(tmp_path / "pkg/gen/b.py")
    files, _ = discover([str(tmp_path)], Config(root=str(tmp_path), exclude=["/gen"]))
    assert {f.module for f in files} == {"b"}


def test_exclude_applies_to_explicitly_named_files(tmp_path):
    # pre-commit names changed files explicitly; an excluded one must stay excluded
    touch(tmp_path / "vendor/lib.py")
    touch(tmp_path / "app.py")
    files, errors = discover([str(tmp_path / "vendor/lib.py"), str(tmp_path / "app.py")],
                             Config(root=str(tmp_path), exclude=["vendor"]))
    assert [f.module for f in files] == ["app"] and errors == []


def test_anchored_exclude_under_a_directory_outside_the_project(tmp_path):
    # `lockwatch scan /elsewhere --extend-exclude 'test/**'` run from a project: the glob is
    # taken relative to /elsewhere, not to the project root (where it could never match)
    project, other = tmp_path / "project", tmp_path / "elsewhere"
    touch(project / "app.py")
    touch(other / "test/test_a.py")
    touch(other / "lib/test/keep.py")
    touch(other / "lib/a.py")
    cfg = Config(root=str(project), exclude=["test/**"])
    files, _ = discover([str(other)], cfg)
    assert sorted(os.path.relpath(f.abspath, other) for f in files) == ["lib/a.py", "lib/test/keep.py"]
    # inside the project the root still anchors
    files, _ = discover([str(project)], cfg)
    assert [f.module for f in files] == ["app"]


def test_missing_explicit_path_is_an_error(tmp_path):
    touch(tmp_path / "a.py")
    files, errors = discover([str(tmp_path / "nope.py"), str(tmp_path / "a.py")], Config(root=str(tmp_path)))
    assert [f.module for f in files] == ["a"]
    assert [(os.path.basename(e.path), e.message) for e in errors] == [("nope.py", "no such file or directory")]


def test_same_file_twice_and_through_symlink_is_taken_once_by_real_name(tmp_path):
    touch(tmp_path / "real.py")
    os.symlink("real.py", tmp_path / "a_link.py")
    files, errors = discover([str(tmp_path), str(tmp_path / "real.py")], Config(root=str(tmp_path)))
    assert [f.module for f in files] == ["real"] and errors == []


def test_symlinked_directory_is_followed(tmp_path):
    touch(tmp_path / "elsewhere/lib.py")
    (tmp_path / "proj").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "proj/linked")
    files, errors = discover([str(tmp_path / "proj")], Config(root=str(tmp_path)))
    assert [f.module for f in files] == ["lib"] and errors == []
