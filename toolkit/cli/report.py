"""The summary of an assembled network, as the command line prints it, and counted nouns."""

from __future__ import annotations

from typing import Any

from ..base.columns import table
from ..base.wording import one_line
from ..model.layers import Shape
from ..model.network import Network
from ..runs.build import Assembly
from ..runs.layer_table import layer_rows
from ..spec.settings import PartRef
from ..spec.shapes import shown
from ..spec.yamlsource import format_path

__all__ = ["count", "describe_assembly"]


def _layer_rows(network: Network, input_shape: Shape) -> list[list[Any]]:
    """The layer table: a row per layer (type, activation, output shape, parameters and
    their count, running state where a layer keeps any), after the input's shape and
    before the total."""
    rows: list[list[Any]] = [
        ["layer", "type", "activation", "output", "parameters", "count", "state"],
        ["input", "", "", shown(input_shape)],
    ]
    described = layer_rows(network)
    for row in described:
        rows.append(
            [
                row.number,
                row.type,
                row.activation,
                shown(row.output_shape),
                _arrays(row.params) or "-",
                f"{row.count:,}",
                _arrays(row.state),
            ]
        )
    rows.append(["total", "", "", "", "", f"{sum(row.count for row in described):,}"])
    if not any(row.state for row in described):
        return [row[:6] for row in rows]
    return rows


def _arrays(arrays: tuple[tuple[str, Shape], ...]) -> str:
    """``W1 (100, 10), b1 (10,)``: arrays by name with their shapes."""
    return ", ".join(f"{name} {shown(shape)}" for name, shape in arrays)


def _part_label(ref: PartRef) -> str:
    settings = ", ".join(f"{key}={value!r}" for key, value in ref.settings.items())
    return f"{ref.name}({settings})" if settings else ref.name


def describe_assembly(assembly: Assembly) -> list[str]:
    """The network a spec builds: each layer with its output shape, parameters and their
    count, and state, then every part's provider."""
    spec, network, data = assembly.spec, assembly.network, assembly.data
    settings = spec.settings
    lines = [
        f"spec {one_line(spec.name)} ({one_line(spec.source or 'mapping')})",
        f"seed {settings.seed}, rng {settings.rng}",
        f"data: {data.samples} samples, {data.features} features, {data.classes} classes",
        "",
    ]
    lines += [*table(_layer_rows(network, (data.features,))), ""]
    parts: list[list[Any]] = [["part", "resolved to", "plugin"]]
    for ref in settings.parts():
        parts.append(
            [format_path(ref.path), _part_label(ref), spec.entry(ref.path, ref.kind.name).provider]
        )
    lines += table(parts)
    train = settings.train
    lines += [
        "",
        f"train: {train.iterations} iterations, batch size {train.batch_size}, "
        f"log every {train.log_every}",
    ]
    return lines


def count(number: int, noun: str) -> str:
    """``1 layer``, ``2 layers``: a number and its noun, plural unless one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
