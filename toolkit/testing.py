"""Conformance checks for parts: the tests a careful plugin author would write by hand.

Call one function per part from your own test suite::

    from toolkit.testing import check_activation

    def test_swish():
        check_activation(swish_part)  # raises ConformanceError saying what missed, by how much

A layer part is checked for the shape of the samples it takes::

    check_layer(layer_norm_part, (6,), eps=1e-5)

or run ``toolkit plugins --check [NAME ...]`` on installed parts (a layer part is then
made for the first of ``PROBE_SHAPES`` it accepts).
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base.errors import MissingDependency, SettingError, ToolkitNotice
from .gradients.estimate import Estimate
from .gradients.kinks import Evaluation, KinkFree, gives_pieces, kink_free, sides, straddles
from .gradients.objective import Objective
from .model.data import as_dataset
from .model.layers import Affine, Layer, Mode, Shape, Step
from .model.network import Network
from .registry.kinds import LAYER_PART_KEYS, kind_named
from .registry.manager import get_plugin_manager
from .registry.parts import REQUIRED, BoundPart, Part, as_part, check_settings, describe_exit
from .registry.registry import Registry
from .spec.shapes import shown

__all__ = [
    "Check",
    "ConformanceError",
    "check_activation",
    "check_dataset",
    "check_gradient_estimator",
    "check_initializer",
    "check_layer",
    "check_loss",
    "check_optimizer",
    "conformance",
]

DERIVATIVE_ATOL = 1e-6
DERIVATIVE_RTOL = 1e-5
ESTIMATOR_TOLERANCE = 1e-4
PROBE_RANGE = 30.0
SMOOTHNESS_STEP = 1e-4
SMOOTHNESS_TOLERANCE = 1e-9
"""A third difference at step 1e-4 above this is a kink (order 1e-4), a jump in the
second derivative (order 1e-8) or a third derivative over 1000: not smooth enough."""
_H = 1e-6
EXECUTOR_SECONDS = 120.0
"""The longest an executor part may take to run one function on a worker it started."""
_KIT_TANH: Part = Part(np.tanh, derivative=lambda a: 1.0 - np.tanh(a) ** 2, breakpoints=())
"""The kit's own smooth activation, with its closed-form derivative."""


@dataclass(frozen=True)
class Check:
    """One conformance check: what was checked and, if it missed, by how much.

    ``passed`` is None when the check could not run (for example, a part without a
    derivative has no derivative check).
    """

    what: str
    passed: bool | None
    detail: str = ""
    install: str = ""
    """What to install for a check that was skipped for a missing optional dependency."""

    def __str__(self) -> str:
        status = {True: "ok", False: "FAIL", None: "skip"}[self.passed]
        return f"{status:<5} {self.what}" + (f": {self.detail}" if self.detail else "")


class ConformanceError(AssertionError):
    """A part failed one or more conformance checks."""

    def __init__(self, label: str, failures: list[Check]) -> None:
        self.failures = failures
        lines = "\n".join(f"  {check}" for check in failures)
        super().__init__(f"{label} failed {len(failures)} check(s):\n{lines}")


def conformance(
    kind: str,
    part: Any,
    settings: Mapping[str, Any] | None = None,
    *,
    input_shape: Shape | None = None,
) -> list[Check]:
    """Every check for a part of ``kind`` (``"activation"``, ``"loss"``, ...); never raises.

    A layer part is made for samples of ``input_shape``; left out, for the first of
    ``PROBE_SHAPES`` it accepts, any required setting not given tried as ``PROBE_SETTING``.
    """
    full = as_part(part, kind_named(kind))
    given = dict(settings or {})
    if kind == "layer":
        run = functools.partial(_layer_checks, full, given, input_shape)
    else:
        missing = [k for k, v in (full.params or {}).items() if v is REQUIRED and k not in given]
        if missing:
            return [Check("set up with default settings", None, f"needs {', '.join(missing)}")]
        run = functools.partial(_CHECKS[kind], full, given)
    try:
        return run()
    except MissingDependency as error:  # the part is fine; this environment lacks a library
        return [
            Check("its optional dependencies are installed", None, error.message, error.install)
        ]
    except Exception as error:  # a part that crashes on ordinary input fails, with the reason
        return [Check("runs on ordinary input", False, f"{type(error).__name__}: {error}")]
    except SystemExit as exit:  # so does one that ends the process
        return [Check("runs on ordinary input", False, describe_exit(exit))]


def _asserting(kind: str) -> Callable[..., list[Check]]:
    def check(part: Any, **settings: Any) -> list[Check]:
        return _raising(kind, part, conformance(kind, part, settings))

    check.__name__ = f"check_{kind}"
    check.__doc__ = (
        f"Run every {kind.replace('_', ' ')} check; raise ConformanceError if any fails. "
        "Keyword arguments are the part's settings."
    )
    return check


def _raising(kind: str, part: Any, checks: list[Check]) -> list[Check]:
    """``checks``, or ConformanceError naming the part if any failed."""
    failures = [c for c in checks if c.passed is False]
    if failures:
        raise ConformanceError(f"{kind.replace('_', ' ')} {_name(part)!r}", failures)
    return checks


def _name(part: Any) -> str:
    fn = part.fn if isinstance(part, Part) else part
    return str(getattr(fn, "__name__", fn))


