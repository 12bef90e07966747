"""Gradient checks: every estimator's gradient on one batch against the element loop.

The batch is a run's first: drawn from the spec's generator, then the layers' draws for
it (dropout masks), as the trainer makes them; the reference and every estimator run in
training mode with those draws, so they all differentiate one fixed function.

The reference is the element loop's arithmetic, done by the core itself: for each
element, the loss with it set to ``v + h`` and to ``v - h``, one full forward pass each
(``Objective.plain_losses_at``), then ``(f1 - f2) / 2h``. On a small network it covers
every element; where a parameter has more than ``LOOP_BOUND`` elements, a seeded sample
of elements per parameter.

Where a perturbation of the reference straddles a kink (a pre-activation of a layer at
or after the element's crosses, or lands on, a breakpoint its activation declares, or
the output one the loss declares, or the output of a layer at or after it passes to
another of the pieces it labels, ``Layer.pieces``: a window's maximum to another
element. All seen exactly, in the reference's own forward passes), its central
difference is not the derivative. Those elements are compared apart, against a kink-free
reference as well (``toolkit.gradients.kinks``: smaller steps, or one-sided differences
where no step down to h/1000 stays clean): an estimator passes there if it matches
either the plain reference (as the loop does) or the kink-free one (as a correct
derivative does), or lies between the derivative and the one-sided secants at h (as a
one-sided difference whose own step crosses the kink does: its secant is a mean of the
slopes on either side).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base.columns import table
from ..base.errors import RunError, SpecError, ToolkitError, UsageError
from ..base.wording import one_line
from ..gradients.kinks import FLOOR_RATIO, KinkFree, Straddling, straddling_differences
from ..gradients.objective import Objective
from ..model.network import Network
from ..registry.registry import Registry, UnknownPart
from ..spec.load import Spec
from .build import Assembly, SpecLike, as_spec, assemble

__all__ = [
    "DEFAULT_SAMPLE",
    "DEFAULT_STEP",
    "LOOP_BOUND",
    "RESOLUTION",
    "UNSPECIFIED_TOLERANCE",
    "EstimatorCheck",
    "GradcheckReport",
    "KinkCheck",
    "ParameterCheck",
    "Reference",
    "describe_report",
    "gradcheck",
    "parse_names",
]

KIND = "gradient_estimator"
LOOP_BOUND = 2000
"""Above this many elements in any parameter, the reference is computed on a sample."""
DEFAULT_SAMPLE = 200
"""Elements per parameter the sampled reference compares."""
DEFAULT_STEP = 1e-4
"""The reference's h. Every estimator runs with its own default settings, which its
declared tolerance is a promise about."""
RESOLUTION = 16 * float(np.finfo(np.float64).eps)
"""Rounding of a loss, relative to it: a central difference of the reference is exact to
about this times ``max(1, |loss|) / h``. A parameter whose reference is no larger than that
everywhere has a gradient of 0 as far as the reference can tell (a bias just before batch
normalization, which takes the mean away): its relative error is taken against that
rounding over the tolerance, not against the rounding itself."""
UNSPECIFIED_TOLERANCE = 1e-4
"""The relative tolerance of an estimator whose part declares none."""
COLUMNS = (
    "estimator",
    "param",
    "elements",
    "max abs diff",
    "rel error",
    "tolerance",
    "result",
    "seconds",
)
"""The report table's columns; ``seconds`` is the wall time of the estimator's call."""
KINK_COLUMNS = (
    "estimator",
    "param",
    "straddling",
    "max abs diff",
    "rel error",
    "tolerance",
    "result",
    "matched",
)
"""The columns of the table of elements that straddle a kink."""
RESULTS = {True: "pass", False: "FAIL", None: "-"}
SAMPLE_STREAM = 2
"""The sample of elements is drawn from ``default_rng([seed, 2])``, apart from the run's draws."""


