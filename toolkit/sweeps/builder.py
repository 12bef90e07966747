"""Collecting a sweep's pieces (from options, from Python, from a sweep file) with the
place each came from, and every problem with them, before a plan is made of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import Location, Problem, SpecError
from ..base.wording import describe_value, quote
from ..spec.overrides import parse_key
from ..spec.yamlsource import KeyPath
from .distributions import Distribution, parse_distribution
from .values import SCALAR_HINT, is_scalar, key_text, same_value, value_text

__all__ = [
    "GRID_EXAMPLE",
    "MAX_TRIALS",
    "RANDOM_EXAMPLE",
    "SEED_KEY",
    "Origin",
    "PlanBuilder",
    "placed",
]

MAX_TRIALS = 100_000
"""The most trials one sweep may expand to."""
SEED_KEY = "seed"
Origin = tuple[str | int, ...]
"""What a location in a plan's origins is the place of: ``("spec",)``,
``("set", i)``, ``("grid", key)``, ``("grid", key, i)`` (its i-th value),
``("random", key)``, ``("trials",)``, ``("seeds",)``, ``("plugins", i)``."""
GRID_EXAMPLE = "for example --grid optimizer.learning_rate=0.1,0.01"
RANDOM_EXAMPLE = "for example --random optimizer.learning_rate=loguniform:1e-4,1e-1"


class PlanBuilder:
    """Collects a sweep's pieces with their places, and every problem with them; ``build``
    gives the plan or raises one SpecError listing the problems."""

    def __init__(self, spec: Path, where: Location) -> None:
        self.spec = spec
        self.problems: list[Problem] = []
        self.origins: dict[Origin, Location] = {("spec",): where}
        self.overrides: dict[KeyPath, str] = {}
        self.grid: dict[str, tuple[Any, ...]] = {}
        self.params: dict[str, Distribution] = {}
        self.trials: int | None = None
        self.trials_given = False
        """Whether a number of trials was given, good or bad (a bad one is its own problem)."""
        self.random_seed = 0
        self.seeds: tuple[int, ...] | None = None
        self.plugins: list[str] = []
        self.random_asked = False
        self.paths: dict[KeyPath, str] = {}
        """Each swept key's path, and which of ``grid`` and ``random`` sweeps it."""

    def refuse(self, path: str, message: str, where: Location | None, hint: str = "") -> None:
        """Record a problem."""
        self.problems.append(Problem(path, message, where, hint))

    def key(self, text: object, where: Location | None) -> KeyPath | None:
        """A key's path, or None after recording why it is not a key."""
        try:
            return parse_key(text, where)
        except SpecError as error:
            self.problems += error.problems
            return None

    def sweep(self, path: KeyPath, how: str, where: Location | None) -> str | None:
        """Claim ``path`` for ``how`` (``grid`` or ``random``): its key text, or None after
        recording why it cannot be swept (the seed; a key swept already)."""
        key = key_text(path)
        if path == (SEED_KEY,):
            hint = "sweep seeds with --seeds N or --seed-list 0,1,2 (seeds: in a sweep file)"
            self.refuse(key, f"the seed cannot be swept by {how}", where, hint)
            return None
        if path in self.paths:
            first = self.paths[path]
            place = self.origins.get((first, key))
            hint = "give all of its values once" if first == how else "sweep it by one of them"
            first_at = f" at {place}" if place else ""
            self.refuse(key, f"swept twice (first by {first}{first_at})", where, hint)
            return None
        self.paths[path] = how
        return key

    def add_grid(
        self, path: KeyPath, values: Sequence[Any], where: Location, places: Sequence[Location]
    ) -> None:
        """Sweep ``path`` over ``values`` (scalars; at least one; each once)."""
        name = key_text(path)
        if not values:
            hint = "give at least one value, " + GRID_EXAMPLE
            self.refuse(name, "the grid has no values for this key", where, hint)
            return
        for index, value in enumerate(values):
            if not is_scalar(value):
                at = places[index]
                self.refuse(
                    name, f"expected a YAML scalar, got {describe_value(value)}", at, SCALAR_HINT
                )
                return
            if any(same_value(value, other) for other in values[:index]):
                at = places[index]
                self.refuse(
                    name, f"{describe_value(value)} is given twice", at, "give each value once"
                )
                return
        key = self.sweep(path, "grid", where)
        if key is None:
            return
        self.grid[key] = tuple(values)
        self.origins[("grid", key)] = where
        for index, place in enumerate(places):
            self.origins[("grid", key, index)] = place

    def add_random(self, path: KeyPath, text: object, where: Location) -> None:
        """Draw ``path``'s values from the distribution ``text`` names."""
        self.random_asked = True
        try:
            dist = parse_distribution(text, where, key_text(path))
        except SpecError as error:
            self.problems += error.problems
            return
        key = self.sweep(path, "random", where)
        if key is not None:
            self.params[key] = dist
            self.origins[("random", key)] = where

    def set_trials(self, trials: object, where: Location | None) -> None:
        """How many random trials to draw: a whole number from 1."""
        self.trials_given = True
        if not _whole(trials) or trials < 1:  # type: ignore[operator]
            hint = "give the number of random trials, such as 20"
            self.refuse(
                "trials",
                f"expected a whole number from 1, got {describe_value(trials)}",
                where,
                hint,
            )
            return
        self.trials = int(trials)  # type: ignore[call-overload]
        if where is not None:
            self.origins[("trials",)] = where

    def set_random_seed(self, seed: object, where: Location | None) -> None:
        """The random search's generator seed: a whole number from 0."""
        if not _whole(seed) or seed < 0:  # type: ignore[operator]
            got = describe_value(seed)
            self.refuse(
                "random.seed", f"expected a whole number from 0, got {got}", where, "write 0"
            )
            return
        self.random_seed = int(seed)  # type: ignore[call-overload]

    def set_seeds(self, seeds: object, where: Location | None) -> None:
        """``N`` (seeds 0..N-1) or a list of seeds, each once."""
        if _whole(seeds):
            if seeds < 1:  # type: ignore[operator]
                self.refuse(
                    "seeds",
                    f"expected at least 1 seed, got {seeds}",
                    where,
                    "write 3 for seeds 0, 1, 2",
                )
                return
            if seeds > MAX_TRIALS:  # type: ignore[operator]
                self.refuse("seeds", f"more than {MAX_TRIALS} seeds", where, "give fewer seeds")
                return
            self.seeds = tuple(range(seeds))  # type: ignore[call-overload]
        elif isinstance(seeds, (list, tuple)) and seeds and not all(map(_whole, seeds)):
            bad = next(seed for seed in seeds if not _whole(seed))
            hint = "give whole numbers, such as 0,1,2"
            self.refuse(
                "seeds", f"a seed must be a whole number, not {describe_value(bad)}", where, hint
            )
            return
        elif isinstance(seeds, (list, tuple)) and seeds:
            repeated = [seed for index, seed in enumerate(seeds) if seed in seeds[:index]]
            if repeated:
                self.refuse(
                    "seeds", f"seed {repeated[0]} is given twice", where, "give each seed once"
                )
                return
            self.seeds = tuple(int(seed) for seed in seeds)
        else:
            hint = "give a number of seeds (3: seeds 0, 1, 2) or a list of whole numbers"
            self.refuse("seeds", f"expected seeds, got {describe_value(seeds)}", where, hint)
            return
        if where is not None:
            self.origins[("seeds",)] = where

    def add_override(self, path: KeyPath, value: Any, where: Location) -> None:
        """``--set``: the last value given for a key wins, at the place of its first."""
        try:
            text = value_text(value)
        except TypeError:
            self.refuse(
                key_text(path), f"cannot be set to {describe_value(value)}", where, SCALAR_HINT
            )
            return
        if path not in self.overrides:
            self.origins[("set", len(self.overrides))] = where
        self.overrides[path] = f"{key_text(path)}={text}"

    def add_plugins(self, modules: Iterable[object], where: Location | None) -> None:
        """``-p`` modules: names, each once."""
        for module in modules:
            if not isinstance(module, str) or not module.strip():
                self.refuse(
                    "plugins",
                    f"expected a module name, got {describe_value(module)}",
                    where,
                    "write plugins: [my_module]",
                )
            elif module not in self.plugins:
                if where is not None:
                    self.origins[("plugins", len(self.plugins))] = where
                self.plugins.append(module)

    def check(self) -> None:
        """Raise SpecError listing every problem recorded, and those of the pieces taken
        together (a random search without trials, too many trials, ...)."""
        self._check_combination()
        if self.problems:
            raise SpecError(self.problems)
        count = math.prod(len(values) for values in self.grid.values())
        count *= (self.trials or 1) if self.params else 1
        count *= len(self.seeds or (None,))
        if count > MAX_TRIALS:
            where = self.origins.get(("seeds",)) or self.origins.get(("spec",))
            message = f"the sweep has {count} trials, more than {MAX_TRIALS}"
            hint = "sweep fewer values, fewer random trials or fewer seeds"
            raise SpecError([Problem("", message, where, hint)])

    def _check_combination(self) -> None:
        """The pieces that only make sense together, and overrides the sweep would undo."""
        if self.params and not self.trials_given:
            where = self.origins.get(("random", next(iter(self.params))))
            self.refuse(
                "trials",
                "a random search needs its number of trials",
                where,
                "add --trials N (trials: N in a sweep file)",
            )
        if self.trials is not None and not self.random_asked:
            where = self.origins.get(("trials",))
            self.refuse(
                "trials",
                "random trials, but no key to draw",
                where,
                "add --random KEY=DIST, " + RANDOM_EXAMPLE,
            )
        for index, (path, text) in enumerate(self.overrides.items()):
            where = self.origins.get(("set", index))
            if path in self.paths:
                how = self.paths[path]
                hint = f"remove the --set, or the {how} of {key_text(path)}"
                self.refuse(
                    key_text(path),
                    f"set and swept by {how}: the set value would never be used",
                    where,
                    hint,
                )
            elif path == (SEED_KEY,) and self.seeds is not None:
                self.refuse(
                    SEED_KEY,
                    f"{quote(text)} is replaced by each trial's seed",
                    where,
                    "remove the --set of the seed, or the seeds",
                )


def placed(problem: Problem, where: Location) -> Problem:
    """``problem`` at ``where`` if it has no place of its own."""
    return problem if problem.location is not None else replace(problem, location=where)


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
