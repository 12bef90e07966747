"""admit_workers keeps an executor to the workers it checked, also when all of them pass."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from typing import Any

from toolkit.sweeps.fingerprint import admit_workers, registry_fingerprint


class Probe:
    """A WorkerProbe over workers that answer with given registries."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = answers
        self.kept: list[str] | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        raise AssertionError("admit_workers submits nothing")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass

    def on_each_worker(self, fn: Callable[..., Any], /, *args: Any) -> Mapping[str, Any]:
        return self.answers

    def use_only(self, workers: Collection[str]) -> None:
        self.kept = sorted(workers)


def test_workers_that_all_pass_are_still_the_only_ones_used() -> None:
    """A worker joining after the check was never checked: the executor is kept to the two
    it checked even though neither differs."""
    ours = registry_fingerprint([])
    probe = Probe({"tcp://b:2": ours, "tcp://a:1": ours})
    assert admit_workers(probe, []) == []
    assert probe.kept == ["tcp://a:1", "tcp://b:2"]


def test_a_worker_that_cannot_load_its_parts_is_left_out() -> None:
    ours = registry_fingerprint([])
    probe = Probe({"tcp://a:1": ours, "tcp://b:2": "ImportError: no module named x"})
    (note,) = admit_workers(probe, [])
    assert note.startswith("worker tcp://b:2: cannot load its parts: ImportError")
    assert probe.kept == ["tcp://a:1"]
