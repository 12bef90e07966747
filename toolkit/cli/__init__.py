"""The ``toolkit`` command: one module per command group, argument parsing, printing.

Rule: may import every other package; nothing imports it but ``python -m toolkit`` and
the ``toolkit`` command's entry point. It holds no logic a Python user would need.
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
