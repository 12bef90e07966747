"""The command line: train's output files, validate's summary, the plugin listing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import toolkit
import toolkit.cli
import toolkit.cli.train
from tests.helpers import SPECS, RunCli
from tests.registry.test_plugin_discovery import STANDARD

SHORT = ["--set", "train.iterations=5", "--set", "train.log_every=2"]


def test_train_out_writes_metrics_params_and_resolved_spec(run_cli: RunCli, tmp_path: Path) -> None:
    """--out DIR holds one metrics line per log point, the final params and the resolved spec."""
    out = tmp_path / "run"
    result = run_cli("train", str(SPECS / "two_layer_sigmoid.yaml"), *SHORT, "--out", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [0, 2, 4, 5]  # 0: before the first update
    printed = re.findall(r"loss (\S+)", result.stdout)
    assert [repr(r["loss"]) for r in records[1:]] == printed[:3]
    resolved = yaml.safe_load((out / "spec.yaml").read_text())
    assert resolved["train"] == {
        "iterations": 5,
        "batch_size": 10,
        "log_every": 2,
        "weight_decay": 0.0,  # no checkpoint_every: checkpoints follow the clock
    }
    assert resolved["gradient"] == {"name": "central_difference", "h": 1e-4}
    spec = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", ["train.iterations=5", "train.log_every=2"]
    )
    expected = toolkit.train(spec).network.params
    with np.load(out / "params.npz") as saved:
        assert sorted(saved.files) == ["W1", "W2", "b1", "b2"]
        for key in expected:
            np.testing.assert_array_equal(saved[key], expected[key])


def test_train_summary_gives_final_loss_and_time(run_cli: RunCli) -> None:
    """The last line names the iterations, the wall time, the final loss and accuracy."""
    result = run_cli("train", "two_layer_relu", *SHORT)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    pattern = r"done: 5 iterations in \d+\.\d s, final loss \d\.\d+, accuracy [\d.]+"
    assert re.fullmatch(pattern, last), last


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    """`python -m toolkit` is the toolkit command."""
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", "train", *SHORT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("training two_layer_sigmoid")


def test_validate_shows_layers_shapes_counts_and_providers(run_cli: RunCli) -> None:
    """validate prints each layer's type, output shape, parameters and their count, and who
    provides each part."""
    result = run_cli("validate", str(SPECS / "two_layer_sigmoid.yaml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^input\s+\(100,\)$", out, re.M)
    assert re.search(
        r"^1\s+dense\s+sigmoid\s+\(10,\)\s+W1 \(100, 10\), b1 \(10,\)\s+1,010$", out, re.M
    )
    assert re.search(
        r"^2\s+dense\s+softmax\s+\(10,\)\s+W2 \(10, 10\), b2 \(10,\)\s+110$", out, re.M
    )
    assert re.search(rf"^total\s+{100 * 10 + 10 + 10 * 10 + 10:,}$", out, re.M)
    assert re.search(
        r"^model.layers\[0\].activation\s+sigmoid\s+toolkit_plugins.activations "
        r"\(layer-toolkit \S+\)$",
        out,
        re.M,
    )
    assert re.search(
        r"^optimizer\s+sgd\(learning_rate=0.1\)\s+toolkit_plugins.optimizers", out, re.M
    )
    assert out.strip().endswith("valid")


def test_plugins_lists_every_standard_part_with_its_provider(run_cli: RunCli) -> None:
    """`toolkit plugins` lists each standard part: qualified name, distribution, file:line
    (all of them where the terminal is wide enough)."""
    result = run_cli("plugins", env={"COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr
    sections = re.split(r"^(\w+) \(\d+\)$", result.stdout, flags=re.M)[1:]
    listed = dict(zip(sections[::2], sections[1::2], strict=True))
    plurals = {
        "activation": "activations",
        "loss": "losses",
        "initializer": "initializers",
        "gradient_estimator": "gradient_estimators",
        "dataset": "datasets",
        "optimizer": "optimizers",
    }
    for kind, names in STANDARD.items():
        body = listed[plurals[kind]]
        for name in names:
            pattern = (
                rf"^  {name}\s.*\stoolkit_plugins\.{plurals[kind]}:{name}\s+layer-toolkit "
                rf"\S+\s+\S*plugins/{plurals[kind]}\.py:\d+\s"
            )
            assert re.search(pattern, body, re.M), (kind, name)


def test_ctrl_c_without_a_folder_exits_130_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C during a run without --out: one line, no resume hint (nothing to resume), 130."""

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(toolkit.cli.train, "train_in_folder", interrupted)
    assert toolkit.cli.main(["train", "-q"]) == 130
    assert capsys.readouterr().err.splitlines() == ["error: interrupted"]


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    """`toolkit schema | head`: the reader is gone before the command writes; it stops with
    exit 1 and without a traceback."""
    toolkit_command = Path(sys.executable).with_name("toolkit")
    process = subprocess.Popen(
        [str(toolkit_command), "schema"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the command has imported what it needs to write
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
