"""Score lockwatch's async checks on flake8-async's own test files (a peer's suite).

Downloads the flake8-async sdist from PyPI (``pip download --no-deps --no-binary :all:``)
into a temporary directory (nothing is committed or kept), takes
``tests/eval_files/async2[1-5]*.py`` and ``async300.py``, whose lines carry annotations
such as ``# ASYNC210: 4, 'requests.get'`` (one comment may hold several), scans each file
with lockwatch (no code is imported or run), and prints per ASYNC code and in total:

- annotated lines flagged by lockwatch (any LW2xx finding on the line) / annotated lines;
- lockwatch findings on unannotated lines (possible false alarms: read them, some are
  real hazards the peer does not flag).

    python benchmarks/flake8_async_score.py                 # download, score
    python benchmarks/flake8_async_score.py --src DIR       # an unpacked sdist already here
    python benchmarks/flake8_async_score.py --json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lockwatch.config import Config  # noqa: E402
from lockwatch.static.engine import scan_sources  # noqa: E402

ANNOTATION = re.compile(r"#\s*(ASYNC\d{3})(?:_\w+)?\s*:")
PATTERNS = ("async2[1-5]*.py", "async300.py")


def fetch(tmp: str) -> str:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "flake8-async", "-d", tmp], check=True)
    tars = glob.glob(os.path.join(tmp, "flake8_async-*.tar.gz"))
    if not tars:
        raise SystemExit("pip download produced no flake8_async sdist")
    with tarfile.open(tars[0]) as tf:
        members = [m for m in tf.getmembers() if "/tests/eval_files/" in m.name and m.isfile()]
        tf.extractall(tmp, members=members)
    return glob.glob(os.path.join(tmp, "flake8_async-*"))[0]


def eval_files(src: str) -> list[str]:
    d = os.path.join(src, "tests", "eval_files")
    out = set()
    for pat in PATTERNS:
        out.update(glob.glob(os.path.join(d, pat)))
    return sorted(out)


def annotations(source: str) -> dict[int, set[str]]:
    out = {}
    for i, line in enumerate(source.splitlines(), 1):
        codes = set(ANNOTATION.findall(line))
        if codes:
            out[i] = codes
    return out


def score(files: list[str]) -> dict:
    per_code = defaultdict(lambda: {"annotated": 0, "flagged": 0, "missed": []})
    unannotated = []
    errors = []
    for path in files:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as fh:
            src = fh.read()
        ann = annotations(src)
        rep = scan_sources({name: src}, Config(select=["LW2"]))
        errors.extend(f"{e.path}: {e.message}" for e in rep.errors)
        flagged: dict[int, list] = defaultdict(list)
        for f in rep.findings:
            if f.code.startswith("LW2"):
                flagged[f.line].append(f)
        lines = src.splitlines()
        for ln, codes in sorted(ann.items()):
            for code in codes:
                c = per_code[code]
                c["annotated"] += 1
                if ln in flagged:
                    c["flagged"] += 1
                else:
                    c["missed"].append(f"{name}:{ln}: {lines[ln - 1].strip()}")
        for ln, fs in sorted(flagged.items()):
            if ln not in ann:
                for f in fs:
                    unannotated.append(f"{name}:{ln}: {f.code} {f.message}  | {lines[ln - 1].strip()}")
    return {"codes": dict(per_code), "unannotated": unannotated, "errors": errors,
            "files": [os.path.basename(f) for f in files]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="an unpacked flake8-async sdist (skip the download)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="no per-line lists")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="f8a-") as tmp:
        src = args.src or fetch(tmp)
        res = score(eval_files(src))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    tot_a = tot_f = 0
    print(f"files: {', '.join(res['files'])}")
    print(f"{'code':10} {'flagged/annotated':>18} {'recall':>8}")
    for code in sorted(res["codes"]):
        c = res["codes"][code]
        tot_a += c["annotated"]
        tot_f += c["flagged"]
        print(f"{code:10} {c['flagged']:8}/{c['annotated']:<9} {100.0 * c['flagged'] / c['annotated']:7.1f}%")
    print(f"{'TOTAL':10} {tot_f:8}/{tot_a:<9} {100.0 * tot_f / max(tot_a, 1):7.1f}%")
    print(f"lockwatch findings on unannotated lines: {len(res['unannotated'])}")
    if res["errors"]:
        print("inputs not analysed:", *res["errors"], sep="\n  ")
    if not args.quiet:
        print("\n-- missed annotated lines")
        for code in sorted(res["codes"]):
            for m in res["codes"][code]["missed"]:
                print(f"  {code} {m}")
        print("\n-- findings on unannotated lines")
        for u in res["unannotated"]:
            print(f"  {u}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
