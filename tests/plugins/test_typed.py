"""The standard parts are typed as the core is: mypy --strict checks plugins/ too (the
package ships py.typed), so every function there says what it takes and gives."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tomllib

from tests.helpers import ROOT

MODULES = [path.stem for path in sorted((ROOT / "plugins").glob("*.py")) if path.stem != "__init__"]


def _functions(module: Any) -> Iterator[tuple[str, Callable[..., Any]]]:
    """The module's own functions, and the methods of its own classes."""
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            yield name, value
        elif inspect.isclass(value):
            for method_name, method in vars(value).items():
                if inspect.isfunction(method):
                    yield f"{name}.{method_name}", method


def test_mypy_checks_the_plugins_strictly() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert settings["strict"] is True
    assert "plugins" in settings["files"]
    assert (ROOT / "plugins" / "py.typed").exists()


@pytest.mark.parametrize("module_name", MODULES)
def test_every_plugin_function_is_annotated(module_name: str) -> None:
    module = importlib.import_module(f"toolkit_plugins.{module_name}")
    functions = dict(_functions(module))
    assert functions
    for name, function in functions.items():
        annotations = function.__annotations__
        parameters = [
            p for p in inspect.signature(function).parameters.values() if p.name != "self"
        ]
        missing = [p.name for p in parameters if p.name not in annotations]
        assert not missing, f"{module_name}.{name}: {missing} not annotated"
        assert "return" in annotations, f"{module_name}.{name}: no return type"
