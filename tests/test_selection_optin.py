"""Opt-in rules (Rule.default = False) run only when selected; --extend-select adds to the
default set instead of replacing it."""

from lockwatch import rules
from lockwatch.config import Config, apply_overrides
from lockwatch.selection import rule_enabled

OPT_IN = [r for r in rules.all_rules() if not r.default]
DEFAULT_ON = [r for r in rules.all_rules() if r.default and r.static]


def test_there_are_opt_in_and_default_rules():
    assert OPT_IN and DEFAULT_ON


def test_default_set_leaves_opt_in_rules_out():
    cfg = Config()
    assert not any(rule_enabled(r, cfg) for r in OPT_IN)
    assert all(rule_enabled(r, cfg) for r in DEFAULT_ON)


def test_opt_in_rule_runs_when_selected_by_code_prefix_or_all():
    r = OPT_IN[0]
    for sel in (r.code, r.code[:3], "ALL", r.kind):
        assert rule_enabled(r, Config(select=[sel])), sel


def test_extend_select_adds_to_the_default_set():
    r = OPT_IN[0]
    cfg = apply_overrides(Config(), extend_select=[r.code])
    assert rule_enabled(r, cfg)
    assert all(rule_enabled(d, cfg) for d in DEFAULT_ON)


def test_ignore_still_wins():
    r = OPT_IN[0]
    assert not rule_enabled(r, Config(select=["ALL"], ignore=[r.code]))
