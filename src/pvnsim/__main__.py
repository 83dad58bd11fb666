"""``python -m pvnsim``: the command line."""

import sys

from pvnsim.cli import main

sys.exit(main())
