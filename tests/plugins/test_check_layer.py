"""toolkit.testing.check_layer and `toolkit plugins --check` on layer parts.

Every standard layer part passes; each wrong declaration or wrong computation a layer
author can make fails the check meant for it, and only that one. The layers here are
small, written out in full so that each mistake is plain to see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import toolkit.testing
from tests.helpers import RunCli
from toolkit import REQUIRED, Layer, Part
from toolkit.model.layers import Affine, Mode, ParamSpec, Step
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.parts import BoundPart
from toolkit.registry.registry import Registry
from toolkit.testing import Check, ConformanceError, check_layer, conformance


def standard(name: str) -> Part:
    """The standard layer part called ``name``."""
    return Registry.from_manager(get_plugin_manager()).lookup("layer", name).part


def failing(error: ConformanceError) -> list[str]:
    """The names of the checks that failed."""
    return [check.what for check in error.failures]


def passed(checks: list[Check]) -> list[str]:
    """The names of the checks that passed."""
    return [check.what for check in checks if check.passed is True]


def only_failure(part: Any, shape: tuple[int, ...] = (6,), **settings: Any) -> Check:
    """The one check ``part`` fails (asserting there is exactly one)."""
    with pytest.raises(ConformanceError) as caught:
        check_layer(part, shape, **settings)
    (failure,) = caught.value.failures
    return failure


# -- a correct layer, and its mistakes ----------------------------------------------------------


class Gain(Layer):
    """``tanh(x * w + c)`` unit by unit (w and c shaped like each sample), with its backward
    pass written out: dy/dx = (1 - y**2) * w, dy/dw = (1 - y**2) * x, dy/dc = 1 - y**2."""

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("w", self.input_shape, 1.0), ParamSpec("c", self.input_shape, 0.0))

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        y = np.tanh(x * params[self.names["w"]] + params[self.names["c"]])
        return Step(x, y, y)

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        local = grad_out * (1.0 - step.output**2)
        grads = {
            self.names["w"]: np.sum(local * step.input, axis=0),
            self.names["c"]: np.sum(local, axis=0),
        }
        return (local * params[self.names["w"]] if inputs else None), grads


class ForgetsW(Gain):
    """The input's gradient without the factor w."""

    def backward(self, step: Step, grad_out: Any, params: Any, *, inputs: bool = True) -> Any:
        _, grads = super().backward(step, grad_out, params, inputs=inputs)
        return grad_out * (1.0 - step.output**2), grads


class DoublesC(Gain):
    """Twice the gradient of c."""

    def backward(self, step: Step, grad_out: Any, params: Any, *, inputs: bool = True) -> Any:
        dx, grads = super().backward(step, grad_out, params, inputs=inputs)
        grads[self.names["c"]] = 2 * grads[self.names["c"]]
        return dx, grads


class ClaimsSeven(Gain):
    """Declares 7 units out of 6."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__(input_shape)
        self.output_shape = (7,)


class ClipsW(Gain):
    """Clips its weight into [-1, 1] in place while computing forward."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        np.clip(params[self.names["w"]], -1.0, 1.0, out=params[self.names["w"]])
        return super().forward(x, params, mode)


