"""``python -m toolkit``: the same as the ``toolkit`` command."""

from .cli.app import main

raise SystemExit(main())
