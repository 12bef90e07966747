"""Runs of a spec: building the network, training, checkpoints, run folders, inputs,
saved runs, plots, and the estimator comparison (gradcheck).

Rule: imports any package below (``base`` to ``gradients``), never ``cli``; everything
here is usable from Python without the command line.
"""
