"""toolkit gradcheck: estimators against the element-loop reference, from the CLI and Python."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import toolkit
import toolkit.runs.gradcheck
from tests.helpers import SPECS, RunCli, write
from toolkit.cli import main
from toolkit.runs.build import assemble
from toolkit.runs.gradcheck import gradcheck

SHIPPED = ["two_layer_sigmoid.yaml", "two_layer_relu.yaml"]
BIG = ["--set", "data.features=300", "--set", "model.layers.0.units=20"]

SLOPPY_PLUGIN = '''
from toolkit import Part
from toolkit_plugins.gradient_estimators import central_difference


def sloppy_difference(objective, h=1e-4):
    """Central differences, one percent too large."""
    return {name: 1.01 * grad for name, grad in central_difference(objective, h).items()}


def toolkit_gradient_estimators():
    return {"sloppy_difference": Part(sloppy_difference, tolerance=1e-7)}
'''

SOFTSIGN_PLUGIN = """
import numpy as np


def toolkit_activations():
    return {"softsign": lambda x: x / (1 + np.abs(x))}
"""

TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 7,
    "data": {"name": "random", "samples": 20, "features": 4, "classes": 3},
    "model": {
        "layers": [
            {"units": 5, "activation": "tanh", "init": {"name": "normal", "scale": 0.5}},
            {"units": 3, "activation": "softmax", "init": {"name": "normal", "scale": 0.5}},
        ]
    },
    "loss": "cross_entropy",
    "gradient": {"name": "central_difference", "h": 1e-4},
    "train": {"batch_size": 6},
}


def table_rows(stdout: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The printed table as {(estimator, param): {elements, abs, rel, result}}."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("estimator "))
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        fields = line.split()
        result = next(field for field in fields[5:] if field in ("pass", "FAIL", "-"))
        rows[fields[0], fields[1]] = {
            "elements": int(fields[2]),
            "abs": float(fields[3]),
            "rel": float(fields[4]),
            "result": result,
        }
    return rows


def loop_gradient(network: toolkit.Network, x: np.ndarray, t: np.ndarray, h: float) -> dict:
    """Central differences written out: one element at a time through network.loss."""
    grads = {}
    for name, param in network.params.items():
        grad = np.zeros(param.shape)
        for index in np.ndindex(param.shape):
            value = param[index]
            param[index] = value + h
            f1 = network.loss(x, t)
            param[index] = value - h
            f2 = network.loss(x, t)
            param[index] = value
            grad[index] = (f1 - f2) / (2 * h)
        grads[name] = grad
    return grads


def tiny_batch() -> tuple[toolkit.Network, np.ndarray, np.ndarray]:
    """The tiny spec's network and the batch its first iteration draws."""
    assembly = assemble(toolkit.load_spec(TINY))
    batch = assembly.rng.choice(assembly.data.samples, TINY["train"]["batch_size"])
    return assembly.network, assembly.data.x[batch], assembly.data.t[batch]


@pytest.mark.parametrize("spec", SHIPPED)
def test_shipped_specs_pass_with_the_full_loop_reference(run_cli: RunCli, spec: str) -> None:
    """Both shipped specs pass (exit 0) against the loop on all 1120 elements."""
    result = run_cli("gradcheck", str(SPECS / spec))
    assert result.returncode == 0, result.stdout + result.stderr
    reference = "reference: central differences one element at a time, on every element"
    assert reference in result.stdout
    assert "1120 of 1120 elements" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("gradcheck passed:")
    checked = {estimator for estimator, _ in table_rows(result.stdout)}
    skipped = set(re.findall(r"^skipped (\S+):", result.stdout, re.M))  # complex_step on relu
    assert skipped <= {"complex_step"}
    assert checked | skipped == {
        "backprop",
        "central_difference",
        "central_difference_loop",
        "complex_step",
        "forward_difference",
        "spsa",
    }


@pytest.mark.parametrize("spec", SHIPPED)
def test_exact_estimators_print_relative_errors_below_1e_7(run_cli: RunCli, spec: str) -> None:
    """backprop and central_difference print a relative error under 1e-7 for every parameter."""
    result = run_cli("gradcheck", str(SPECS / spec), "--estimators", "backprop,central_difference")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert {param for _, param in rows} == {"W1", "b1", "W2", "b2"}
    assert {estimator for estimator, _ in rows} == {"backprop", "central_difference"}
    for key, row in rows.items():
        assert 0 <= row["rel"] < 1e-7, key
        assert row["result"] == "pass", key


