"""``python -m interplib.train``: the command line of :mod:`interplib.core.cli`."""

import sys

from interplib.core.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
