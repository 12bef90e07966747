"""Central differences of an affine layer's parameters by exact local interpolation.

Perturbing ``W[i, j]`` of layer k by ``d`` moves unit j of that layer's pre-activation
``Z`` by ``d * A[n, i]`` in each sample n (``A`` is the layer's input; a bias is an input
of ones). When the loss is a sum of per-sample losses times a factor ``s`` (``1/N`` for a
mean), the element loop's central difference is therefore::

    (L(W[i, j] + h) - L(W[i, j] - h)) / 2h  =  s / 2h * sum_n D_nj(h * A[n, i])
    D_nj(d) = G_nj(Z[n, j] + d) - G_nj(Z[n, j] - d)

where ``G_nj(z)`` is the loss of sample n alone with unit j set to z. ``D_nj`` is odd,
and where ``G_nj`` is smooth on ``[Z[n, j] - r, Z[n, j] + r]`` (``r = h * max(1,
max |A[n]|)``, about 1e-4, as far as any element's change moves the unit) it is an odd
cubic to far below rounding: its next term is of order ``r**5``, about 1e-20. So
``G_nj`` is evaluated at ``Z +- r/2`` and ``Z +- r`` (its value at ``Z`` is the sample's
own loss), which gives the cubic and the even part; one more evaluation, at
``Z + 0.8 r``, checks the fit. The sum over samples is then two matrix products. What
the element loop does with two forward passes per element is done with five
evaluations per (sample, unit), and agrees with it to rounding (about
``eps * |loss| / h``).

The layers and parts tell where this holds: each layer from k on declares itself affine
(``Layer.affine``) and keeping samples apart, its nonlinearity's ``breakpoints`` (``()``
for smooth, ``(0.0,)`` for a kink at 0) and whether it is elementwise; a smooth loss declares
``()``. Pairs whose interval holds a breakpoint of layer k, or whose largest change can
move a later layer's pre-activation onto one of its breakpoints (``reach.reach_flags``
bounds that, pair by pair), or whose fit misses the check node, are evaluated at every
perturbation exactly; where the bounds keep a pair's kinks out of at least a quarter of
its reach, it is fitted within that distance and evaluated exactly only beyond it. A
part that declares nothing (an elementwise activation, or a loss) is interpolated too:
its kinks within reach can only show as missed checks, so the fits of every layer before
it are checked on both sides (``Z -+ 0.8 r``), six evaluations per pair instead of five.
Every layer's evaluations that enter the same later layer are stacked together, in
chunks that bound memory. The layers before k do not matter (they are the same in every
evaluation). A layer that is not affine, or is followed by one or by a layer that mixes
samples (batch normalization in training: its mixing cannot show in the batch taken twice
over, so only its declaration refuses), is left to the caller without a notice: the bulk
path is made for it. A layer this cannot serve for another reason (an undeclared
activation that is not elementwise, a row-wise activation on the way to a later kink, a
loss declared with breakpoints) is refused with a notice and left to the caller, and a
batch it cannot serve (a loss that is not per-sample, a part that fails on
the inputs it is given) raises ``NotInterpolable``. One weight element per batch is also
compared with a plain evaluation, so a part that declares the wrong breakpoints is
caught rather than giving wrong answers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base.errors import ToolkitNotice
from ..model.forward import Forward
from ..model.layers import Activation
from ..model.network import Network
from ..registry.parts import BoundPart
from .perturbation import CHUNK_ELEMENTS, plain_perturbed_losses
from .reach import NotReachable, reach_fractions, reach_refusal, safe_fraction
from .stacks import activation_of, affine_of, call_activation
from .state import engine_state, engine_states

__all__ = [
    "CHECK_EVERY",
    "PARTIAL_FRACTION",
    "STACK_BYTES",
    "STACK_ROWS",
    "Interpolation",
    "InterpolationState",
    "NotInterpolable",
    "guarded",
    "interpolated_differences",
    "layout_refusal",
    "refusal",
]

_EPS = float(np.finfo(np.float64).eps)
_POWERS = np.array([1, 3])
_NODES = np.array([0.5, 1.0])
"""Where G is evaluated on each side, as fractions of r: out to the farthest change any
element makes."""
_CHECK_NODE = 0.8
"""Where the fit is checked, on the positive side only."""
_OFFSETS = np.concatenate([_NODES, -_NODES, [_CHECK_NODE]])
_GUARDED_OFFSETS = np.concatenate([_OFFSETS, [-_CHECK_NODE]])
"""Where a part on the way declares nothing: the fit is checked on both sides."""
_FIT = np.linalg.inv(_NODES[:, None] ** _POWERS)
"""The odd cubic's coefficients from D at the nodes: ``beta = D @ _FIT.T``."""
_EVEN_FIT = np.linalg.inv(_NODES[:, None] ** (_POWERS + 1))
"""The even part's (t**2, t**4) coefficients from (G(t) + G(-t)) / 2 - G(0) at the nodes."""
_AT_CHECK = _CHECK_NODE**_POWERS
_EVEN_AT_CHECK = _CHECK_NODE ** (_POWERS + 1)
_FIT_TOLERANCE = 16 * _EPS
"""How far the fit may miss the check node, relative to the sample's loss: rounding."""
_AGREEMENT = 32 * _EPS
"""How far a loss difference may be from a plain evaluation's, relative to the loss."""

