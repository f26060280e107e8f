"""`python -m tui.cli`: the console script's own code path."""

import sys

from tui.cli.main import main

sys.exit(main())
