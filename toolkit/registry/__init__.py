"""The kinds of part, their pluggy hooks, the plugin manager and the registry of parts.

Rule: imports only ``toolkit.base``. One ``Kind`` descriptor per kind of part
(``kinds.py``); the hook specifications and every per-kind fact derive from it.
"""
