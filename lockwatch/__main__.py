import sys

from lockwatch.cli import program

sys.exit(program())
