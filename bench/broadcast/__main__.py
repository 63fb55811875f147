"""Entry point of `python -m bench.broadcast`."""

from bench.broadcast.run import main

raise SystemExit(main())
