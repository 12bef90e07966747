"""Gradient estimators: the gradient of the loss with respect to each parameter.

``objective.params`` is the network's live dict of arrays;
``objective.central_differences(name, indices, h)`` gives (f(v + h) - f(v - h)) / 2h at
those elements, and ``objective.losses_at(name, indices, values)`` the loss with one
element at a time set to a value, each as fast as the network allows;
``objective.forward()`` the forward pass with each layer's input, pre-activation and
output; ``objective.rng`` a seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import NoReturn

import numpy as np

from toolkit import Objective, Part, Problem, SpecError, hookimpl
from toolkit.registry.parts import BoundPart

Gradient = dict[str, np.ndarray]
"""The gradient of the loss: an array shaped like each parameter, by name."""
Problems = Iterator[tuple[str, str]]
"""What a ``validate`` function yields: (setting, what is wrong with it)."""


def central_difference(objective: Objective, h: float = 1e-4) -> Gradient:
    """(f(v + h) - f(v - h)) / 2h for every element, without a forward pass for each."""
    return {
        name: objective.central_differences(name, np.arange(param.size), h).reshape(param.shape)
        for name, param in objective.params.items()
    }


def central_difference_loop(objective: Objective, h: float = 1e-4) -> Gradient:
    """The element loop: set v + h, evaluate, set v - h, evaluate, restore; row-major order."""

    def difference(param: np.ndarray, index: tuple[int, ...]) -> float:
        value = param[index]
        try:
            param[index] = value + h
            f1 = objective.loss()
            param[index] = value - h
            f2 = objective.loss()
        finally:
            param[index] = value
        return (f1 - f2) / (2 * h)

    grads: Gradient = {}
    for name, param in objective.params.items():
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            grad[index] = difference(param, index)
        grads[name] = grad
    return grads


def forward_difference(objective: Objective, h: float = 1e-4) -> Gradient:
    """(f(v + h) - f(v)) / h for every element, perturbations computed in bulk."""
    f0 = objective.loss()
    grads = {}
    for name, param in objective.params.items():
        values = param.reshape(-1).copy()
        losses = objective.losses_at(name, np.arange(values.size), values + h)
        grads[name] = ((losses - f0) / h).reshape(param.shape)
    return grads


def complex_step(objective: Objective, h: float = 1e-20) -> Gradient:
    """Im f(v + ih) / h: exact to rounding, for parts that accept complex input."""
    _require_complex_parts(objective)
    grads = {}
    for name, param in objective.params.items():
        values = param.reshape(-1).astype(complex)
        losses = objective.losses_at(name, np.arange(values.size), values + 1j * h)
        if not np.iscomplexobj(losses):
            _refuse("the loss dropped the imaginary part of complex input", "loss")
        grads[name] = (np.imag(losses) / h).reshape(param.shape)
    return grads


def _require_complex_parts(objective: Objective) -> None:
    """Refuse parts that don't carry a complex step through (relu's kink, step, ...)."""
    probe = np.append(np.linspace(-2.0, 2.0, 11) + 0.0371, 0.0).reshape(3, 4)  # 0: relu's kink
    for index, layer in enumerate(objective.network.layers):
        activation = layer.activation
        if activation is None:
            if layer.breakpoints != ():
                _refuse(
                    f"layer '{layer.type_name or type(layer).__name__}' does not declare itself "
                    "smooth (breakpoints: ())",
                    f"model.layers[{index}]",
                )
            continue
        where = f"model.layers[{index}].activation"
        try:
            carried = np.imag(activation(probe + 1e-20j)) / 1e-20
        except Exception as error:
            _refuse(f"activation '{activation.name}' fails on complex input ({error})", where)
        h = 1e-6
        numeric = (activation(probe + h) - activation(probe - h)) / (2 * h)
        if not np.allclose(carried, numeric, rtol=1e-5, atol=1e-7):
            _refuse(
                f"activation '{activation.name}' is not analytic: a complex step "
                "through it does not give its derivative",
                where,
            )


def _refuse(reason: str, where: str) -> NoReturn:
    raise SpecError(
        [
            Problem(
                where,
                f"complex_step cannot be used: {reason}",
                None,
                "use gradient: central_difference",
            )
        ]
    )


def spsa(objective: Objective, samples: int = 16, c: float = 1e-4) -> Gradient:
    """Simultaneous perturbation: mean of (f(p + c d) - f(p - c d)) / 2c * d, d = +-1."""
    params = objective.params
    kept = {name: value.copy() for name, value in params.items()}
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    try:
        for _ in range(samples):
            signs = {
                name: objective.rng.choice([-1.0, 1.0], size=v.shape) for name, v in kept.items()
            }
            for name in params:
                params[name][...] = kept[name] + c * signs[name]
            f1 = objective.loss()
            for name in params:
                params[name][...] = kept[name] - c * signs[name]
            f2 = objective.loss()
            for name in params:
                grads[name] += (f1 - f2) / (2 * c) * signs[name] / samples
    finally:
        for name in params:
            params[name][...] = kept[name]
    return grads


def backprop(objective: Objective) -> Gradient:
    """The analytic gradient: the chain rule, layer by layer from the last (``backward``)."""
    network = objective.network
    forward = objective.forward()
    loss = network.loss_function
    if loss.part.derivative is None:
        _no_derivative(f"loss '{loss.name}'", "loss")
    g = loss.derivative(forward.y, objective.t)
    grads = {}
    for index in reversed(range(len(network.layers))):
        layer = network.layers[index]
        if not layer.differentiable:
            activation = layer.activation
            if isinstance(activation, BoundPart) and not activation.has_derivative:
                where = f"model.layers[{index}].activation"
                _no_derivative(f"activation '{activation.name}'", where)
            _no_backward(layer.type_name or type(layer).__name__, f"model.layers[{index}]")
        g, own = layer.backward(forward.step(index), g, network.params, inputs=index > 0)
        grads.update(own)
    return grads


def _no_derivative(what: str, where: str) -> NoReturn:
    raise SpecError(
        [
            Problem(
                where,
                f"backprop needs the derivative of {what}, which its plugin does not give",
                None,
                "use gradient: central_difference, or give the part a derivative",
            )
        ]
    )


def _no_backward(layer: str, where: str) -> NoReturn:
    raise SpecError(
        [
            Problem(
                where,
                f"backprop needs the backward pass of layer '{layer}', which its plugin does "
                "not give",
                None,
                "use gradient: central_difference (it needs the forward pass only)",
            )
        ]
    )


SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)
"""2.2e-308: an imaginary step below it is subnormal."""


def check_step(h: float) -> Problems:
    """A real step: positive, not lost in rounding, small enough to give a derivative."""
    yield from _step("h", h, _lost_in_rounding)


def check_complex_step(h: float) -> Problems:
    """An imaginary step is never added to the real part: only underflow bounds it below."""
    yield from _step("h", h, _subnormal)


def check_spsa(samples: int, c: float) -> Problems:
    if samples < 1:
        yield "samples", f"must be at least 1, got {samples}"
    yield from _step("c", c, _lost_in_rounding)


def _step(setting: str, step: float, too_small: Callable[[str, float], str]) -> Problems:
    """Problems with a step: positive, not ``too_small``, at most 1."""
    if not step > 0:
        yield setting, f"must be a positive step, got {step}"
    elif too_small(setting, step):
        yield setting, too_small(setting, step)
    elif step > 1:
        yield (
            setting,
            (
                f"must be at most 1, got {step}: the difference over a step that large "
                "is no derivative (0.0001 is usual)"
            ),
        )


def _lost_in_rounding(setting: str, step: float) -> str:
    """Why a real step is too small, or ``""``: ``1.0 + step == 1.0`` in float64."""
    if 1.0 + step != 1.0:
        return ""
    return (
        f"1.0 + {setting} == 1.0 for {setting} = {step}, so the perturbation is lost in "
        f"rounding and nothing is learned; use at least {np.finfo(np.float64).eps:.2g} "
        "(0.0001 is usual)"
    )


def _subnormal(setting: str, step: float) -> str:
    """Why an imaginary step is too small, or ``""``: below the smallest normal float."""
    if step >= SMALLEST_NORMAL:
        return ""
    return (
        f"{setting} = {step} is subnormal (below {SMALLEST_NORMAL:.2g}), so the derivative "
        "it carries loses its digits or underflows to 0; the default 1e-20 is usual"
    )


@hookimpl
def toolkit_gradient_estimators() -> dict[str, Part]:
    return {
        "central_difference": Part(central_difference, validate=check_step, tolerance=1e-7),
        "central_difference_loop": Part(
            central_difference_loop, validate=check_step, tolerance=1e-7
        ),
        "forward_difference": Part(forward_difference, validate=check_step, tolerance=1e-3),
        "complex_step": Part(complex_step, validate=check_complex_step, tolerance=1e-7),
        "spsa": Part(spsa, validate=check_spsa, tolerance=math.inf),
        "backprop": Part(backprop, tolerance=1e-7),
    }


@hookimpl
def toolkit_defaults() -> dict[str, str]:
    return {"gradient": "central_difference"}
