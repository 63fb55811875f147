"""`python -m app` runs the `kabinet` command line."""

import sys

from app.cli import main

sys.exit(main())
