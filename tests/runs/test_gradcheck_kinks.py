"""toolkit gradcheck through kinks: a correct derivative passes where the loop's central
difference straddles a kink; a wrong one still fails."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import toolkit
from tests.helpers import SPECS, RunCli, write
from toolkit.cli import main
from toolkit.runs.build import assemble
from toolkit.runs.gradcheck import gradcheck

RELU = str(SPECS / "two_layer_relu.yaml")
RELU_SPEC = yaml.safe_load((SPECS / "two_layer_relu.yaml").read_text())
DEEP_RELU = [
    "--set",
    "data.features=784",
    "--set",
    "model.layers=[{units: 100, activation: relu, init: {name: he}}, "
    "{units: 100, activation: relu, init: {name: he}}, "
    "{units: 10, activation: softmax, init: {name: he}}]",
    "--batch",
    "100",
]

KINKED_PLUGIN = '''
import numpy as np
from toolkit import Part


def relu(x):
    return np.maximum(0.0, x)


def lopsided_grad(x):
    """1 for x > 0, and wrongly 1 for -0.5 < x < 0 too."""
    return np.asarray((x > 0) | ((x > -0.5) & (x < 0)), dtype=float)


def right_grad(x):
    """The derivative of relu, taking the right piece's (1) at 0."""
    return np.asarray(x >= 0, dtype=float)


def wrong_at_zero_grad(x):
    """The derivative of relu, but 3 at 0 (neither piece's)."""
    return np.where(x == 0, 3.0, np.asarray(x > 0, dtype=float))


def hinge(y, t):
    """Mean over the batch of sum(max(0, y)) per sample: kinked at y = 0."""
    return np.maximum(0.0, y).sum(axis=(-2, -1)) / y.shape[-2]


def hinge_grad(y, t):
    return np.asarray(y > 0, dtype=float) / y.shape[-2]


def toolkit_losses():
    return {"hinge": Part(hinge, derivative=hinge_grad, breakpoints=(0.0,))}


def toolkit_activations():
    kink = (0.0,)
    return {
        "lopsided_relu": Part(relu, derivative=lopsided_grad, breakpoints=kink),
        "right_relu": Part(relu, derivative=right_grad, breakpoints=kink),
        "wrong_at_zero_relu": Part(relu, derivative=wrong_at_zero_grad, breakpoints=kink),
    }
