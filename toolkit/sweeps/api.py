"""``toolkit.sweep(...)``: a sweep from Python, as ``toolkit sweep`` runs it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..base.errors import UsageError
from .coordinator import Event, TrialRecord
from .plan import plan_from_python
from .session import Engine, Options, prepare_resume, prepare_start, run, setup_of

__all__ = ["sweep"]


def sweep(
    spec: str | os.PathLike[str] | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    random: Mapping[str, str] | None = None,
    trials: int | None = None,
    seeds: int | Sequence[int] | None = None,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
    workers: int | None = None,
    engine: str = "local",
    address: str | None = None,
    out: str | os.PathLike[str],
    retries: int = 0,
    fail_fast: bool = False,
    resume: bool = False,
    retry_failed: bool = False,
    random_seed: int | None = None,
    stop: Callable[[], bool] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> list[TrialRecord]:
    """Run the trials of ``spec`` swept over ``grid`` (``{"optimizer.learning_rate": [0.1,
    0.01]}``), ``random`` (``{"optimizer.learning_rate": "loguniform:1e-6,1e-2"}`` with
    ``trials`` draws from a generator seeded with ``random_seed``, 0 unless given) and
    ``seeds`` (N: seeds 0 to N-1; or a list) into the new sweep folder ``out``, ``workers``
    at a time on ``engine``; with ``resume=True``, continue the sweep in ``out`` instead
    (no spec nor plan arguments, nor ``random_seed``: the folder's own are used).

    Returns each trial's record, in expansion order: ``status`` is ``done``, ``failed``,
    ``crashed`` (its worker died more often than ``retries`` allows), ``stopped`` or
    ``pending`` (not run: ``fail_fast`` after a failure, or ``stop()`` returned true).
    Bad input raises SpecError or UsageError before anything is created. ``stop`` is
    asked as trials run: once it returns true, nothing more is submitted and the running
    trials stop with a checkpoint (``resume=True`` continues them). ``on_event`` is told
    of each trial submitted, finished or skipped.
    """
    _check_counts(workers, retries)
    chosen = Engine(engine, workers, {} if address is None else {"address": address})
    if resume:
        given: dict[str, object] = {"spec": spec, "grid": grid, "random": random}
        given |= {"trials": trials, "seeds": seeds, "overrides": overrides}
        given["plugins"] = plugins or None
        given["random_seed"] = random_seed
        named = [name for name, value in given.items() if value is not None]
        if named:
            raise UsageError(
                f"sweep(resume=True) continues the sweep in out with its own sweep.yaml; "
                f"drop {', '.join(named)}"
            )
        prepared = prepare_resume(out, chosen)
    else:
        if retry_failed:
            raise UsageError("retry_failed=True goes with resume=True; add it or drop it")
        if spec is None:
            raise UsageError("sweep() needs a spec file's path, or resume=True")
        plan = plan_from_python(
            spec,
            grid=grid,
            random=random,
            trials=trials,
            seeds=seeds,
            overrides=overrides,
            plugins=plugins,
            random_seed=0 if random_seed is None else random_seed,
        )
        prepared = prepare_start(plan, setup_of(plan), out, chosen)
    options = Options(
        retries=retries,
        fail_fast=fail_fast,
        retry_failed=retry_failed,
        stop_requested=stop or (lambda: False),
        on_event=on_event or (lambda event: None),
    )
    return run(prepared, options).records


def _check_counts(workers: int | None, retries: int) -> None:
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise UsageError(f"workers={workers!r}: give a whole number of 1 or more, or None")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"retries={retries!r}: give a whole number of 0 or more")
