"""``python -m toolkit``: the same as the ``toolkit`` command."""

from .cli import main

raise SystemExit(main())