def _probe(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Deterministic inputs spread over [-3, 3], away from 0 (where kinks usually are)."""
    values = np.linspace(-3.0, 3.0, int(np.prod(shape))) + 0.0123
    return values.reshape(shape).astype(dtype)


def _worst(error: np.ndarray, at: np.ndarray) -> str:
    index = np.unravel_index(int(np.argmax(error)), error.shape)
    return f"missed by {float(error[index]):.2e} at {float(at[index]):.4g}"


Kinks = dict[tuple[int, ...], KinkFree | None]
"""The probe points whose central difference straddles a declared breakpoint, with their
kink-free derivatives (``toolkit.gradients.kinks``)."""


def _derivative_check(
    what: str,
    derivative: np.ndarray,
    numeric: np.ndarray,
    at: np.ndarray,
    kinks: Kinks | None = None,
) -> Check:
    """The derivative against central differences at step ``_H``; where one straddles a
    declared breakpoint, the derivative may match the kink-free difference instead."""
    tolerance = f"tolerance {DERIVATIVE_ATOL:g} + {DERIVATIVE_RTOL:g} * |numeric|"
    if np.shape(derivative) != np.shape(numeric):
        return Check(what, False, f"shape {np.shape(derivative)}, expected {np.shape(numeric)}")
    error = np.abs(derivative - numeric)
    excess = error - DERIVATIVE_RTOL * np.abs(numeric)
    for index, free in (kinks or {}).items():
        if free is not None and not excess[index] <= DERIVATIVE_ATOL:
            given = float(derivative[index])
            nearest = min(free.values, key=lambda value: abs(given - value))
            error[index] = abs(given - nearest)
            excess[index] = error[index] - DERIVATIVE_RTOL * abs(nearest) - free.allowance
    ok = bool(np.all(excess <= DERIVATIVE_ATOL))
    apart = f"; {_straddling(kinks)}" if kinks else ""
    return Check(what, ok, "" if ok else f"{_worst(error, at)} ({tolerance}){apart}")


def _straddling(kinks: Kinks) -> str:
    """How many probe points straddle a breakpoint, and what they were compared with."""
    one_sided = sum(1 for free in kinks.values() if free is not None and free.one_sided)
    return (
        f"{len(kinks)} probe point(s) straddle a declared breakpoint at step {_H:g}; "
        f"compared with differences that do not too ({one_sided} one-sided)"
    )


Value = Callable[[np.ndarray, tuple[int, ...]], float]
"""The differentiated function of an input array, for the derivative in one element."""


def _kinks(breakpoints: tuple[float, ...] | None, value: Value, x: np.ndarray) -> Kinks:
    """The elements of ``x`` whose change by ``±_H`` crosses a declared breakpoint, or lands
    on one, and the derivative of ``value`` in each from stencils that do not."""
    if not breakpoints:
        return {}
    found: Kinks = {}
    for index in np.ndindex(x.shape):
        centre = float(x[index])
        base = sides(np.array(centre), breakpoints)
        moved = [sides(np.array(centre + step), breakpoints) for step in (_H, -_H)]
        if any(straddles(base, marks) for marks in moved):
            probe = _element_probe(breakpoints, value, x, index)
            found[index] = kink_free(probe, centre, _H, probe(centre))
    return found


def _element_probe(
    breakpoints: tuple[float, ...], value: Value, x: np.ndarray, index: tuple[int, ...]
) -> Callable[[float], Evaluation]:
    """``value`` with ``x[index]`` set to ``v``, and the sides of every element of the input."""

    def probe(v: float) -> Evaluation:
        moved = np.array(x, dtype=np.float64)
        moved[index] = v
        return value(moved, index), sides(moved, breakpoints)

    return probe


def _activation_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    def f(x: np.ndarray) -> np.ndarray:
        return np.asarray(part.fn(x, **settings))

    checks = []
    for dtype in (np.float64, np.float32):
        x = _probe((3, 5), dtype)
        y = f(x)
        ok = y.shape == x.shape and y.dtype == x.dtype
        checks.append(
            Check(
                f"keeps shape and dtype of {np.dtype(dtype).name} input",
                ok,
                "" if ok else f"{x.dtype} {x.shape} gave {y.dtype} {y.shape}",
            )
        )
    x = _probe((4, 6))
    batch, rows = f(x), np.stack([f(row) for row in x])
    gap = float(np.max(np.abs(batch - rows))) if batch.shape == rows.shape else np.inf
    checks.append(
        Check(
            "vectorized: a batch gives the values of its rows one by one",
            gap <= 1e-12,
            "" if gap <= 1e-12 else f"missed by {gap:.2e}",
        )
    )
    checks.append(_stacked_activation_check(f))
    wide = np.linspace(-PROBE_RANGE, PROBE_RANGE, 61).reshape(1, -1)
    with np.errstate(all="ignore"):
        finite = bool(np.all(np.isfinite(f(wide))))
    checks.append(Check(f"finite on [-{PROBE_RANGE:g}, {PROBE_RANGE:g}]", finite))
    row = np.array([0.37, -1.1, 0.8])
    grid = np.arange(-4.0, 4.0, SMOOTHNESS_STEP)  # stencils overlap: no point is missed
    checks.append(_smoothness_check(part.breakpoints, f, row, grid))
    if part.vjp is not None:
        return [*checks, _vjp_check(part, settings, f, x)]
    if part.derivative is None:
        return [*checks, Check("derivative matches a central difference", None, "none given")]
    numeric = (f(x + _H) - f(x - _H)) / (2 * _H)
    given = np.asarray(part.derivative(x, **settings))
    kinks = _kinks(part.breakpoints, lambda moved, index: float(f(moved)[index]), x)
    return [
        *checks,
        _derivative_check("derivative matches a central difference", given, numeric, x, kinks),
    ]


def _stacked_activation_check(f: Callable[[np.ndarray], np.ndarray]) -> Check:
    """Batches stacked on a leading axis, laid out in memory as the gradient engines lay
    them out (units first: a transposed view), give each batch's own values."""
    what = "stacked batches (a leading axis, any memory layout) give each batch's values"
    stack = _probe((3, 4, 6))
    units_first = np.ascontiguousarray(stack.transpose(2, 0, 1)).transpose(1, 2, 0)
    alone = np.stack([f(batch) for batch in stack])
    for given in (stack, units_first):
        got = f(given)
        if got.shape != stack.shape:
            fix = "keep the input's shape; act on the last axis (axis=-1), not on axis 1"
            return Check(what, False, f"shape {stack.shape} gave {got.shape}; {fix}")
        gap = float(np.max(np.abs(got - alone)))
        if not gap <= 1e-12 * max(1.0, float(np.max(np.abs(alone)))):
            fix = "compute along the last axis (axis=-1, keepdims=True), never axis 1 or 0"
            return Check(what, False, f"missed each batch's own values by {gap:.2e}; {fix}")
    return Check(what, True)


def _smoothness_check(
    breakpoints: tuple[float, ...] | None,
    f: Callable[[np.ndarray], Any],
    row: np.ndarray,
    grid: np.ndarray,
) -> Check:
    """Declared breakpoints against third differences: where a part says it is smooth,
    ``f(x + 2e) - 3 f(x + e) + 3 f(x) - f(x - e)`` is of order ``e**3``; across a jump in
    the second derivative it is of order ``e**2``, across a kink ``e``, across a jump 1.
    The first input of ``row`` moves over ``grid`` (stencils within reach of a declared
    breakpoint are skipped); the tolerance is relative to the part's values."""
    what = "smooth away from its declared breakpoints"
    if breakpoints is None:
        return Check(what, None, "none declared (central differences check each fit instead)")
    e = SMOOTHNESS_STEP
    far = np.ones(grid.shape, dtype=bool)
    for point in breakpoints:
        far &= np.abs(grid - point) > 3 * e
    points = grid[far]

    def at(shift: float) -> np.ndarray:
        x = np.tile(row, (len(points), 1))
        x[:, 0] = points + shift
        values = np.asarray(f(x), dtype=np.float64)
        return values.reshape(len(points), -1)

    centre = at(0.0)
    third = np.max(np.abs(at(2 * e) - 3 * at(e) + 3 * centre - at(-e)), axis=1)
    third /= np.maximum(1.0, np.max(np.abs(centre), axis=1))
    worst = int(np.argmax(third))
    if third[worst] <= SMOOTHNESS_TOLERANCE:
        return Check(what, True)
    return Check(
        what,
        False,
        f"a kink or jump near {points[worst]:.4g} (third difference {third[worst]:.2e} at "
        f"step {e:g}); add it to breakpoints",
    )


def _vjp_check(
    part: Part, settings: dict[str, Any], f: Callable[[np.ndarray], np.ndarray], x: np.ndarray
) -> Check:
    """vjp(x, g) against sum(g * f(x)) differentiated by central differences."""
    assert part.vjp is not None
    g = np.random.default_rng(1).standard_normal(x.shape)
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += _H
        down[index] -= _H
        numeric[index] = (np.sum(g * f(up)) - np.sum(g * f(down))) / (2 * _H)
    given = np.asarray(part.vjp(x, g, **settings))
    kinks = _kinks(part.breakpoints, lambda moved, _: float(np.sum(g * f(moved))), x)
    what = "vjp matches a central difference of sum(g * f(x))"
    return _derivative_check(what, given, numeric, x, kinks)


def _loss_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3))
    y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    t = np.eye(3)[[0, 2, 1, 2]]

    def f(prediction: np.ndarray) -> float:
        return float(part.fn(prediction, t, **settings))

    value = part.fn(y, t, **settings)
    scalar = np.ndim(value) == 0 and bool(np.isfinite(value))
    checks = [Check("returns a finite scalar", scalar, "" if scalar else f"got {value!r}")]
    if scalar:
        checks += [_index_target_check(part, settings, y, t), _stacked_loss_check(part, settings)]
    perfect = abs(f(t.copy()))
    checks.append(
        Check(
            "about 0 on perfect predictions (|loss| <= 1e-6)",
            perfect <= 1e-6,
            "" if perfect <= 1e-6 else f"got {perfect:.3g}",
        )
    )
    checks.append(
        _smoothness_check(
            part.breakpoints,
            lambda p: part.fn(p[:, None, :], np.broadcast_to(t[:1], (len(p), 1, 3)), **settings),
            y[0],
            np.arange(0.2, 0.95, SMOOTHNESS_STEP),  # probabilities, away from log(0)
        )
    )
    if part.derivative is None:
        return [*checks, Check("derivative dL/dy matches a central difference", None, "none given")]
    numeric = np.zeros_like(y)
    for index in np.ndindex(y.shape):
        up, down = y.copy(), y.copy()
        up[index] += _H
        down[index] -= _H
        numeric[index] = (f(up) - f(down)) / (2 * _H)
    given = np.asarray(part.derivative(y, t, **settings))
    kinks = _kinks(part.breakpoints, lambda moved, _: f(moved), y)
    what = "derivative dL/dy matches a central difference"
    return [*checks, _derivative_check(what, given, numeric, y, kinks)]