STACK_BYTES = 128 * 1024
"""Bytes of the widest array of one stack of evaluations, where STACK_ROWS rows of it fit:
at most glibc's default ``mmap`` threshold, so that a stack's arrays are reused from the
heap rather than mapped afresh and faulted in page by page each time (which made a
100-10-10 network's call at batch 100 twice as slow with 256 KiB stacks)."""
STACK_ROWS = 512
"""Evaluations a stack holds at least, however wide its layers (rows wider than 32 units
then take it past STACK_BYTES): the Python around a stack then stays small beside its
work."""

PARTIAL_FRACTION = 0.25
"""A pair whose kinks stay out of reach within at least this fraction of its reach is
fitted within that distance, and evaluated exactly only at the perturbations beyond it
(closer in, most perturbations lie beyond, and the fit's evaluations would not pay)."""
_RELATIVE_MARGIN = 1e-6
"""How far inside the distance its kinks are kept a partial pair's fit stays."""

CHECK_EVERY = 16
"""After one batch per layer, one batch in this many checks a layer's interpolated
differences against a plain evaluation, taking the layers in turn."""

Request = tuple[int, np.ndarray, np.ndarray, np.ndarray]
"""Losses wanted at layer k: ``(k, samples, units, values)``, ``values`` one row per pair."""


