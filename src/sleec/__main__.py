"""``python -m sleec``: the command-line interface (see :mod:`sleec.cli`)."""

from sleec.cli import main

raise SystemExit(main())