_STACKING_FIX = (
    "reduce over the last two axes only (axis=(-2, -1)) and take the batch size from "
    "y.shape[-2], not y.shape[0]"
)
_INDEX_FIX = "read whole-number t as class indices (np.eye(y.shape[-1])[t] gives one-hot rows)"


def _index_target_check(
    part: Part, settings: dict[str, Any], y: np.ndarray, t: np.ndarray
) -> Check:
    """Class indices mean their one-hot rows: the same loss."""
    what = f"class-index targets (t of shape {t.shape[:1]}) give the loss of their one-hot rows"
    labels = t.argmax(axis=-1)
    try:
        got = np.asarray(part.fn(y, labels, **settings))
    except Exception as error:
        return Check(what, False, f"raised {type(error).__name__}: {error}; {_INDEX_FIX}")
    expected = float(part.fn(y, t, **settings))
    if got.shape == () and _same(float(got), expected):
        return Check(what, True)
    return Check(what, False, f"gave {_shown(got)} instead of {expected:.6g}; {_INDEX_FIX}")


def _stacked_cases() -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Predictions stacked on a leading axis with their targets, as the gradient engines
    pass them: batches sharing one batch's targets (perturbations of the same batch), and
    batches with their own targets, down to one sample each; one-hot rows or indices.
    The flag says whether the targets are per batch."""
    rng = np.random.default_rng(2)
    stack = rng.dirichlet(np.ones(3), size=(3, 4))
    labels = rng.integers(0, 3, size=(3, 4))
    singles = rng.dirichlet(np.ones(3), size=(5, 1))
    single_labels = rng.integers(0, 3, size=(5, 1))
    return [
        (stack, np.eye(3)[labels[0]], False),
        (stack, labels[0], False),
        (stack, np.eye(3)[labels], True),
        (stack, labels, True),
        (singles, np.eye(3)[single_labels], True),
        (singles, single_labels, True),
    ]


def _stacked_loss_check(part: Part, settings: dict[str, Any]) -> Check:
    """A stack of predictions gives one loss per stacked batch, each as that batch alone."""
    what = (
        "stacked predictions (a leading axis) give one loss per batch, as each batch alone "
        "(targets shared or per batch, one-hot or indices)"
    )
    for y, t, per_batch in _stacked_cases():
        case = f"y of shape {y.shape} with t of shape {t.shape}"
        try:
            got = np.asarray(part.fn(y, t, **settings))
            alone = [
                float(part.fn(y[i], t[i] if per_batch else t, **settings)) for i in range(len(y))
            ]
        except Exception as error:
            detail = f"{case} raised {type(error).__name__}: {error}"
            return Check(what, False, f"{detail}; {_STACKING_FIX}")
        if got.shape != y.shape[:1]:
            detail = f"{case} gave shape {got.shape}, not {y.shape[:1]}"
            return Check(what, False, f"{detail}; {_STACKING_FIX}")
        for index, (value, expected) in enumerate(zip(got.tolist(), alone, strict=True)):
            if not _same(value, expected):
                detail = f"{case}: batch {index} gave {value:.6g}, alone {expected:.6g}"
                return Check(what, False, f"{detail}; {_STACKING_FIX}")
    return Check(what, True)


def _same(a: float, b: float) -> bool:
    """Equal to rounding."""
    return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def _shown(value: np.ndarray) -> str:
    return f"{float(value):.6g}" if value.shape == () else f"an array of shape {value.shape}"


def _initializer_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    checks = []
    for shape in ((4, 3), (5,)):
        for make in (np.random.RandomState, np.random.default_rng):
            values = np.asarray(part.fn(shape, make(0), **settings))
            ok = values.shape == shape and bool(np.all(np.isfinite(values)))
            checks.append(
                Check(
                    f"finite values of shape {shape} from {make.__name__}",
                    ok,
                    "" if ok else f"got shape {values.shape}",
                )
            )
    first = np.asarray(part.fn((4, 3), np.random.default_rng(7), **settings))
    again = np.asarray(part.fn((4, 3), np.random.default_rng(7), **settings))
    checks.append(Check("deterministic for a seed", bool(np.array_equal(first, again))))
    return checks


class _KitAffine(Layer):
    """The kit's own ``activation(x @ W{k} + b{k})``, with its closed-form backward pass."""

    weighted = True

    def __init__(self, inputs: int, units: int, number: int, activation: BoundPart) -> None:
        super().__init__((inputs,))
        self.output_shape = (units,)
        self.names = {"W": f"W{number}", "b": f"b{number}"}
        self._activation = activation

    @property
    def params(self) -> tuple[str, ...]:
        return (self.names["W"], self.names["b"])

    @property
    def activation(self) -> BoundPart:
        return self._activation

    @property
    def affine(self) -> Affine:
        return Affine(self.names["W"], self.names["b"])

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x @ params[self.names["W"]] + params[self.names["b"]]
        return Step(x, a, self._activation(a))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        g = self._activation.vjp(step.pre, grad_out)
        weight, bias = self.names["W"], self.names["b"]
        grads = {weight: step.input.T @ g, bias: g.sum(axis=0)}
        return (g @ params[weight].T if inputs else None), grads


