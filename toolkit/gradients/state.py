"""What the gradient engines learn about a network, kept apart from it, by engine name.

An engine learns things worth keeping across gradient calls: which layers or
parameters it refused (and why), how many batches it has taken. It keeps them in a
state object of its own, which it registers here under a name (``@engine_state("name")``)
when its module is imported (``toolkit.gradients.objective`` imports every engine). A
network's states live as long as the network does (``engine_states(network)``). A
checkpoint saves ``export(network)`` under ``engines`` and gives it back to ``load``, naming no
engine itself: a resumed run then takes the same paths, and so gives the same bits.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from ..model.network import Network

__all__ = ["EngineState", "EngineStates", "engine_names", "engine_state", "engine_states"]


class EngineState(Protocol):
    """One engine's memory of one network."""

    def export(self, network: Network) -> dict[str, Any]:
        """What it holds about ``network``, as JSON values."""
        ...

    def load(self, network: Network, saved: Mapping[str, Any]) -> None:
        """Take ``export()``'s values back; ValueError (or TypeError), changing nothing, for
        values it could not have written for this network."""
        ...


S = TypeVar("S", bound=EngineState)

_ENGINES: dict[str, type[EngineState]] = {}
_STATES: weakref.WeakKeyDictionary[Network, EngineStates] = weakref.WeakKeyDictionary()


def engine_state(name: str) -> Callable[[type[S]], type[S]]:
    """Register a state class (made with no arguments) as engine ``name``'s."""

    def register(kind: type[S]) -> type[S]:
        _ENGINES[name] = kind
        return kind

    return register


def engine_names() -> tuple[str, ...]:
    """The registered engines' names, sorted (the order a checkpoint writes them in)."""
    return tuple(sorted(_ENGINES))


class EngineStates:
    """Every registered engine's state for one network."""

    def __init__(self) -> None:
        self._states: dict[str, EngineState] = {}

    def of(self, kind: type[S]) -> S:
        """The state of the engine whose state class is ``kind`` (made on first use)."""
        state = self._states.get(_name_of(kind))
        if not isinstance(state, kind):
            state = self._states[_name_of(kind)] = kind()
        return state

    def named(self, name: str) -> EngineState:
        """Engine ``name``'s state (made on first use); KeyError for an unregistered name."""
        if name not in self._states:
            self._states[name] = _ENGINES[name]()
        return self._states[name]

    def export(self, network: Network) -> dict[str, dict[str, Any]]:
        """Each registered engine's ``export(network)``, by name."""
        return {name: self.named(name).export(network) for name in engine_names()}


def engine_states(network: Network) -> EngineStates:
    """The engines' states for ``network``, kept while it lives (fresh for a new one)."""
    states = _STATES.get(network)
    if states is None:
        states = _STATES[network] = EngineStates()
    return states


def _name_of(kind: type[EngineState]) -> str:
    for name, registered in _ENGINES.items():
        if registered is kind:
            return name
    raise KeyError(f"{kind.__name__} is not a registered engine state")
