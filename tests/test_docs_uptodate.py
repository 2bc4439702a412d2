"""The docs cannot drift from the code: generated rule pages are current, every CLI option
and configuration key is documented, links resolve, README opens with the two commands
and .ci/run runs README's test command."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from lockwatch import cli, config, docs
from lockwatch.rules import Example, Rule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as fh:
        return fh.read()


def test_generated_rule_pages_are_up_to_date():
    stale = docs.stale(os.path.join(DOCS, "rules"), docs.expected_pages())
    assert stale == [], f"regenerate with: python -m lockwatch.docs  (stale: {stale})"


def test_generator_detects_changed_missing_and_leftover_pages(tmp_path):
    rule = Rule(code="LW901", name="demo", kind="deadlock", severity="error", summary="s | t",
                what="w", why="y", example="e", use_instead="u", valid=(Example.single(""),))
    pages = docs.expected_pages([rule])
    assert set(pages) == {"LW901.md", "README.md"}
    assert "s \\| t" in pages["README.md"]  # a pipe in a summary must not break the table
    assert docs.stale(str(tmp_path), pages) == ["LW901.md", "README.md"]
    assert docs.write_pages(str(tmp_path), pages) == ["LW901.md", "README.md"]
    assert docs.stale(str(tmp_path), pages) == []
    (tmp_path / "LW901.md").write_text("edited\n", encoding="utf-8")
    (tmp_path / "LW999.md").write_text("old rule\n", encoding="utf-8")
    assert docs.stale(str(tmp_path), pages) == ["LW901.md", "LW999.md"]
    docs.write_pages(str(tmp_path), pages)
    assert sorted(os.listdir(tmp_path)) == ["LW901.md", "README.md"]
    assert (tmp_path / "LW901.md").read_text(encoding="utf-8") == docs.GENERATED_NOTE + rule.doc()


def _scan_options():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    scan = sub.choices["scan"]
    return [s for a in scan._actions for s in a.option_strings if s.startswith("--") and s != "--help"]


def test_every_scan_option_is_documented():
    text = read("docs", "cli.md")
    missing = [o for o in _scan_options() if f"`{o}" not in text]
    assert missing == []


def test_every_config_key_is_documented():
    text = read("docs", "configuration.md")
    missing = [k for k in config._KEYS if f"`{k.replace('_', '-')}`" not in text]
    assert missing == []


def test_relative_links_in_docs_resolve():
    broken = []
    for dirpath, _, files in os.walk(DOCS):
        for name in files:
            if not name.endswith(".md"):
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8") as fh:
                text = fh.read()
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if "://" in target:
                    continue
                if not os.path.exists(os.path.join(dirpath, target)):
                    broken.append(f"{name}: {target}")
    assert broken == []


def test_readme_opens_with_the_two_commands():
    text = read("README.md")
    blocks = re.findall(r"```sh\n(.*?)\n```", text, re.DOTALL)
    assert len(blocks) >= 2
    first, second = blocks[0], blocks[1]
    # Nothing but the title may come before them.
    assert text.index(first) < text.index("\n## ")
    assert first.startswith("python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/lockwatch scan ")
    assert second.startswith("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && "
                             ".venv/bin/python -m pytest")
    assert "\n" not in first and "\n" not in second


def test_ci_runs_the_readme_test_command():
    readme_args = re.search(r"\.venv/bin/python -m pytest([^`\n]*)", read("README.md")).group(1).split()
    script = read(".ci", "run")
    sed = re.search(r'PYTEST_ARGS="\$\((sed .*?README\.md[^)]*)\)"', script)
    assert sed, ".ci/run must read the pytest arguments from README.md"
    out = subprocess.run(["bash", "-c", sed.group(1)], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == readme_args
    assert "set -euo pipefail" in script and "3.13" in script
    assert re.search(r"rc -eq 5", script), "pytest exit 5 (no tests) must fail CI"


@pytest.mark.parametrize("path", ["README.md", "docs/index.md", "docs/findings.md", "docs/cli.md"])
def test_docs_mention_no_unknown_commands(path):
    # Any `lockwatch <word>` in inline code or a code block must be a real subcommand.
    text = read(path)
    code = " ".join(re.findall(r"```.*?```", text, re.DOTALL))
    words = set(re.findall(r"`lockwatch ([a-z]\w*)", text)) | set(re.findall(r"^lockwatch ([a-z]\w*)", code, re.MULTILINE))
    import argparse

    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "daemon" in sub.choices  # (the set is read from the parser, not written out here)
    assert words <= set(sub.choices)


def test_every_run_option_is_documented():
    run = pytest.importorskip("lockwatch.runtime.run")
    text = read("docs", "runtime.md")
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", run.USAGE)) - {"--help"}
    missing = sorted(o for o in options if f"`{o}" not in text)
    assert missing == []


def test_readme_example_output_is_real_and_current():
    readme = read("README.md")
    assert docs.README_BEGIN in readme and docs.README_END in readme
    output = docs.example_output()
    assert "LW101 lock-order-cycle" in output and "LW111 self-deadlock" in output
    assert "close_safely" not in output  # the clean look-alike stays clean
    assert docs.readme_with_example(readme, output) == readme, "regenerate with: python -m lockwatch.docs"
