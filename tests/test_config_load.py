"""Configuration loading: discovery of the file, every key, kebab/snake case, and clear
errors naming the key and the file."""

from __future__ import annotations

import textwrap

import pytest

from lockwatch.config import (
    Config,
    ConfigError,
    apply_overrides,
    find_config_file,
    find_project_root,
    load,
)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


FULL = """
[project]
name = "demo"

[tool.lockwatch]
select = ["LW1", "blocking-under-lock"]
ignore = ["LW102"]
exclude = ["build/*"]
extend-exclude = ["gen/*"]
blocking-calls = ["mylib.net.fetch", "mylib.Client.call"]
jobs = 3
cache-dir = ".cache/lw"

[tool.lockwatch.per-file-ignores]
"tests/*" = ["LW131"]

[tool.lockwatch.lock-factories]
"mylib.locks.make_lock" = "lock"
"mylib.locks.make_rlock" = "rlock"

[tool.lockwatch.runtime]
hold-threshold = 2.5
report_only = true
"""


def test_full_table_is_loaded_and_paths_are_relative_to_the_file(tmp_path):
    write(tmp_path / "pyproject.toml", FULL)
    cfg = load(start=str(tmp_path / "src" / "pkg"))
    assert cfg.config_file == str(tmp_path / "pyproject.toml")
    assert cfg.root == str(tmp_path)
    assert cfg.select == ["LW1", "blocking-under-lock"]
    assert cfg.ignore == ["LW102"]
    assert cfg.exclude == ["build/*", "gen/*"]
    assert cfg.per_file_ignores == {"tests/*": ["LW131"]}
    assert cfg.lock_factories == {"mylib.locks.make_lock": "lock", "mylib.locks.make_rlock": "rlock"}
    assert cfg.blocking_calls == ["mylib.net.fetch", "mylib.Client.call"]
    assert cfg.jobs == 3
    assert cfg.cache_dir == str(tmp_path / ".cache" / "lw")
    assert cfg.runtime == {"hold_threshold": 2.5, "report_only": True}


def test_snake_case_keys_are_accepted(tmp_path):
    write(tmp_path / "pyproject.toml", """
        [tool.lockwatch]
        extend_exclude = ["x/*"]
        blocking_calls = ["a.b"]
        cache_dir = "c"
        [tool.lockwatch.per_file_ignores]
        "t/*" = ["LW1"]
    """)
    cfg = load(start=str(tmp_path))
    assert cfg.exclude == ["x/*"] and cfg.blocking_calls == ["a.b"]
    assert cfg.per_file_ignores == {"t/*": ["LW1"]}


def test_both_spellings_of_one_key_is_an_error(tmp_path):
    write(tmp_path / "pyproject.toml", """
        [tool.lockwatch]
        cache-dir = "a"
        cache_dir = "b"
    """)
    with pytest.raises(ConfigError, match="given twice"):
        load(start=str(tmp_path))


@pytest.mark.parametrize(
    "body, key",
    [
        ('selct = ["LW1"]', "selct"),
        ('select = "LW101"', "select"),
        ('select = ["LW1O1"]', "LW1O1"),
        ('ignore = ["no-such-kind"]', "no-such-kind"),
        ("jobs = -1", "jobs"),
        ('jobs = "2"', "jobs"),
        ("jobs = true", "jobs"),
        ('exclude = [1]', "exclude"),
        ('blocking-calls = ["not a name"]', "not a name"),
        ('cache-dir = ""', "cache-dir"),
        ("parse-timeout = 0", "parse-timeout"),
        ('parse-timeout = "20"', "parse-timeout"),
        ('runtime = 3', "runtime"),
        ('[tool.lockwatch.lock-factories]\n"a.b" = "mutex"', "a.b"),
        ('[tool.lockwatch.lock-factories]\n"a..b" = "lock"', "a..b"),
        ('[tool.lockwatch.per-file-ignores]\n"t/*" = ["bogus"]', "bogus"),
    ],
)
def test_bad_keys_and_values_name_the_key_and_the_file(tmp_path, body, key):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.lockwatch]\n" + body + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load(start=str(tmp_path))
    msg = str(exc.value)
    assert key in msg
    assert str(path) in msg


def test_invalid_toml_is_a_config_error(tmp_path):
    path = write(tmp_path / "pyproject.toml", "[tool.lockwatch\nselect = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load(start=str(tmp_path))
    assert find_config_file(str(tmp_path)) == str(path)


def test_walk_up_skips_pyproject_without_table_and_stops_at_git(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.lockwatch]\nselect = ["LW101"]\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "sub" / "pyproject.toml", '[project]\nname = "x"\n')
    # Inside the repo, the parent directory's settings must not leak in.
    cfg = load(start=str(repo / "sub"))
    assert cfg.config_file is None and cfg.select == []
    # Outside any repo, the nearest table wins.
    other = tmp_path / "other" / "deep"
    other.mkdir(parents=True)
    assert load(start=str(other)).select == ["LW101"]


