"""The plugin manager: entry points, local modules, and early checks of hook names."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Iterable

import pluggy

from . import hookspecs
from .errors import PluginError
from .kinds import KINDS
from .suggest import did_you_mean

__all__ = ["ENTRY_POINT_GROUP", "ToolkitPluginManager", "get_plugin_manager"]

ENTRY_POINT_GROUP = "toolkit.plugins"


_PLAIN_HOOK: pluggy.HookimplOpts = {
    "wrapper": False,
    "hookwrapper": False,
    "optionalhook": False,
    "tryfirst": False,
    "trylast": False,
    "specname": None,
}


class ToolkitPluginManager(pluggy.PluginManager):
    """A pluggy manager that also takes unmarked ``toolkit_*`` functions as hooks.

    So a plugin module can be plain functions, with no import of the toolkit. It also
    remembers which distribution (name, version) each entry-point plugin came from.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.distributions: dict[str, tuple[str, str]] = {}

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        unmarked_hook = name.startswith(f"{hookspecs.PROJECT}_") and inspect.isroutine(
            getattr(plugin, name, None)
        )
        if opts is None and unmarked_hook:
            return _PLAIN_HOOK
        return opts


def get_plugin_manager(
    modules: Iterable[str] = (), *, autoload: bool = True
) -> ToolkitPluginManager:
    """A new manager with every ``toolkit.plugins`` entry point and the given modules."""
    manager = ToolkitPluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    if autoload:
        _load_entry_points(manager)
    for module in modules:
        register_module(manager, module)
    return manager


def register_module(manager: pluggy.PluginManager, module_name: str) -> None:
    """Import ``module_name`` through the normal import path and register it as a plugin."""
    if manager.has_plugin(module_name):
        return
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise PluginError(
            f"plugin module '{module_name}': cannot import it ({type(error).__name__}: {error}); "
            "check the name and that its folder is on PYTHONPATH"
        ) from error
    _register(manager, module, module_name)


def _load_entry_points(manager: ToolkitPluginManager) -> None:
    for dist in importlib.metadata.distributions():
        for entry_point in dist.entry_points:
            if entry_point.group != ENTRY_POINT_GROUP or manager.has_plugin(entry_point.name):
                continue
            where = f"plugin '{entry_point.name}' (from {dist.metadata['Name']})"
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise PluginError(
                    f"{where}: cannot import {entry_point.value} ({type(error).__name__}: {error})"
                ) from error
            _register(manager, plugin, entry_point.name)
            manager.distributions[entry_point.name] = (dist.metadata["Name"], dist.version)


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register ``plugin``, rejecting hook names the toolkit doesn't define."""
    unknown = [
        attr
        for attr in dir(plugin)
        if attr.startswith(f"{hookspecs.PROJECT}_")
        and manager.parse_hookimpl_opts(plugin, attr) is not None
        and not hasattr(hookspecs, attr)
    ]
    if unknown:
        hooks = [kind.hook for kind in KINDS]
        raise PluginError(
            f"plugin '{name}': unknown hook '{unknown[0]}'; "
            + (did_you_mean(unknown[0], hooks) or f"hooks: {', '.join(hooks)}").rstrip()
        )
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        raise PluginError(f"plugin '{name}': {error}") from error
