"""``python -m infoflow``: the command line."""

import sys

from infoflow.cli import main

sys.exit(main())