def _probe_objective() -> tuple[Objective, dict[str, np.ndarray]]:
    """A small network, tanh then linear with a squared-error loss, and its exact gradient.

    Its parts are the kit's own closed forms, so estimators are checked against an
    answer that owes nothing to any plugin.
    """
    tanh = _KIT_TANH
    linear = Part(lambda a: a, derivative=np.ones_like, breakpoints=())
    squares = Part(
        lambda y, t: 0.5 * np.sum((y - t) ** 2, axis=(-2, -1)),
        derivative=lambda y, t: y - t,
        breakpoints=(),
    )
    rng = np.random.default_rng(3)
    params = {
        "W1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal(3),
        "W2": rng.standard_normal((3, 2)),
        "b2": rng.standard_normal(2),
    }
    layers = [
        _KitAffine(4, 3, 1, BoundPart("kit_tanh", tanh)),
        _KitAffine(3, 2, 2, BoundPart("kit_linear", linear)),
    ]
    network = Network(
        layers,
        params,
        BoundPart("kit_squares", squares),
        BoundPart("kit_none", linear),
        gradient_source=Estimate(),
    )
    x, t = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    hidden = np.tanh(x @ params["W1"] + params["b1"])
    dy = hidden @ params["W2"] + params["b2"] - t
    dh = (dy @ params["W2"].T) * (1.0 - hidden**2)
    exact = {"W1": x.T @ dh, "b1": dh.sum(axis=0), "W2": hidden.T @ dy, "b2": dy.sum(axis=0)}
    return Objective(network, x, t, np.random.default_rng(4)), exact


def _gradient_estimator_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    objective, exact = _probe_objective()
    before = {key: value.copy() for key, value in objective.params.items()}
    with warnings.catch_warnings():  # notices about the kit's own network are not the user's
        warnings.simplefilter("ignore", ToolkitNotice)
        grads = part.fn(objective, **settings)
    restored = all(np.array_equal(objective.params[k], v) for k, v in before.items())
    checks = [Check("leaves the parameters as it found them", restored)]
    shaped = all(np.shape(grads.get(k)) == v.shape for k, v in before.items())
    checks.append(Check("returns a gradient shaped like each parameter", shaped))
    if not shaped:
        return checks
    tolerance = ESTIMATOR_TOLERANCE if part.tolerance is None else part.tolerance
    scale = max(float(np.max(np.abs(g))) for g in exact.values())
    worst = max(float(np.max(np.abs(np.asarray(grads[k]) - exact[k]))) for k in exact) / scale
    what = f"agrees with the exact gradient of a small network (relative tolerance {tolerance:g})"
    if math.isinf(tolerance):
        return [*checks, Check(what, None, f"stochastic; relative error {worst:.2e}")]
    ok = worst <= tolerance
    return [*checks, Check(what, ok, "" if ok else f"missed by {worst:.2e} (relative)")]


def _dataset_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    checks = []
    for make in (np.random.RandomState, np.random.default_rng):
        try:
            first = as_dataset(part.fn(make(0), **settings))
        except MissingDependency:
            raise
        except ValueError as error:
            return [
                Check(
                    f"returns finite x (samples x features) and t, from {make.__name__}",
                    False,
                    str(error),
                )
            ]
        again = as_dataset(part.fn(make(0), **settings))
        checks.append(
            Check(
                f"returns finite x (samples x features) and t, from {make.__name__}",
                True,
                f"x {first.x.shape}, t {first.t.shape}",
            )
        )
        same = np.array_equal(first.x, again.x) and np.array_equal(first.t, again.t)
        checks.append(Check(f"deterministic for a seed, from {make.__name__}", same))
    return checks


def _optimizer_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    optimizer = part.fn(**settings)
    rng = np.random.default_rng(5)
    params = {"W": rng.standard_normal((3, 2)), "b": np.zeros(2)}
    grads = {"W": rng.standard_normal((3, 2)), "b": np.array([0.5, -2.0])}
    before = {key: value.copy() for key, value in params.items()}
    arrays = {key: id(value) for key, value in params.items()}
    optimizer.update(params, grads)
    in_place = all(id(params[key]) == arrays[key] for key in params)
    checks = [Check("updates the parameter arrays in place", in_place)]
    shaped = all(
        params[k].shape == v.shape and np.all(np.isfinite(params[k])) for k, v in before.items()
    )
    checks.append(Check("keeps shapes, finite values", bool(shaped)))
    against = all(np.all((params[k] - before[k]) * grads[k] < 0) for k in before)
    checks.append(Check("one step moves every parameter against its gradient", bool(against)))
    return checks


def _executor_checks(part: Part, settings: dict[str, Any]) -> list[Check]:
    executor = part.fn(1, **settings)
    try:
        result = executor.submit(operator.add, 2, 3).result(timeout=EXECUTOR_SECONDS)
    finally:
        executor.shutdown()
    return [Check("runs a function on a worker and gives back its result", result == 5)]


# -- layers ---------------------------------------------------------------------------------

