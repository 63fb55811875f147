"""`python -m bot` keeps working: it is the `kabinet` command line (app.cli)."""

import sys

from app.cli import main

sys.exit(main())
