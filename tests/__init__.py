"""The test suite, in folders that mirror the package (tests/spec for toolkit/spec, ...).

Each folder is a package, so that every test module has its own dotted name
(``tests.spec.test_spec``): two folders may hold modules of the same name, and a module
that reuses another's (``tests.registry.test_installed_plugins``) imports the very module
pytest runs. What tests share is in ``tests.helpers``; fixtures are in ``conftest.py``.
"""
