"""`lockwatch scan` warns on stderr about an exclude pattern that excluded nothing (the
seventh real-world batch: an anchored `--extend-exclude 'aiozk/test/**'` run from /tmp matched
nothing and the test suite was scanned without a word). The warning never changes the exit
status or the report, and stays silent where silence is expected (the pre-commit hook, files
named one by one, directories the defaults skip, a pattern for a place the scan did not walk).

Every test that checks a silence also shows the same setup warning without the reason for
silence, so none of them passes on a lockwatch that never warns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import test_cli_e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A lock-order cycle: one LW101 finding per file holding it, so excluding a file shows.
CYCLE = test_cli_e2e.SIMPLE_BAD


def run(cwd, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "lockwatch", "scan", "--jobs", "1", "--no-cache", *args],
                       check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert "internal error" not in r.stderr, r.stderr
    return r


def make(base, files, git=True):
    if git:
        (base / ".git").mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return base


def warnings(r):
    return [line for line in r.stderr.splitlines() if line.startswith("lockwatch: warning: exclude pattern")]


def project(tmp_path, pyproject=None):
    files = {"pkg/__init__.py": "", "pkg/core.py": CYCLE, "pkg/tests/__init__.py": "",
             "pkg/tests/test_core.py": CYCLE, "tools/gen.py": "x = 1\n"}
    if pyproject is not None:
        files["pyproject.toml"] = pyproject
    return make(tmp_path, files)


def paths(report_json):
    return sorted({f["path"] for f in json.loads(report_json)["findings"]})


def test_a_pattern_that_excludes_something_does_not_warn(tmp_path):
    proj = project(tmp_path)
    r = run(proj, "--format", "json", "--extend-exclude", "pkg/tests/**", ".")
    assert r.returncode == 1
    assert paths(r.stdout) == ["pkg/core.py"]  # the pattern did exclude the tests
    assert warnings(r) == []
    # the unanchored form excludes them too, silently
    r = run(proj, "--format", "json", "--extend-exclude", "tests", ".")
    assert paths(r.stdout) == ["pkg/core.py"] and warnings(r) == []
    # control: a pattern next to it that matches nothing is reported, the other is not
    r = run(proj, "--extend-exclude", "pkg/tests/**,pkg/tset/**", ".")
    assert [w.split("'")[1] for w in warnings(r)] == ["pkg/tset/**"]


def test_a_pattern_that_matches_nothing_warns_and_changes_nothing_else(tmp_path):
    proj = project(tmp_path)
    plain = run(proj, ".")
    r = run(proj, "--extend-exclude", "pkg/tset/**", ".")
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout) == (1, plain.stdout)
    assert warnings(plain) == [] and plain.stderr == ""
    [w] = warnings(r)
    # names the pattern, where it came from, and the directory it was matched against
    assert "'pkg/tset/**' (--extend-exclude) matched no path" in w
    assert f"relative to {proj} (the current directory" in w
    assert "did you mean" not in w
    # an unanchored pattern says that it matches names at any depth
    r = run(proj, "--exclude", "tset", ".")
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout)
    [w] = warnings(r)
    assert "'tset' (--exclude) matched no path" in w and "name at any depth" in w


def test_the_same_pattern_given_twice_warns_once(tmp_path):
    proj = project(tmp_path, '[tool.lockwatch]\nexclude = ["pkg/tset/**"]\n')
    r = run(proj, "--extend-exclude", "pkg/tset/**", "--extend-exclude", "pkg/tset/**", ".")
    assert len(warnings(r)) == 1 and "(--extend-exclude)" in warnings(r)[0]


def test_suggests_the_pattern_relative_to_the_scanned_directory(tmp_path):
    # The batch's case: run from a directory above the package, pattern written relative
    # to the package's parent.
    make(tmp_path, {}, git=True)
    make(tmp_path / "rw" / "src" / "pkg-1.0", {
        "pkg/__init__.py": "", "pkg/core.py": CYCLE, "pkg/test/__init__.py": "",
        "pkg/test/test_core.py": CYCLE}, git=False)
    target = "rw/src/pkg-1.0/pkg"
    r = run(tmp_path, "--format", "json", "--extend-exclude", "pkg/test/**", target)
    assert r.returncode == 1
    assert paths(r.stdout) == [f"{target}/core.py", f"{target}/test/test_core.py"]  # not excluded
    [w] = warnings(r)
    assert f"relative to {tmp_path} (the current directory" in w
    assert w.endswith(f"did you mean '{target}/test/**'?")
    # the suggestion is right: it excludes the test suite, and says nothing
    r = run(tmp_path, "--format", "json", "--extend-exclude", f"{target}/test/**", target)
    assert paths(r.stdout) == [f"{target}/core.py"] and warnings(r) == []
    # a misspelt directory has no suggestion: nothing it could mean was scanned
    r = run(tmp_path, "--extend-exclude", "pkg/tests/**", target)
    [w] = warnings(r)
    assert "did you mean" not in w


def test_outside_directory_is_the_base_and_the_suggestion_drops_its_name(tmp_path):
    proj = project(tmp_path / "proj")
    other = make(tmp_path / "elsewhere", {"lib/__init__.py": "", "lib/core.py": CYCLE,
                                          "test/test_lib.py": CYCLE}, git=False)
    r = run(proj, "--format", "json", "--extend-exclude", "elsewhere/test/**", str(other))
    assert r.returncode == 1 and len(paths(r.stdout)) == 2
    [w] = warnings(r)
    assert f"relative to {other} (named on the command line, outside the project)" in w
    assert w.endswith("did you mean 'test/**'?")


def test_hook_and_named_files_do_not_warn(tmp_path):
    proj = project(tmp_path, '[tool.lockwatch]\nextend-exclude = ["vendor/**"]\n')
    # control: a scan of the project reports the configured pattern that matches nothing
    r = run(proj, ".")
    [w] = warnings(r)
    assert "'vendor/**' ('extend-exclude' in pyproject.toml) matched no path" in w
    assert f"relative to {proj} (the project root, where pyproject.toml is)" in w
    # the pre-commit hook, given one changed file, says nothing about it; same findings
    hook = run(proj, "--hook", "pkg/core.py")
    assert hook.returncode == 1 and "pkg/core.py" in hook.stdout
    assert warnings(hook) == []
    hook2 = run(proj, "--hook", "--extend-exclude", "pkg/tset/**", "pkg/core.py")
    assert warnings(hook2) == [] and hook2.stdout == hook.stdout
    # files named one by one: nothing was walked, a pattern matching none of them is normal
    r = run(proj, "--extend-exclude", "pkg/tset/**", "pkg/core.py", "tools/gen.py")
    assert r.returncode == 1 and warnings(r) == []


def test_configuration_patterns(tmp_path):
    proj = project(tmp_path, '[tool.lockwatch]\nexclude = ["tools/*", "pkg/tset/*", "migrations"]\n'
                             'extend-exclude = ["gen/**"]\n')
    r = run(proj, "--format", "json", ".")
    assert paths(r.stdout) == ["pkg/core.py", "pkg/tests/test_core.py"]
    got = {w.split("'")[1]: w for w in warnings(r)}
    assert sorted(got) == ["gen/**", "migrations", "pkg/tset/*"]  # tools/* excluded tools/gen.py
    assert "('exclude' in pyproject.toml)" in got["pkg/tset/*"]
    assert "('extend-exclude' in pyproject.toml)" in got["gen/**"]
    # --exclude replaces the configured exclude: only its own and extend-exclude remain
    r = run(proj, "--exclude", "pkg/tests", ".")
    assert [w.split("'")[1] for w in warnings(r)] == ["gen/**"]


def test_configuration_patterns_for_places_a_partial_scan_did_not_walk(tmp_path):
    proj = project(tmp_path, '[tool.lockwatch]\nexclude = ["tools/*", "migrations", "pkg/tset/*"]\n')
    # scanning pkg alone: tools/ exists but was not walked, and a name pattern from the
    # configuration is for the whole project; a fixed part that exists nowhere still warns
    r = run(proj, "pkg")
    assert [w.split("'")[1] for w in warnings(r)] == ["pkg/tset/*"]
    # control: the same patterns on the command line, where an unanchored one is this run's
    r = run(tmp_path / "pkg", "--extend-exclude", "migrations", ".")
    assert [w.split("'")[1] for w in warnings(r)] == ["migrations", "pkg/tset/*"]


def test_default_skipped_and_redundant_patterns_do_not_warn(tmp_path):
    proj = project(tmp_path)
    make(proj, {"build/lib/x.py": CYCLE, ".venv/lib/y.py": CYCLE, "env3/pyvenv.cfg": "",
                "env3/lib/z.py": CYCLE}, git=False)
    # default names (present or not), patterns for what the defaults skipped (env3 is a
    # virtual environment by its pyvenv.cfg), and one below a directory another excluded
    r = run(proj, "--extend-exclude", "build/*,.venv,node_modules,dist/**,*.egg-info,*venv,env3/lib/*,"
            "pkg/tests,pkg/tests/deep/*", ".")
    assert r.returncode == 1 and warnings(r) == []
    # control: the same list with one pattern for a place that does not exist
    r = run(proj, "--extend-exclude", "build/*,.venv,node_modules,pkg/tests,pkg/tests/deep/*,pkg/nope/*", ".")
    assert [w.split("'")[1] for w in warnings(r)] == ["pkg/nope/*"]


def test_quiet_silences_the_warning(tmp_path):
    proj = project(tmp_path)
    loud = run(proj, "--extend-exclude", "pkg/tset/**", ".")
    assert len(warnings(loud)) == 1
    quiet = run(proj, "--quiet", "--extend-exclude", "pkg/tset/**", ".")
    assert quiet.returncode == loud.returncode == 1 and quiet.stderr == ""


def test_json_and_sarif_stdout_stay_valid_and_unchanged(tmp_path):
    proj = project(tmp_path)
    plain = {}
    for fmt in ("json", "sarif"):
        plain[fmt] = run(proj, "--format", fmt, ".")
        r = run(proj, "--format", fmt, "--extend-exclude", "pkg/tset/**,tset", ".")
        assert len(warnings(r)) == 2
        assert r.returncode == plain[fmt].returncode == 1
        assert json.loads(r.stdout) == json.loads(plain[fmt].stdout)
    # with --output the report file is the same and the warning still goes to stderr
    out = tmp_path / "report.json"
    r = run(proj, "--format", "json", "--output", str(out), "--extend-exclude", "pkg/tset/**", ".")
    assert r.stdout == "" and len(warnings(r)) == 1
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(plain["json"].stdout)
    # and with --write-baseline
    r = run(proj, "--write-baseline", str(tmp_path / "b.json"), "--extend-exclude", "pkg/tset/**", ".")
    assert r.returncode == 0 and len(warnings(r)) == 1