def test_nearest_table_wins_and_start_may_be_a_file(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.lockwatch]\nselect = ["LW101"]\n')
    write(tmp_path / "pkg" / "pyproject.toml", '[tool.lockwatch]\nselect = ["LW111"]\n')
    f = write(tmp_path / "pkg" / "mod.py", "x = 1\n")
    assert load(start=str(f)).select == ["LW111"]


def test_lockwatch_toml_is_a_bare_table(tmp_path):
    write(tmp_path / "lockwatch.toml", 'ignore = ["LW131"]\n[runtime]\nreport-only = true\n')
    cfg = load(start=str(tmp_path))
    assert cfg.ignore == ["LW131"] and cfg.runtime == {"report_only": True}


def test_explicit_config_file(tmp_path):
    p = write(tmp_path / "conf" / "pyproject.toml", '[tool.lockwatch]\nignore = ["LW121"]\n')
    assert load(start=str(tmp_path), config_file=str(p)).ignore == ["LW121"]
    with pytest.raises(ConfigError, match="not found"):
        load(config_file=str(tmp_path / "missing.toml"))
    # An explicit pyproject without a lockwatch table means defaults, not an error.
    q = write(tmp_path / "plain" / "pyproject.toml", '[project]\nname = "p"\n')
    assert load(config_file=str(q)) == Config(root=str(q.parent), config_file=str(q))


def test_no_config_anywhere_gives_defaults_rooted_at_cwd(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = load()
    assert cfg.config_file is None and cfg.root == str(tmp_path) and cfg.select == []


def test_command_line_wins(tmp_path):
    write(tmp_path / "pyproject.toml", FULL)
    cfg = load(start=str(tmp_path))
    apply_overrides(cfg, select=["LW101"], ignore=["LW111"], exclude=["only/*"], extend_exclude=["more/*"],
                    jobs=1, cache_dir=str(tmp_path / "cc"), no_cache=True)
    assert cfg.select == ["LW101"]
    assert cfg.ignore == ["LW102", "LW111"]
    # --exclude replaces the file's exclude; the file's extend-exclude still applies.
    assert cfg.exclude == ["only/*", "gen/*", "more/*"]
    assert cfg.jobs == 1 and cfg.no_cache and cfg.cache_dir == str(tmp_path / "cc")
    with pytest.raises(ConfigError, match="--select"):
        apply_overrides(cfg, select=["nonsense"])


def test_options_not_given_keep_the_file_values(tmp_path):
    write(tmp_path / "pyproject.toml", FULL)
    cfg = load(start=str(tmp_path))
    before = Config(**{k: getattr(cfg, k) for k in cfg.__dataclass_fields__})
    apply_overrides(cfg, select=None, ignore=None, exclude=None, jobs=None, cache_dir=None, no_cache=False)
    assert cfg == before


def test_project_root(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / "a" / "b" / "m.py", "")
    assert find_project_root(str(tmp_path / "a" / "b")) == str(tmp_path)
    write(tmp_path / "a" / "pyproject.toml", "")
    assert find_project_root(str(tmp_path / "a" / "b" / "m.py")) == str(tmp_path / "a")


def test_lock_sorts_match_the_static_catalog():
    # The loader validates lock-factories sorts; the analyser must understand every one.
    catalog = pytest.importorskip("lockwatch.static.catalog")
    from lockwatch.config import LOCK_SORTS

    assert set(LOCK_SORTS) == set(catalog.SORTS)


def test_rule_names_select_their_code_only(monkeypatch):
    import lockwatch.rules as rules_mod
    from lockwatch.config import check_selector
    from lockwatch.rules import Rule

    demo = Rule(code="LW902", name="demo-nesting", kind="lock-order-cycle", severity="warning",
                summary="s", what="w", why="y", example="e", use_instead="u")
    monkeypatch.setattr(rules_mod, "_REGISTRY", {demo.code: demo})
    # A name means that one rule, not every rule of its kind.
    assert check_selector("demo-nesting", "--ignore") == "LW902"
    assert check_selector("lock-order-cycle", "--ignore") == "lock-order-cycle"
    with pytest.raises(ConfigError, match="demo-nestin'"):
        check_selector("demo-nestin", "--ignore")


def test_kinds_of_registered_rules_are_selectors_even_beyond_spec(monkeypatch):
    import lockwatch.rules as rules_mod
    from lockwatch.config import KINDS, check_selector
    from lockwatch.rules import Rule

    demo = Rule(code="LW903", name="demo-backlog", kind="demo-new-kind", severity="info",
                summary="s", what="w", why="y", example="e", use_instead="u")
    monkeypatch.setattr(rules_mod, "_REGISTRY", {demo.code: demo})
    assert "demo-new-kind" not in KINDS
    assert check_selector("demo-new-kind", "--select") == "demo-new-kind"


def test_parse_timeout_is_loaded(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.lockwatch]\nparse-timeout = 2.5\n", encoding="utf-8")
    assert load(start=str(tmp_path)).parse_timeout == 2.5
