"""The summary of an assembled network, as the command line prints it, and counted nouns."""

from __future__ import annotations

from typing import Any

from ..base.columns import table
from ..base.wording import one_line
from ..runs.build import Assembly
from ..spec.settings import PartRef
from ..spec.yamlsource import format_path

__all__ = ["count", "describe_assembly"]


def _part_label(ref: PartRef) -> str:
    settings = ", ".join(f"{key}={value!r}" for key, value in ref.settings.items())
    return f"{ref.name}({settings})" if settings else ref.name


def describe_assembly(assembly: Assembly) -> list[str]:
    """The network a spec builds: layers with shapes and counts, then every part's provider."""
    spec, network, data = assembly.spec, assembly.network, assembly.data
    settings = spec.settings
    lines = [
        f"spec {one_line(spec.name)} ({one_line(spec.source or 'mapping')})",
        f"seed {settings.seed}, rng {settings.rng}",
        f"data: {data.samples} samples, {data.features} features, {data.classes} classes",
        "",
    ]
    rows: list[list[Any]] = [["layer", "in -> out", "activation", "weights", "bias", "params"]]
    total = 0
    for index, (activation, w_shape, b_shape) in enumerate(network.summary(), start=1):
        count = w_shape[0] * w_shape[1] + b_shape[0]
        total += count
        rows.append(
            [
                index,
                f"{w_shape[0]} -> {w_shape[1]}",
                activation,
                f"W{index} {w_shape}",
                f"b{index} {b_shape}",
                f"{count:,}",
            ]
        )
    rows.append(["total", "", "", "", "", f"{total:,}"])
    lines += [*table(rows), ""]
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
