"""A trained run read back from its folder: the spec's network with the run's parameters."""

from __future__ import annotations

import os
import warnings

import numpy as np

from .arrays import read_arrays
from .assembly import Assembly, assemble
from .errors import ToolkitNotice, UsageError
from .manager import ToolkitPluginManager
from .network import Network
from .rundir import RunDirectory
from .spec import load_spec

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
    for key, value in _saved_params(run, list(assembly.network.params)).items():
        if value.shape != assembly.network.params[key].shape:
            raise UsageError(
                f"{run.path / RunDirectory.PARAMS}: {key} has shape {value.shape}, the spec's "
                f"network needs {assembly.network.params[key].shape}"
            )
        assembly.network.params[key] = np.array(value, dtype=np.float64)
    return assembly


def _saved_params(run: RunDirectory, names: list[str]) -> dict[str, np.ndarray]:
    """``params.npz``'s arrays, or the checkpoint's for a run that did not finish."""
    if (run.path / RunDirectory.PARAMS).exists():
        return read_arrays(run.path / RunDirectory.PARAMS, names)
    checkpoint = run.load_checkpoint()
    warnings.warn(
        f"{run.path} has no {RunDirectory.PARAMS} (the run did not finish); "
        f"using its checkpoint at iteration {checkpoint.iteration}",
        ToolkitNotice,
        stacklevel=3,
    )
    return checkpoint.params
