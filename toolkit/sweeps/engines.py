"""The engine a sweep runs on: an executor part, looked up by name and made with its
settings, every mistake a one-line usage error saying how to fix it."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

from ..base.errors import MissingDependency, PluginError, SettingError, UsageError
from ..base.wording import describe_value, did_you_mean, quote
from ..registry.manager import get_plugin_manager
from ..registry.parts import check_settings, describe_exit
from ..registry.registry import Entry, Registry, UnknownPart
from .executor import TrialExecutor

__all__ = ["make_executor", "option"]

KIND = "executor"


def option(setting: str) -> str:
    """The command-line option of an engine's setting: ``dashboard`` -> ``--dashboard``."""
    return "--" + setting.replace("_", "-")


def make_executor(
    engine: str,
    workers: int | None,
    settings: Mapping[str, object],
    plugins: Sequence[str] = (),
) -> TrialExecutor:
    """The executor part ``engine`` made for ``workers`` trials at once (None: its default)
    with ``settings`` (a setting given as None counts as not given), among the installed
    parts and those of the ``plugins`` modules.

    UsageError (exit 2): an unknown engine (with the closest name), a setting the engine
    does not take (naming the engines that do), a bad setting, a missing optional library
    (with the pip command); PluginError for a part that returns no executor.
    """
    if workers is not None:
        workers = _workers(workers)
    registry = Registry.from_manager(get_plugin_manager(plugins))
    entry = _engine(registry, engine)
    given = {key: value for key, value in settings.items() if value is not None}
    _refuse_foreign(registry, engine, given, entry)
    full, problems = check_settings(entry.part, given)
    if problems:
        key, message, hint = problems[0]
        raise UsageError(f"{option(key)}: {message}" + (f"; {hint}" if hint else ""))
    try:
        executor = entry.part.fn(workers, **full)
    except MissingDependency as error:
        raise UsageError(f"--engine {engine}: {error.message}") from None
    except SettingError as error:
        raise UsageError(f"{option(error.setting)}: {error.message}") from None
    except SystemExit as exit:
        raise PluginError(f"engine {quote(engine)}: {describe_exit(exit)}") from exit
    if not isinstance(executor, TrialExecutor):
        raise PluginError(
            f"engine {quote(engine)} ({entry.provider}) gave {describe_value(executor)}, "
            "not an executor with submit and shutdown"
        )
    return executor


def _workers(workers: object) -> int:
    """``workers`` as an int: a whole number of at least 1 (numpy's too), else UsageError."""
    if (
        isinstance(workers, numbers.Integral)
        and not isinstance(workers, bool)
        and int(workers) >= 1
    ):
        return int(workers)
    raise UsageError(f"--workers {describe_value(workers)}: give a whole number of at least 1")


def _engine(registry: Registry, engine: str) -> Entry:
    try:
        return registry.lookup(KIND, engine)
    except UnknownPart as error:
        message = error.message.replace("unknown executor", "--engine: unknown engine")
        raise UsageError(f"{message}; {error.hint}") from None


def _refuse_foreign(
    registry: Registry, engine: str, given: Mapping[str, object], entry: Entry
) -> None:
    """A setting that ``engine`` does not take: name the engines that take it."""
    params = entry.part.params or {}
    for key in given:
        if key in params:
            continue
        takers = [
            other.name for other in registry.entries(KIND) if key in (other.part.params or {})
        ]
        known = ", ".join(option(name) for name in params) or "none"
        if takers:
            takes = " or ".join(f"--engine {name}" for name in takers)
            fix = f"it is a setting of {takes}; the {engine} engine's settings: {known}"
        else:
            fix = did_you_mean(key, params) + f"the {engine} engine's settings: {known}"
        raise UsageError(f"{option(key)}: the {engine} engine does not take it; {fix}")
