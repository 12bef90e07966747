"""validate's layer table, and the same rows from Python (``toolkit.runs.layer_table``)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import RunCli, write
from toolkit.runs.layer_table import LayerRow, layer_table

STACK = """\
seed: 1
data: {name: digits}
model:
  layers:
    - {type: reshape, shape: [1, 8, 8]}
    - {type: flatten}
    - {units: 16}
    - {type: activation, activation: relu}
    - {units: 10, activation: softmax}
"""

# A layer that keeps running state: a per-feature running mean, and a scale parameter.
KEEPER = """\
import numpy as np
from toolkit import Layer, ParamSpec, Part, Step

class Keeper(Layer):
    def param_specs(self):
        return (ParamSpec("gamma", self.input_shape, 1.0),)

    def state_specs(self):
        return (ParamSpec("running_mean", self.input_shape, 0.0),)

    def forward(self, x, params, mode):
        y = x * params[self.names["gamma"]]
        return Step(x, y, y)

def keeper(input_shape):
    return Keeper(input_shape)

def toolkit_layers():
    return {"keeper": Part(keeper)}
"""


def test_validate_shows_every_layer_with_its_output_shape(run_cli: RunCli, tmp_path: Path) -> None:
    """Layers without parameters are rows too: reshape, flatten and activation, with their
    output shapes; dense counts are the book's (inputs * units + units)."""
    result = run_cli("validate", str(write(tmp_path / "stack.yaml", STACK)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^layer\s+type\s+activation\s+output\s+parameters\s+count$", out, re.M)
    assert re.search(r"^input\s+\(64,\)$", out, re.M)
    assert re.search(r"^1\s+reshape\s+-\s+\(1, 8, 8\)\s+-\s+0$", out, re.M)
    assert re.search(r"^2\s+flatten\s+-\s+\(64,\)\s+-\s+0$", out, re.M)
    assert re.search(
        r"^3\s+dense\s+identity\s+\(16,\)\s+W1 \(64, 16\), b1 \(16,\)\s+1,040$", out, re.M
    )
    assert re.search(r"^4\s+activation\s+relu\s+\(16,\)\s+-\s+0$", out, re.M)
    assert re.search(
        r"^5\s+dense\s+softmax\s+\(10,\)\s+W2 \(16, 10\), b2 \(10,\)\s+170$", out, re.M
    )
    assert re.search(rf"^total\s+{64 * 16 + 16 + 16 * 10 + 10:,}$", out, re.M)
    assert "state" not in out.split("\n\n")[1]  # no layer keeps state: no state column


def test_validate_shows_state_apart_from_parameters(run_cli: RunCli, tmp_path: Path) -> None:
    """A layer's running state is listed in its own column and not counted as parameters."""
    write(tmp_path / "keeper.py", KEEPER)
    spec = STACK.replace("seed: 1\n", "seed: 1\nplugins: [keeper]\n").replace(
        "    - {type: activation, activation: relu}\n", "    - {type: keeper}\n"
    )
    result = run_cli("validate", str(write(tmp_path / "kept.yaml", spec)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(
        r"^layer\s+type\s+activation\s+output\s+parameters\s+count\s+state$", out, re.M
    )
    assert re.search(
        r"^4\s+keeper\s+-\s+\(16,\)\s+gamma1 \(16,\)\s+16\s+running_mean1 \(16,\)$", out, re.M
    )
    assert re.search(rf"^total\s+{64 * 16 + 16 + 16 + 16 * 10 + 10:,}$", out, re.M)


def test_layer_table_from_python(tmp_path: Path) -> None:
    """The rows a Python user reads: one per layer, named and shaped as the network's arrays."""
    rows = layer_table(write(tmp_path / "stack.yaml", STACK))
    assert [row.type for row in rows] == ["reshape", "flatten", "dense", "activation", "dense"]
    assert [row.output_shape for row in rows] == [(1, 8, 8), (64,), (16,), (16,), (10,)]
    assert rows[2] == LayerRow(3, "dense", "identity", (16,), (("W1", (64, 16)), ("b1", (16,))), ())
    assert [row.count for row in rows] == [0, 0, 64 * 16 + 16, 0, 16 * 10 + 10]


def test_set_gives_a_layer_type_by_name(run_cli: RunCli, tmp_path: Path) -> None:
    """``--set model.layers.N.type=NAME`` sets the name (a type has no settings of its own)."""
    spec = write(tmp_path / "stack.yaml", STACK)
    result = run_cli(
        "validate",
        str(spec),
        "--set",
        "model.layers.3.type=dense",
        "--set",
        "model.layers.3.units=8",
    )
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"^4\s+dense\s+relu\s+\(8,\)\s+W2 \(16, 8\), b2 \(8,\)\s+136$", result.stdout, re.M
    )
