"""``python -m lockwatch.runtime ...`` = ``lockwatch run ...`` (no CLI needed)."""
import sys

from lockwatch.runtime.run import main

sys.exit(main(sys.argv[1:]))
