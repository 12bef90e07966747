"""The plugin manager: entry points, local modules, and early checks of hook names.

A plugin that cannot be loaded is recorded as a :class:`PluginFailure` and skipped,
so one broken distribution never stops the others. A module the user names
(``-p MODULE`` or ``plugins:`` in a spec) that cannot be loaded is an error instead.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pluggy

from ..base.errors import PluginError
from ..base.wording import did_you_mean, raised
from . import hookspecs

__all__ = [
    "AUTOLOAD_VARIABLE",
    "ENTRY_POINT_GROUP",
    "STANDARD_DISTRIBUTION",
    "PluginFailure",
    "ToolkitPluginManager",
    "get_plugin_manager",
    "register_module",
]

ENTRY_POINT_GROUP = "toolkit.plugins"
STANDARD_DISTRIBUTION = "layer-toolkit"
AUTOLOAD_VARIABLE = "TOOLKIT_DISABLE_PLUGIN_AUTOLOAD"

_PLAIN_HOOK: pluggy.HookimplOpts = {
    "wrapper": False,
    "hookwrapper": False,
    "optionalhook": False,
    "tryfirst": False,
    "trylast": False,
    "specname": None,
}


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped: who it is, where it came from, and why."""

    plugin: str
    distribution: str | None
    error: str
    details: str = ""

    @property
    def provider(self) -> str:
        return f"{self.plugin} ({self.distribution or 'local module'})"

    def __str__(self) -> str:
        return f"plugin {self.provider} was skipped: {self.error}"


