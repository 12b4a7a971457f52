"""``python -m sleec``: the command-line interface (see :mod:`sleec.cli`)."""

from sleec._launch import main

raise SystemExit(main())