PROBE_SHAPES: tuple[Shape, ...] = ((6,), (2, 6, 6), (1, 8, 8))
"""The sample shapes a layer part is made for when none is given (``toolkit plugins
--check``), tried in order: features, then images (channels, height, width)."""
PROBE_SETTING = 2
"""The value tried for a required setting of a layer part when no shape is given
(``units``, ``filters``, ``kernel``, ``size``); a part refusing it is skipped."""
LAYER_BATCH = 3
SAME = 1e-12
"""How far outputs that should be equal may differ, relative to their size: matrix
products of differently shaped batches round differently."""
DIFFERENCED = 300
"""The backward check differences at most this many elements of each array (its input's,
each parameter's); a larger array's are drawn with a fixed seed."""
SWEEP_RANGE = 3.0
"""The smoothness check moves one input unit over [-3, 3]."""
SWEEP_NUMBERS = 50_000_000
"""At most this many inputs and outputs in one smoothness sweep: a large layer is swept
over a narrower range around 0 (the check's detail says which)."""
_SMOOTHNESS_CHUNK = 1000
_CHUNK_NUMBERS = 2_000_000
_NUDGE = 0.37
"""How far one input unit moves in the elementwise check."""


@dataclass
class _Made:
    """A layer made for the kit, its parameters and state (named ``W1``, ``gamma1``, ...),
    two batches of inputs, a gradient of the output, and one training pass's draws."""

    layer: Layer
    params: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    x: np.ndarray
    other: np.ndarray
    g: np.ndarray
    noise: Any = None
    start: dict[str, np.ndarray] = field(default_factory=dict)
    """The parameters and state as drawn, before any check ran the layer."""

    def step(
        self,
        x: np.ndarray | None = None,
        *,
        train: bool = True,
        params: Mapping[str, np.ndarray] | None = None,
        noise: Any = None,
    ) -> Step:
        """The layer's forward pass (training mode with the kit's draws unless told)."""
        drawn = (self.noise if noise is None else noise) if train else None
        return self.layer.forward(
            self.x if x is None else x,
            self.params if params is None else params,
            Mode(train, drawn, self.state),
        )

    def output(self, x: np.ndarray | None = None, **how: Any) -> np.ndarray:
        """The output of ``step``, as an array."""
        return np.asarray(self.step(x, **how).output)


def _layer_checks(part: Part, given: dict[str, Any], input_shape: Shape | None) -> list[Check]:
    made, first = _make_layer(part, given, input_shape)
    if made is None:
        return [first]
    checks = [first]
    for what, check in _LAYER_CHECKS:
        checks.append(_guarded(check, made, what))
        if check is _shape_check and not checks[-1].passed:
            return [*checks, Check("the other checks", None, "they need the declared shapes")]
    return checks


def _guarded(check: Callable[[_Made, str], Check], made: _Made, what: str) -> Check:
    """One layer check; a layer that raises during it fails it, with the reason."""
    try:
        return check(made, what)
    except MissingDependency:
        raise
    except Exception as error:
        return Check(what, False, f"{type(error).__name__}: {error}")


def _make_layer(
    part: Part, given: dict[str, Any], input_shape: Shape | None
) -> tuple[_Made | None, Check]:
    """The layer for ``input_shape`` (or the first probe shape it takes) and a line saying so."""
    params = part.params or {}
    given = {**{key: None for key in params if key in LAYER_PART_KEYS}, **given}
    unset = [key for key, value in params.items() if value is REQUIRED and key not in given]
    if unset and input_shape is not None:
        return None, Check("set up with default settings", None, f"needs {', '.join(unset)}")
    guessed = dict.fromkeys(unset, PROBE_SETTING)
    settings, problems = check_settings(part, {**given, **guessed})
    if problems:
        if any(key in guessed for key, _, _ in problems):
            refused = "; ".join(f"{key} {message}" for key, message, _ in problems)
            needs = ", ".join(unset)
            return None, Check("set up with default settings", None, f"needs {needs} ({refused})")
        shown_problems = "; ".join(f"{key}: {message}" for key, message, _ in problems)
        return None, Check("its settings are accepted", False, shown_problems)
    settings = {key: _bound_setting(key, value) for key, value in settings.items()}
    shapes = [input_shape] if input_shape is not None else list(PROBE_SHAPES)
    refusals: list[tuple[Shape, str]] = []
    for shape in shapes:
        try:
            layer = part.fn(shape, **settings)
        except MissingDependency:
            raise
        except SettingError as error:
            refusals.append((shape, str(error)))
            continue
        except Exception as error:
            if not guessed:
                raise
            refusals.append((shape, f"{type(error).__name__}: {error}"))
            continue
        tanh = [k for k, v in settings.items() if isinstance(v, BoundPart) and v.part is _KIT_TANH]
        line = _made_line(layer, shape, {**guessed, **dict.fromkeys(tanh, "kit_tanh")})
        return (_prepared(layer, shape) if line.passed else None), line
    if input_shape is not None:
        return None, Check(f"made for samples of shape {shown(input_shape)}", False, refusals[0][1])
    if guessed:
        tried = ", ".join(f"{key}={value!r}" for key, value in guessed.items())
        detail = f"needs {', '.join(guessed)} (with {tried} it {_refused(refusals)})"
        return None, Check("set up with default settings", None, detail)
    return None, Check("made for a probe shape", None, f"it {_refused(refusals)}")


def _refused(refusals: list[tuple[Shape, str]]) -> str:
    """``refused samples of shape (6,), (2, 6, 6): why`` (each shape's reason if they differ)."""
    if len({message for _, message in refusals}) == 1:
        shapes = ", ".join(shown(shape) for shape, _ in refusals)
        return f"refused samples of shape {shapes}: {refusals[0][1]}"
    return "refused " + "; ".join(f"{shown(shape)}: {message}" for shape, message in refusals)


def _made_line(layer: Any, shape: Shape, chosen: dict[str, Any]) -> Check:
    """What the part made, with the settings the kit chose: a ``toolkit.Layer`` with an
    output shape."""
    what = f"made for samples of shape {shown(shape)}"
    if chosen:
        what += " with " + ", ".join(f"{key}={value}" for key, value in chosen.items())
    if not isinstance(layer, Layer):
        return Check(what, False, f"it made {type(layer).__name__}; subclass toolkit.Layer")
    output = tuple(getattr(layer, "output_shape", ()))
    if not output or not all(isinstance(n, int) and n > 0 for n in output):
        return Check(what, False, f"output_shape {output!r} is not a shape of positive ints")
    return Check(what, True, f"output shape {shown(output)}")


def _bound_setting(key: str, value: Any) -> Any:
    """A setting naming a part, bound as the network's builder binds it: a registered name,
    ``{name: ..., **settings}``, a Part or a function; left out, the kit's own tanh (an
    activation) or nothing."""
    kind = LAYER_PART_KEYS.get(key)
    if kind is None or kind.name == "layer" or isinstance(value, BoundPart):
        return value
    if value is None:
        return (
            BoundPart("kit_tanh", _KIT_TANH, {}, kind.name) if kind.name == "activation" else None
        )
    if isinstance(value, str | Mapping):
        name, settings = (value, {}) if isinstance(value, str) else (value["name"], value)
        entry = Registry.from_manager(get_plugin_manager()).lookup(kind.name, name)
        rest = {k: v for k, v in settings.items() if k != "name"}
        return BoundPart(name, entry.part, rest, kind.name)
    return BoundPart(_name(value), as_part(value, kind), {}, kind.name)


