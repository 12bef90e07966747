"""A sweep's plan (which keys it sweeps over which values, with which seeds) and its
expansion into trials.

The expansion is deterministic: the grid's product in the order its keys were given (the
last key changes fastest), then, for each grid point, the random trials in the order they
were drawn, and every configuration once for each seed (seeds innermost). A grid and a
random search together are a product: random trial ``r`` draws its keys once and is run
with every grid point, so each grid value is compared on the same draws.

Random trials draw from ``numpy.random.default_rng(plan.random.seed)``, trial by trial and
key by key in the order given; the seed defaults to 0 and is recorded in the sweep file.
``--seeds N`` sets the spec's ``seed`` to 0, 1, ..., N-1 (absolute, not offsets from the
spec's own); ``--seed-list 0,3,7`` to those; with neither every trial keeps the spec's seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import Location, Problem, SpecError
from ..base.wording import describe_value, quote
from ..spec.overrides import parse_key, parse_override
from ..spec.yamlsource import KeyPath
from .distributions import Distribution, parse_distribution
from .trial import Trial
from .values import SCALAR_HINT, is_scalar, key_text, parse_values, same_value, value_text

__all__ = [
    "MAX_TRIALS",
    "Origin",
    "PlanBuilder",
    "RandomSearch",
    "SweepPlan",
    "expand",
    "plan_from_options",
    "plan_from_python",
]

MAX_TRIALS = 100_000
"""The most trials one sweep may expand to."""
NAME_LENGTH = 80
"""The longest a trial's folder name may be."""
ID_LENGTH = 10
"""Hexadecimal digits of a trial's id."""
SEED_KEY = "seed"
Origin = tuple[str | int, ...]
"""What a location in :attr:`SweepPlan.origins` is the place of: ``("spec",)``,
``("set", i)``, ``("grid", key)``, ``("grid", key, i)`` (its i-th value),
``("random", key)``, ``("trials",)``, ``("seeds",)``, ``("plugins", i)``."""
GRID_EXAMPLE = "for example --grid optimizer.learning_rate=0.1,0.01"
RANDOM_EXAMPLE = "for example --random optimizer.learning_rate=loguniform:1e-4,1e-1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


