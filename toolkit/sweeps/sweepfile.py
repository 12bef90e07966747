"""Sweep files: a sweep written in YAML, read with the spec's safe reader and its places.

```yaml
spec: two_layer_teacher.yaml        # relative to this file's folder
set: {train.iterations: 300}        # overrides of the spec, for every trial
grid:                               # every combination, the last key fastest
  optimizer.learning_rate: [0.1, 0.01]
random:                             # trials drawn from a generator seeded with seed
  trials: 20
  seed: 0
  params: {train.weight_decay: "loguniform:1e-8,1e-4"}
seeds: 3                            # seeds 0, 1, 2; or a list such as [0, 3, 7]
plugins: [my_parts]                 # modules to register, as -p does
```

Every key but ``spec`` may be left out. A file is a sweep file, not a spec, when its top
level is a mapping with a ``spec`` key and no ``model`` key (:func:`is_sweep_file`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from ..base.errors import Location, Problem, SpecError, UsageError
from ..base.wording import describe_value, did_you_mean, quote
from ..runs.rundir import write_atomically
from ..spec.yamlsource import KeyPath, SourceMap, parse_yaml, read_spec_text
from .builder import PlanBuilder
from .plan import SweepPlan, build_plan
from .values import key_text, value_text

__all__ = ["RANDOM_KEYS", "SWEEP_KEYS", "is_sweep_file", "load_sweep", "write_sweep"]

SWEEP_KEYS = ("spec", "set", "grid", "random", "seeds", "plugins")
RANDOM_KEYS = ("trials", "seed", "params")
_Use = Callable[[KeyPath, Any, Location, KeyPath], None]
SPEC_HINT = "write spec: my_spec.yaml (a path relative to the sweep file's folder)"


def is_sweep_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sweep file: YAML whose top level is a mapping with a ``spec``
    key and no ``model`` key (a spec always has ``model``). False for anything that cannot
    be read as YAML."""
    try:
        tree, _, _ = parse_yaml(read_spec_text(path), os.fspath(path))
    except SpecError:
        return False
    return isinstance(tree, dict) and "spec" in tree and "model" not in tree


def load_sweep(path: str | os.PathLike[str], *, need_spec: bool = True) -> SweepPlan:
    """The plan a sweep file describes. Raises SpecError listing every problem, each with
    the file's line and column and a fix. ``need_spec=False``: the spec file it names need
    not exist (a resume runs from the sweep folder's copy of it)."""
    label = os.fspath(path)
    tree, sources, problems = parse_yaml(read_spec_text(path), label)
    top = Location(label, 1, 1)
    if not isinstance(tree, dict):
        got = describe_value(tree)
        what = f"a sweep file is a mapping with spec: and grid:, random: or seeds:, not {got}"
        raise SpecError([*problems, Problem("", what, top, SPEC_HINT)])
    reader = _Reader(sources, label)
    reader.builder.problems += problems
    spec = reader.spec(tree.get("spec"), Path(os.path.abspath(label)).parent, need_spec)
    builder = reader.start(spec)
    for key in tree:
        if key not in SWEEP_KEYS:
            hint = (
                did_you_mean(key, SWEEP_KEYS) + "a sweep file's keys are " + ", ".join(SWEEP_KEYS)
            )
            builder.refuse(str(key), "unknown key", sources.keys.get((key,)), hint)
    reader.overrides(tree.get("set"))
    reader.grid(tree.get("grid"))
    reader.random(tree.get("random"))
    if tree.get("seeds") is not None:
        builder.set_seeds(tree["seeds"], reader.at(("seeds",)))
    reader.plugins(tree.get("plugins"))
    return build_plan(builder)


