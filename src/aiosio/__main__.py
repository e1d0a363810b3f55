"""`python -m aiosio` runs the `aiosio` command line."""

from aiosio.cli.main import main

raise SystemExit(main())
