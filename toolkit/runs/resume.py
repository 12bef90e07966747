"""A run continued in its folder: what it resumes from, checked before anything is written,
and a run that had already reached its end."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import UsageError
from ..spec.load import Spec
from .checkpoint import Checkpoint
from .rundir import RunDirectory
from .trainer import check_checkpoint, require_same_spec, spec_change

__all__ = ["Resumption", "SpecLoader", "finish", "prepare_resume", "reopen", "resumable"]

SpecLoader = Callable[[Path, Sequence[str]], Spec]
"""Loads a run folder's ``spec.yaml`` with overrides (``load_spec`` with the caller's plugins)."""


@dataclass(frozen=True)
class Resumption:
    """What a run folder continues from: its last checkpoint, the spec it runs on, and
    whether that spec is longer than the one recorded in the folder (``extended``)."""

    checkpoint: Checkpoint
    spec: Spec
    extended: bool

    @property
    def total(self) -> int:
        """The iteration the run goes on to."""
        return int(self.spec.settings.train.iterations)

    @property
    def finished(self) -> bool:
        """Whether the checkpoint is already at the run's end: nothing is left to train."""
        return self.checkpoint.iteration >= self.total


def resumable(path: str | os.PathLike[str]) -> RunDirectory:
    """The run folder at ``path``; a path that is no folder is refused, as a folder without
    a checkpoint is (UsageError: nothing to resume)."""
    out = RunDirectory(path)
    if not out.path.is_dir():
        out.load_checkpoint()  # refuses: nothing to resume
    return out


def prepare_resume(
    out: RunDirectory, load: SpecLoader, overrides: Sequence[str] = ()
) -> Resumption:
    """Check that the run in ``out`` (whose lock the caller holds) can continue, and remove
    the temporary files a kill left there.

    Its checkpoint, the files its data came from and its spec must be as the run left them;
    ``overrides`` may change ``train.iterations`` only, to at least the checkpoint's
    iteration (UsageError otherwise).
    """
    checkpoint = out.load_checkpoint()
    out.check_inputs()  # the data the run read, unchanged, or refused
    recorded = load(out.path / RunDirectory.SPEC, ())
    spec = _extended(load, out, recorded, overrides) if overrides else recorded
    total = spec.settings.train.iterations
    require_same_spec(checkpoint.spec, spec)  # all but the length
    out.check_named(recorded)
    if checkpoint.iteration > total:
        raise UsageError(
            f"train.iterations={total}: the run in {out.path} is already at iteration "
            f"{checkpoint.iteration}; give at least that many"
        )
    out.remove_temporary_files()
    return Resumption(checkpoint, spec, extended=spec.config != recorded.config)


def _extended(
    load: SpecLoader, out: RunDirectory, recorded: Spec, overrides: Sequence[str]
) -> Spec:
    """The run's spec with ``overrides``, which may change only ``train.iterations``."""
    spec = load(out.path / RunDirectory.SPEC, overrides)
    changed = spec_change(recorded.config, spec.config)
    if changed:
        raise UsageError(
            f"train --resume DIR: --set may change only train.iterations (to extend the run), "
            f"not {changed}; start a new run for another spec"
        )
    return spec


def reopen(out: RunDirectory, resumption: Resumption) -> None:
    """Ready ``out`` for the resumed run's writes: its longer spec recorded, its metrics
    cut back to the checkpoint's iteration."""
    if resumption.extended:
        out.extend(resumption.spec)
    out.resume_metrics(resumption.checkpoint)


def finish(out: RunDirectory, resumption: Resumption) -> bool:
    """Close a run whose checkpoint is already at its end (``resumption.finished``): its
    longer spec recorded, and the checkpoint's parameters (and running state) written as
    ``params.npz`` (and ``state.npz``) where the run was killed after its last checkpoint.
    True if ``params.npz`` was written."""
    check_checkpoint(resumption.spec, resumption.checkpoint)  # its parameters become params
    if resumption.extended:
        out.extend(resumption.spec)
    if (out.path / RunDirectory.PARAMS).exists():
        return False
    out.save_params(resumption.checkpoint.params, resumption.checkpoint.state)
    return True
