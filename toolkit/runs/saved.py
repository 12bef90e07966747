"""A trained run read back from its folder: the spec's network with the run's parameters."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..base.errors import ToolkitNotice, UsageError
from ..model.network import Network
from ..registry.manager import ToolkitPluginManager
from ..spec.load import load_spec
from .arrays import read_arrays
from .build import Assembly, assemble
from .checkpoint import damaged
from .rundir import RunDirectory

__all__ = ["load_run", "restore_run"]


def load_run(
    path: str | os.PathLike[str], *, manager: ToolkitPluginManager | None = None
) -> Network:
    """The network a run folder (``toolkit train --out DIR``) trained, ready to use.

    Built from the folder's ``spec.yaml`` with the parameters of its ``params.npz``, or,
    for a run that did not finish, of its last checkpoint (with a ToolkitNotice saying
    so). ``predict``, ``loss`` and ``accuracy`` then give what ``toolkit evaluate`` and
    ``toolkit predict`` give. Raises UsageError for a folder that holds no parameters.
    """
    return restore_run(path, manager=manager).network


def restore_run(
    path: str | os.PathLike[str], *, manager: ToolkitPluginManager | None = None
) -> Assembly:
    """The run's spec, data and network (its final or last checkpointed parameters)."""
    run = RunDirectory(path)
    if not run.holds_run:
        raise UsageError(
            f"{run.path} holds no run ({RunDirectory.SPEC} missing); "
            "write one with 'toolkit train SPEC --out DIR'"
        )
    if not (run.path / RunDirectory.PARAMS).exists() and not run.has_checkpoint:
        raise UsageError(
            f"{run.path} holds a run that stopped before its first checkpoint: there are no "
            "parameters to use; train it again in a new folder"
        )
    run.check_inputs()  # the data the run read, unchanged, or refused
    spec = load_spec(run.path / RunDirectory.SPEC, manager=manager)
    run.check_named(spec)
    assembly = assemble(spec)
    source, params = _saved_params(run, list(assembly.network.params))
    for key, value in params.items():
        if value.shape != assembly.network.params[key].shape:
            raise UsageError(
                f"{source}: {key} has shape {value.shape}, the spec's "
                f"network needs {assembly.network.params[key].shape}"
            )
        assembly.network.params[key] = np.array(value, dtype=np.float64)
    return assembly


def _saved_params(run: RunDirectory, names: list[str]) -> tuple[Path, dict[str, np.ndarray]]:
    """``params.npz`` and its arrays, or the checkpoint and its for a run that did not
    finish (a damaged checkpoint if they are not the network's)."""
    if (run.path / RunDirectory.PARAMS).exists():
        return run.path / RunDirectory.PARAMS, read_arrays(run.path / RunDirectory.PARAMS, names)
    checkpoint = run.load_checkpoint()
    if set(checkpoint.params) != set(names):
        raise damaged(
            checkpoint.source,
            f"its parameters are {', '.join(checkpoint.params) or 'none'}, the spec's "
            f"network has {', '.join(names)}",
        )
    warnings.warn(
        f"{run.path} has no {RunDirectory.PARAMS} (the run did not finish); "
        f"using its checkpoint at iteration {checkpoint.iteration}",
        ToolkitNotice,
        stacklevel=3,
    )
    return Path(checkpoint.source), checkpoint.params
