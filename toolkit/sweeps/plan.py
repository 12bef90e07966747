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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import Location, SpecError
from ..base.wording import describe_value, quote
from ..spec.overrides import parse_override
from ..spec.yamlsource import KeyPath
from .builder import (
    GRID_EXAMPLE,
    MAX_TRIALS,
    RANDOM_EXAMPLE,
    SEED_KEY,
    Origin,
    PlanBuilder,
    placed,
)
from .distributions import Distribution
from .trial import Trial
from .values import key_text, parse_values, value_text

__all__ = [
    "MAX_TRIALS",
    "NAME_LENGTH",
    "SEED_KEY",
    "Origin",
    "RandomSearch",
    "SweepPlan",
    "build_plan",
    "expand",
    "plan_from_options",
    "plan_from_python",
]

NAME_LENGTH = 80
"""The longest a trial's folder name may be."""
ID_LENGTH = 10
"""Hexadecimal digits of a trial's id."""
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


# -- The fronts -------------------------------------------------------------------------------


def build_plan(builder: PlanBuilder) -> SweepPlan:
    """The plan of what ``builder`` collected; SpecError listing every problem with it."""
    builder.check()
    random = None
    if builder.params and builder.trials is not None:
        params = tuple(builder.params.items())
        random = RandomSearch(builder.trials, builder.random_seed, params)
    return SweepPlan(
        spec=builder.spec,
        overrides=tuple(builder.overrides.values()),
        grid=tuple(builder.grid.items()),
        random=random,
        seeds=builder.seeds,
        plugins=tuple(builder.plugins),
        origins=dict(builder.origins),
    )


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
    _add_override_texts(builder, overrides, lambda text: Location(f"--set {text}"))
    builder.add_plugins(plugins, Location("-p"))
    return build_plan(builder)


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
        values = _listed(values)
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
        seeds = _listed(seeds)
        builder.set_seeds(
            list(seeds) if isinstance(seeds, Sequence) and not isinstance(seeds, str) else seeds,
            Location("seeds"),
        )
    _python_overrides(builder, overrides)
    builder.add_plugins(plugins, Location("plugins"))
    return build_plan(builder)


def _listed(given: Any) -> Any:
    """A one-dimensional numpy array (``np.logspace(-3, -1, 3)``) as the list of Python
    numbers it holds; anything else as it is."""
    if isinstance(given, np.ndarray) and given.ndim == 1:
        return given.tolist()
    return given


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
    _add_override_texts(builder, overrides, lambda text: Location(f"overrides {quote(text)}"))


def _add_override_texts(
    builder: PlanBuilder, texts: Iterable[str], where: Callable[[str], Location]
) -> None:
    """Each ``KEY=VALUE`` text as an override for every trial, a bad one a problem there."""
    for text in texts:
        place = where(text)
        try:
            keypath, value = parse_override(text)
        except SpecError as error:
            builder.problems += [placed(problem, place) for problem in error.problems]
            continue
        builder.add_override(keypath, value, place)
