"""From a validated spec to a network: the run's generator, the data, the initial weights."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.errors import RunError, SettingError, SpecError, UsageError
from ..base.rng import Rng, make_rng
from ..gradients.estimate import Estimate
from ..model.data import Dataset, as_dataset
from ..model.layers import Dense
from ..model.network import Network
from ..registry.kinds import kind_named
from ..registry.parts import describe_exit
from ..spec.load import Spec, load_spec
from ..spec.resolver import output_mismatch
from ..spec.yamlsource import KeyPath, format_path

__all__ = ["Assembly", "assemble", "build", "call_part", "load_data"]

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
    """Draw from the spec's generator in a fixed order: the dataset, then each layer's W, b."""
    rng = make_rng(spec.settings.rng, spec.settings.seed)
    data = _dataset(spec, rng)
    params: dict[str, np.ndarray] = {}
    layers: list[Dense] = []
    n_in = data.features
    for index, layer in enumerate(spec.settings.model.layers, start=1):
        weight, bias = f"W{index}", f"b{index}"
        params[weight] = _initial(spec, layer.init.path, (n_in, layer.units), rng)
        params[bias] = _initial(spec, layer.bias_init.path, (layer.units,), rng)
        layers.append(Dense(weight, bias, spec.bind(layer.activation.path)))
        n_in = layer.units
    network = Network(
        layers,
        params,
        loss=spec.bind(spec.settings.loss.path),
        estimator=spec.bind(spec.settings.gradient.path),
        registry=spec.registry,
        rng=np.random.default_rng([spec.settings.seed, ESTIMATOR_STREAM]),
        gradient_source=Estimate(),
    )
    return Assembly(spec, network, data, rng)


def _dataset(spec: Spec, rng: Rng) -> Dataset:
    """The spec's data, drawn from ``rng``; the output layer must have one unit per class."""
    ref = spec.settings.data
    result = call_part(spec, ref.path, ref.kind.name, rng)
    try:
        data = as_dataset(result)
    except ValueError as error:
        entry = spec.entry(ref.path, ref.kind.name)
        raise RunError(
            f"{format_path(ref.path)}: {ref.kind.label} '{entry.name}' from {entry.provider} "
            f"{error}"
        ) from None
    layers = spec.settings.model.layers
    if layers[-1].units != data.classes:
        path: KeyPath = ("model", "layers", len(layers) - 1, "units")
        problem = spec.problem(path, *output_mismatch(layers[-1].units, data.classes))
        raise SpecError([problem])
    return data


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
