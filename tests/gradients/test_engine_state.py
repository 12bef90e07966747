"""The gradient engines apart from the model: a network's gradient comes from an injected
source, and what the engines learn is a named state per engine, which the checkpoint
saves and restores by the names the engines registered."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grimp
import numpy as np
import pytest

import toolkit
import toolkit.gradients.state
from tests.helpers import SPECS
from toolkit.gradients.estimate import Estimate
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.perturbation import BulkState
from toolkit.gradients.state import engine_names, engine_states
from toolkit.model.network import Network
from toolkit.registry.parts import BoundPart, Part
from toolkit.runs.build import assemble
from toolkit.runs.checkpoint import capture, restore

SMALL = {"data.samples": 30, "data.features": 5, "data.classes": 3, "rng": "default"}
SMALL |= {"model.layers.0.units": 4, "model.layers.1.units": 3}


def spec() -> toolkit.Spec:
    return toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL)


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.standard_normal((6, 5)), np.eye(3)[rng.integers(0, 3, 6)]


@dataclass
class Counted:
    """A made-up engine's state: how many batches it has seen."""

    seen: int = 0

    def export(self, network: Network) -> dict[str, Any]:
        return {"seen": self.seen}

    def load(self, network: Network, saved: Mapping[str, Any]) -> None:
        if not isinstance(saved.get("seen"), int):
            raise ValueError(f"seen is {saved.get('seen')!r}, not a whole number")
        self.seen = saved["seen"]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[Counted]:
    """Counted, registered as engine 'counted' for this test only."""
    registered = dict(toolkit.gradients.state._ENGINES, counted=Counted)
    monkeypatch.setattr(toolkit.gradients.state, "_ENGINES", registered)
    return Counted


def test_the_model_imports_nothing_of_the_engines_or_the_spec() -> None:
    graph = grimp.build_graph("toolkit")
    above = ("toolkit.gradients", "toolkit.spec", "toolkit.runs", "toolkit.cli")
    wrong = [
        (module, imported)
        for module in graph.modules
        if module.startswith("toolkit.model")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(above)
    ]
    assert wrong == []


def test_the_checkpoint_names_no_engine() -> None:
    """It saves and restores whatever engines registered (see the next tests)."""
    graph = grimp.build_graph("toolkit")
    for module in ("toolkit.runs.checkpoint", "toolkit.runs.checkpoint_check"):
        imported = graph.find_modules_directly_imported_by(module)
        assert not imported & {
            "toolkit.gradients.interpolation",
            "toolkit.gradients.perturbation",
        }, module


def test_the_engines_register_the_names_old_checkpoints_hold() -> None:
    assert engine_names() == ("interpolation", "perturbation")


def test_a_registered_engines_state_is_saved_and_restored(counted: type[Counted]) -> None:
    first = assemble(spec())
    engine_states(first.network).of(counted).seen = 7
    checkpoint = capture(3, first.network, _Plain(), first.rng, [], 0.0)
    assert checkpoint.engines["counted"] == {"seen": 7}
    assert list(checkpoint.engines) == ["counted", "interpolation", "perturbation"]
    json.dumps(checkpoint.engines)  # what meta.json holds
    second = assemble(spec())
    restore(checkpoint, second.network, _Plain(), second.rng)
    assert engine_states(second.network).of(counted).seen == 7


def test_a_checkpoint_without_a_registered_engines_state_is_damaged(
    counted: type[Counted],
) -> None:
    first = assemble(spec())
    checkpoint = capture(3, first.network, _Plain(), first.rng, [], 0.0)
    del checkpoint.engines["counted"]
    with pytest.raises(toolkit.UsageError, match=r"engines\.counted is None, not an object"):
        restore(checkpoint, assemble(spec()).network, _Plain(), first.rng)
    checkpoint.engines["counted"] = {"seen": "7"}
    with pytest.raises(toolkit.UsageError, match=r"engines\.counted: seen is '7'"):
        restore(checkpoint, assemble(spec()).network, _Plain(), first.rng)


