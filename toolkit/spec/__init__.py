"""The YAML spec language: source map and locations, overrides, schema, resolution against
the registry, and the loaded, typed spec.

Rule: imports only ``toolkit.base`` and ``toolkit.registry``; it never builds a network
or calls the gradient engines.
"""
