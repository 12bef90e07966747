"""The conformance kit (toolkit.testing) and `toolkit plugins --check`.

Every standard part passes; each kind of mistake a plugin author can make is caught by
the check meant for it. Plugin modules for the command are written into ``tmp_path``.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import RunCli, write
from toolkit import MissingDependency, Part
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry
from toolkit.testing import (
    Check,
    ConformanceError,
    check_activation,
    check_gradient_estimator,
    check_initializer,
    check_loss,
    check_optimizer,
    conformance,
)
from toolkit_plugins.activations import softmax, softmax_vjp

STANDARD = [
    ("activation", "identity"),
    ("activation", "step"),
    ("activation", "sigmoid"),
    ("activation", "relu"),
    ("activation", "leaky_relu"),
    ("activation", "tanh"),
    ("activation", "softmax"),
    ("loss", "cross_entropy"),
    ("loss", "sum_squared_error"),
    ("loss", "mean_squared_error"),
    ("initializer", "uniform"),
    ("initializer", "normal"),
    ("initializer", "xavier"),
    ("initializer", "he"),
    ("initializer", "zeros"),
    ("gradient_estimator", "central_difference"),
    ("gradient_estimator", "forward_difference"),
    ("dataset", "random"),
    ("optimizer", "sgd"),
]
WRONG_TANH = """
import numpy as np
from toolkit import MissingDependency, Part


def toolkit_activations():
    return {"bad_tanh": Part(np.tanh, derivative=lambda x: 1 - x**2)}
"""
SCALED = """
import numpy as np
from toolkit import MissingDependency, Part


def scaled(x, factor):
    return factor * x


def toolkit_activations():
    return {"scaled": Part(scaled, derivative=lambda x, factor: factor * np.ones_like(x))}
"""


def failing(error: ConformanceError) -> list[str]:
    """The names of the checks that failed."""
    return [check.what for check in error.failures]


def assert_all_pass(checks: list[Check]) -> None:
    """At least one check ran, and none failed."""
    assert checks
    assert [c for c in checks if c.passed is False] == [], checks
    assert any(c.passed is True for c in checks), checks


def run_check(
    run_cli: RunCli, tmp_path: Path, name: str, plugin: str, text: str
) -> subprocess.CompletedProcess[str]:
    """Write ``plugin`` and run ``toolkit plugins --check NAME -p plugin``."""
    write(tmp_path / f"{plugin}.py", textwrap.dedent(text))
    return run_cli("plugins", "--check", name, "-p", plugin, env={"PYTHONPATH": str(tmp_path)})


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The non-blank lines on stderr."""
    return [line for line in result.stderr.splitlines() if line.strip()]


# -- the standard parts -------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), STANDARD, ids=[name for _, name in STANDARD])
def test_standard_part_passes_the_kit(kind: str, name: str) -> None:
    """Each standard part passes every conformance check of its kind."""
    registry = Registry.from_manager(get_plugin_manager())
    (entry,) = [
        e for e in registry.entries(kind) if e.name == name and e.distribution == "layer-toolkit"
    ]
    assert_all_pass(conformance(kind, entry.part))