def _prepared(layer: Layer, shape: Shape) -> _Made:
    """Parameters drawn at random around their starts (so that no role hides behind a 1 or
    a 0), state at its constant start, inputs and an output gradient drawn too."""
    rng = np.random.default_rng(11)
    params: dict[str, np.ndarray] = {}
    state: dict[str, np.ndarray] = {}
    specs, kept = layer.param_specs(), layer.state_specs()
    layer.names = {spec.role: f"{spec.role}1" for spec in specs}
    layer.state_names = {spec.role: f"{spec.role}1" for spec in kept}
    for spec in specs:
        centre = 0.0 if isinstance(spec.init, str) else float(spec.init)
        params[layer.names[spec.role]] = centre + 0.5 * rng.standard_normal(spec.shape)
    for spec in kept:
        start = 0.0 if isinstance(spec.init, str) else float(spec.init)
        state[layer.state_names[spec.role]] = np.full(spec.shape, start)
    batch = (LAYER_BATCH, *shape)
    x, other = rng.standard_normal(batch), rng.standard_normal(batch)
    g = rng.standard_normal((LAYER_BATCH, *layer.output_shape))
    made = _Made(layer, params, state, x, other, g)
    made.start = _copies(made)
    made.noise = layer.draw(np.random.default_rng(7), LAYER_BATCH)
    return made


def _gap(got: np.ndarray, expected: np.ndarray) -> float:
    """The largest difference, relative to the larger of 1 and the expected values' size."""
    if np.shape(got) != np.shape(expected):
        return math.inf
    if not np.size(expected):
        return 0.0
    scale = max(1.0, float(np.max(np.abs(expected))))
    return float(np.max(np.abs(np.asarray(got) - expected))) / scale


def _declared_check(made: _Made, what: str) -> Check:
    """Its declared affine pre-activation and activation are what forward computes: the
    output is ``activation(pre)``, or ``pre`` itself for an affine layer without one."""
    layer = made.layer
    affine, activation = layer.affine, layer.activation
    if affine is None and activation is None:
        return Check(what, None, "neither declared")
    for train in (False, True):
        step = made.step(train=train)
        if affine is not None:
            expected = step.input @ made.params[affine.weight] + made.params[affine.bias]
            gap = _gap(np.asarray(step.pre), expected)
            if gap > SAME:
                detail = f"pre-activation differs from x @ {affine.weight} + {affine.bias}"
                return Check(what, False, f"{detail} by {gap:.2e}; declare affine None")
        if activation is not None:
            gap = _gap(np.asarray(step.output), np.asarray(activation(step.pre)))
            if gap > SAME:
                detail = f"output differs from activation(pre-activation) by {gap:.2e}"
                return Check(what, False, f"{detail}; declare activation None")
        elif affine is not None:  # the engines take an affine layer's output to be x @ W + b
            gap = _gap(np.asarray(step.output), np.asarray(step.pre))
            if gap > SAME:
                detail = f"output differs from its pre-activation by {gap:.2e}, and no activation"
                return Check(what, False, f"{detail} is declared; declare affine None")
    return Check(what, True)


def _shape_check(made: _Made, what: str) -> Check:
    """Outputs of the declared shape; a stack of batches gives each batch's output."""
    layer = made.layer
    fix = "compute over the last 1 + len(input_shape) axes and keep the others (layer.lead(x))"
    for train in (False, True):
        mode = "training" if train else "evaluation"
        y = made.output(train=train)
        expected = (LAYER_BATCH, *layer.output_shape)
        if y.shape != expected:
            detail = f"in {mode}, a batch of shape {made.x.shape} gave {y.shape}, not {expected}"
            return Check(what, False, f"{detail}; set output_shape to what forward gives")
        stack = np.stack([made.x, made.other])
        alone = np.stack([y, made.output(made.other, train=train)])
        got = made.output(stack, train=train)
        if got.shape != alone.shape:
            detail = f"in {mode}, a stack of shape {stack.shape} gave {got.shape}"
            return Check(what, False, f"{detail}, not {alone.shape}; {fix}")
        gap = _gap(got, alone)
        if gap > SAME:
            detail = f"in {mode}, a stack of two batches missed each batch's output by {gap:.2e}"
            return Check(what, False, f"{detail}; {fix}")
    return Check(what, True)


def _determinism_check(made: _Made, what: str) -> Check:
    """Deterministic: equal outputs in evaluation; in training, given equal draws."""
    layer = made.layer
    if not np.array_equal(made.output(train=False), made.output(train=False)):
        return Check(what, False, "two evaluations of one batch differ")
    for make in (np.random.RandomState, np.random.default_rng):
        first = layer.draw(make(7), LAYER_BATCH)
        again = layer.draw(make(7), LAYER_BATCH)
        if not _same_draws(first, again):
            fix = "draw only from the generator it is given"
            return Check(what, False, f"two draws from {make.__name__}(7) differ; {fix}")
        outputs = [made.output(noise=drawn) for drawn in (first, again, first)]
        if not all(np.array_equal(outputs[0], y) for y in outputs[1:]):
            detail = f"training passes with equal draws from {make.__name__}(7) differ"
            return Check(what, False, f"{detail}; take all randomness from draw")
    return Check(what, True)