@dataclass(frozen=True)
class Reference:
    """The reference gradient at the compared elements (flat indices) of each parameter."""

    sampled: bool
    h: float
    indices: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    sizes: dict[str, int]
    seconds: float
    straddling: dict[str, Straddling] = field(default_factory=dict)
    resolution: float = 0.0
    """The reference's own rounding, absolute: ``RESOLUTION * max(1, |loss|) / h``."""
    """Per parameter whose later layers declare kinks: its elements that straddle one."""

    @property
    def compared(self) -> int:
        """How many elements are compared, over all parameters."""
        return sum(len(index) for index in self.indices.values())

    @property
    def straddled(self) -> int:
        """How many compared elements straddle a kink, over all parameters."""
        return sum(len(kinks.positions) for kinks in self.straddling.values())

    def describe_kinks(self) -> list[str]:
        """Lines on the elements that straddle a kink: how many, and their reference."""
        if not self.straddled:
            return []
        counts = ", ".join(
            f"{name} {len(kinks.positions)}"
            for name, kinks in self.straddling.items()
            if len(kinks.positions)
        )
        found = [free for kinks in self.straddling.values() for free in kinks.kink_free]
        one_sided = sum(1 for free in found if free is not None and free.one_sided)
        missing = sum(1 for free in found if free is None)
        how = (
            f"{self.straddled} elements straddle a kink at h={self.h:g} ({counts}); compared "
            f"with central differences at smaller steps (down to {FLOOR_RATIO * self.h:g})"
            f", {one_sided} of them one-sided (at a kink)"
        )
        if missing:
            how += f", {missing} with the plain reference only (no kink-free step found)"
        return [
            f"kinks: {how}; an estimator passes on such an element if it matches the plain "
            "reference or the kink-free one, or lies between the slopes on either side"
        ]

    def describe(self, sample: int, seed: int) -> str:
        """One line: which reference, its step, and how many elements it covers."""
        counts = ", ".join(
            f"{name} {len(self.indices[name])} of {size}" for name, size in self.sizes.items()
        )
        total = f"{self.compared} of {sum(self.sizes.values())} elements ({counts})"
        if self.sampled:
            how = (
                f"central differences via Objective.plain_losses_at on a sample of at most "
                f"{sample} elements per parameter (seed {seed}; a parameter has more than "
                f"{LOOP_BOUND})"
            )
        else:
            how = "central differences one element at a time, on every element"
        return f"reference: {how}, h={self.h:g}: {total}, {self.seconds:.3f} s"


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter's gradient from one estimator, against the reference."""

    parameter: str
    compared: int
    max_abs_diff: float
    rel_error: float
    passed: bool | None
    """Whether every compared element passed, straddling ones included; None where the
    estimator is not checked (its tolerance is infinite)."""
    kinks: KinkCheck | None = None
    """The elements that straddle a kink, compared apart (``compared``, ``max_abs_diff``
    and ``rel_error`` above are the others')."""


@dataclass(frozen=True)
class KinkCheck:
    """The elements of one parameter that straddle a kink: each matches the plain reference
    or the kink-free one, or lies between the pieces' slopes (a secant across the kink), or
    none of these."""

    compared: int
    max_abs_diff: float
    """The largest distance to the nearer reference (0 for an element between the slopes)."""
    rel_error: float
    passed: bool | None
    matched_plain: int
    matched_kink_free: int
    matched_between: int = 0


@dataclass(frozen=True)
class EstimatorCheck:
    """One estimator: its tolerance, the wall time of its call, and each parameter's check.

    ``skipped`` says why an estimator that refused this network was left out.
    """

    name: str
    tolerance: float
    seconds: float = 0.0
    parameters: tuple[ParameterCheck, ...] = ()
    skipped: str | None = None

    @property
    def checked(self) -> bool:
        """Whether it ran and promises a finite tolerance."""
        return self.skipped is None and math.isfinite(self.tolerance)

    @property
    def passed(self) -> bool | None:
        """True or False for a checked estimator, None otherwise."""
        if not self.checked:
            return None
        return all(check.passed for check in self.parameters)


