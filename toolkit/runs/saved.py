"""A trained run read back from its folder: the spec's network with the run's parameters and
running state."""

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
from .checkpoint import Checkpoint, damaged
from .rundir import RunDirectory

__all__ = ["load_run", "restore_run"]


def load_run(
    path: str | os.PathLike[str], *, manager: ToolkitPluginManager | None = None
) -> Network:
    """The network a run folder (``toolkit train --out DIR``) trained, ready to use.

    Built from the folder's ``spec.yaml`` with the parameters of its ``params.npz`` and
    the running state of its ``state.npz`` (a network that keeps any), or, for a run that
    did not finish, of its last checkpoint (with a ToolkitNotice saying so). ``predict``,
    ``loss`` and ``accuracy`` then give what ``toolkit evaluate`` and ``toolkit predict``
    give. Raises UsageError for a folder that holds no parameters, or lacks the state.
    """
    return restore_run(path, manager=manager).network


def restore_run(
    path: str | os.PathLike[str], *, manager: ToolkitPluginManager | None = None
) -> Assembly:
    """The run's spec, data and network (its final or last checkpointed parameters and
    running state)."""
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
    network = assembly.network
    (source, params), (state_source, state) = _saved_arrays(run, network)
    _put(source, params, network.params)
    _put(state_source, state, network.state)
    return assembly


Saved = tuple[Path, dict[str, np.ndarray]]
"""A file and the arrays read from it."""


def _put(source: Path, saved: dict[str, np.ndarray], into: dict[str, np.ndarray]) -> None:
    """Replace the network's arrays (parameters or running state) with the saved ones,
    each of the shape the network needs (UsageError naming the file otherwise)."""
    for key, value in saved.items():
        if value.shape != into[key].shape:
            raise UsageError(
                f"{source}: {key} has shape {value.shape}, the spec's "
                f"network needs {into[key].shape}"
            )
        into[key] = np.array(value, dtype=np.float64)


def _saved_arrays(run: RunDirectory, network: Network) -> tuple[Saved, Saved]:
    """The parameters from ``params.npz`` and the running state from ``state.npz``, or
    both from the checkpoint for a run that did not finish (a damaged checkpoint if they
    are not the network's)."""
    params_file, state_file = run.path / RunDirectory.PARAMS, run.path / RunDirectory.STATE
    if params_file.exists():
        params = read_arrays(params_file, list(network.params))
        if not network.state:
            return (params_file, params), (state_file, {})
        if state_file.exists():
            state = read_arrays(state_file, list(network.state))
            return (params_file, params), (state_file, state)
        return (params_file, params), _checkpointed_state(run, network, params)
    checkpoint = _checkpoint(run, network)
    source = Path(checkpoint.source)
    return (source, checkpoint.params), (source, checkpoint.state)


def _checkpointed_state(
    run: RunDirectory, network: Network, params: dict[str, np.ndarray]
) -> Saved:
    """The running state of the checkpoint that holds ``params.npz``'s very parameters (the
    run's last), for a folder without ``state.npz``; without such a checkpoint, UsageError."""
    state_file = run.path / RunDirectory.STATE
    missing = UsageError(
        f"{state_file} is missing: the network keeps running state "
        f"({', '.join(network.state)}) that {RunDirectory.PARAMS} does not hold; "
        "train the run again"
    )
    if not run.has_checkpoint:
        raise missing
    checkpoint = run.load_checkpoint()
    same = set(checkpoint.params) == set(params) and all(
        np.array_equal(value, params[key]) for key, value in checkpoint.params.items()
    )
    if not same or set(checkpoint.state) != set(network.state):
        raise missing
    return Path(checkpoint.source), checkpoint.state


def _checkpoint(run: RunDirectory, network: Network) -> Checkpoint:
    """The checkpoint of a run that did not finish, holding the network's parameters and
    running state by name (a damaged checkpoint otherwise), with a notice saying so."""
    checkpoint = run.load_checkpoint()
    for what, saved, own in (
        ("parameters are", checkpoint.params, network.params),
        ("running state is", checkpoint.state, network.state),
    ):
        if set(saved) != set(own):
            raise damaged(
                checkpoint.source,
                f"its {what} {', '.join(saved) or 'none'}, the spec's "
                f"network has {', '.join(own) or 'none'}",
            )
    warnings.warn(
        f"{run.path} has no {RunDirectory.PARAMS} (the run did not finish); "
        f"using its checkpoint at iteration {checkpoint.iteration}",
        ToolkitNotice,
        stacklevel=4,
    )
    return checkpoint
