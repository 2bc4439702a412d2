"""The ``lockwatch`` console script: hands everything to :mod:`lockwatch.cli`, except
``lockwatch scan --daemon ...``, which goes straight to the daemon client without importing
the command line's modules (``import lockwatch.cli`` alone costs ~0.1 s: configuration,
findings, argparse...). The client falls back to ``cli`` itself when the daemon cannot answer.
"""

from __future__ import annotations

import sys


def _wants_daemon(argv: list[str]) -> bool:
    if argv[:1] != ["scan"]:
        return False
    for a in argv[1:]:
        if a == "--":
            return False
        if a == "--daemon":
            return True
    return False


def program() -> int:
    argv = sys.argv[1:]
    if _wants_daemon(argv):
        from lockwatch.daemon.client import scan

        return scan(argv, _plain)
    from lockwatch.cli import program as cli_program

    return cli_program()


def _plain(argv: list[str]) -> int:
    from lockwatch.cli import run_plain

    return run_plain(argv)
