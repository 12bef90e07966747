"""Each worker's parts against the coordinator's: a worker that would resolve a spec to
other code is given no trials.

A worker re-resolves every trial's spec with its own installed plugins; a worker with a
part missing, an extra one, or one from another version of its plugin would train another
network than the one validated here. :func:`admit_workers` asks every worker for its
:func:`registry_fingerprint` and keeps the executor to those whose fingerprint is this
process's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..base.errors import ToolkitError, UsageError
from ..base.wording import one_line, quote
from ..registry.kinds import KINDS, kind_named
from ..registry.manager import get_plugin_manager
from ..registry.registry import Registry
from .executor import TrialExecutor, WorkerProbe

__all__ = ["Fingerprint", "admit_workers", "first_difference", "registry_fingerprint"]

Fingerprint = dict[str, dict[str, dict[str, Any]]]
"""Per kind, per part (``plugin:name``): its name, its function (``module:function``), and
the distribution and version of the plugin it came from (None for a local module)."""


def registry_fingerprint(plugins: Sequence[str] = ()) -> Fingerprint:
    """Every part of the installed plugins and of the ``plugins`` modules, as plain data."""
    registry = Registry.from_manager(get_plugin_manager(plugins))
    return {
        kind.name: {
            entry.qualified_name: {
                "name": entry.name,
                "function": _function(entry.part.fn),
                "distribution": entry.distribution,
                "version": entry.version,
            }
            for entry in registry.entries(kind.name)
        }
        for kind in KINDS
    }


def _function(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}:{name}"


def probe(plugins: Sequence[str]) -> Fingerprint | str:
    """What a worker answers: its fingerprint, or the one line saying why it has none."""
    try:
        return registry_fingerprint(plugins)
    except ToolkitError as error:
        return one_line(str(error))


def first_difference(ours: Fingerprint, theirs: Fingerprint) -> str:
    """The first way ``theirs`` (a worker's) differs from ``ours``, in words; ``""`` if
    they are the same."""
    for kind in KINDS:
        here, there = ours.get(kind.name, {}), theirs.get(kind.name, {})
        for key in sorted(here.keys() | there.keys()):
            if key not in there:
                return f"{_part(kind.name, here[key])} is missing"
            if key not in here:
                return f"it has {_part(kind.name, there[key])}, which this process has not"
            if here[key] != there[key]:
                return (
                    f"{kind.label} {quote(here[key]['name'])} is {_source(there[key])} there, "
                    f"{_source(here[key])} here"
                )
    return ""


def _part(kind: str, part: Mapping[str, Any]) -> str:
    return f"{kind_named(kind).label} {quote(part['name'])} {_source(part)}"


def _source(part: Mapping[str, Any]) -> str:
    where = f"{part['function']}"
    if part["distribution"] is None:
        return f"{where} from a local module"
    return f"{where} from {part['distribution']} {part['version']}"


def admit_workers(executor: TrialExecutor, plugins: Sequence[str] = ()) -> list[str]:
    """Keep ``executor`` to the workers whose parts are this process's (with the
    ``plugins`` modules), for an executor that can ask each worker (a ``WorkerProbe``);
    one line for each worker refused, naming it and its first difference. A worker that
    joins the cluster after this check gets no trials either: it was never checked.

    UsageError when every worker is refused. An executor that cannot ask its workers
    (a local pool: the same installation) is left as it is.
    """
    if not isinstance(executor, WorkerProbe):
        return []
    ours = registry_fingerprint(plugins)
    answers = executor.on_each_worker(probe, list(plugins))
    notes, kept = [], []
    for worker in sorted(answers):
        answer = answers[worker]
        if isinstance(answer, str):
            difference = f"cannot load its parts: {answer}"
        else:
            difference = first_difference(ours, answer)
        if difference:
            notes.append(f"worker {worker}: {difference}; it gets no trials")
        else:
            kept.append(worker)
    if not kept:
        first = notes[0] if notes else "the cluster has no workers"
        raise UsageError(
            f"no worker has the parts this process has ({first}); install the same plugins, "
            "at the same versions, where the workers run"
        )
    executor.use_only(kept)
    return notes
