"""The ground floor: errors, wording, random generators, bounded array files, text columns.

Rule: imports nothing from the toolkit's other packages. What lives here is needed
everywhere and knows nothing of parts, specs or networks.
"""