@engine_state("interpolation")
@dataclass
class InterpolationState:
    """What the engine has learned about a network: the batches it took (``count``), the
    layers it refused by index (``refused``), whether each loss part it met is a mean over
    the batch (``means``, by the part itself), its last layer-by-layer refusals with what
    they were worked out for (``refusals``), and how many pairs of each layer the last
    batch evaluated exactly (``pairs``: not saved in a checkpoint)."""

    count: int = 0
    refused: dict[int, str] = field(default_factory=dict)
    means: list[tuple[BoundPart, bool]] = field(default_factory=list)
    refusals: tuple[Any, ...] | None = None
    pairs: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Per interpolated layer, on the last batch: (pairs evaluated exactly, all pairs)."""

    def mean(self, loss: BoundPart) -> bool | None:
        """Whether ``loss`` is a mean over the batch (else a sum), if known."""
        return next((is_mean for part, is_mean in self.means if part is loss), None)

    def export(self, network: Network) -> dict[str, Any]:
        """The batches taken, the layers refused, and whether the network's loss is a mean,
        for a checkpoint: a resumed run then takes the same path, and so gives the same bits."""
        return {
            "interpolations": self.count,
            "refused": {str(k): reason for k, reason in self.refused.items()},
            "mean_loss": self.mean(network.loss_function),
        }

    def load(self, network: Network, saved: Mapping[str, Any]) -> None:
        """The reverse of ``export``; ValueError, changing nothing, for a state it could
        not have written for this network."""
        count, refused = saved.get("interpolations"), saved.get("refused")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"interpolations is {count!r}, not a whole number >= 0")
        layers = [str(k) for k in range(len(network.layers))]
        if not isinstance(refused, dict) or not all(
            k in layers and isinstance(reason, str) for k, reason in refused.items()
        ):
            raise ValueError("refused is not reasons by layer index")
        mean = saved.get("mean_loss", 0)
        if not (mean is None or isinstance(mean, bool)):
            raise ValueError(f"mean_loss is {mean!r}, not true, false or null")
        self.count = count
        self.refused = {int(k): reason for k, reason in refused.items()}
        if saved.get("mean_loss") is not None:
            self.means = [(network.loss_function, bool(saved["mean_loss"]))]


def interpolated_differences(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    forward: Callable[[], Forward],
    h: float,
) -> dict[str, np.ndarray]:
    """Interpolated central differences of every layer's parameters that allow them.

    A layer that can't be interpolated is refused with one notice, and the engine's
    state remembers not to try it again; its parameters are left out of the answer.
    """
    state = engine_states(network).of(InterpolationState)
    refused = state.refused
    layers = [
        k for k, layer in enumerate(network.layers) if layer.param_specs() and k not in refused
    ]
    if not layers or not h > 0:
        return {}
    forward_pass = forward()  # first: a part that fails here is the run's error, not ours
    reasons = _refusals(network, state, layers)
    refusals = {k: reason for k, reason in reasons.items() if reason}
    _refuse(network, state, refusals, quiet={k for k in refusals if layout_refusal(network, k)})
    layers = [k for k in layers if not reasons[k]]
    if not layers:
        return {}
    count = state.count + 1  # counted once the batch is taken
    checked = _checked(count, len(layers))
    try:
        interpolation = Interpolation(
            network, x, t, forward_pass, None if checked is None else layers[checked]
        )
        state.count = count
        return interpolation.differences(layers, h)
    except NotInterpolable as reason:
        if reason.lasting:
            _refuse(network, state, dict.fromkeys(layers, str(reason)))
    except (MemoryError, FloatingPointError):
        pass  # this batch only: the slower path answers it
    except Exception as error:  # never a wrong answer or a crash: the slower path answers
        _refuse(network, state, dict.fromkeys(layers, f"{type(error).__name__}: {error}"))
    return {}


def _refusals(
    network: Network, state: InterpolationState, layers: list[int]
) -> dict[int, str | None]:
    """``refusal`` for each layer, remembered while the layers, the loss and the parameter
    arrays (the same array objects: optimizers change them in place) stay the same."""
    parts = (*network.layers, network.loss_function)
    arrays = tuple(network.params.items())
    kept = state.refusals
    if (
        kept is None
        or kept[0] != (parts, tuple(layers))
        or len(kept[1]) != len(arrays)
        or not all(
            name == old_name and array is old
            for (name, array), (old_name, old) in zip(arrays, kept[1], strict=True)
        )
    ):
        reasons = {k: refusal(network, k) for k in layers}
        kept = state.refusals = ((parts, tuple(layers)), arrays, reasons)
    return dict(kept[2])


def refusal(network: Network, k: int) -> str | None:
    """Why layer k cannot be interpolated, or None.

    It and every layer after it must be affine (``activation(x @ W + b)``) and keep the
    samples apart. Its activation must declare its breakpoints, or be elementwise (then
    any kink it has shows in the fits, which are checked on both sides); an activation
    with breakpoints must be elementwise. Every activation after it must declare its
    breakpoints or be elementwise; where a later one declares breakpoints, every
    activation from layer k up to it must be elementwise (``reach.reach_refusal``). The
    loss must be declared smooth or undeclared. Its weight and bias must be a float64
    matrix and vector, and no parameter may share memory with another (the loop would
    change both at once).
    """
    layer = network.layers[k]
    reason = layout_refusal(network, k)
    if reason:
        return reason
    own = activation_of(layer)
    if layer.breakpoints is None and not layer.elementwise:
        return f"activation '{own.name}' does not declare its breakpoints and is not elementwise"
    if layer.breakpoints and not layer.elementwise:
        return f"activation '{own.name}' has breakpoints and is not elementwise"
    for later in network.layers[k + 1 :]:
        if later.breakpoints is None and not later.elementwise:
            return (
                f"'{activation_of(later).name}' comes after this layer, is not elementwise and "
                "does not declare its breakpoints"
            )
    reason = reach_refusal(network, k)
    if reason:
        return reason
    loss = network.loss_function
    if loss.part.breakpoints not in (None, ()):
        return f"loss '{loss.name}' declares breakpoints; a loss is smooth in y (()) or undeclared"
    affine = affine_of(layer)
    weight, bias = network.params[affine.weight], network.params[affine.bias]
    if weight.dtype != np.float64 or bias.dtype != np.float64:
        return "its parameters are not float64"
    if weight.ndim != 2 or bias.ndim != 1:
        return f"its weight is not a matrix or its bias not a vector (shape {bias.shape})"
    arrays = list(network.params.items())
    for index, (name, array) in enumerate(arrays):
        for other, second in arrays[index + 1 :]:
            if np.may_share_memory(array, second):
                return f"parameters {name} and {other} share memory"
    return None


def layout_refusal(network: Network, k: int) -> str | None:
    """Why the layers from k on rule the interpolation out for layer k, or None: one of
    them is not affine, or mixes the samples of a batch (batch normalization in training:
    the loss is then no sum of the samples' own losses, whatever the batch taken twice
    shows). The bulk path serves such a layer (``toolkit.gradients.perturbation``), as it
    is made to: its refusal is recorded without a notice."""
    for index in range(k, len(network.layers)):
        later = network.layers[index]
        if later.affine is None or later.mixes_samples:
            what = "is not affine" if later.affine is None else "mixes samples"
            return f"the layer {what}" if index == k else f"layer {index}, after it, {what}"
    return None


def guarded(network: Network, k: int) -> bool:
    """Whether layer k's fits are checked on both sides of each pre-activation: where a
    part from layer k on (its activation, those after it, the loss) declares no
    breakpoints, nothing says where a kink could be; where a later layer declares some,
    a kink that the reach bounds miss lies near the end of a pair's reach, on either
    side."""
    layers = network.layers[k:]
    undeclared = any(layer.breakpoints is None for layer in layers)
    kinked_later = any(layer.breakpoints for layer in layers[1:])
    return undeclared or kinked_later or network.loss_function.part.breakpoints is None


def _checked(count: int, layers: int) -> int | None:
    """Which of ``layers`` the ``count``-th interpolated batch (from 1) checks, if any."""
    if count <= layers:
        return count - 1
    return (count // CHECK_EVERY) % layers if count % CHECK_EVERY == 0 else None


def _refuse(
    network: Network,
    state: InterpolationState,
    reasons: dict[int, str],
    quiet: set[int] | frozenset[int] = frozenset(),
) -> None:
    """Remember the refused layers; one notice per reason, but for the ``quiet`` layers."""
    state.refused.update(reasons)
    told = {k: reason for k, reason in reasons.items() if k not in quiet}
    for reason in dict.fromkeys(told.values()):
        names = [
            name for k, why in told.items() if why == reason for name in network.layers[k].params
        ]
        warnings.warn(
            f"central differences of {', '.join(names)} are computed perturbation by "
            f"perturbation (slower): {reason}",
            ToolkitNotice,
            stacklevel=2,
        )


class NotInterpolable(Exception):
    """The interpolated central differences can't be used: for good where the parts
    don't allow them (``lasting``), or for this batch only (a non-finite loss, say)."""

    def __init__(self, reason: str, *, lasting: bool = True) -> None:
        super().__init__(reason)
        self.lasting = lasting