def test_spsa_is_printed_but_not_checked(run_cli: RunCli) -> None:
    """spsa (tolerance inf) gets numbers but no pass/fail, and is named in the summary."""
    result = run_cli("gradcheck", "two_layer_sigmoid", "--estimators", "spsa")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert {row["result"] for row in rows.values()} == {"-"}
    assert "not checked" in result.stdout.strip().splitlines()[-1]


def test_a_wrong_estimator_fails_with_exit_1(run_cli: RunCli, tmp_path: Path) -> None:
    """A plugin estimator 1% off, promising 1e-7, is marked FAIL and the command exits 1."""
    write(tmp_path / "sloppy_plugin.py", SLOPPY_PLUGIN)
    result = run_cli(
        "gradcheck",
        str(SPECS / "two_layer_sigmoid.yaml"),
        "-p",
        "sloppy_plugin",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    sloppy = {param: row for (name, param), row in rows.items() if name == "sloppy_difference"}
    assert set(sloppy) == {"W1", "b1", "W2", "b2"}
    for row in sloppy.values():
        assert row["result"] == "FAIL"
        assert row["rel"] == pytest.approx(0.01, rel=1e-3)
    others = [row["result"] for (name, _), row in rows.items() if name != "sloppy_difference"]
    assert "FAIL" not in others
    assert result.stdout.strip().splitlines()[-1].startswith("gradcheck FAILED: sloppy_difference")


def test_unknown_estimator_is_a_one_line_usage_error(run_cli: RunCli) -> None:
    """--estimators with a misspelled name exits 2 with one line and a close match."""
    result = run_cli("gradcheck", "two_layer_sigmoid", "--estimators", "backprop,compex_step")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "unknown gradient estimator 'compex_step'" in line
    assert "did you mean 'complex_step'?" in line


@pytest.mark.parametrize("option", [["--batch", "0"], ["--sample", "-3"], ["--estimators", "a,"]])
def test_bad_options_exit_2(run_cli: RunCli, option: list[str]) -> None:
    """A batch or sample below 1, or an empty estimator name, is bad input (exit 2)."""
    result = run_cli("gradcheck", "two_layer_sigmoid", *option)
    assert result.returncode == 2
    assert result.stderr.startswith("error: gradcheck")


def test_big_net_uses_the_sampled_reference(run_cli: RunCli) -> None:
    """W1 of 300 x 20 = 6000 elements is above the bound: 200 sampled elements are compared."""
    result = run_cli("gradcheck", "two_layer_sigmoid", *BIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Objective.plain_losses_at on a sample of at most 200" in result.stdout
    assert "430 of 6230 elements (W1 200 of 6000, b1 20 of 20, W2 200 of 200, b2 10 of 10)" in (
        result.stdout
    )
    rows = table_rows(result.stdout)
    assert rows["backprop", "W1"]["elements"] == 200
    assert rows["backprop", "b1"]["elements"] == 20
    assert rows["backprop", "W1"]["rel"] < 1e-7


def test_sample_option_sets_the_elements_per_parameter(run_cli: RunCli) -> None:
    """--sample 50 compares 50 elements of each parameter larger than that."""
    result = run_cli("gradcheck", "two_layer_sigmoid", *BIG, "--sample", "50", "--batch", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "one batch of 4 samples" in result.stdout
    assert "(W1 50 of 6000, b1 20 of 20, W2 50 of 200, b2 10 of 10)" in result.stdout


def test_estimators_that_refuse_the_network_are_skipped_named_or_not(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """With a derivative-less activation, backprop is skipped with its reason, named or not."""
    write(tmp_path / "softsign_plugin.py", SOFTSIGN_PLUGIN)
    args = ["gradcheck", "two_layer_sigmoid", "-p", "softsign_plugin"]
    args += ["--set", "model.layers.0.activation=softsign"]
    env = {"PYTHONPATH": str(tmp_path)}
    default = run_cli(*args, env=env)
    assert default.returncode == 0, default.stdout + default.stderr
    assert "skipped backprop: backprop needs the derivative" in default.stdout
    assert "backprop" not in {name for name, _ in table_rows(default.stdout)}
    named = run_cli(*args, "--estimators", "backprop,central_difference", env=env)
    assert named.returncode == 0, named.stdout + named.stderr
    assert "skipped backprop: backprop needs the derivative of activation 'softsign'" in (
        named.stdout
    )
    assert {name for name, _ in table_rows(named.stdout)} == {"central_difference"}
    assert named.stderr == ""


def test_complex_step_named_on_relu_is_skipped_with_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--estimators complex_step,backprop on relu: complex_step skipped (relu is not analytic),
    no fix for the spec offered; backprop checked; exit 0."""
    argv = ["gradcheck", "two_layer_relu", "--estimators", "complex_step,backprop"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "skipped complex_step: complex_step cannot be used: activation 'relu' is not " in (
        captured.out
    )
    assert "gradient:" not in captured.out  # the spec's own gradient is not the question
    assert {name for name, _ in table_rows(captured.out)} == {"backprop"}
    last = captured.out.splitlines()[-1]
    assert last.startswith("gradcheck passed: 1 of 1 estimators"), last
    assert last.endswith("; skipped: complex_step"), last


def test_nothing_checked_is_not_a_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """Every named estimator skipped: the report says nothing was checked, and exit 2."""
    assert main(["gradcheck", "two_layer_relu", "--estimators", "complex_step"]) == 2
    out = capsys.readouterr().out
    assert "passed" not in out
    assert "skipped complex_step: " in out
    assert out.splitlines()[-1].startswith(
        "gradcheck checked nothing: every estimator was skipped (complex_step); "
    )
    report = gradcheck(SPECS / "two_layer_relu.yaml", estimators=["complex_step"])
    assert report.skipped_all
    assert not gradcheck(SPECS / "two_layer_relu.yaml", estimators=["backprop"]).skipped_all


def test_python_api_matches_an_independent_computation() -> None:
    """gradcheck()'s numbers for forward_difference equal ones computed here by hand."""
    report = gradcheck(TINY, estimators=["forward_difference"])
    network, x, t = tiny_batch()
    expected = loop_gradient(network, x, t, 1e-4)
    estimate = network.gradient(x, t, "forward_difference")
    assert not report.reference.sampled
    assert report.batch_size == 6
    (check,) = report.estimators
    assert check.name == "forward_difference"
    assert check.tolerance == 1e-3
    assert [p.parameter for p in check.parameters] == ["W1", "b1", "W2", "b2"]
    for parameter in check.parameters:
        difference = np.abs(estimate[parameter.parameter] - expected[parameter.parameter])
        scale = np.max(np.abs(expected[parameter.parameter]))
        assert parameter.compared == expected[parameter.parameter].size
        assert parameter.max_abs_diff == pytest.approx(np.max(difference), rel=1e-9)
        assert parameter.rel_error == pytest.approx(np.max(difference) / scale, rel=1e-9)
        assert parameter.passed is bool(np.max(difference) / scale <= 1e-3)
    assert report.passed


def test_sampled_reference_equals_the_loop_at_its_elements(monkeypatch) -> None:
    """Below a lowered bound, the sampled reference gives the loop's values at its indices."""
    monkeypatch.setattr(toolkit.gradcheck, "LOOP_BOUND", 10)
    report = gradcheck(TINY, estimators=["backprop"], sample=7)
    network, x, t = tiny_batch()
    expected = loop_gradient(network, x, t, 1e-4)
    reference = report.reference
    assert reference.sampled
    assert {name: len(index) for name, index in reference.indices.items()} == {
        "W1": 7,
        "b1": 5,
        "W2": 7,
        "b2": 3,
    }
    for name, index in reference.indices.items():
        assert len(set(index.tolist())) == len(index)
        np.testing.assert_allclose(
            reference.values[name], expected[name].reshape(-1)[index], rtol=0, atol=1e-12
        )
    assert all(
        p.compared == len(reference.indices[p.parameter]) for p in report.estimators[0].parameters
    )


BROKEN_PLUGIN = '''
import numpy as np


def leaky(objective):
    """Leaves W1[0, 0] perturbed."""
    objective.params["W1"][0, 0] += 1.0
    return {name: np.zeros_like(value) for name, value in objective.params.items()}


def crashing(objective):
    """Raises."""
    raise ValueError("boom")


def toolkit_gradient_estimators():
    return {"leaky": leaky, "crashing": crashing}
'''


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        ("leaky", "estimator 'leaky' left W1 changed"),
        ("crashing", "estimator 'crashing' failed: ValueError: boom"),
    ],
)
def test_broken_estimators_are_run_failures(
    run_cli: RunCli, tmp_path: Path, estimator: str, message: str
) -> None:
    """An estimator that raises or leaves a parameter changed gives one error line, exit 1."""
    write(tmp_path / "broken_plugin.py", BROKEN_PLUGIN)
    result = run_cli(
        "gradcheck",
        "two_layer_sigmoid",
        "-p",
        "broken_plugin",
        "--estimators",
        estimator,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert message in line
