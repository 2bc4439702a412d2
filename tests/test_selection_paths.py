"""Per-file ignores are relative to the project root, wherever lockwatch runs from."""

import os

from lockwatch.config import Config
from lockwatch.findings import Finding
from lockwatch.selection import apply


def _finding(path: str) -> Finding:
    return Finding("LW111", "self-deadlock", "error", "m", path, 3)


def test_per_file_ignore_matches_from_a_subdirectory(tmp_path, monkeypatch):
    (tmp_path / "sub" / "shop").mkdir(parents=True)
    cfg = Config(root=str(tmp_path), per_file_ignores={"sub/shop/*.py": ["LW111"]})
    # Run from inside sub/: the displayed path is "shop/pool.py", not "sub/shop/pool.py".
    monkeypatch.chdir(tmp_path / "sub")
    assert apply([_finding("shop/pool.py")], cfg) == []


def test_per_file_ignore_leaves_other_files_and_codes(tmp_path, monkeypatch):
    (tmp_path / "sub" / "shop").mkdir(parents=True)
    cfg = Config(root=str(tmp_path), per_file_ignores={"sub/shop/*.py": ["LW111"]})
    monkeypatch.chdir(tmp_path)
    other = Finding("LW101", "lock-order-cycle", "error", "m", "sub/shop/pool.py", 3)
    elsewhere = _finding(os.path.join("lib", "pool.py"))
    assert apply([other, elsewhere], cfg) == [other, elsewhere]