class ToolkitPluginManager(pluggy.PluginManager):
    """A pluggy manager that also takes unmarked ``toolkit_*`` functions as hooks.

    So a plugin module can be plain functions, with no import of the toolkit. It
    remembers each entry-point plugin's distribution, which plugins the user asked
    for by name, and the plugins it had to skip.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.distributions: dict[str, tuple[str, str]] = {}
        self.requested: set[str] = set()
        self.failures: list[PluginFailure] = []

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        unmarked_hook = name.startswith(f"{hookspecs.PROJECT}_") and inspect.isroutine(
            getattr(plugin, name, None)
        )
        if opts is None and unmarked_hook:
            return _PLAIN_HOOK
        return opts

    def provider(self, plugin: str) -> str:
        """``"plugin (distribution version)"``, or ``"plugin (local module)"``."""
        dist = self.distributions.get(plugin)
        return f"{plugin} ({' '.join(dist) if dist else 'local module'})"


def get_plugin_manager(
    modules: Iterable[str] = (), *, autoload: bool | None = None
) -> ToolkitPluginManager:
    """A new manager with the ``toolkit.plugins`` entry points and the given modules.

    Each module is looked up in the current folder first, then on the import path (as
    ``-p MODULE`` is, by ``toolkit`` and ``python -m toolkit`` alike). ``autoload=False``
    loads no entry point; by default every one is loaded, or only the standard parts'
    when the environment sets ``TOOLKIT_DISABLE_PLUGIN_AUTOLOAD=1``.
    """
    manager = ToolkitPluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs.Hookspecs)
    if autoload is None or autoload:
        only_standard = autoload is None and os.environ.get(AUTOLOAD_VARIABLE, "") not in ("", "0")
        _load_entry_points(manager, only_standard=only_standard)
    for module in modules:
        register_module(manager, module, [Path.cwd()])
    return manager


def register_module(
    manager: ToolkitPluginManager, module_name: str, folders: Sequence[Path] = ()
) -> None:
    """Import ``module_name``, looking in ``folders`` first and then on the import path,
    and register it as a plugin.

    A module already registered (installed, and found through its entry point) is the
    same plugin, under its entry point's name. Raises PluginError: the user asked for
    this module, so it must load, and under its own name.
    """
    manager.requested.add(module_name)
    try:
        with _looking_in(folders):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and f"{module_name}.".startswith(f"{error.name}."):
            raise PluginError(
                f"plugin module '{module_name}': cannot import it (no module named "
                f"'{error.name}'); check the name, and that the module is {_where(folders)}"
            ) from error
        raise _import_failed(module_name, error) from error
    except (Exception, SystemExit) as error:  # a module that exits as it loads is broken too
        raise _import_failed(module_name, error) from error
    if manager.is_registered(module):
        manager.requested.add(str(manager.get_name(module)))
        return
    if manager.has_plugin(module_name):
        raise PluginError(_name_taken(manager, module_name))
    problem = _register(manager, module, module_name)
    if problem:
        raise PluginError(f"plugin module '{module_name}': {problem}")


@contextmanager
def _looking_in(folders: Sequence[Path]) -> Iterator[None]:
    """Put ``folders`` before the import path while a named module (and what it imports
    as it loads) is imported; the import path is as it was afterwards."""
    entries = [str(Path(folder).resolve()) for folder in folders]
    sys.path[:0] = entries
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in entries:
            sys.path.remove(entry)  # the first occurrence: the one put there


def _where(folders: Sequence[Path]) -> str:
    """Where a named module is looked up, for a message: its folders, then the import path."""
    return "".join(f"in '{folder}' or " for folder in folders) + "on PYTHONPATH"


def _import_failed(module_name: str, error: BaseException) -> PluginError:
    """The module was found, and its own code raised while it was imported."""
    return PluginError(
        f"plugin module '{module_name}': importing it raised {_one_line(error)}; "
        "fix the module (toolkit --debug shows the traceback)"
    )


def _name_taken(manager: ToolkitPluginManager, module_name: str) -> str:
    """One line: another module is registered under this plugin name, and the ways out."""
    other = manager.get_plugin(module_name)
    source = getattr(other, "__name__", type(other).__name__)
    return (
        f"plugin module '{module_name}': the plugin name '{module_name}' is taken by "
        f"{manager.provider(module_name)}, module '{source}'; rename your module, or set "
        f"{AUTOLOAD_VARIABLE}=1 to load only the standard parts and the modules you name"
    )


def _load_entry_points(manager: ToolkitPluginManager, *, only_standard: bool) -> None:
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"]
        if only_standard and _normalize(dist_name) != STANDARD_DISTRIBUTION:
            continue
        for entry_point in dist.entry_points:
            if entry_point.group != ENTRY_POINT_GROUP or manager.has_plugin(entry_point.name):
                continue
            manager.distributions[entry_point.name] = (dist_name, dist.version)
            try:
                plugin = entry_point.load()
            except (Exception, SystemExit) as error:
                _skip(manager, entry_point.name, f"cannot import {entry_point.value}", error)
                continue
            if manager.is_registered(plugin):  # one module under two entry points: one plugin
                del manager.distributions[entry_point.name]
                continue
            problem = _register(manager, plugin, entry_point.name)
            if problem:
                _skip(manager, entry_point.name, problem)


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> str | None:
    """Register ``plugin`` whole, or not at all; returns what was wrong, if anything."""
    problem = _hook_problem(manager, plugin)
    if problem:
        return problem
    try:
        manager.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as error:
        if manager.has_plugin(name) and manager.get_plugin(name) is plugin:
            manager.unregister(name=name)
        return str(error).splitlines()[0]
    return None


def _hook_problem(manager: pluggy.PluginManager, plugin: object) -> str | None:
    """A hook the toolkit doesn't define, or one that asks for arguments, with the fix."""
    hooks = list(hookspecs.HOOK_NAMES)
    for attr in dir(plugin):
        if manager.parse_hookimpl_opts(plugin, attr) is None:
            continue
        if attr not in hooks:
            fix = did_you_mean(attr, hooks).rstrip() or "hooks: " + ", ".join(hooks)
            return f"unknown hook '{attr}'; {fix}"
        arguments = list(inspect.signature(getattr(plugin, attr)).parameters)
        if arguments:
            return (
                f"hook {attr} takes no arguments, but asks for {', '.join(arguments)}; remove them"
            )
    return None


def _skip(
    manager: ToolkitPluginManager, name: str, what: str, error: BaseException | None = None
) -> None:
    dist = manager.distributions.get(name)
    text = f"{what} ({_one_line(error)})" if error else what
    details = "".join(traceback.format_exception(error)) if error else ""
    manager.failures.append(PluginFailure(name, " ".join(dist) if dist else None, text, details))


def _one_line(error: BaseException) -> str:
    if isinstance(error, SystemExit):  # the module's own code ended the process
        return raised(error)
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