def test_plugins_check_passes_every_registered_part(run_cli: RunCli) -> None:
    """`toolkit plugins --check` exits 0: as many parts checked as --json lists, all passed."""
    listing = run_cli("plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    count = len(json.loads(listing.stdout)["parts"])
    assert count >= len(STANDARD)
    result = run_cli("plugins", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"checked {count} parts: {count} passed, 0 failed"
    assert "FAIL" not in result.stdout
    assert result.stderr == ""  # the kit's own probe network never shows as a note


# -- parts whose optional dependency is missing ---------------------------------------------------


def test_plugins_check_without_scikit_learn_skips_digits_naming_the_extra(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Right after the quick start's install (no scikit-learn): digits is skipped, exit 0."""
    (tmp_path / "fake" / "sklearn").mkdir(parents=True)
    write(tmp_path / "fake" / "sklearn" / "__init__.py", "raise ImportError('simulated')\n")
    result = run_cli("plugins", "--check", env={"PYTHONPATH": str(tmp_path / "fake")})
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("dataset digits")]
    assert line.endswith("skipped: install 'layer-toolkit[digits]'"), line
    assert "pip install 'layer-toolkit[digits]'" in result.stdout
    assert "FAIL" not in result.stdout
    last = result.stdout.splitlines()[-1]
    assert last.endswith(" 0 failed, 1 skipped for a missing optional dependency"), last
    assert result.stderr == ""


def test_a_missing_optional_dependency_is_a_skip_for_any_part() -> None:
    """A third-party part raising toolkit.MissingDependency: one skip naming what to install."""

    def needs_torch(x: np.ndarray) -> np.ndarray:
        raise MissingDependency("name", "'torchy' needs torch, which is not installed", "torchy[t]")

    (check,) = conformance("activation", needs_torch)
    assert check.passed is None and check.install == "torchy[t]"
    assert "pip install 'torchy[t]'" in check.detail
    assert check_activation(needs_torch) == [check]  # a skip never raises


# -- activations --------------------------------------------------------------------------------


def test_wrong_activation_derivative_is_caught_with_the_size_of_the_miss() -> None:
    """tanh with derivative 1 - x**2 fails the derivative check, missing by max |wrong - right|."""
    with pytest.raises(ConformanceError) as caught:
        check_activation(Part(np.tanh, derivative=lambda x: 1 - x**2))
    assert failing(caught.value) == ["derivative matches a central difference"]
    message = str(caught.value)
    assert "derivative matches a central difference" in message
    found = re.search(r"missed by ([0-9.]+e[+-][0-9]+)", message)
    assert found, message
    x = np.linspace(-3.0, 3.0, 24).reshape(4, 6) + 0.0123
    true_miss = np.max(np.abs((1 - x**2) - (1 - np.tanh(x) ** 2)))
    assert float(found.group(1)) == pytest.approx(true_miss, rel=1e-2)


def test_plugins_check_reports_a_wrong_derivative(run_cli: RunCli, tmp_path: Path) -> None:
    """`toolkit plugins --check bad_tanh -p module` exits 1 with a FAIL line for the derivative."""
    result = run_check(run_cli, tmp_path, "bad_tanh", "cf_wrong_tanh", WRONG_TANH)
    assert result.returncode == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.strip().startswith("FAIL")]
    assert len(fails) == 1, result.stdout
    assert "derivative" in fails[0] and "missed by" in fails[0]
    assert "bad_tanh" in result.stdout
    assert result.stdout.splitlines()[-1] == "checked 1 parts: 0 passed, 1 failed"


def test_activation_that_is_not_vectorized_is_caught() -> None:
    """Dividing by the whole array's max makes a batch differ from its rows one by one."""
    with pytest.raises(ConformanceError) as caught:
        check_activation(lambda x: x / np.max(np.abs(x)))
    vectorized, stacked = failing(caught.value)
    assert "vectorized" in vectorized
    assert stacked.startswith("stacked batches")


def test_activation_that_widens_float32_is_caught() -> None:
    """An activation turning float32 input into float64 fails the float32 shape-and-dtype check."""
    with pytest.raises(ConformanceError) as caught:
        check_activation(lambda x: np.tanh(np.asarray(x, dtype=np.float64)))
    (what,) = failing(caught.value)
    assert "float32" in what
    assert "float64" in caught.value.failures[0].detail


# -- losses -------------------------------------------------------------------------------------


def half_squares(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """0.5 * sum of squared differences per batch; t one-hot rows or class indices."""
    t = np.asarray(t)
    if t.dtype.kind in "iu":
        t = np.eye(y.shape[-1])[t]
    return 0.5 * np.sum((y - t) ** 2, axis=(-2, -1))


def test_wrong_loss_derivative_is_caught() -> None:
    """A loss whose derivative is twice dL/dy fails the derivative check only."""
    with pytest.raises(ConformanceError) as caught:
        check_loss(Part(half_squares, derivative=lambda y, t: 2 * (y - t)))
    assert failing(caught.value) == ["derivative dL/dy matches a central difference"]


def test_right_loss_derivative_passes() -> None:
    """The same loss with derivative y - t passes every check (the check is not always failing)."""
    assert_all_pass(check_loss(Part(half_squares, derivative=lambda y, t: y - t)))


def test_loss_not_zero_on_perfect_predictions_is_caught() -> None:
    """A loss of 0.25 on perfect predictions fails the 'about 0' check, giving the value."""
    with pytest.raises(ConformanceError) as caught:
        check_loss(lambda y, t: half_squares(y, t) + 0.25)
    (failure,) = caught.value.failures
    assert "perfect predictions" in failure.what
    assert "0.25" in failure.detail


# -- initializers -------------------------------------------------------------------------------


def test_initializer_ignoring_shape_is_caught() -> None:
    """An initializer that always returns 2 x 2 fails the shape checks, showing the shape."""
    with pytest.raises(ConformanceError) as caught:
        check_initializer(lambda shape, rng: rng.standard_normal((2, 2)))
    assert caught.value.failures
    assert all("shape" in c.what for c in caught.value.failures)
    assert all("(2, 2)" in c.detail for c in caught.value.failures)


def test_initializer_with_its_own_unseeded_generator_is_caught() -> None:
    """An initializer drawing from its own unseeded generator fails 'deterministic for a seed'."""
    with pytest.raises(ConformanceError) as caught:
        check_initializer(lambda shape, rng: np.random.default_rng().standard_normal(shape))
    assert failing(caught.value) == ["deterministic for a seed"]


# -- gradient estimators ------------------------------------------------------------------------


def leaves_params_moved(objective: Any, h: float = 1e-4) -> dict[str, np.ndarray]:
    """Central differences that forget to put each element back."""
    grads = {}
    for name, param in objective.params.items():
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            value = param[index]
            param[index] = value + h
            up = objective.loss()
            param[index] = value - h
            grad[index] = (up - objective.loss()) / (2 * h)
        grads[name] = grad
    return grads


def halved_difference(objective: Any, h: float = 1e-4) -> dict[str, np.ndarray]:
    """Central differences divided by 4h instead of 2h: half the gradient."""
    grads = {}
    for name, param in objective.params.items():
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            value = param[index]
            param[index] = value + h
            up = objective.loss()
            param[index] = value - h
            down = objective.loss()
            param[index] = value
            grad[index] = (up - down) / (4 * h)
        grads[name] = grad
    return grads


def test_estimator_that_does_not_restore_params_is_caught() -> None:
    """An estimator that leaves elements changed fails 'leaves the parameters as it found them'."""
    with pytest.raises(ConformanceError) as caught:
        check_gradient_estimator(leaves_params_moved)
    assert "leaves the parameters as it found them" in failing(caught.value)


def test_estimator_with_a_wrong_gradient_is_caught() -> None:
    """Half the gradient fails the exact-gradient check; the restore and shape checks pass."""
    with pytest.raises(ConformanceError) as caught:
        check_gradient_estimator(halved_difference)
    (what,) = failing(caught.value)
    assert "exact gradient" in what
    assert "missed by" in caught.value.failures[0].detail


# -- optimizers ---------------------------------------------------------------------------------


class Ascent:
    """Moves with the gradient: p += learning_rate * g."""

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.learning_rate = learning_rate

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key in params:
            params[key] += self.learning_rate * grads[key]


class Replacing:
    """Descends, but puts new arrays into params instead of changing them."""

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.learning_rate = learning_rate

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key in params:
            params[key] = params[key] - self.learning_rate * grads[key]


def test_optimizer_moving_with_the_gradient_is_caught() -> None:
    """Gradient ascent fails 'moves every parameter against its gradient' only."""
    with pytest.raises(ConformanceError) as caught:
        check_optimizer(Ascent)
    (what,) = failing(caught.value)
    assert "against its gradient" in what


def test_optimizer_replacing_arrays_is_caught() -> None:
    """Replacing the arrays in params fails 'updates the parameter arrays in place' only."""
    with pytest.raises(ConformanceError) as caught:
        check_optimizer(Replacing)
    assert failing(caught.value) == ["updates the parameter arrays in place"]


# -- parts with required parameters -------------------------------------------------------------


def scaled(x: np.ndarray, factor: float) -> np.ndarray:
    """factor * x."""
    return factor * x


SCALED_PART = Part(scaled, derivative=lambda x, factor: factor * np.ones_like(x), breakpoints=())


def test_required_parameter_gives_a_skip_naming_it() -> None:
    """With a required parameter unset, the kit skips (passed None) naming it; nothing fails."""
    checks = conformance("activation", SCALED_PART)
    (check,) = checks
    assert check.passed is None
    assert "factor" in check.detail
    assert check_activation(SCALED_PART) == checks


def test_required_parameter_set_as_keyword_runs_every_check() -> None:
    """check_activation(part, factor=2.0) runs the full checks, the derivative one included."""
    checks = check_activation(SCALED_PART, factor=2.0)
    assert len(checks) > 1
    assert all(c.passed is True for c in checks), checks
    assert any("derivative" in c.what for c in checks)


def test_plugins_check_skips_a_part_with_a_required_parameter(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """`toolkit plugins --check scaled` shows a skip naming factor and counts it as passed."""
    result = run_check(run_cli, tmp_path, "scaled", "cf_scaled", SCALED)
    assert result.returncode == 0, result.stdout + result.stderr
    (skip,) = [line for line in result.stdout.splitlines() if line.strip().startswith("skip")]
    assert "factor" in skip
    assert result.stdout.splitlines()[-1] == "checked 1 parts: 1 passed, 0 failed"


# -- naming parts to check ----------------------------------------------------------------------


def test_plugins_check_of_a_misspelled_part_suggests_the_name(run_cli: RunCli) -> None:
    """`toolkit plugins --check relx` is exit 2, one error line: did you mean 'relu'."""
    result = run_cli("plugins", "--check", "relx")
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = error_lines(result)
    assert line.startswith("error: ") and "'relx'" in line
    assert "did you mean 'relu'" in line
    assert "Traceback" not in result.stderr


def test_plugins_check_of_an_unknown_part_is_bad_input(run_cli: RunCli) -> None:
    """`toolkit plugins --check nosuch` is exit 2 naming it, and checks nothing."""
    result = run_cli("plugins", "--check", "nosuch")
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = error_lines(result)
    assert line.startswith("error: ") and "unknown part 'nosuch'" in line
    assert "checked" not in result.stdout


def test_a_wrong_vjp_is_caught() -> None:
    """A row-wise activation whose vjp ignores the softmax Jacobian fails the vjp check."""
    right = check_activation(Part(softmax, vjp=softmax_vjp))
    assert any(c.what.startswith("vjp") and c.passed for c in right)
    with pytest.raises(ConformanceError, match="vjp matches a central difference"):
        check_activation(Part(softmax, vjp=lambda x, g: g))


# Declared breakpoints: where a part says it is smooth, third differences are tiny.


def _smoothness(kind: str, part: Part) -> Check:
    (check,) = [c for c in conformance(kind, part) if "breakpoints" in c.what]
    return check


def test_a_kink_not_declared_fails_the_smoothness_check_naming_where() -> None:
    """|x - 0.5| declared with a breakpoint at 0 instead of 0.5: the check finds 0.5."""
    check = _smoothness("activation", Part(lambda x: np.abs(x - 0.5), breakpoints=(0.0,)))
    assert check.passed is False
    assert "near 0.5 " in check.detail and "add it to breakpoints" in check.detail


def test_relu_declared_smooth_fails_and_declared_at_zero_passes() -> None:
    """relu with breakpoints=() is caught; with (0.0,) it passes."""
    relu = lambda x: np.maximum(0.0, x)  # noqa: E731
    assert _smoothness("activation", Part(relu, breakpoints=())).passed is False
    assert _smoothness("activation", Part(relu, breakpoints=(0.0,))).passed is True


def test_a_loss_declared_smooth_is_checked_and_an_undeclared_part_is_skipped() -> None:
    """A smooth loss passes; a part without breakpoints is skipped (not interpolated)."""
    squares = Part(lambda y, t: 0.5 * np.sum((y - t) ** 2, axis=(-2, -1)), breakpoints=())
    assert _smoothness("loss", squares).passed is True
    skipped = _smoothness("activation", Part(np.tanh))
    assert skipped.passed is None
    assert "none declared" in skipped.detail


# -- the shapes the gradient engines pass --------------------------------------------------------


def old_huber(y: np.ndarray, t: np.ndarray, delta: float = 1.0) -> float:
    """The Huber loss as toolkit-swish first shipped it: every axis summed, / y.shape[0]."""
    r = np.abs(y - t)
    per_element = np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    return np.sum(per_element) / y.shape[0]


def old_huber_grad(y: np.ndarray, t: np.ndarray, delta: float = 1.0) -> np.ndarray:
    return np.clip(y - t, -delta, delta) / y.shape[0]


def test_a_loss_summing_every_axis_fails_saying_what_to_change() -> None:
    """The old Huber loss fails on class indices and on stacked predictions, with the fixes;
    its one-hot checks (scalar, perfect predictions, derivative) still pass."""
    with pytest.raises(ConformanceError) as caught:
        check_loss(Part(old_huber, derivative=old_huber_grad))
    indices, stacked = caught.value.failures
    assert indices.what.startswith("class-index targets")
    assert "could not be broadcast" in indices.detail
    assert "read whole-number t as class indices" in indices.detail
    assert stacked.what.startswith("stacked predictions")
    assert "gave shape (), not (3,)" in stacked.detail
    assert "axis=(-2, -1)" in stacked.detail and "y.shape[-2], not y.shape[0]" in stacked.detail


def test_a_loss_dividing_by_the_leading_axis_fails_on_batches_of_one() -> None:
    """Per-batch reduction but / y.shape[0]: right on one batch, wrong on a stack of them."""

    def mean_by_first_axis(y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return half_squares(y, t) / y.shape[0]

    checks = conformance("loss", mean_by_first_axis)
    (stacked,) = [c for c in checks if c.passed is False]
    assert stacked.what.startswith("stacked predictions")
    assert "batch 0 gave" in stacked.detail and "y.shape[-2], not y.shape[0]" in stacked.detail


def book_softmax(x: np.ndarray) -> np.ndarray:
    """The book's softmax (common/functions.py): 2-D by columns of x.T, else whole-array."""
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def test_an_activation_right_on_batches_but_not_on_stacks_is_caught() -> None:
    """The book's softmax passes on 1-D and 2-D input; a stack of batches it normalizes whole."""
    with pytest.raises(ConformanceError) as caught:
        check_activation(Part(book_softmax, vjp=softmax_vjp))
    (failure,) = caught.value.failures
    assert failure.what.startswith("stacked batches")
    assert "axis=-1" in failure.detail
