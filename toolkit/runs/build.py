"""From a validated spec to a network: the run's generator, the data, the initial weights."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.errors import Problem, RunError, SettingError, SpecError, UsageError
from ..base.rng import Rng, make_rng
from ..gradients.estimate import Estimate
from ..model.data import Dataset, as_dataset
from ..model.layers import Layer, ParamSpec
from ..model.network import Network
from ..registry.kinds import kind_named
from ..registry.parts import describe_exit
from ..spec.load import Spec, load_spec
from ..spec.resolver import output_problem
from ..spec.shapes import LayerFailed, Planned, Shape, plan_layers
from ..spec.yamlsource import KeyPath, format_path

__all__ = [
    "Assembly",
    "assemble",
    "build",
    "call_part",
    "load_data",
    "name_parameters",
    "plan_network",
]

ESTIMATOR_STREAM = 1
"""Estimators that draw (spsa) use ``default_rng([seed, 1])``, apart from the batch draws."""
SpecLike = Spec | str | os.PathLike[str] | Mapping[str, Any]


@dataclass
class Assembly:
    """Everything a run starts from: the network, its data and the generator, mid-stream."""

    spec: Spec
    network: Network
    data: Dataset
    rng: Rng


def as_spec(spec: SpecLike) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec)


def build(spec: SpecLike) -> Network:
    """The network a spec describes, with the weights a run of it starts from."""
    return assemble(as_spec(spec)).network


def load_data(spec: SpecLike) -> Dataset:
    """The data a run of the spec trains on: ``x``, ``t`` (and ``x_test``, ``t_test``).

    The dataset is the first thing a run draws from its generator, so these are the very
    arrays a run of the spec (same seed) uses; nothing else is drawn.
    """
    spec = as_spec(spec)
    return _dataset(spec, make_rng(spec.settings.rng, spec.settings.seed))


def assemble(spec: Spec) -> Assembly:
    """Draw from the spec's generator in a fixed order: the dataset, then each layer's
    parameters in spec order (a dense layer's W, then b)."""
    rng = make_rng(spec.settings.rng, spec.settings.seed)
    data = _dataset(spec, rng)
    planned = plan_network(spec, (data.features,), data.classes)
    params: dict[str, np.ndarray] = {}
    state: dict[str, np.ndarray] = {}
    for made in planned:
        layer = made.layer
        for param in layer.param_specs():
            params[layer.names[param.role]] = _start(spec, made.path, param, rng)
        for kept in layer.state_specs():
            state[layer.state_names[kept.role]] = np.full(kept.shape, float(kept.init))
    network = Network(
        [made.layer for made in planned],
        params,
        loss=spec.bind(spec.settings.loss.path),
        estimator=spec.bind(spec.settings.gradient.path),
        registry=spec.registry,
        rng=np.random.default_rng([spec.settings.seed, ESTIMATOR_STREAM]),
        gradient_source=Estimate(),
        state=state,
    )
    return Assembly(spec, network, data, rng)


def plan_network(spec: Spec, shape: Shape, classes: int) -> list[Planned]:
    """The spec's layers, each made for the shape of its input samples and its
    parameters and state named; the last must give one value per class (SpecError)."""
    problems: list[Problem] = []

    def report(path: KeyPath, message: str, hint: str = "") -> None:
        problems.append(spec.problem(path, message, hint))

    configs = spec.config["model"]["layers"]
    try:
        planned = plan_layers(spec.registry, configs, shape, report)
    except LayerFailed as failed:
        raise RunError(
            f"{format_path(failed.path)}: layer '{failed.name}' failed: {failed}"
        ) from failed.error
    if planned is None:
        raise SpecError(problems)
    output = planned[-1].output_shape
    if output != (classes,):
        where = output_problem(len(configs) - 1, configs[-1], output, classes)
        raise SpecError([spec.problem(*where)])
    name_parameters([made.layer for made in planned])
    return list(planned)


def name_parameters(layers: list[Layer]) -> None:
    """Name each layer's parameters and state as the book does: ``W{k}``, ``b{k}`` for the
    k-th weighted layer (dense, conv2d), ``gamma{k}``, ``beta{k}`` (and the running
    state) for a layer after it; a name already taken gets ``_2``, ``_3``."""
    taken: set[str] = set()
    number = 0
    for layer in layers:
        number += 1 if layer.weighted else 0
        layer.names = {p.role: _free(f"{p.role}{number}", taken) for p in layer.param_specs()}
        layer.state_names = {s.role: _free(f"{s.role}{number}", taken) for s in layer.state_specs()}


def _free(name: str, taken: set[str]) -> str:
    chosen, copy = name, 1
    while chosen in taken:
        copy += 1
        chosen = f"{name}_{copy}"
    taken.add(chosen)
    return chosen


def _start(spec: Spec, path: KeyPath, param: ParamSpec, rng: Rng) -> np.ndarray:
    """A parameter's starting values: from the initializer part its layer names, or a
    constant (drawing nothing)."""
    if isinstance(param.init, str):
        return _initial(spec, (*path, param.init), param.shape, rng)
    return np.full(param.shape, float(param.init))


def _dataset(spec: Spec, rng: Rng) -> Dataset:
    """The spec's data, drawn from ``rng``."""
    ref = spec.settings.data
    result = call_part(spec, ref.path, ref.kind.name, rng)
    try:
        return as_dataset(result)
    except ValueError as error:
        entry = spec.entry(ref.path, ref.kind.name)
        raise RunError(
            f"{format_path(ref.path)}: {ref.kind.label} '{entry.name}' from {entry.provider} "
            f"{error}"
        ) from None


def _initial(spec: Spec, path: KeyPath, shape: tuple[int, ...], rng: Rng) -> np.ndarray:
    result = call_part(spec, path, "initializer", shape, rng)
    name = spec.bind(path, "initializer").name
    try:
        complex_values = np.iscomplexobj(result)  # cast to float, they'd lose their imaginary part
        values = np.array(result, dtype=np.float64, order="C") if not complex_values else None
    except (TypeError, ValueError) as error:
        raise RunError(
            f"{format_path(path)}: initializer '{name}' returned {type(result).__name__}, "
            f"not an array of numbers ({error})"
        ) from None
    if values is None:
        raise RunError(
            f"{format_path(path)}: initializer '{name}' returned complex values; an "
            "initializer must return real numbers"
        )
    if values.shape != shape:
        raise RunError(
            f"{format_path(path)}: initializer '{name}' returned shape {values.shape}, "
            f"expected {shape}"
        )
    return values


def call_part(spec: Spec, path: KeyPath, kind: str, *inputs: Any) -> Any:
    """Call the part at ``path``.

    A SettingError is a bad setting, reported at that setting's place (exit 2);
    anything else the part raises, SystemExit included, is a failure of the part (exit 1).
    """
    bound = spec.bind(path, kind)
    label = kind_named(kind).label
    try:
        return bound(*inputs)
    except SettingError as error:
        blamed = (*path, error.setting) if error.setting in bound.settings else path
        raise SpecError([spec.problem(blamed, f"{label} '{bound.name}': {error}")]) from None
    except MemoryError as error:  # the spec asked for more than this machine holds
        raise UsageError(
            f"{format_path(path)}: {label} '{bound.name}' ran out of memory ({error}); "
            "make the spec's sizes smaller (the data, the layers' units)"
        ) from None
    except Exception as error:
        provider = spec.entry(path, kind).provider
        raise RunError(
            f"{format_path(path)}: {label} '{bound.name}' from {provider} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    except SystemExit as exit:  # a PartExit, naming the part
        raise RunError(f"{format_path(path)}: {describe_exit(exit)}") from exit
