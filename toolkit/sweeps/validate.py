"""Checking every trial's spec before anything runs, and listing the trials.

Each configuration is resolved once (trials that differ only in their seed share it), and
each seed once, against one plugin manager: a sweep of many trials costs a few
milliseconds a configuration. A problem a swept value makes is reported at the place that
made the value (the ``--grid`` or ``--random`` option, the sweep file's line), not at the
``--set`` the trial became.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..base.errors import Location, PluginError, Problem, SpecError
from ..registry.manager import ToolkitPluginManager, get_plugin_manager
from ..spec.load import load_spec
from .builder import SEED_KEY
from .plan import SweepPlan
from .trial import Trial
from .values import same_value

__all__ = ["check_trials", "format_trials"]


def check_trials(
    plan: SweepPlan,
    trials: Sequence[Trial],
    spec_text: str,
    *,
    manager: ToolkitPluginManager | None = None,
) -> None:
    """Resolve the spec of every configuration and every seed of ``trials`` (``spec_text``
    read as the plan's spec file, with the plan's ``set`` and the trial's overrides).

    Raises one SpecError listing each distinct problem once, located where the sweep
    got the value; a ``-p`` module that does not load is one of them. ``manager`` (by
    default, one with the installed plugins and the plan's) is used for every trial."""
    if manager is None:
        try:
            manager = get_plugin_manager(plan.plugins)
        except PluginError as error:
            where = plan.where("plugins", 0)
            raise SpecError([Problem("plugins", str(error), where)]) from None
    problems: dict[str, Problem] = {}
    for trial in _to_check(trials):
        places = _places(plan, trial)
        try:
            load_spec(
                plan.spec, [*plan.overrides, *trial.overrides], manager=manager, text=spec_text
            )
        except SpecError as error:
            for problem in error.problems:
                moved = _relocate(problem, places)
                problems.setdefault(str(moved), moved)
    if problems:
        raise SpecError(problems.values())


def _to_check(trials: Sequence[Trial]) -> list[Trial]:
    """The first trial of each configuration, and the first with each seed."""
    configs: set[int] = set()
    seeds: set[int | None] = set()
    chosen = []
    for trial in trials:
        if trial.config not in configs or trial.seed not in seeds:
            chosen.append(trial)
            configs.add(trial.config)
            seeds.add(trial.seed)
    return chosen


def _places(plan: SweepPlan, trial: Trial) -> dict[str, Location]:
    """Where each of the trial's overrides came from, by the location ``load_spec`` gives
    it (``--set KEY=VALUE``)."""
    places: dict[str, Location] = {}
    for index, override in enumerate(plan.overrides):
        _add(places, override, plan.where("set", index))
    grid = dict(plan.grid)
    for (key, value), override in zip(trial.values, trial.overrides, strict=False):
        if key in grid:
            index = next(i for i, v in enumerate(grid[key]) if same_value(v, value))
            _add(places, override, plan.where("grid", key, index) or plan.where("grid", key))
        else:
            _add(places, override, plan.where("random", key))
    if trial.seed is not None:
        _add(places, f"{SEED_KEY}={trial.seed}", plan.where("seeds"))
    return places


def _add(places: dict[str, Location], override: str, where: Location | None) -> None:
    if where is not None:
        places[f"--set {override}"] = where


def _relocate(problem: Problem, places: dict[str, Location]) -> Problem:
    """``problem`` placed where the sweep got the override that made it."""
    if problem.location is None or problem.location.source not in places:
        return problem
    return replace(problem, location=places[problem.location.source])


def format_trials(trials: Sequence[Trial]) -> list[str]:
    """The ``--dry-run`` listing: one line per trial, its index, id, folder name and
    overrides, in columns."""
    rows = [(str(t.index), t.id, t.name, " ".join(t.overrides)) for t in trials]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    return [
        "  ".join([row[0].rjust(widths[0]), row[1], row[2].ljust(widths[2]), row[3]]).rstrip()
        for row in rows
    ]
