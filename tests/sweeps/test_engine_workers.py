"""The number of workers an engine is asked for, as ``toolkit.sweep(workers=...)`` may give
it: a whole number of at least 1 (numpy's too), anything else one line, exit 2."""

from __future__ import annotations

import os

import numpy as np
import pytest

from toolkit import UsageError
from toolkit.sweeps.engines import make_executor
from toolkit_plugins.executors import BLAS_THREADS


@pytest.mark.parametrize("workers", [2.5, "2", 0, True, -1])
def test_a_number_of_workers_that_is_not_a_whole_number_from_1_is_refused(
    workers: object,
) -> None:
    before = {name: os.environ.get(name) for name in BLAS_THREADS}
    with pytest.raises(UsageError) as raised:
        make_executor("local", workers, {})  # type: ignore[arg-type]
    message = str(raised.value)
    assert raised.value.exit_code == 2 and "\n" not in message
    assert message.startswith("--workers ") and "whole number of at least 1" in message
    assert {name: os.environ.get(name) for name in BLAS_THREADS} == before


def test_a_numpy_whole_number_of_workers_is_taken() -> None:
    executor = make_executor("local", np.int64(1), {})  # type: ignore[arg-type]
    try:
        assert executor.submit(pow, 3, 2).result(timeout=120) == 9
    finally:
        executor.shutdown()
