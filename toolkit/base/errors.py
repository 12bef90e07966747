"""The toolkit's error types: each carries a one-line message and an exit code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .wording import one_line

__all__ = [
    "Location",
    "MissingDependency",
    "PluginError",
    "Problem",
    "RunError",
    "SettingError",
    "SpecError",
    "ToolkitError",
    "ToolkitNotice",
    "UsageError",
    "warning_line",
]


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file with line and column, or a command-line override."""

    source: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        source = one_line(self.source)  # a file name or a --set may hold a line break
        if self.line is None:
            return source
        return f"{source} line {self.line}, column {self.column}"


@dataclass(frozen=True)
class Problem:
    """One problem in a spec: the key path, what is wrong, where, and how to fix it.

    It is always one line: text that carries user text from elsewhere (a plugin's message,
    PyYAML's) has its line breaks escaped.
    """

    path: str
    message: str
    location: Location | None = None
    hint: str = ""

    def __str__(self) -> str:
        message = one_line(self.message)
        text = f"{one_line(self.path)}: {message}" if self.path else message
        if self.location is not None:
            text += f" ({self.location})"
        if self.hint:
            text += f"; {one_line(self.hint)}"
        return text


class ToolkitNotice(UserWarning):
    """Something the toolkit chose to do differently, said in one line; not an error."""


class ToolkitError(Exception):
    """Base of every error the toolkit reports to its users."""

    exit_code = 1


class SpecError(ToolkitError):
    """A spec, an override or a part's settings are wrong; nothing was run."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class PluginError(ToolkitError):
    """A plugin could not be loaded, or what it registered is unusable."""

    exit_code = 2


class UsageError(ToolkitError):
    """The command line asked for something that doesn't exist or doesn't fit."""

    exit_code = 2


class SettingError(ValueError):
    """Raised by a part when one of its settings cannot work.

    The toolkit reports it as a bad spec (exit 2) at that setting's place; any other
    exception from a part is a failure of the part (exit 1).
    """

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting} {message}")
        self.setting = setting
        self.message = message


class MissingDependency(SettingError):
    """Raised by a part that needs an optional library which is not installed.

    ``install`` is what to install, as pip takes it (``"layer-toolkit[digits]"``). A spec
    naming the part is refused like any bad setting, with that fix; the conformance kit
    (``toolkit plugins --check``) skips the part and names it, rather than failing it.
    """

    def __init__(self, setting: str, message: str, install: str) -> None:
        super().__init__(setting, f"{message}; pip install '{install}'")
        self.install = install


class RunError(ToolkitError):
    """Something failed while a valid spec was running."""

    exit_code = 1


def warning_line(
    message: Warning | str, category: type[Warning], filename: str, lineno: int
) -> str:
    """A warning as the toolkit's commands print it, one line: ``note: ...`` for a
    :class:`ToolkitNotice`, else ``warning: ... (Category at file:line)``."""
    text = one_line(str(message))
    if issubclass(category, ToolkitNotice):
        return f"note: {text}"
    return f"warning: {text} ({category.__name__} at {filename}:{lineno})"