@dataclass(frozen=True)
class RandomSearch:
    """``trials`` draws of ``params`` (each key's distribution) from a generator seeded
    with ``seed``."""

    trials: int
    seed: int
    params: tuple[tuple[str, Distribution], ...]


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs: a spec, its ``set`` overrides, the swept keys, and the seeds.

    Keys are dotted, as ``--set`` writes them; overrides are ``KEY=VALUE`` text that reads
    back as the value. ``origins`` says where each piece came from (an option, a sweep
    file's line), for messages; it takes no part in comparing plans."""

    spec: Path
    overrides: tuple[str, ...] = ()
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    random: RandomSearch | None = None
    seeds: tuple[int, ...] | None = None
    plugins: tuple[str, ...] = ()
    origins: Mapping[Origin, Location] = field(default_factory=dict, compare=False, repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept keys: the grid's, then the random search's."""
        drawn = self.random.params if self.random else ()
        return tuple(key for key, _ in self.grid) + tuple(key for key, _ in drawn)

    @property
    def configurations(self) -> int:
        """How many configurations (trials less the seeds) the sweep has."""
        count = math.prod(len(values) for _, values in self.grid)
        return count * (self.random.trials if self.random else 1)

    @property
    def count(self) -> int:
        """How many trials the sweep expands to."""
        return self.configurations * len(self.seeds or (None,))

    def where(self, *origin: str | int) -> Location | None:
        """The place ``origin`` came from (see :data:`Origin`), or None."""
        return self.origins.get(origin)


def expand(plan: SweepPlan) -> list[Trial]:
    """The plan's trials in expansion order, each with a stable id and a unique name."""
    seeds: Sequence[int | None] = plan.seeds or (None,)
    labels = _labels(plan.keys)
    width = len(str(plan.count))
    trials: list[Trial] = []
    for config, (values, draw) in enumerate(_configurations(plan)):
        for seed in seeds:
            index = len(trials)
            overrides = tuple(f"{key}={value_text(value)}" for key, value in values)
            if seed is not None:
                overrides += (f"{SEED_KEY}={seed}",)
            trial = Trial(
                index=index,
                config=config,
                values=values,
                seed=seed,
                id=_trial_id(values, seed, draw),
                name=_name(index, width, values, seed, labels),
                overrides=overrides,
            )
            trials.append(trial)
    return trials


def _configurations(plan: SweepPlan) -> list[tuple[tuple[tuple[str, Any], ...], int | None]]:
    """Each configuration's values and, for a random trial, its draw's number."""
    keys = [key for key, _ in plan.grid]
    points = [
        tuple(zip(keys, point, strict=True))
        for point in itertools.product(*(v for _, v in plan.grid))
    ]
    if plan.random is None:
        return [(point, None) for point in points]
    rng = np.random.default_rng(plan.random.seed)
    draws = [
        tuple((key, dist.draw(rng)) for key, dist in plan.random.params)
        for _ in range(plan.random.trials)
    ]
    return [(point + drawn, r) for point in points for r, drawn in enumerate(draws)]


def _trial_id(values: tuple[tuple[str, Any], ...], seed: int | None, draw: int | None) -> str:
    """A short hash of what makes the trial: its values (as text, so 1, 1.0 and true
    differ), its seed and, for a random trial, its draw's number (two draws may agree)."""
    identity: dict[str, Any] = {"values": [[key, value_text(v)] for key, v in values]}
    identity["seed"] = seed
    if draw is not None:
        identity["draw"] = draw
    text = json.dumps(identity, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:ID_LENGTH]


def _labels(keys: Sequence[str]) -> dict[str, str]:
    """Each key's label in folder names: its last part, or the whole key where two keys
    end alike (``model.layers.0.units`` and ``model.layers.1.units``)."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: end if last.count(end) == 1 else key for key, end in zip(keys, last, strict=True)}


def _name(
    index: int,
    width: int,
    values: tuple[tuple[str, Any], ...],
    seed: int | None,
    labels: Mapping[str, str],
) -> str:
    """``007-learning_rate=0.1-activation=x-seed=2``: safe in any file system, at most
    NAME_LENGTH characters, unique by its index."""
    parts = [_UNSAFE.sub("_", f"{labels[key]}={_short(value)}") for key, value in values]
    end = [f"{SEED_KEY}={seed}"] if seed is not None else []
    name = f"{index:0{width}d}"
    for part in parts:  # the values that fit, then the seed
        if len(name) + len(part) + 1 + sum(len(item) + 1 for item in end) > NAME_LENGTH:
            break
        name += f"-{part}"
    name = "-".join([name, *end]) if parts or end else f"{name}-run"
    return name[:NAME_LENGTH]


def _short(value: Any) -> str:
    """A value as a folder name shows it: numbers to 4 significant digits."""
    if isinstance(value, float):
        return format(value, ".4g")
    if isinstance(value, str):
        return value
    return value_text(value)


# -- Building a plan: every front (options, Python, a sweep file) feeds one builder ----------


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

    def build(self) -> SweepPlan:
        """The plan, or SpecError listing every problem recorded and found here."""
        self._check_combination()
        if self.problems:
            raise SpecError(self.problems)
        random = None
        if self.params and self.trials is not None:
            random = RandomSearch(self.trials, self.random_seed, tuple(self.params.items()))
        plan = SweepPlan(
            spec=self.spec,
            overrides=tuple(self.overrides.values()),
            grid=tuple(self.grid.items()),
            random=random,
            seeds=self.seeds,
            plugins=tuple(self.plugins),
            origins=dict(self.origins),
        )
        if plan.count > MAX_TRIALS:
            where = self.origins.get(("seeds",)) or self.origins.get(("spec",))
            hint = "sweep fewer values, fewer random trials or fewer seeds"
            raise SpecError(
                [
                    Problem(
                        "",
                        f"the sweep has {plan.count} trials, more than {MAX_TRIALS}",
                        where,
                        hint,
                    )
                ]
            )
        return plan

    def _check_combination(self) -> None:
        """The pieces that only make sense together, and overrides the sweep would undo."""
        if self.params and self.trials is None:
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


def _placed(problem: Problem, where: Location) -> Problem:
    """``problem`` at ``where`` if it has no place of its own."""
    return problem if problem.location is not None else replace(problem, location=where)


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# -- The fronts -------------------------------------------------------------------------------


def plan_from_options(
    spec: str | os.PathLike[str],
    *,
    grid: Sequence[str] = (),
    random: Sequence[str] = (),
    trials: int | None = None,
    seeds: int | None = None,
    seed_list: str | None = None,
    overrides: Sequence[str] = (),
    plugins: Sequence[str] = (),
    random_seed: int = 0,
) -> SweepPlan:
    """The plan the command line's options give (``--grid KEY=V1,V2``, ``--random
    KEY=DIST``, ``--trials N``, ``--seeds N`` or ``--seed-list 0,3,7``, ``--set``,
    ``-p``). Raises SpecError listing every problem, each naming its option."""
    path = Path(os.path.abspath(spec))
    builder = PlanBuilder(path, Location(os.fspath(spec)))
    for text in grid:
        _grid_option(builder, text)
    for text in random:
        _random_option(builder, text)
    if trials is not None:
        builder.set_trials(trials, Location(f"--trials {trials}"))
    builder.set_random_seed(random_seed, Location("random seed"))
    if seeds is not None and seed_list is not None:
        builder.refuse(
            "seeds",
            "both --seeds and --seed-list",
            Location(f"--seeds {seeds}"),
            "give one of them",
        )
    elif seeds is not None:
        builder.set_seeds(seeds, Location(f"--seeds {seeds}"))
    elif seed_list is not None:
        _seed_list_option(builder, seed_list)
    for text in overrides:
        where = Location(f"--set {text}")
        try:
            key, value = parse_override(text)
        except SpecError as error:
            builder.problems += [_placed(problem, where) for problem in error.problems]
            continue
        builder.add_override(key, value, where)
    builder.add_plugins(plugins, Location("-p"))
    return builder.build()


def _split_option(
    builder: PlanBuilder, option: str, text: str, example: str
) -> tuple[KeyPath, str, Location] | None:
    """``KEY=REST`` of an option: the key's path, the rest, and the option's place."""
    where = Location(f"{option} {text}")
    key, sep, rest = text.partition("=")
    form = "DIST" if option == "--random" else "V1,V2,..."
    if not sep:
        builder.refuse(
            "",
            f"bad {option} {quote(text)}: expected KEY={form}",
            where,
            example,
        )
        return None
    path = builder.key(key.strip(), where)
    return None if path is None else (path, rest, where)


def _grid_option(builder: PlanBuilder, text: str) -> None:
    split = _split_option(builder, "--grid", text, GRID_EXAMPLE)
    if split is None:
        return
    path, rest, where = split
    try:
        values = parse_values(rest, where, key_text(path))
    except SpecError as error:
        builder.problems += error.problems
        return
    builder.add_grid(path, values, where, [where] * len(values))


def _random_option(builder: PlanBuilder, text: str) -> None:
    split = _split_option(builder, "--random", text, RANDOM_EXAMPLE)
    if split is not None:
        path, rest, where = split
        builder.add_random(path, rest, where)


def _seed_list_option(builder: PlanBuilder, text: str) -> None:
    where = Location(f"--seed-list {text}")
    try:
        seeds = parse_values(text, where, "seeds")
    except SpecError as error:
        builder.problems += error.problems
        return
    builder.set_seeds(seeds, where)


def plan_from_python(
    spec: str | os.PathLike[str],
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    random: Mapping[str, str] | None = None,
    trials: int | None = None,
    seeds: int | Sequence[int] | None = None,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
    random_seed: int = 0,
) -> SweepPlan:
    """The plan of ``toolkit.sweep(...)``: ``grid={"optimizer.learning_rate": [0.1, 0.01]}``,
    ``random={"train.weight_decay": "loguniform:1e-8,1e-4"}`` with ``trials``, ``seeds``
    (a number N for 0..N-1, or a list), ``overrides`` as ``load_spec`` takes them.
    Raises SpecError listing every problem, each naming the argument."""
    path = Path(os.path.abspath(spec))
    builder = PlanBuilder(path, Location(os.fspath(spec)))
    for key, values in _items(builder, "grid", grid):
        where = Location(f"grid[{quote(key)}]")
        keypath = builder.key(key, where)
        if keypath is None:
            continue
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
            builder.refuse(
                key_text(keypath),
                f"expected a list of values, got {describe_value(values)}",
                where,
                "write grid={'optimizer.learning_rate': [0.1, 0.01]}",
            )
            continue
        values = [value.item() if isinstance(value, np.generic) else value for value in values]
        places = [Location(f"grid[{quote(key)}][{index}]") for index in range(len(values))]
        builder.add_grid(keypath, values, where, places)
    for key, text in _items(builder, "random", random):
        where = Location(f"random[{quote(key)}]")
        keypath = builder.key(key, where)
        if keypath is not None:
            builder.add_random(keypath, text, where)
    if trials is not None:
        builder.set_trials(trials, Location("trials"))
    builder.set_random_seed(random_seed, Location("random_seed"))
    if seeds is not None:
        builder.set_seeds(
            list(seeds) if isinstance(seeds, Sequence) and not isinstance(seeds, str) else seeds,
            Location("seeds"),
        )
    _python_overrides(builder, overrides)
    builder.add_plugins(plugins, Location("plugins"))
    return builder.build()


def _items(builder: PlanBuilder, name: str, given: object) -> list[tuple[Any, Any]]:
    if given is None:
        return []
    if not isinstance(given, Mapping):
        builder.refuse(
            name,
            f"expected a mapping of keys to values, got {describe_value(given)}",
            Location(name),
        )
        return []
    return list(given.items())


def _python_overrides(
    builder: PlanBuilder, overrides: Iterable[str] | Mapping[str, Any] | None
) -> None:
    if overrides is None:
        return
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            where = Location(f"overrides[{quote(key)}]")
            keypath = builder.key(key, where)
            if keypath is not None:
                builder.add_override(keypath, value, where)
        return
    for text in overrides:
        where = Location(f"overrides {quote(text)}")
        try:
            keypath, value = parse_override(text)
        except SpecError as error:
            builder.problems += [_placed(problem, where) for problem in error.problems]
            continue
        builder.add_override(keypath, value, where)