class Absolute(Gain):
    """``|x * w + c|``, declared smooth: its kink where x * w + c = 0 is not declared."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x * params[self.names["w"]] + params[self.names["c"]]
        return Step(x, a, np.abs(a))

    def backward(self, step: Step, grad_out: Any, params: Any, *, inputs: bool = True) -> Any:
        local = grad_out * np.sign(step.pre)
        grads = {
            self.names["w"]: np.sum(local * step.input, axis=0),
            self.names["c"]: np.sum(local, axis=0),
        }
        return local * params[self.names["w"]], grads


class AbsoluteAtZero(Absolute):
    """The same layer declaring its kink: at 0 in its pre-activation ``x * w + c``."""

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        return (0.0,)


class Shifted(Layer):
    """``|x - 0.5|``: no parameters, no backward, a kink at 0.5 declared at 0 instead."""

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        return (0.0,)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        return Step(x, x, np.abs(x - 0.5))


class Centred(Layer):
    """Each unit less its mean over the batch (the samples' axis, -2): it mixes samples."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        y = x - np.mean(x, axis=-2, keepdims=True)
        return Step(x, y, y)


class CentredDeclared(Centred):
    """The same, declaring that it mixes samples."""

    @property
    def mixes_samples(self) -> bool:
        return True


class ClaimsToMix(Gain):
    """A per-sample layer declaring that it mixes samples."""

    @property
    def mixes_samples(self) -> bool:
        return True


class Averaged(Layer):
    """Each sample divided by the batch size: per sample when the batch is fixed, but a
    sample alone gives another output."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        y = x / x.shape[-2]
        return Step(x, y, y)


class Neighbours(Layer):
    """Each unit plus its neighbour's, declared elementwise."""

    @property
    def elementwise(self) -> bool:
        return True

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        y = x + np.roll(x, 1, axis=-1)
        return Step(x, y, y)


class RolledTanh(Layer):
    """``tanh(x + roll(x))``: its activation acts on each unit alone, but the layer does not,
    and declares it does (the engines would carry one unit per copy through it)."""

    @property
    def activation(self) -> BoundPart:
        return BoundPart("tanh", Part(np.tanh, breakpoints=()), {}, "activation")

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x + np.roll(x, 1, axis=-1)
        return Step(x, a, np.tanh(a))


class FirstBatchOnly(Layer):
    """Normalizes by the largest value of the whole array: right for one batch, wrong
    for a stack of them."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        y = x / np.max(np.abs(x))
        return Step(x, y, y)

    @property
    def mixes_samples(self) -> bool:
        return True


class Dropout(Layer):
    """The book's dropout: a mask drawn per batch, ``x * mask`` in training,
    ``x * (1 - rate)`` in evaluation."""

    rate = 0.5

    def draw(self, rng: Any, batch: int) -> np.ndarray:
        return np.asarray(rng.random((batch, *self.input_shape)) > self.rate)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        y = x * mode.noise if mode.train else x * (1.0 - self.rate)
        return Step(x, y, y, mode.noise)


class UnseededDropout(Dropout):
    """Draws its mask from a generator of its own."""

    def draw(self, rng: Any, batch: int) -> np.ndarray:
        return super().draw(np.random.default_rng(), batch)


class Running(Layer):
    """Keeps a running mean of its input in state; its forward passes x through."""

    def state_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("mean", self.input_shape, 0.0),)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        return Step(x, x, x)

    def next_state(self, step: Step, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        name = self.state_names["mean"]
        return {name: 0.9 * state[name] + 0.1 * step.input.mean(axis=0)}


class RunningIntoForward(Running):
    """Moves its running mean during forward itself, in place."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        if mode.train:
            mode.state[self.state_names["mean"]][...] += 0.1
        return Step(x, x, x)


class RunningNamesAStranger(Running):
    """Its next_state gives a name that is not its state."""

    def next_state(self, step: Step, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"mean9": step.input.mean(axis=0)}


class TwiceTheBias(Layer):
    """``x @ W + 2 b``, declared affine: ``x @ W + b``."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__(input_shape)
        self.output_shape = (4,)

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("W", (*self.input_shape, 4), "init"), ParamSpec("b", (4,), 0.0))

    @property
    def affine(self) -> Affine:
        return Affine(self.names["W"], self.names["b"])

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x @ params[self.names["W"]] + 2 * params[self.names["b"]]
        return Step(x, a, a)


class TanhAfterAffine(TwiceTheBias):
    """``tanh(x @ W + b)``, declared affine but not declaring its activation: the engines
    would take its output to be ``x @ W + b``."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x @ params[self.names["W"]] + params[self.names["b"]]
        return Step(x, a, np.tanh(a))


def part(layer: type[Layer]) -> Part:
    """A layer part making ``layer`` for its input shape."""

    def make(input_shape: tuple[int, ...]) -> Layer:
        return layer(input_shape)

    make.__name__ = layer.__name__.lower()
    return Part(make)


def test_a_correct_layer_passes_every_check_that_applies() -> None:
    """The correct Gain layer: every check runs and passes but the affine one (undeclared)."""
    checks = check_layer(part(Gain), (6,))
    assert [c.what for c in checks if c.passed is None] == [
        "its declared affine pre-activation and activation are what forward computes"
    ]
    assert len(passed(checks)) == 8
    assert checks[0].what == "made for samples of shape (6,)"


def test_a_wrong_input_gradient_is_caught_naming_the_input() -> None:
    """dx without its factor w fails the backward check only, naming the input."""
    failure = only_failure(part(ForgetsW))
    assert failure.what.startswith("backward matches central differences")
    assert failure.detail.startswith("input: missed by")


def test_a_wrong_parameter_gradient_is_caught_naming_the_parameter() -> None:
    """Twice dc fails the backward check only, naming c1 (the kit names roles as the builder)."""
    failure = only_failure(part(DoublesC))
    assert failure.what.startswith("backward matches central differences")
    assert failure.detail.startswith("c1: missed by")


def test_large_arrays_are_differenced_at_a_sample_of_their_elements() -> None:
    """On samples of 400 units (1,200 inputs, 400 of each parameter), 300 elements of each
    array are differenced, and the check says so; a wrong input gradient is still caught."""
    checks = check_layer(part(Gain), (400,))
    (backward,) = [c for c in checks if c.what.startswith("backward")]
    assert backward.passed is True
    assert backward.detail == "300 elements of input, w1, c1"
    assert only_failure(part(ForgetsW), (400,)).detail.startswith("input: missed by")


def test_a_wrong_output_shape_is_caught() -> None:
    """Declaring (7,) where forward gives (6,) fails the shape check, naming both."""
    failure = only_failure(part(ClaimsSeven))
    assert failure.what.startswith("outputs of the declared output_shape")
    assert "gave (3, 6), not (3, 7)" in failure.detail


def test_a_layer_changing_its_parameters_in_forward_is_caught() -> None:
    """Clipping W in place during forward fails the kept-apart check, naming w1."""
    with pytest.raises(ConformanceError) as caught:
        check_layer(part(ClipsW), (6,))
    apart = [c for c in caught.value.failures if c.what.startswith("parameters and state")]
    assert len(apart) == 1
    assert "forward or backward changed w1" in apart[0].detail


def test_an_undeclared_kink_is_caught_and_a_declared_one_passes() -> None:
    """|x w + c| declared smooth fails the smoothness check; declared at 0 it passes all."""
    failure = only_failure(part(Absolute))
    assert failure.what.startswith("smooth away from its declared breakpoints")
    assert "a kink or jump" in failure.detail
    assert len(passed(check_layer(part(AbsoluteAtZero), (6,)))) == 8


def test_a_kink_declared_in_the_wrong_place_is_caught_where_it_is() -> None:
    """|x - 0.5| declared with a breakpoint at 0: the check finds the kink near 0.5."""
    failure = only_failure(part(Shifted))
    assert failure.what.startswith("smooth away")
    found = re.search(r"near (-?[0-9.]+) ", failure.detail)
    assert found, failure.detail
    assert abs(float(found.group(1)) - 0.5) <= 3e-4  # within the stencil's reach, 3 steps


def test_a_layer_mixing_samples_undeclared_is_caught() -> None:
    """Subtracting the batch mean without declaring mixes_samples fails the mixing check."""
    failure = only_failure(part(Centred))
    assert failure.what.startswith("mixes the samples of a batch")
    assert "declare mixes_samples True" in failure.detail
    assert len(passed(check_layer(part(CentredDeclared), (6,)))) == 5


def test_a_layer_depending_on_the_batch_size_is_caught_alone() -> None:
    """Dividing by the batch size: the others changed, a sample's output is the same, but
    alone (a batch of one) it is three times larger: not per sample."""
    failure = only_failure(part(Averaged))
    assert failure.what.startswith("mixes the samples of a batch")
    assert "alone" in failure.detail and "changed by" in failure.detail


def test_a_false_claim_to_mix_samples_is_caught() -> None:
    """A per-sample layer declaring mixes_samples fails: nothing shows it mixes."""
    failure = only_failure(part(ClaimsToMix))
    assert "declare mixes_samples False" in failure.detail


def test_a_false_elementwise_declaration_is_caught() -> None:
    """Adding each unit's neighbour, declared elementwise, fails the elementwise check."""
    failure = only_failure(part(Neighbours))
    assert failure.what.startswith("acts on each unit alone")
    assert "declare elementwise False" in failure.detail


def test_a_layer_elementwise_only_in_its_activation_is_caught() -> None:
    """A layer keeping its shape, not affine, is elementwise only if the whole layer is:
    tanh(x + roll(x)) declared elementwise fails, naming the layer's output."""
    failure = only_failure(part(RolledTanh))
    assert failure.what.startswith("acts on each unit alone")
    assert "of its output; declare elementwise False" in failure.detail


def test_a_layer_wrong_on_stacked_batches_is_caught() -> None:
    """Normalizing by the whole array's maximum: right on a batch, wrong on a stack."""
    failure = only_failure(part(FirstBatchOnly))
    assert failure.what.startswith("outputs of the declared output_shape")
    assert "a stack of two batches missed each batch's output" in failure.detail


def test_dropout_passes_and_an_unseeded_draw_is_caught() -> None:
    """The book's dropout passes; drawing from its own generator fails determinism."""
    checks = check_layer(part(Dropout), (6,))
    assert not [c for c in checks if c.passed is False]
    failure = only_failure(part(UnseededDropout))
    assert failure.what.startswith("deterministic")
    assert "two draws from RandomState(7) differ" in failure.detail


def test_running_state_is_checked_apart_from_forward() -> None:
    """A running mean updated by next_state passes; moved in forward, or named wrong, fails."""
    assert not [c for c in check_layer(part(Running), (6,)) if c.passed is False]
    moved = only_failure(part(RunningIntoForward))
    assert "forward or backward changed mean1" in moved.detail
    stranger = only_failure(part(RunningNamesAStranger))
    assert "next_state gave mean9, which is not its state (mean1)" in stranger.detail


def test_a_false_affine_declaration_is_caught() -> None:
    """x @ W + 2 b declared affine (x @ W + b) fails the declaration check only."""
    failure = only_failure(part(TwiceTheBias))
    assert failure.what.startswith("its declared affine")
    assert "pre-activation differs from x @ W1 + b1" in failure.detail


def test_an_affine_layer_with_an_undeclared_activation_is_caught() -> None:
    """tanh(x @ W + b) declaring affine and no activation fails the declaration check."""
    failure = only_failure(part(TanhAfterAffine))
    assert failure.what.startswith("its declared affine")
    assert "output differs from its pre-activation" in failure.detail


def test_a_shape_the_part_refuses_is_a_failure_naming_it() -> None:
    """check_layer with a shape the part refuses (dense on images) fails, with its message."""
    failure = only_failure(standard("dense"), (2, 6, 6), units=3)
    assert failure.what == "made for samples of shape (2, 6, 6)"
    assert "put {type: flatten} before it" in failure.detail


def test_a_required_activation_setting_gets_the_kits_tanh() -> None:
    """A layer part whose activation setting is required is made with the kit's tanh, not
    skipped: the activation layer then passes, its smoothness checked (tanh is smooth)."""
    make_activation = standard("activation").fn

    def needs_activation(input_shape: tuple[int, ...], activation: Any = REQUIRED) -> Layer:
        return make_activation(input_shape, activation)

    checks = check_layer(needs_activation, (4,))
    assert checks[0].what == "made for samples of shape (4,) with activation=kit_tanh"
    (smooth,) = [c for c in checks if c.what.startswith("smooth")]
    assert smooth.passed is True


def test_a_part_making_something_else_than_a_layer_fails_once() -> None:
    """A part returning a function instead of a toolkit.Layer: one failure, saying so."""
    (check,) = conformance("layer", lambda input_shape: np.tanh, input_shape=(6,))
    assert check.passed is False
    assert "subclass toolkit.Layer" in check.detail


def test_missing_required_setting_is_a_skip() -> None:
    """check_layer(dense, (6,)) without units is one skip naming units; nothing fails."""
    (check,) = check_layer(standard("dense"), (6,))
    assert check.passed is None and "needs units" in check.detail


# -- the standard layer parts -------------------------------------------------------------------

STANDARD_LAYERS = [
    ("dense", (6,), {"units": 4}),
    ("dense", (6,), {"units": 4, "activation": "relu"}),
    ("dense", (6,), {"units": 4, "activation": "sigmoid"}),
    ("dense", (6,), {"units": 3, "activation": "softmax"}),
    ("dense", (5,), {"units": 3, "activation": "identity"}),
    ("activation", (6,), {"activation": "relu"}),
    ("activation", (2, 3, 3), {"activation": "leaky_relu"}),
    ("activation", (6,), {"activation": {"name": "softmax"}}),
    ("flatten", (2, 3, 4), {}),
    ("reshape", (64,), {"shape": [1, 8, 8]}),
    ("conv2d", (2, 6, 6), {"filters": 3, "kernel": 3, "activation": "relu"}),
    ("conv2d", (1, 7, 7), {"filters": 2, "kernel": [3, 2], "stride": 2, "pad": 1}),
    ("max_pool", (2, 6, 6), {"size": 2, "stride": 2}),
    ("max_pool", (1, 5, 5), {"size": 3, "stride": 1, "pad": 1}),
    ("dropout", (6,), {"rate": 0.5}),
    ("dropout", (2, 3, 3), {"rate": 0.2}),
    ("batchnorm", (6,), {}),
    ("batchnorm", (5,), {"momentum": 0.5}),
]


@pytest.mark.parametrize(
    ("name", "shape", "settings"),
    STANDARD_LAYERS,
    ids=[f"{name}-{shape}-{settings}" for name, shape, settings in STANDARD_LAYERS],
)
def test_standard_layer_parts_pass(
    name: str, shape: tuple[int, ...], settings: dict[str, Any]
) -> None:
    """Each standard layer part, with real activations, passes every check that applies."""
    checks = check_layer(standard(name), shape, **settings)
    assert len(passed(checks)) >= 6, checks


def test_relu_dense_declares_its_kink_and_the_kit_respects_it() -> None:
    """dense with relu declares breakpoints (0,): the smoothness check runs and passes."""
    checks = check_layer(standard("dense"), (6,), units=4, activation="relu")
    (smooth,) = [c for c in checks if c.what.startswith("smooth")]
    assert smooth.passed is True


def test_layer_kind_in_conformance_probes_a_shape_and_required_settings() -> None:
    """Without a shape, dense is made for (6,) with units=2 and the kit's tanh; flatten too."""
    first = conformance("layer", standard("dense"))[0]
    assert first.what == "made for samples of shape (6,) with units=2, activation=kit_tanh"
    assert conformance("layer", standard("flatten"))[0].what == "made for samples of shape (6,)"


def test_a_part_refusing_every_probe_shape_is_a_skip_naming_why() -> None:
    """A part that takes only shape (5,) is skipped by the probe, giving its message."""
    from toolkit import SettingError

    def only_five(input_shape: tuple[int, ...]) -> Layer:
        if input_shape != (5,):
            raise SettingError("type", "takes samples of shape (5,) only")
        return Gain(input_shape)

    (check,) = conformance("layer", only_five)
    assert check.passed is None
    assert "refused samples of shape (6,), (2, 6, 6), (1, 8, 8)" in check.detail
    assert "(5,) only" in check.detail


def test_check_layer_is_public() -> None:
    """check_layer is in toolkit.testing's __all__, which lists exactly its public names."""
    public = {
        name
        for name, value in vars(toolkit.testing).items()
        if not name.startswith("_")
        and callable(value)
        and getattr(value, "__module__", "") == "toolkit.testing"
    }
    assert "check_layer" in toolkit.testing.__all__
    assert public == set(toolkit.testing.__all__)


def test_plugins_check_runs_the_layer_checks(run_cli: RunCli) -> None:
    """`toolkit plugins --check dense flatten` runs the layer checks on the probe shape."""
    result = run_cli("plugins", "--check", "dense", "flatten")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    made = "  ok    made for samples of shape (6,) with units=2, activation=kit_tanh: "
    assert made + "output shape (2,)" in lines
    assert any(line.startswith("  ok    backward matches central differences") for line in lines)
    assert lines[-1] == "checked 2 parts: 2 passed, 0 failed"


# -- the standard layers' declarations are true, and a false one would be caught -----------------


def retyped(name: str, **declared: Any) -> Part:
    """The standard layer part ``name``, its layers declaring ``declared`` instead."""

    def make(input_shape: tuple[int, ...]) -> Layer:
        layer = standard(name).fn(input_shape)
        wrong = {key: property(lambda self, value=value: value) for key, value in declared.items()}
        layer.__class__ = type(f"Wrong{type(layer).__name__}", (type(layer),), wrong)
        return layer

    make.__name__ = f"wrong_{name}"
    return Part(make)


def test_batchnorm_mixes_samples_and_saying_otherwise_is_caught() -> None:
    """batchnorm declares it mixes samples (its batch statistics), and the kit shows it does:
    declaring the opposite fails the mixing check, and the elementwise one (which allows
    unit j of every sample to move only for a layer that mixes them)."""
    checks = check_layer(standard("batchnorm"), (6,))
    (mixing,) = [c for c in checks if c.what.startswith("mixes the samples")]
    assert mixing.passed is True
    with pytest.raises(ConformanceError) as caught:
        check_layer(retyped("batchnorm", mixes_samples=False), (6,))
    mixing, elementwise = caught.value.failures  # unit j of the other samples moves too
    assert mixing.what.startswith("mixes the samples")
    assert mixing.detail.endswith("; declare mixes_samples True")
    assert elementwise.what.startswith("acts on each unit alone")
    assert "changed unit (0,) of sample 1" in elementwise.detail


def test_max_pool_declared_smooth_is_caught() -> None:
    """max_pool declares no breakpoints (its kinks are where two inputs of a window tie, not
    at points of its input); declared smooth, the sweep finds a kink."""
    failure = only_failure(retyped("max_pool", breakpoints=()), (2, 6, 6))
    assert failure.what.startswith("smooth away")
    assert "a kink or jump" in failure.detail


def test_max_pool_declared_elementwise_is_caught() -> None:
    """max_pool changes the sample's shape and has no activation: elementwise is false."""
    failure = only_failure(retyped("max_pool", elementwise=True), (2, 6, 6))
    assert failure.what.startswith("acts on each unit alone")
    assert "shape changes from (2, 6, 6) to (2, 3, 3)" in failure.detail


def test_dropout_in_training_uses_its_draws_and_is_checked_with_them() -> None:
    """dropout draws a mask per batch: the kit's training checks use equal draws and pass;
    its backward (the mask) matches central differences in training with that mask."""
    checks = check_layer(standard("dropout"), (6,), rate=0.5)
    assert not [c for c in checks if c.passed is False]
    (backward,) = [c for c in checks if c.what.startswith("backward")]
    assert backward.passed is True