@dataclass(frozen=True)
class _Shape:
    """A layer's perturbations: its inputs (a column of ones for the bias), the changes
    ``up`` and ``down`` the loop makes to each element, the largest of them ``step``."""

    inputs: np.ndarray
    up: np.ndarray
    down: np.ndarray
    step: float
    reach: np.ndarray  # max(1, max |input|) per sample: what scales the change of a unit

    @property
    def radius(self) -> np.ndarray:
        """The largest change of any unit, per sample."""
        return self.step * self.reach


@dataclass(frozen=True)
class _Pending:
    """Evaluations carried to layer ``entry`` (``stack``), waiting to be finished; their
    losses go to ``out``."""

    entry: int
    stack: np.ndarray
    samples: np.ndarray
    out: np.ndarray


class Interpolation:
    """Interpolated central differences on one batch.

    What every layer shares is computed once: the forward pass, the loss, each sample's
    own loss and the loss's batch factor. ``verify`` is a layer whose largest weight
    difference is compared with a plain central difference, if any.
    """

    def __init__(
        self,
        network: Network,
        x: np.ndarray,
        t: np.ndarray,
        forward: Forward,
        verify: int | None = None,
    ) -> None:
        self.network, self.x, self.t, self.forward = network, x, t, forward
        self._t = np.asarray(t)
        self.verify = verify
        self._transposed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._stack_rows: list[int] | None = None  # by entry layer, worked out once
        self._fractions: dict[int, np.ndarray] = {}  # by layer: see reach.reach_fractions
        if x.dtype.kind not in "fiu" or np.asarray(t).dtype.kind not in "fiub":
            raise NotInterpolable("the inputs or targets are not real numbers", lasting=False)
        self.x = x = np.asarray(x, dtype=np.float64)
        self.loss = float(network.loss_function(forward.y, t))
        if not np.isfinite(self.loss):
            raise NotInterpolable("the loss is not finite", lasting=False)
        self.own = self._losses(forward.y[:, None, :], self._targets(np.arange(len(x))))
        self.scale = self._batch_factor()

    def differences(self, layers: Sequence[int], h: float) -> dict[str, np.ndarray]:
        """``(f(v + h) - f(v - h)) / 2h`` for every weight and bias element of ``layers``."""
        shapes = {k: self._shape(k, h) for k in layers}
        requests = [(k, *self._stencil(k, shape.radius)) for k, shape in shapes.items()]
        losses = self._stacked_losses(requests)
        grads = {}
        for (k, samples, units, _), values in zip(requests, losses, strict=True):
            grad = self._layer_grad(k, shapes[k], samples, units, values) * self.scale / (2 * h)
            affine = affine_of(self.network.layers[k])
            grads[affine.weight], grads[affine.bias] = grad[:-1], grad[-1]
            if k == self.verify:
                self._verify(affine.weight, grad[:-1], h)
        return grads

    def _shape(self, k: int, h: float) -> _Shape:
        """Layer k's perturbations, its bias as an input of ones."""
        affine = affine_of(self.network.layers[k])
        params = self.network.params
        values = np.concatenate([params[affine.weight], params[affine.bias][None]])
        inputs = np.concatenate([self.forward.inputs[k], np.ones((len(self.x), 1))], axis=1)
        up, down = (values + h) - values, values - (values - h)  # what the loop changes
        reach = np.maximum(1.0, np.abs(inputs).max(axis=1))
        return _Shape(inputs, up, down, float(max(up.max(), down.max())), reach)

    def _stencil(self, k: int, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs to fit (no breakpoint within reach) and where to evaluate them."""
        pre = self.forward.pre[k]
        try:
            fractions = reach_fractions(self.network, self.forward, k, radius)
        except NotReachable as reason:
            raise NotInterpolable(str(reason)) from None
        own = safe_fraction(self.network.layers[k], pre, radius[:, None])
        self._fractions[k] = fractions = np.minimum(fractions, own)
        samples, units = np.nonzero(fractions > 1)
        offsets = _GUARDED_OFFSETS if guarded(self.network, k) else _OFFSETS
        return samples, units, pre[samples, units][:, None] + radius[samples, None] * offsets

    def _layer_grad(
        self, k: int, shape: _Shape, samples: np.ndarray, units: np.ndarray, losses: np.ndarray
    ) -> np.ndarray:
        """``sum_n D_nj(d A[n, i])`` for every element of the layer's weight and bias."""
        beta, fitted = self._fit(losses, self.own[samples])
        pre = self.forward.pre[k]
        exact = None
        if len(samples) == pre.size and fitted.all():  # every pair, in row-major order
            coefficients = beta.T.reshape(-1, pre.shape[1])
        else:
            stacked = np.zeros((len(_POWERS), *pre.shape))
            stacked[:, samples[fitted], units[fitted]] = beta[fitted].T
            coefficients = stacked.reshape(-1, pre.shape[1])
            exact = np.ones(pre.shape, dtype=bool)
            exact[samples[fitted], units[fitted]] = False
        count = 0 if exact is None else int(exact.sum())
        engine_states(self.network).of(InterpolationState).pairs[k] = (count, pre.size)
        scaled = shape.inputs / shape.reach[:, None]
        squared, powers = scaled * scaled, [scaled]
        for _ in _POWERS[1:]:  # 3, 5, ...
            powers.append(powers[-1] * squared)
        ratio = (shape.up + shape.down) / (2 * shape.step)
        grad: np.ndarray = ratio * (np.concatenate(powers).T @ coefficients)
        return grad if exact is None else grad + self._exact_differences(k, shape, exact)

    @staticmethod
    def _fit(losses: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The odd cubic of each pair's ``D`` (coefficients of t and t**3, t the change over
        the fit's radius) from its losses at the stencil's offsets, and whether the fit
        meets its check node (both, where the stencil is guarded) to rounding."""
        nodes = len(_NODES)
        plus, minus = losses[:, :nodes], losses[:, nodes : 2 * nodes]
        beta = (plus - minus) @ _FIT.T  # D's odd cubic
        gamma = ((plus + minus) / 2 - own[:, None]) @ _EVEN_FIT.T  # G's even quartic
        odd, even = (beta @ _AT_CHECK) / 2, gamma @ _EVEN_AT_CHECK
        miss = np.abs(own + odd + even - losses[:, 2 * nodes])
        if losses.shape[1] > 2 * nodes + 1:  # guarded: the other side's check node too
            miss = np.maximum(miss, np.abs(own - odd + even - losses[:, 2 * nodes + 1]))
        fitted: np.ndarray = miss <= _FIT_TOLERANCE * np.maximum(1.0, np.abs(own))
        return beta, fitted

    def _exact_differences(self, k: int, shape: _Shape, exact: np.ndarray) -> np.ndarray:
        """``sum_n D_nj(d A[n, i])`` at every perturbation, for the flagged pairs only: a
        pair with a kink at least PARTIAL_FRACTION of its reach away is fitted within that
        distance and evaluated exactly beyond it (``_partial_differences``)."""
        total = np.zeros(shape.up.shape)
        fractions = self._fractions.get(k)
        if fractions is not None:
            partial = exact & (fractions >= PARTIAL_FRACTION) & (fractions <= 1)
            if partial.any():
                failed = self._partial_differences(k, shape, partial, fractions[partial], total)
                exact = exact & ~partial | failed
        samples, units = np.nonzero(exact)
        if not len(samples):
            return total
        width = shape.inputs.shape[1]
        block = max(1, CHUNK_ELEMENTS // (2 * width))  # pairs at a time: memory stays bounded
        for start in range(0, len(samples), block):
            rows, columns = samples[start : start + block], units[start : start + block]
            centre = self.forward.pre[k][rows, columns][:, None]
            plus = centre + shape.up[:, columns].T * shape.inputs[rows]  # (pairs, inputs)
            minus = centre - shape.down[:, columns].T * shape.inputs[rows]
            values = np.hstack([plus, minus])  # one evaluation a row: stacks keep their bound
            per_pair = values.shape[1]
            request = (k, rows.repeat(per_pair), columns.repeat(per_pair), values.reshape(-1, 1))
            (losses,) = self._stacked_losses([request])
            losses = losses.reshape(len(rows), per_pair)
            np.add.at(total.T, columns, losses[:, :width] - losses[:, width:])
        return total

    def _partial_differences(
        self, k: int, shape: _Shape, pairs: np.ndarray, fractions: np.ndarray, total: np.ndarray
    ) -> np.ndarray:
        """Add ``sum_n D_nj(d A[n, i])`` of ``pairs`` to ``total``: from each pair's fit within
        ``fractions`` of its reach where the loop's change stays inside it, else from exact
        evaluations. Returns the pairs whose fit missed its checks (left out)."""
        samples, units = np.nonzero(pairs)
        rho = fractions * shape.radius[samples] * (1 - _RELATIVE_MARGIN)
        centre = self.forward.pre[k][samples, units]
        stencil = centre[:, None] + rho[:, None] * _GUARDED_OFFSETS
        (losses,) = self._stacked_losses([(k, samples, units, stencil)])
        beta, fitted = self._fit(losses, self.own[samples])
        failed = np.zeros(pairs.shape, dtype=bool)
        failed[samples[~fitted], units[~fitted]] = True
        samples, units, rho, centre, beta = (
            part[fitted] for part in (samples, units, rho, centre, beta)
        )
        block = max(1, CHUNK_ELEMENTS // shape.inputs.shape[1])
        for start in range(0, len(samples), block):
            chunk = slice(start, start + block)
            rows, columns = samples[chunk], units[chunk]
            inputs, up, down = shape.inputs[rows], shape.up[:, columns].T, shape.down[:, columns].T
            plus, minus = up * inputs, down * inputs  # (pairs, inputs): the loop's changes
            inside = np.maximum(np.abs(plus), np.abs(minus)) <= rho[chunk, None]
            t = shape.step * inputs / rho[chunk, None]
            odd = beta[chunk, :1] * t + beta[chunk, 1:] * t**3
            values = np.where(inside, (up + down) / (2 * shape.step) * odd, 0.0)
            pair, column = np.nonzero(~inside)
            if len(pair):
                middle = centre[chunk][pair]
                both = np.concatenate([middle + plus[pair, column], middle - minus[pair, column]])
                request = (k, np.tile(rows[pair], 2), np.tile(columns[pair], 2), both[:, None])
                (outside,) = self._stacked_losses([request])
                values[pair, column] = outside[: len(pair), 0] - outside[len(pair) :, 0]
            np.add.at(total.T, columns, values)
        return failed

    def _stacked_losses(self, requests: Sequence[Request]) -> list[np.ndarray]:
        """For each request, the loss of sample ``samples[p]`` alone with unit ``units[p]``
        of layer k set to each of ``values[p]``.

        Evaluations entering the same layer are stacked and finished together, in chunks
        whose widest array holds at most STACK_BYTES, or STACK_ROWS evaluations where
        that is more.
        """
        results = [np.empty(values.shape) for *_, values in requests]
        queues: dict[int, list[_Pending]] = {}
        queued: dict[int, int] = {}  # stacked evaluations waiting, by entry layer
        for (k, samples, units, values), result in zip(requests, results, strict=True):
            for pending in self._entries(k, samples, units, values, result.reshape(-1)):
                entry, count = pending.entry, len(pending.samples)
                queue = queues.setdefault(entry, [])
                if queue and queued[entry] + count > self._rows(entry):
                    self._finish(queue)  # before it grows past the bound
                    queue.clear()
                queued[entry] = (queued[entry] if queue else 0) + count
                queue.append(pending)
        for queue in queues.values():
            self._finish(queue)
        return results

    def _entries(
        self,
        k: int,
        samples: np.ndarray,
        units: np.ndarray,
        values: np.ndarray,
        out: np.ndarray,
    ) -> Iterator[_Pending]:
        """One request in chunks, each carried to where it enters a later layer (past an
        elementwise layer k, the widest array is the next layer's)."""
        per_pair = values.shape[1]
        step = max(1, self._rows(k + 1 if self.network.layers[k].elementwise else k) // per_pair)
        for start in range(0, len(samples), step):
            chunk = slice(start, start + step)
            which = samples[chunk].repeat(per_pair), units[chunk].repeat(per_pair)
            entry, stack = self._enter(k, *which, values[chunk].reshape(-1))
            yield _Pending(
                entry, stack, which[0], out[start * per_pair : (start + step) * per_pair]
            )

    def _enter(
        self, k: int, samples: np.ndarray, units: np.ndarray, values: np.ndarray
    ) -> tuple[int, np.ndarray]:
        """Where evaluations with unit ``units[p]`` of layer k set to ``values[p]`` enter the
        rest of the network: a layer's pre-activation, or (past the last) the output.

        An elementwise activation changes only that unit's output, so the next layer's
        pre-activation changes by a rank-one amount. Stacks are laid out units-first in
        memory (transposed views), so that reductions over units, as softmax makes, are
        fast.
        """
        network, forward = self.network, self.forward
        rows = np.arange(len(values))
        if not network.layers[k].elementwise:
            a = self._columns(forward.pre[k], samples)
            a[rows, units] = values
            return k, a
        changed = _call(activation_of(network.layers[k]), values[:, None])[:, 0]
        if k + 1 == len(network.layers):
            z = self._columns(forward.outputs[k], samples)
            z[rows, units] = changed
            return k + 1, z
        weight = network.params[affine_of(network.layers[k + 1]).weight]
        change = changed - forward.outputs[k][samples, units]
        moved = self._columns(weight, units) * change[:, None]
        return k + 1, self._columns(forward.pre[k + 1], samples) + moved

    def _finish(self, queue: list[_Pending]) -> None:
        """Carry stacks that enter the same layer through the rest, and store each loss."""
        entry = queue[0].entry
        stack = queue[0].stack
        if len(queue) > 1:  # still units-first
            stack = np.concatenate([item.stack.T for item in queue], axis=1).T
        samples = np.concatenate([item.samples for item in queue])
        layers = self.network.layers
        z = stack if entry == len(layers) else _call(activation_of(layers[entry]), stack)
        for layer in layers[entry + 1 :]:
            params, affine = self.network.params, affine_of(layer)
            z = _call(activation_of(layer), z @ params[affine.weight] + params[affine.bias])
        losses = self._losses(z[:, None, :], self._targets(samples))
        start = 0
        for item in queue:
            item.out[...] = losses[start : start + len(item.samples)]
            start += len(item.samples)

    def _targets(self, samples: np.ndarray) -> np.ndarray:
        """The targets of stacked samples, one batch of one each."""
        return self._t.take(samples, axis=0)[:, None]

    def _columns(self, matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``matrix[rows]``, laid out units-first in memory (a transposed view); each
        matrix is transposed once per batch, however many chunks take rows of it."""
        kept = self._transposed.get(id(matrix))
        if kept is None or kept[0] is not matrix:
            kept = self._transposed[id(matrix)] = (matrix, np.ascontiguousarray(matrix.T))
        return _columns(kept[1].T, rows)  # already contiguous once transposed back

    def _rows(self, k: int) -> int:
        """Evaluations a stack entering layer k holds at most."""
        if self._stack_rows is None:
            widths = [self._width(entry) for entry in range(len(self.network.layers) + 1)]
            self._stack_rows = [max(STACK_ROWS, STACK_BYTES // (8 * w)) for w in widths]
        return self._stack_rows[k]

    def _width(self, k: int) -> int:
        """The widest row from layer k's pre-activation on."""
        return max(int(a.shape[1]) for a in [*self.forward.pre[k:], self.forward.y])

    def _losses(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Each stacked sample's own loss: ``y`` is (stack, 1, outputs), ``t`` one target each."""
        name = self.network.loss_function.name
        try:
            losses = np.asarray(self.network.loss_function(y, t))
        except Exception as error:
            raise NotInterpolable(
                f"loss '{name}' fails on stacked samples with their own targets "
                f"({type(error).__name__})"
            ) from None
        if losses.shape != y.shape[:1] or losses.dtype != np.float64:
            raise NotInterpolable(f"loss '{name}' does not give one value per stacked sample")
        return losses

    def _batch_factor(self) -> float:
        """``s`` with loss == s * (sum of the samples' own losses): 1/N for a mean, 1 for a sum.

        Which of the two is told once per loss part by a batch taken twice over (a mean
        stays, a sum doubles); on every batch the samples' own losses must then add up
        to the loss.
        """
        loss, count = self.network.loss_function, len(self.own)
        state = engine_states(self.network).of(InterpolationState)
        is_mean = state.mean(loss)
        if is_mean is None:
            is_mean = self._is_mean()
            state.means.append((loss, is_mean))
        scale = 1.0 / count if is_mean else 1.0
        size, total = float(np.abs(self.own).sum()), float(self.own.sum())
        if not _close(scale * total, self.loss, 4 * count * scale * size):
            raise NotInterpolable(
                f"loss '{loss.name}' is not a mean or a sum of the samples' own losses"
            )
        return scale

    def _is_mean(self) -> bool:
        """Whether the loss is a mean over the batch (else a sum), from this batch taken
        twice over."""
        y, t, loss = self.forward.y, self._t, self.network.loss_function
        if self.loss == 0:  # a mean and a sum look alike here
            raise NotInterpolable("the loss is 0, as a mean and as a sum", lasting=False)
        twice = float(loss(np.concatenate([y, y]), np.concatenate([t, t])))
        if _close(twice, self.loss):
            return True
        if _close(twice, 2 * self.loss):
            return False
        raise NotInterpolable(f"loss '{loss.name}' is neither a mean nor a sum over the batch")

    def _verify(self, name: str, grad: np.ndarray, h: float) -> None:
        """Compare the largest weight element with a plain central difference."""
        index = int(np.argmax(np.abs(grad)))
        value = self.network.params[name].reshape(-1)[index]
        indices, values = np.array([index, index]), np.array([value + h, value - h])
        plain = plain_perturbed_losses(self.network, self.x, self.t, name, indices, values)
        expected, got = plain[0] - plain[1], grad.reshape(-1)[index] * 2 * h
        if np.isnan(expected) and np.isnan(got):
            return
        if not abs(expected - got) <= _AGREEMENT * max(1.0, abs(self.loss)):
            raise NotInterpolable(
                f"interpolated differences of {name} differ from a plain evaluation; "
                "a part's declared breakpoints may be wrong"
            )


def _close(a: float, b: float, size: float = 0.0) -> bool:
    """Equal to rounding: within 8 eps of the larger magnitude (or of ``size``)."""
    return abs(a - b) <= 8 * _EPS * max(abs(a), abs(b), size)


def _call(activation: Activation, a: np.ndarray) -> np.ndarray:
    return call_activation(activation, a, NotInterpolable)


def _columns(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix[rows]``, laid out units-first in memory (a transposed view)."""
    return np.take(np.ascontiguousarray(matrix.T), rows, axis=1).T