def _same_draws(a: Any, b: Any) -> bool:
    """Equal draws: arrays equal in shape and value, containers equal item by item."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(map(_same_draws, a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same_draws(a[k], b[k]) for k in a)
    return bool(a == b)


def _apart_check(made: _Made, what: str) -> Check:
    """Parameters and state kept apart."""
    layer = made.layer
    specs, kept = layer.param_specs(), layer.state_specs()
    roles = [spec.role for spec in (*specs, *kept)]
    repeated = sorted({role for role in roles if roles.count(role) > 1})
    if repeated:
        return Check(what, False, f"role(s) {', '.join(repeated)} declared more than once")
    drawn = [spec.role for spec in kept if not isinstance(spec.init, int | float)]
    if drawn:
        detail = f"state {drawn[0]} starts from {kept[0].init!r}"
        return Check(what, False, f"{detail}; running state starts from a constant")
    before = made.start
    made.step(train=False)
    step = made.step()
    if layer.differentiable:
        layer.backward(step, made.g, made.params, inputs=True)
    changed = _changed(before, made)
    if changed:
        fix = "compute new arrays; never write into params or mode.state"
        return Check(what, False, f"forward or backward changed {', '.join(changed)}; {fix}")
    new = layer.next_state(step, made.state)
    if not isinstance(new, Mapping):
        return Check(what, False, f"next_state returned {type(new).__name__}, not a dict")
    strangers = sorted(set(new) - set(made.state))
    if strangers:
        own = ", ".join(made.state) or "none"
        detail = f"next_state gave {', '.join(map(str, strangers))}, which is not its state"
        return Check(what, False, f"{detail} ({own})")
    for name, value in new.items():
        if np.shape(value) != made.state[name].shape:
            detail = f"next_state gave {name} of shape {np.shape(value)}"
            return Check(what, False, f"{detail}, not {made.state[name].shape}")
    moved = [name for name in _changed(before, made) if name in made.params]
    if moved:
        return Check(what, False, f"next_state changed {', '.join(moved)}, a parameter")
    return Check(what, True)


def _copies(made: _Made) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in (*made.params.items(), *made.state.items())}


def _changed(before: dict[str, np.ndarray], made: _Made) -> list[str]:
    now = {**made.params, **made.state}
    return [name for name, value in before.items() if not np.array_equal(now[name], value)]


def _backward_check(made: _Made, what: str) -> Check:
    """Backward matches central differences of the forward."""
    layer = made.layer
    if not layer.differentiable:
        detail = "none given: backprop refuses it; numerical estimators differentiate its forward"
        return Check(what, None, detail)
    dx, grads = layer.backward(made.step(), made.g, made.params, inputs=True)
    if set(grads) != set(layer.params):
        gave, wanted = ", ".join(sorted(grads)) or "none", ", ".join(layer.params) or "none"
        return Check(what, False, f"gave gradients of {gave}, expected {wanted}")

    at = {"input": made.x, **made.params}
    found = {"input": np.asarray(dx), **{name: np.asarray(grads[name]) for name in layer.params}}
    sampled = []
    for label in found:
        if np.shape(found[label]) != at[label].shape:
            detail = f"{label}: gradient of shape {np.shape(found[label])}, not {at[label].shape}"
            return Check(what, False, detail)
        flat = _elements(at[label].size)
        sampled += [label] if len(flat) < at[label].size else []
        numeric = _central(functools.partial(_weighted_output, made, label), at[label], flat)
        given, where = found[label].ravel()[flat], at[label].ravel()[flat]
        check = _derivative_check(what, given, numeric, where)
        if not check.passed:
            return Check(what, False, f"{label}: {check.detail}")
    return Check(what, True, f"{DIFFERENCED} elements of {', '.join(sampled)}" if sampled else "")


def _elements(size: int) -> np.ndarray:
    """The flat indices of an array's elements to difference: all, or ``DIFFERENCED`` of them
    (drawn with a fixed seed) for a larger array."""
    if size <= DIFFERENCED:
        return np.arange(size)
    return np.sort(np.random.default_rng(13).choice(size, DIFFERENCED, replace=False))


def _weighted_output(made: _Made, label: str, value: np.ndarray) -> float:
    """``sum(g * output)``, the input (label ``"input"``) or a parameter set to ``value``."""
    if label == "input":
        return float(np.sum(made.g * made.output(value)))
    return float(np.sum(made.g * made.output(params={**made.params, label: value})))


def _central(f: Callable[[np.ndarray], float], at: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Central differences of ``f`` at ``at`` in the elements of flat indices ``flat``, one by
    one, at step ``_H``."""
    numeric = np.zeros(len(flat))
    for k, element in enumerate(flat):
        index = np.unravel_index(int(element), at.shape)
        up, down = at.copy(), at.copy()
        up[index] += _H
        down[index] -= _H
        numeric[k] = (f(up) - f(down)) / (2 * _H)
    return numeric


