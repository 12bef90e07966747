"""The gradient call and the engines behind it: the objective estimators differentiate,
bulk perturbation, exact interpolation (with the reach of each pair to later kinks), the
engines' named state, and central differences that know where declared kinks are (for
checking gradients).

Rule: imports ``toolkit.base``, ``registry``, ``spec`` and ``model``, never ``runs`` or
``cli``. Engines work from the ``Layer`` protocol and refuse, with a notice and a
fallback, a layer they cannot serve.
"""
