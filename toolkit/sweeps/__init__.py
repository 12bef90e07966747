"""Sweeps: many runs of one spec (grids, random search, seeds) on an executor part, with a
trial log, exact resume and a summary.

Rule: imports any package below (``base`` to ``runs``), never ``cli``; everything here is
usable from Python without the command line. Executors are parts (``toolkit_executors``):
this package knows their interface (:mod:`toolkit.sweeps.executor`), never a concrete one.
"""