def _layer_smoothness_check(made: _Made, what: str) -> Check:
    """Smooth away from its declared breakpoints (or, declaring none, between the pieces it
    labels: ``Layer.pieces``)."""
    layer = made.layer
    breakpoints = layer.breakpoints
    pieced = breakpoints is None and gives_pieces(layer)
    if breakpoints is None and not pieced:
        return Check(what, None, "none declared (the engines check each fit instead)")
    unit = (0, *(int(i) for i in np.unravel_index(made.x[0].size // 2, made.x.shape[1:])))
    # A layer that draws nothing and keeps samples apart (as the mixing check checks) is
    # swept on the moved sample alone: the others' outputs do not move.
    alone = made.noise is None and not layer.mixes_samples
    batch = made.x[:1] if alone else made.x
    numbers = batch.size + len(batch) * math.prod(layer.output_shape)  # per point swept
    grid = _sweep(numbers)
    chunk = max(8, min(_SMOOTHNESS_CHUNK, _CHUNK_NUMBERS // numbers))
    worst, where = 0.0, math.nan
    for start in range(0, len(grid) - 3, chunk):
        points = grid[start : start + chunk + 3]
        third = _third_differences(made, batch, unit, points, breakpoints or (), pieced)
        if third.size and float(np.max(third)) > worst:
            worst, where = float(np.max(third)), float(points[1 + int(np.argmax(third))])
    swept = f"input unit {unit[1:]} of a sample swept over [{grid[0]:.3g}, {grid[-1]:.3g}]"
    between = "between the pieces it labels (pieces)" if pieced else ""
    if worst <= SMOOTHNESS_TOLERANCE:
        shown = [swept if grid[0] > -SWEEP_RANGE else "", between]
        return Check(what, True, ", ".join(part for part in shown if part))
    fix = (
        "label the piece each output is on wherever it changes (pieces), or give none"
        if pieced
        else "declare where it is, in the pre-activation (breakpoints), or leave breakpoints None"
    )
    detail = (
        f"a kink or jump with input unit {unit[1:]} of a sample near {where:.4g} (third "
        f"difference {worst:.2e} at step {SMOOTHNESS_STEP:g}); {fix}"
    )
    return Check(what, False, detail)


def _sweep(numbers: int) -> np.ndarray:
    """The values an input unit takes, at step ``SMOOTHNESS_STEP`` (consecutive points, so
    every stencil, overlapping): over [-SWEEP_RANGE, SWEEP_RANGE], narrowed around 0 for a
    layer whose ``numbers`` per point would make that more than ``SWEEP_NUMBERS``."""
    wanted = round(2 * SWEEP_RANGE / SMOOTHNESS_STEP)
    points = max(64, min(wanted, SWEEP_NUMBERS // numbers))
    return (np.arange(points) - points // 2) * SMOOTHNESS_STEP


def _third_differences(
    made: _Made,
    batch: np.ndarray,
    unit: tuple[int, ...],
    points: np.ndarray,
    breakpoints: tuple[float, ...],
    pieced: bool = False,
) -> np.ndarray:
    """Per stencil of four consecutive ``points`` taken by ``unit`` of ``batch``: the largest
    third difference of the output, relative to it; 0 where a pre-activation crosses a
    breakpoint, or (``pieced``) where an output's piece label changes."""
    stack = np.repeat(batch[None], len(points), axis=0)
    index: tuple[Any, ...] = (slice(None), *unit)
    stack[index] = points
    step = made.step(stack)
    values = np.asarray(step.output, dtype=np.float64).reshape(len(points), -1)
    centre = values[1:-2]
    third: np.ndarray = np.max(
        np.abs(values[3:] - 3 * values[2:-1] + 3 * centre - values[:-3]), axis=1
    )
    third /= np.maximum(1.0, np.max(np.abs(centre), axis=1))
    if breakpoints:
        marks = sides(np.asarray(step.pre).reshape(len(points), -1), breakpoints)
        marks = marks.reshape(len(points), -1)
        clean = np.all(marks[:-3] == marks[1:-2], axis=1)
        clean &= np.all(marks[1:-2] == marks[2:-1], axis=1)
        clean &= np.all(marks[2:-1] == marks[3:], axis=1)
        third[~clean] = 0.0
    labels = made.layer.pieces(step) if pieced else None
    if labels is not None:
        labels = np.asarray(labels).reshape(len(points), -1)
        same = np.all(labels[:-1] == labels[1:], axis=1)
        third[~(same[:-2] & same[1:-1] & same[2:])] = 0.0
    return third


def _mixing_check(made: _Made, what: str) -> Check:
    """Mixes the samples of a batch as declared."""
    layer = made.layer
    y = made.output()
    gaps = []
    for i in range(LAYER_BATCH):
        changed = made.other.copy()
        changed[i] = made.x[i]
        gaps.append((_gap(made.output(changed)[i], y[i]), i, "when the others changed"))
        if made.noise is None:  # nothing drawn per batch: a sample can go alone
            alone = made.output(made.x[i : i + 1])
            gaps.append((_gap(alone[0], y[i]), i, "alone"))
    gap, sample, how = max(gaps)
    if layer.mixes_samples:
        if gap > SAME:
            return Check(what, True)
        detail = (
            f"declared to, but no sample's output depended on the other samples of {LAYER_BATCH}"
        )
        return Check(what, False, f"{detail}; declare mixes_samples False")
    if gap <= SAME:
        return Check(what, True)
    detail = f"sample {sample}'s output changed by {gap:.2e} (relative) {how}"
    return Check(what, False, f"{detail}; declare mixes_samples True")


def _elementwise_check(made: _Made, what: str) -> Check:
    """Acts on each unit alone, as declared: a layer that keeps its shape and is not affine,
    from its input to its output (the engines then carry one unit per perturbed copy
    through it); an affine layer, or one changing the shape, in its activation."""
    layer = made.layer
    if not layer.elementwise:
        return Check(what, None, "not declared")
    activation = layer.activation
    if layer.affine is None and tuple(layer.output_shape) == tuple(layer.input_shape):
        base, acting = made.x, "its output"

        def f(v: np.ndarray) -> np.ndarray:
            return made.output(v)

    elif activation is not None:
        base, acting = np.asarray(made.step().pre), "its activation's output"

        def f(v: np.ndarray) -> np.ndarray:
            return np.asarray(activation(v))

    else:
        detail = "it has no activation, and each sample's shape changes from "
        detail += f"{shown(layer.input_shape)} to {shown(layer.output_shape)}"
        return Check(what, False, f"{detail}; declare elementwise False")
    y = f(base)
    scale = max(1.0, float(np.max(np.abs(y))))
    for flat in sorted({0, base[0].size // 2, base[0].size - 1}):
        unit = np.unravel_index(flat, base.shape[1:])
        moved = base.copy()
        moved[(0, *unit)] += _NUDGE
        changed = np.abs(f(moved) - y) > SAME * scale
        changed[(slice(None) if layer.mixes_samples else 0, *unit)] = False
        if np.any(changed):
            hit = np.unravel_index(int(np.argmax(changed)), changed.shape)
            detail = (
                f"changing unit {tuple(map(int, unit))} of a sample changed unit "
                f"{tuple(map(int, hit[1:]))} of sample {int(hit[0])} of {acting}"
            )
            return Check(what, False, f"{detail}; declare elementwise False")
    return Check(what, True)


_LAYER_CHECKS: tuple[tuple[str, Callable[[_Made, str], Check]], ...] = (
    (
        "outputs of the declared output_shape, in both modes; a stack of batches (a leading "
        "axis) gives each batch's outputs",
        _shape_check,
    ),
    (
        "its declared affine pre-activation and activation are what forward computes",
        _declared_check,
    ),
    (
        "deterministic: evaluation twice gives equal outputs; equal generators give equal "
        "draws, and training with equal draws equal outputs",
        _determinism_check,
    ),
    (
        "parameters and state kept apart: forward and backward change neither; "
        "next_state gives only its state, shaped like it",
        _apart_check,
    ),
    (
        "backward matches central differences of the forward (its input and each "
        "parameter, in training with fixed draws)",
        _backward_check,
    ),
    ("smooth away from its declared breakpoints (in training)", _layer_smoothness_check),
    (
        "mixes the samples of a batch in training only as declared (mixes_samples)",
        _mixing_check,
    ),
    ("acts on each unit alone, as declared (elementwise)", _elementwise_check),
)
"""Each layer check, in the order they run, with what it checks."""


def check_layer(part: Any, input_shape: Shape, **settings: Any) -> list[Check]:
    """Run every layer check on the part made for samples of ``input_shape`` (the batch
    axis left out) with ``settings``; raise ConformanceError if any fails.

    A setting naming a part (``activation``) may be a registered name, a Part or a
    function; left out, the kit's own tanh.
    """
    shape = tuple(int(n) for n in input_shape)
    return _raising("layer", part, conformance("layer", part, settings, input_shape=shape))


_CHECKS: dict[str, Callable[[Part, dict[str, Any]], list[Check]]] = {
    "activation": _activation_checks,
    "loss": _loss_checks,
    "initializer": _initializer_checks,
    "gradient_estimator": _gradient_estimator_checks,
    "dataset": _dataset_checks,
    "optimizer": _optimizer_checks,
    "executor": _executor_checks,
}

check_activation = _asserting("activation")
check_loss = _asserting("loss")
check_initializer = _asserting("initializer")
check_gradient_estimator = _asserting("gradient_estimator")
check_dataset = _asserting("dataset")
check_optimizer = _asserting("optimizer")
