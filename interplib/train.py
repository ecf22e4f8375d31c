"""``python -m interplib.train``: the command line of :mod:`interplib.core.cli`."""

import sys

from interplib.core.cli import main

if __name__ == "__main__":
    sys.exit(main())
