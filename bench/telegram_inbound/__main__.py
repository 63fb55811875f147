"""Entry point of `python -m bench.telegram_inbound`."""

from bench.telegram_inbound.run import main

raise SystemExit(main())
