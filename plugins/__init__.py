"""The standard parts of layer-toolkit, registered through the ``toolkit.plugins`` entry points.

One module per kind; each has the math as plain functions at the top and one hook
at the bottom returning the table of parts.
"""