'''


def kink_rows(stdout: str) -> dict[tuple[str, str], dict[str, str]]:
    """The table of straddling elements as {(estimator, param): {straddling, rel, result}}."""
    lines = stdout.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("estimator ") and ("straddling" in line)
    )
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        fields = line.split()
        rows[fields[0], fields[1]] = {
            "straddling": fields[2],
            "rel": fields[4],
            "result": fields[6],
            "matched": " ".join(fields[7:]),
        }
    return rows


@pytest.mark.parametrize("batch", [None, 100])
@pytest.mark.parametrize("seed", range(10))
def test_backprop_passes_on_the_shipped_relu_spec(
    capsys: pytest.CaptureFixture[str], seed: int, batch: int | None
) -> None:
    """Seeds 0-9, the spec's batch and 100: backprop passes (exit 0); each straddling
    element is matched by the kink-free reference, none by the straddling plain one."""
    args = ["gradcheck", RELU, "--set", f"seed={seed}", "--estimators", "backprop"]
    args += [] if batch is None else ["--batch", str(batch)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("gradcheck passed: 1 of 1 estimators"), out
    if "straddle a kink" in out:
        for row in kink_rows(out).values():
            assert row["result"] == "pass"
            assert row["matched"] == f"plain 0, kink-free {row['straddling']}"


@pytest.mark.parametrize("seed", range(10))
def test_every_estimator_passes_on_the_shipped_relu_spec(
    capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    """Seeds 0-9, every registered estimator (the command's default): exit 0."""
    assert main(["gradcheck", RELU, "--set", f"seed={seed}"]) == 0, capsys.readouterr().out


def test_a_forward_difference_across_a_kink_lies_between_the_slopes() -> None:
    """Seed 3: forward_difference's own step crosses the kink at three elements, where it
    matches neither reference but lies between the slopes on either side; it passes."""
    report = gradcheck({**RELU_SPEC, "seed": 3}, ["forward_difference"])
    (check,) = [c for c in report.estimator("forward_difference").parameters if c.kinks]
    assert check.kinks is not None and check.kinks.matched_between >= 1
    assert report.passed


def test_the_relu_spec_at_batch_100_has_elements_that_straddle() -> None:
    """The seeds above do exercise the kinks: at batch 100, seeds 1-4 and 6-9 have
    straddling elements (the loop's reference alone fails backprop there)."""
    straddled = {
        seed: gradcheck({**RELU_SPEC, "seed": seed}, ["backprop"], batch=100).reference.straddled
        for seed in range(10)
    }
    assert sum(1 for count in straddled.values() if count) >= 8, straddled


def test_straddling_elements_are_where_the_loop_misleads() -> None:
    """Every element where the loop's value is off backprop's by more than the tolerance is
    reported as straddling, and the kink-free values there are within it of backprop."""
    report = gradcheck({**RELU_SPEC, "seed": 3}, ["backprop"], batch=100)
    assembly = assemble(toolkit.load_spec({**RELU_SPEC, "seed": 3}))
    batch = assembly.rng.choice(assembly.data.samples, 100)
    network = assembly.network
    grads = network.gradient(assembly.data.x[batch], assembly.data.t[batch], "backprop")
    reference = report.reference
    for name in ("W1", "b1"):
        exact = grads[name].reshape(-1)[reference.indices[name]]
        plain = reference.values[name]
        scale = np.max(np.abs(exact))
        off = set(np.flatnonzero(np.abs(exact - plain) > 1e-7 * scale).tolist())
        straddling = reference.straddling[name]
        assert off, name  # the loop alone would fail backprop here
        assert off <= set(straddling.positions.tolist())
        for position, free in zip(straddling.positions, straddling.kink_free, strict=True):
            assert free is not None and not free.one_sided
            assert free.distance(exact[position]) <= 1e-7 * scale


def test_deep_relu_network_passes_with_backprop(capsys: pytest.CaptureFixture[str]) -> None:
    """784-100-100-10 relu, he init, batch 100, sampled reference: backprop passes (exit 0)
    with the straddling elements reported apart."""
    assert main(["gradcheck", RELU, *DEEP_RELU, "--estimators", "backprop"]) == 0
    out = capsys.readouterr().out
    assert "on a sample of at most 200 elements per parameter" in out
    assert re.search(r"^kinks: \d+ elements straddle a kink at h=0.0001 \(", out, re.M), out
    assert "straddle a kink; compared apart" in out.splitlines()[-1]
    assert {param for _, param in kink_rows(out)} <= {"W1", "b1", "W2", "b2"}


def backprop_check(run_cli: RunCli, tmp_path: Path, *settings: str) -> Any:
    """``toolkit gradcheck`` of the shipped ReLU spec with the test's kinked activations
    plugged in, ``settings`` applied, backprop alone."""
    write(tmp_path / "kinked_plugin.py", KINKED_PLUGIN)
    return run_cli(
        "gradcheck",
        RELU,
        "-p",
        "kinked_plugin",
        *settings,
        "--estimators",
        "backprop",
        env={"PYTHONPATH": str(tmp_path)},
    )


def test_a_relu_derivative_wrong_on_one_side_fails(run_cli: RunCli, tmp_path: Path) -> None:
    """Derivative 1 for -0.5 < z < 0 (declared kink at 0): backprop FAILs, exit 1."""
    result = backprop_check(run_cli, tmp_path, "--set", "model.layers.0.activation=lopsided_relu")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("gradcheck FAILED: backprop (W1, b1")


def zero_rows_data(path: Path) -> Path:
    """Twenty samples of four features, every other one all zeros: with zero biases, their
    first-layer pre-activations sit exactly on relu's kink."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20, 4))
    x[::2] = 0.0
    t = np.eye(3)[rng.integers(0, 3, 20)]
    np.savez(path, x=x, t=t)
    return path


def zero_rows_check(
    run_cli: RunCli, tmp_path: Path, hidden: str, output: str, *settings: str
) -> Any:
    """``backprop_check`` on ``zero_rows_data`` with a 5-unit ``hidden`` layer and a 3-unit
    ``output`` one, zero biases (the default), the default generator."""
    data = zero_rows_data(tmp_path / "zeros.npz")
    return backprop_check(
        run_cli,
        tmp_path,
        "--set",
        f"data={{name: npz, path: {data}}}",
        "--set",
        f"model.layers=[{{units: 5, activation: {hidden}, init: {{name: normal, scale: 0.5}}}}, "
        f"{{units: 3, activation: {output}, init: {{name: normal, scale: 0.5}}}}]",
        "--set",
        "rng=default",
        *settings,
    )


@pytest.mark.parametrize(
    ("activation", "code"),
    [("relu", 0), ("right_relu", 0), ("wrong_at_zero_relu", 1)],
)
def test_at_a_kink_each_one_sided_derivative_passes_and_others_fail(
    run_cli: RunCli, tmp_path: Path, activation: str, code: int
) -> None:
    """Pre-activations exactly at 0: the b1 elements are compared one-sided. Taking either
    piece's derivative at 0 passes (the plain reference, the average of the two, would fail
    both); 3 at 0 fails on those elements alone."""
    result = zero_rows_check(run_cli, tmp_path, activation, "softmax")
    assert result.returncode == code, result.stdout + result.stderr
    kinks = re.search(r"^kinks: (\d+) elements .*, (\d+) of them one-sided", result.stdout, re.M)
    assert kinks is not None, result.stdout
    assert int(kinks.group(2)) >= 5  # every b1 element
    rows = kink_rows(result.stdout)
    assert rows["backprop", "b1"]["straddling"] == "5"
    expected = "pass" if code == 0 else "FAIL"
    assert rows["backprop", "b1"]["result"] == expected
    if code:
        assert result.stdout.splitlines()[-1].startswith("gradcheck FAILED: backprop (b1)")


def test_a_loss_kinked_at_the_output_is_compared_apart(run_cli: RunCli, tmp_path: Path) -> None:
    """A loss that declares a kink at y = 0, with outputs exactly there (zero inputs, zero
    biases): backprop's derivative of either piece passes, every b2 element compared apart;
    the table's row for b2 has nothing else to compare and says so ('-')."""
    result = zero_rows_check(run_cli, tmp_path, "relu", "identity", "--set", "loss=hinge")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = kink_rows(result.stdout)
    assert rows["backprop", "b2"]["result"] == "pass"
    assert int(rows["backprop", "b2"]["straddling"]) == 3
    (b2,) = [line.split() for line in result.stdout.splitlines() if line.startswith("backprop ")][
        3:4
    ]
    assert b2[1:3] == ["b2", "0"] and b2[6] == "-"


def test_help_says_how_kinks_are_compared(capsys: pytest.CaptureFixture[str]) -> None:
    """`toolkit gradcheck --help` describes the reference through kinks."""
    with pytest.raises(SystemExit) as exit:
        main(["gradcheck", "--help"])
    assert exit.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "a breakpoint its activation declares (a kink)" in text
    assert "an estimator passes there if it matches either reference" in text
