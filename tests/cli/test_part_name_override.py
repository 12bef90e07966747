"""A part set by name and then given settings (``--set optimizer=adam --set
optimizer.learning_rate=0.005``), in either order, is what ``toolkit train`` runs: the
same spec and the same numbers as ``--set optimizer.name=adam``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from tests.helpers import SPECS, RunCli

SPEC = str(SPECS / "two_layer_teacher.yaml")
SHORT = ("--set", "train.iterations=20", "--set", "train.log_every=5", "-q")
RATE = "0.005"  # not Adam's default learning rate (0.001), so its effect shows


def train(
    run_cli: RunCli, out: Path, *sets: str
) -> tuple[dict[str, object], list[dict[str, object]], dict[str, np.ndarray]]:
    """The resolved optimizer, the metrics and the parameters of a run with ``sets``."""
    args = [item for text in sets for item in ("--set", text)]
    result = run_cli("train", SPEC, *SHORT, *args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    with np.load(out / "params.npz") as params:
        arrays = {key: params[key] for key in params.files}
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for record in records:
        del record["seconds"]  # wall-clock time, the one number that may differ
    return spec["optimizer"], records, arrays


def test_a_part_named_then_its_settings_runs_that_part(run_cli: RunCli, tmp_path: Path) -> None:
    named, named_metrics, named_params = train(
        run_cli, tmp_path / "named", "optimizer=adam", f"optimizer.learning_rate={RATE}"
    )
    by_key, key_metrics, key_params = train(
        run_cli, tmp_path / "key", "optimizer.name=adam", f"optimizer.learning_rate={RATE}"
    )
    assert named["name"] == "adam" and named["learning_rate"] == float(RATE)
    assert named == by_key
    assert named_metrics == key_metrics
    assert named_params.keys() == key_params.keys()
    assert all(np.array_equal(named_params[k], key_params[k]) for k in named_params)
    _, default_rate_metrics, _ = train(run_cli, tmp_path / "default", "optimizer=adam")
    assert default_rate_metrics != named_metrics  # the learning rate took effect


def test_the_settings_before_the_name_work_the_same(run_cli: RunCli, tmp_path: Path) -> None:
    first, first_metrics, _ = train(
        run_cli, tmp_path / "a", "optimizer=adam", f"optimizer.learning_rate={RATE}"
    )
    reverse, reverse_metrics, _ = train(
        run_cli, tmp_path / "b", f"optimizer.learning_rate={RATE}", "optimizer=adam"
    )
    assert reverse == first and reverse["learning_rate"] == float(RATE)
    assert reverse_metrics == first_metrics
