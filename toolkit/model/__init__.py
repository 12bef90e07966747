"""The network: a sequence of layers behind the ``Layer`` protocol, its parameters, a loss,
the forward pass; and the dataset container.

Rule: imports only ``toolkit.base`` and ``toolkit.registry`` (parts). It knows neither
the spec language nor the gradient engines: a network is given its gradient source.
"""