def test_engine_state_follows_the_network_not_its_parts() -> None:
    """Two networks built alike have states of their own; a rebuilt network starts fresh."""
    one, other = toolkit.build(spec()), toolkit.build(spec())
    x, t = batch()
    one.gradient(x, t)
    assert engine_states(one).of(InterpolationState).count == 1
    assert engine_states(other).of(InterpolationState).count == 0
    assert engine_states(other).of(BulkState).refused == {}
    assert engine_states(one) is engine_states(one)


def test_the_loss_kind_is_remembered_for_the_loss_part_itself() -> None:
    """Replacing the loss part (another object) asks again whether it is a mean."""
    net = toolkit.build(spec())
    x, t = batch()
    net.gradient(x, t)
    state = engine_states(net).of(InterpolationState)
    assert state.export(net)["mean_loss"] is True
    original = net.loss_function
    net.loss_function = BoundPart("summed", Part(lambda y, t: y.shape[-2] * original(y, t)))
    assert state.export(net)["mean_loss"] is None
    net.gradient(x, t)
    assert state.export(net)["mean_loss"] is False
    net.loss_function = original
    assert state.export(net)["mean_loss"] is True


def test_the_gradient_comes_from_the_injected_source() -> None:
    net = toolkit.build(spec())
    assert isinstance(net.gradient_source, Estimate)
    calls = []

    class Recording:
        def gradient(self, network: Network, x: Any, t: Any, estimator: Any) -> Any:
            calls.append((network, estimator))
            return {"W1": "from the source"}

    net.gradient_source = Recording()
    x, t = batch()
    assert net.gradient(x, t, "backprop") == {"W1": "from the source"}
    assert calls == [(net, "backprop")]


def test_an_estimate_looks_names_up_with_the_given_lookup() -> None:
    built = toolkit.build(spec())
    looked_up = []

    def lookup(ref: Any) -> BoundPart:
        looked_up.append(ref)
        return BoundPart(
            "zeros", Part(lambda objective: {k: 0 * v for k, v in objective.params.items()})
        )

    net = Network(built.layers, built.params, built.loss_function, built.estimator)
    net.gradient_source = Estimate(lookup)
    x, t = batch()
    grads = net.gradient(x, t, "anything")
    assert looked_up == ["anything"] and all(not g.any() for g in grads.values())


def test_a_network_without_a_source_says_how_to_get_one() -> None:
    built = toolkit.build(spec())
    net = Network(built.layers, built.params, built.loss_function, built.estimator)
    x, t = batch()
    with pytest.raises(toolkit.RunError, match=r"no gradient source; build it with toolkit"):
        net.gradient(x, t)
    net.gradient_source = Estimate()
    with pytest.raises(toolkit.RunError, match="no registry to look an estimator up in"):
        net.gradient(x, t, "backprop")
    assert net.gradient(x, t).keys() == built.params.keys()


def test_a_checkpoint_keeps_the_meta_json_engines_format() -> None:
    """Old checkpoints are read as before: the same keys, the same values."""
    net = toolkit.build(spec())
    x, t = batch()
    net.gradient(x, t)
    exported = engine_states(net).export(net)
    assert exported == {
        "interpolation": {"interpolations": 1, "refused": {}, "mean_loss": True},
        "perturbation": {"refused": {}},
    }
    fresh = toolkit.build(spec())
    states = engine_states(fresh)
    saved = {"interpolations": 4, "refused": {"1": "why"}, "mean_loss": False}
    states.named("interpolation").load(fresh, saved)
    states.named("perturbation").load(fresh, {"refused": {"W2": "why"}})
    assert states.export(fresh) == {
        "interpolation": saved,
        "perturbation": {"refused": {"W2": "why"}},
    }


class _Plain:
    """An optimizer with no state."""

    def update(self, params: Any, grads: Any) -> None:
        pass