class _Reader:
    """Feeds a sweep file's pieces to a :class:`PlanBuilder`, each with its place."""

    def __init__(self, sources: SourceMap, label: str) -> None:
        self.sources = sources
        self.label = label
        self.builder = PlanBuilder(Path(label), Location(label))

    def at(self, path: tuple[Any, ...]) -> Location | None:
        """The place of the value at ``path``."""
        return self.sources.locate(path)

    def at_key(self, path: tuple[Any, ...]) -> Location | None:
        """The place of the key at ``path``."""
        return self.sources.locate(path, at_key=True)

    def spec(self, value: object, folder: Path, need_file: bool = True) -> Path:
        """The spec's absolute path; a problem if it is missing or (``need_file``) names
        no file."""
        if value is None:
            self.builder.refuse(
                "spec",
                "missing: a sweep file names its spec",
                Location(self.label, 1, 1),
                SPEC_HINT,
            )
            return folder
        if not isinstance(value, str) or not value:
            self.builder.refuse(
                "spec",
                f"expected a path, got {describe_value(value)}",
                self.at(("spec",)),
                SPEC_HINT,
            )
            return folder
        spec = folder / os.path.expanduser(value)
        if need_file and not spec.is_file():
            hint = f"the path is relative to the sweep file's folder ({folder})"
            self.builder.refuse(
                "spec", f"no such spec file {quote(str(spec))}", self.at(("spec",)), hint
            )
        return Path(os.path.abspath(spec))

    def start(self, spec: Path) -> PlanBuilder:
        """The builder, for the spec found."""
        problems = self.builder.problems
        self.builder = PlanBuilder(spec, self.at(("spec",)) or Location(self.label))
        self.builder.problems += problems
        return self.builder

    def mapping(self, value: object, name: str, example: str) -> Mapping[Any, Any]:
        """``value`` if it is a mapping (nothing: an empty one), else a problem."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            got = describe_value(value)
            self.builder.refuse(
                name, f"expected a mapping, got {got}", self.at(tuple(name.split("."))), example
            )
            return {}
        return value

    def each_key(self, value: object, name: str, example: str, use: _Use) -> None:
        """``use(key path, value, key's place, value's path in the file)`` for each key of
        the mapping at ``name``."""
        parent = tuple(name.split("."))
        for key, item in self.mapping(value, name, example).items():
            where = self.at_key((*parent, key)) or Location(self.label)
            path = self.builder.key(key, where)
            if path is not None:
                use(path, item, where, (*parent, key))

    def overrides(self, value: object) -> None:
        def use(path: KeyPath, item: Any, where: Location, _: KeyPath) -> None:
            self.builder.add_override(path, item, where)

        self.each_key(value, "set", "write set: {train.iterations: 300}", use)

    def grid(self, value: object) -> None:
        example = "write grid: {optimizer.learning_rate: [0.1, 0.01]}"

        def use(path: KeyPath, item: Any, where: Location, at: KeyPath) -> None:
            if not isinstance(item, list):
                got = f"expected a list of values, got {describe_value(item)}"
                self.builder.refuse(key_text(path), got, self.at(at), example)
                return
            places = [self.at((*at, index)) or where for index in range(len(item))]
            self.builder.add_grid(path, item, where, places)

        self.each_key(value, "grid", example, use)

    def random(self, value: object) -> None:
        example = "write random: {trials: 20, params: {train.weight_decay: 'loguniform:1e-8,1e-4'}}"
        search = self.mapping(value, "random", example)
        for key in search:
            if key not in RANDOM_KEYS:
                hint = did_you_mean(key, RANDOM_KEYS) + "random: holds " + ", ".join(RANDOM_KEYS)
                self.builder.refuse(
                    f"random.{key}", "unknown key", self.at_key(("random", key)), hint
                )
        if search and "params" not in search:
            where = self.at_key(("random",))
            self.builder.refuse("random.params", "missing: the keys to draw", where, example)
            self.builder.random_asked = True
        if "trials" in search:
            self.builder.set_trials(search["trials"], self.at(("random", "trials")))
        if "seed" in search:
            self.builder.set_random_seed(search["seed"], self.at(("random", "seed")))

        def use(path: KeyPath, item: Any, where: Location, at: KeyPath) -> None:
            self.builder.add_random(path, item, self.at(at) or where)

        params = search.get("params")
        if "params" in search and not params:
            where = self.at(("random", "params"))
            self.builder.refuse("random.params", "no keys to draw", where, example)
            self.builder.random_asked = True
        self.each_key(params, "random.params", example, use)

    def plugins(self, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.builder.refuse(
                "plugins",
                f"expected a list of module names, got {describe_value(value)}",
                self.at(("plugins",)),
                "write plugins: [my_module]",
            )
            return
        for index, module in enumerate(value):
            self.builder.add_plugins([module], self.at(("plugins", index)))


def write_sweep(plan: SweepPlan, path: str | os.PathLike[str], *, replace: bool = False) -> Path:
    """Write ``plan`` as a sweep file that :func:`load_sweep` reads back as the same plan
    (the spec's path absolute, the random seed written out). An existing file is refused
    (a UsageError) unless ``replace``. Returns the path written."""
    target = Path(path)
    if not replace and os.path.lexists(target):
        raise UsageError(f"{target} already exists; nothing was written")
    text = sweep_text(plan)

    def write(file: IO[bytes]) -> None:
        file.write(text.encode("utf-8"))

    write_atomically(target, write, replace=replace)
    return target


def sweep_text(plan: SweepPlan) -> str:
    """``plan`` in the sweep file's form."""
    lines = [
        "# The resolved sweep: toolkit sweep THIS_FILE --out DIR runs it again.",
        f"spec: {value_text(str(plan.spec))}",
    ]
    if plan.overrides:
        lines.append("set:")
        for override in plan.overrides:
            key, _, value = override.partition("=")
            lines.append(f"  {value_text(key)}: {value}")
    if plan.grid:
        lines.append("grid:")
        lines += [f"  {value_text(key)}: {value_text(list(values))}" for key, values in plan.grid]
    if plan.random is not None:
        lines += [
            "random:",
            f"  trials: {plan.random.trials}",
            f"  seed: {plan.random.seed}",
            "  params:",
        ]
        lines += [
            f"    {value_text(key)}: {value_text(str(dist))}" for key, dist in plan.random.params
        ]
    if plan.seeds is not None:
        seeds = plan.seeds
        lines.append(
            f"seeds: {len(seeds) if seeds == tuple(range(len(seeds))) else value_text(list(seeds))}"
        )
    if plan.plugins:
        lines.append(f"plugins: {value_text(list(plan.plugins))}")
    return "\n".join(lines) + "\n"