@dataclass(frozen=True)
class GradcheckReport:
    """What ``gradcheck`` found: the batch, the reference and every estimator's checks."""

    spec_name: str
    seed: int
    batch_size: int
    sample: int
    reference: Reference
    estimators: tuple[EstimatorCheck, ...]
    draws: bool = False
    """Whether the network's layers drew for the batch (dropout masks), as in training."""

    @property
    def passed(self) -> bool:
        """Whether no checked estimator failed."""
        return not self.failed

    @property
    def skipped_all(self) -> bool:
        """Whether every estimator refused the network, so that nothing was compared."""
        return all(check.skipped is not None for check in self.estimators)

    @property
    def failed(self) -> list[EstimatorCheck]:
        """The checked estimators outside their tolerance."""
        return [check for check in self.estimators if check.passed is False]

    def estimator(self, name: str) -> EstimatorCheck:
        """The check of the estimator called ``name``."""
        for check in self.estimators:
            if check.name == name:
                return check
        raise KeyError(name)


def gradcheck(
    spec: SpecLike,
    estimators: Sequence[str] | None = None,
    batch: int | None = None,
    sample: int | None = None,
) -> GradcheckReport:
    """Compare gradient estimators with the element-loop reference on one batch.

    ``estimators`` defaults to every registered one (the reference is the core's own loop); an
    estimator that refuses this network (complex_step on relu, say), named or not,
    is reported as skipped with its reason (see ``GradcheckReport.skipped_all``).
    ``batch`` defaults to the spec's ``train.batch_size``; ``sample`` (elements per
    parameter where the reference is sampled) to ``DEFAULT_SAMPLE``.
    """
    spec = as_spec(spec)
    batch_size = _positive("--batch", batch, spec.settings.train.batch_size)
    sample = _positive("--sample", sample, DEFAULT_SAMPLE)
    names = _requested(spec.registry, estimators) if estimators else _defaults(spec.registry)
    assembly = assemble(spec)
    network, seed = assembly.network, spec.settings.seed
    try:
        x, t = _first_batch(assembly, batch_size)
        # The batch's draws (dropout masks), as the trainer makes them: every estimator and
        # the reference differentiate the same function.
        with network.training(network.draw(assembly.rng, batch_size)):
            reference = _reference(network, x, t, DEFAULT_STEP, sample, seed)
            checks = tuple(_check(spec, network, x, t, name, reference) for name in names)
    except MemoryError as error:
        given = f"--batch {batch_size}" if batch is not None else f"train.batch_size={batch_size}"
        raise UsageError(
            f"gradcheck {given}: a batch of {batch_size} samples does not fit in memory "
            f"({error}); give a smaller --batch"
        ) from None
    return GradcheckReport(
        spec.name, seed, batch_size, sample, reference, checks, draws=network.draws
    )


def parse_names(text: str) -> list[str]:
    """``"a, b,a"`` -> ``["a", "b"]``; an empty name is a usage error."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise UsageError(f"gradcheck --estimators: empty name in {text!r}; write a,b,...")
    return list(dict.fromkeys(names))


def _positive(option: str, value: int | None, default: int) -> int:
    """``value`` (or ``default`` when None), which must be a whole number of at least 1."""
    chosen = default if value is None else value
    if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 1:
        raise UsageError(f"gradcheck {option}: must be a whole number of at least 1, got {value}")
    return chosen


def _requested(registry: Registry, names: Iterable[str]) -> list[str]:
    """The named estimators, each checked against the registry (with a close match)."""
    names = list(dict.fromkeys(names))
    for name in names:
        try:
            registry.lookup(KIND, name)
        except UnknownPart as error:
            raise UsageError(f"gradcheck --estimators: {error.message}; {error.hint}") from None
    return names


def _defaults(registry: Registry) -> list[str]:
    """Every registered estimator; qualified where a name is ambiguous."""
    names: list[str] = []
    for entry in registry.entries(KIND):
        ambiguous = registry.is_ambiguous(KIND, entry.name)
        names.append(entry.qualified_name if ambiguous else entry.name)
    return list(dict.fromkeys(names))


def _first_batch(assembly: Assembly, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The batch a run's first iteration draws: ``rng.choice(samples, batch_size)``."""
    batch = assembly.rng.choice(assembly.data.samples, batch_size)
    return assembly.data.x[batch], assembly.data.t[batch]


def _reference(
    network: Network, x: np.ndarray, t: np.ndarray, h: float, sample: int, seed: int
) -> Reference:
    """The loop's arithmetic on every element, or on a sample where a parameter exceeds
    ``LOOP_BOUND``."""
    sizes = {name: int(param.size) for name, param in network.params.items()}
    start = time.perf_counter()
    sampled = max(sizes.values()) > LOOP_BOUND
    generator = np.random.default_rng([seed, SAMPLE_STREAM])
    indices = {
        name: _sample(generator, size, sample) if sampled else np.arange(size)
        for name, size in sizes.items()
    }
    objective = Objective(network, x, t)
    values: dict[str, np.ndarray] = {}
    straddling: dict[str, Straddling] = {}
    with _failures("the sampled reference"):
        for name in sizes:
            found = straddling_differences(network, x, t, name, indices[name], h)
            if found is None:
                values[name] = objective.central_differences(name, indices[name], h, plain=True)
            else:
                values[name], straddling[name] = found
        resolution = RESOLUTION * max(1.0, abs(objective.loss())) / h
    seconds = time.perf_counter() - start
    return Reference(sampled, h, indices, values, sizes, seconds, straddling, resolution)


def _sample(generator: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` distinct flat indices below ``size``, sorted; all of them if there are fewer."""
    if size <= count:
        return np.arange(size)
    return np.sort(generator.choice(size, count, replace=False))


def _tolerance(registry: Registry, name: str) -> float:
    """The relative error the estimator's part promises (``UNSPECIFIED_TOLERANCE`` if none)."""
    tolerance = registry.lookup(KIND, name).part.tolerance
    return UNSPECIFIED_TOLERANCE if tolerance is None else float(tolerance)


def _check(
    spec: Spec,
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    name: str,
    reference: Reference,
) -> EstimatorCheck:
    """Run one estimator and compare each parameter with the reference; an estimator
    that refuses the network is skipped, with its reason (not the spec's fix)."""
    tolerance = _tolerance(spec.registry, name)
    try:
        grads, seconds = _timed_gradient(network, x, t, name)
    except SpecError as error:
        reason = "; ".join(problem.message for problem in error.problems)
        return EstimatorCheck(name, tolerance, skipped=reason)
    checks = tuple(
        _compare(
            key,
            grads[key].reshape(-1)[reference.indices[key]],
            expected,
            tolerance,
            reference.straddling.get(key),
            reference.resolution,
        )
        for key, expected in reference.values.items()
    )
    return EstimatorCheck(name, tolerance, seconds, checks)


def _timed_gradient(
    network: Network, x: np.ndarray, t: np.ndarray, ref: str | Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], float]:
    """The estimator's gradient and the wall seconds its call took; it must restore params."""
    kept = {key: value.copy() for key, value in network.params.items()}
    name = ref if isinstance(ref, str) else ref["name"]
    start = time.perf_counter()
    try:
        with _failures(f"estimator '{name}'"):
            grads = network.gradient(x, t, ref)
    finally:
        seconds = time.perf_counter() - start
        changed = _restore(network, kept)
    if changed:
        raise RunError(
            f"gradcheck: estimator '{name}' left {', '.join(changed)} changed; "
            "an estimator must restore every element it perturbs"
        )
    return grads, seconds


@contextmanager
def _failures(what: str) -> Iterator[None]:
    """Report anything but a ToolkitError as a RunError naming ``what``; ignore float warnings.

    Non-finite numbers are not errors here: they fail the comparison instead.
    """
    try:
        with np.errstate(all="ignore"):
            yield
    except (ToolkitError, MemoryError):  # out of memory: the batch is too large, said above
        raise
    except Exception as error:
        raise RunError(f"gradcheck: {what} failed: {type(error).__name__}: {error}") from error


def _restore(network: Network, kept: Mapping[str, np.ndarray]) -> list[str]:
    """Put back every parameter that differs from ``kept``; returns their names."""
    changed = [
        key
        for key, value in kept.items()
        if not np.array_equal(network.params[key], value, equal_nan=True)
    ]
    for key in changed:
        network.params[key] = kept[key]
    return changed


def _compare(
    parameter: str,
    estimate: np.ndarray,
    expected: np.ndarray,
    tolerance: float,
    straddling: Straddling | None = None,
    resolution: float = 0.0,
) -> ParameterCheck:
    """max |a - b| and max |a - b| / max |b| over the compared elements, against tolerance;
    the elements that straddle a kink apart (``_compare_kinks``). ``max |b|`` takes their
    kink-free values in place of their plain ones; where it is within the reference's
    ``resolution`` (a gradient of 0 to rounding), ``resolution / tolerance`` stands for it."""
    estimate = np.asarray(estimate, dtype=np.float64)
    apart = np.zeros(expected.shape, dtype=bool)
    if straddling is not None:
        apart[straddling.positions] = True
    scale = _scale(expected, apart, straddling)
    if scale <= resolution and 0 < tolerance < math.inf:
        scale = resolution / tolerance
    with np.errstate(all="ignore"):
        difference = np.abs(estimate[~apart] - expected[~apart])
    max_abs, relative = _errors(difference, scale)
    passed = _verdict(relative, tolerance)
    kinks = None
    if straddling is not None and len(straddling.positions):
        kinks = _compare_kinks(estimate, expected, tolerance, straddling, scale)
        passed = None if passed is None else passed and bool(kinks.passed)
    compared = int(np.count_nonzero(~apart))
    return ParameterCheck(parameter, compared, max_abs, relative, passed, kinks)


def _compare_kinks(
    estimate: np.ndarray,
    expected: np.ndarray,
    tolerance: float,
    straddling: Straddling,
    scale: float,
) -> KinkCheck:
    """Each straddling element passes if it is within tolerance of the plain reference, or
    of the kink-free one (within tolerance plus that reference's rounding allowance), or
    between the lowest and highest of those and the one-sided secants at h."""
    plain = kink_free = between = 0
    distances = []
    secants = straddling.secants or ((),) * len(straddling.positions)
    for position, free, secant in zip(
        straddling.positions, straddling.kink_free, secants, strict=True
    ):
        value = float(estimate[position])
        to_plain = abs(value - float(expected[position]))
        to_free = math.inf if free is None else free.distance(value)
        allowance = tolerance * scale + (0.0 if free is None else free.allowance)
        if to_plain <= tolerance * scale:
            plain += 1
        elif to_free <= allowance:
            kink_free += 1
        elif _between(value, (float(expected[position]), *secant), free, allowance):
            between += 1
            to_plain = to_free = 0.0
        distances.append(min(to_plain, to_free) if math.isfinite(value) else math.nan)
    max_abs, relative = _errors(np.array(distances), scale)
    count = len(distances)
    passed = None if math.isinf(tolerance) else plain + kink_free + between == count
    return KinkCheck(count, max_abs, relative, passed, plain, kink_free, between)


def _between(
    value: float, plain: tuple[float, ...], free: KinkFree | None, allowance: float
) -> bool:
    """Whether ``value`` lies between the kink-free derivative and the secants across the
    kink (within ``allowance``); never without a kink-free derivative."""
    if free is None:
        return False
    ends = [*plain, *free.values]
    return min(ends) - allowance <= value <= max(ends) + allowance


def _scale(expected: np.ndarray, apart: np.ndarray, straddling: Straddling | None) -> float:
    """max |b|: the plain reference where it does not straddle, else the kink-free one (or
    the plain one where none was found)."""
    values = [float(np.max(np.abs(expected[~apart])))] if np.any(~apart) else []
    for position, free in zip(
        () if straddling is None else straddling.positions,
        () if straddling is None else straddling.kink_free,
        strict=True,
    ):
        found = free.values if free is not None else (float(expected[position]),)
        values += [abs(value) for value in found]
    return max(values, default=0.0)


def _errors(difference: np.ndarray, scale: float) -> tuple[float, float]:
    """The largest difference (NaN if any is not finite) and it relative to ``scale``."""
    max_abs = float(np.max(difference)) if difference.size else 0.0
    if difference.size and not np.all(np.isfinite(difference)):
        max_abs = math.nan
    if scale > 0:
        return max_abs, max_abs / scale
    return max_abs, 0.0 if max_abs == 0 else math.inf if max_abs > 0 else math.nan


def _verdict(relative: float, tolerance: float) -> bool | None:
    """Within tolerance (NaN is not), or None for an estimator that is not checked."""
    return None if math.isinf(tolerance) else bool(relative <= tolerance)


def describe_report(report: GradcheckReport) -> list[str]:
    """The report as text: a heading, the reference, the table, skipped estimators, a summary."""
    lines = [
        f"gradcheck {one_line(report.spec_name)}: one batch of {report.batch_size} samples "
        f"(seed {report.seed}, the first iteration's draw"
        + ("; its layers' draws too, which every estimator sees)" if report.draws else ")"),
        report.reference.describe(report.sample, report.seed),
        *report.reference.describe_kinks(),
        "",
    ]
    rows: list[list[Any]] = [list(COLUMNS)]
    for check in report.estimators:
        rows += _rows(check)
    if len(rows) > 1:
        lines += [*table(rows), ""]
    kinks: list[list[Any]] = [list(KINK_COLUMNS)]
    for check in report.estimators:
        kinks += _kink_rows(check)
    if len(kinks) > 1:
        lines += [
            "elements that straddle a kink, against the nearer of the plain and the kink-free "
            "reference:",
            *table(kinks),
            "",
        ]
    skipped = [check for check in report.estimators if check.skipped is not None]
    if skipped:
        lines += [f"skipped {check.name}: {check.skipped}" for check in skipped]
        lines.append("")
    return [*lines, _summary(report)]


def _rows(check: EstimatorCheck) -> list[list[Any]]:
    """One table row per parameter; the call's wall seconds on the first."""
    tolerance = f"{check.tolerance:g}" if check.checked else "not checked"
    rows: list[list[Any]] = []
    for index, parameter in enumerate(check.parameters):
        verdict = _verdict(parameter.rel_error, check.tolerance) if parameter.compared else None
        result = RESULTS[verdict]
        rows.append(
            [
                check.name,
                parameter.parameter,
                parameter.compared,
                f"{parameter.max_abs_diff:.3e}",
                f"{parameter.rel_error:.3e}",
                tolerance,
                result,
                f"{check.seconds:.3f}" if index == 0 else "",
            ]
        )
    return rows


def _kink_rows(check: EstimatorCheck) -> list[list[Any]]:
    """One row per parameter with elements that straddle a kink."""
    tolerance = f"{check.tolerance:g}" if check.checked else "not checked"
    rows: list[list[Any]] = []
    for parameter in check.parameters:
        kinks = parameter.kinks
        if kinks is None:
            continue
        matched = f"plain {kinks.matched_plain}, kink-free {kinks.matched_kink_free}"
        if kinks.matched_between:
            matched += f", between {kinks.matched_between}"
        neither = (
            kinks.compared - kinks.matched_plain - kinks.matched_kink_free - kinks.matched_between
        )
        rows.append(
            [
                check.name,
                parameter.parameter,
                kinks.compared,
                f"{kinks.max_abs_diff:.3e}",
                f"{kinks.rel_error:.3e}",
                tolerance,
                RESULTS[kinks.passed],
                matched + (f", neither {neither}" if neither and check.checked else ""),
            ]
        )
    return rows


def _summary(report: GradcheckReport) -> str:
    """One line: passed or failed, and which estimators were not checked or skipped."""
    checked = [check.name for check in report.estimators if check.checked]
    unchecked = [check.name for check in report.estimators if check.skipped is None]
    unchecked = [name for name in unchecked if name not in checked]
    skipped = [check.name for check in report.estimators if check.skipped is not None]
    extra = ""
    if unchecked:
        extra += f"; not checked (no finite tolerance): {', '.join(unchecked)}"
    if skipped:
        extra += f"; skipped: {', '.join(skipped)}"
    compared = f"{report.reference.compared} elements compared"
    if report.reference.straddled:
        compared += f" ({report.reference.straddled} straddle a kink; compared apart)"
    if report.skipped_all:
        return (
            f"gradcheck checked nothing: every estimator was skipped ({', '.join(skipped)}); "
            "name others with --estimators, or leave it out to try every one"
        )
    if report.failed:
        failed = ", ".join(
            f"{check.name} ({', '.join(p.parameter for p in check.parameters if not p.passed)})"
            for check in report.failed
        )
        passed = len(checked) - len(report.failed)
        return f"gradcheck FAILED: {failed}; {passed} of {len(checked)} passed, {compared}{extra}"
    return f"gradcheck passed: {len(checked)} of {len(checked)} estimators, {compared}{extra}"
