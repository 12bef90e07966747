"""One descriptor per kind of part: the hooks and the spec keys derive from it."""

from __future__ import annotations

from pathlib import Path

import pluggy
import pytest

from tests.helpers import write
from toolkit.base.errors import PluginError
from toolkit.registry import hookspecs
from toolkit.registry.kinds import DEFAULT_KEYS, KINDS, LAYER_PART_KEYS, PART_KEYS, Kind
from toolkit.registry.manager import get_plugin_manager

SCHEDULER = Kind("scheduler", "schedulers", ("step",), "a float", keys=("schedule",))


def test_the_hooks_are_one_per_kind_and_the_defaults_hook() -> None:
    """The manager knows the eight kinds' hooks by the names plugins implement, and no other."""
    manager = get_plugin_manager(autoload=False)
    hooks = {name for name in vars(manager.hook) if name.startswith("toolkit_")}
    assert hooks == {
        "toolkit_activations",
        "toolkit_losses",
        "toolkit_initializers",
        "toolkit_gradient_estimators",
        "toolkit_datasets",
        "toolkit_optimizers",
        "toolkit_layers",
        "toolkit_executors",
        "toolkit_defaults",
    }
    assert set(hookspecs.HOOK_NAMES) == hooks


def test_a_new_descriptor_is_a_new_hook_a_plugin_can_implement() -> None:
    """Hook specifications built from one more descriptor accept a plugin of that kind."""

    class Plugin:
        @hookspecs.hookimpl
        def toolkit_schedulers(self) -> dict[str, object]:
            return {"constant": lambda step: 1.0}

    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs.namespace((*KINDS, SCHEDULER)))
    manager.register(Plugin())
    manager.check_pending()
    assert [sorted(table) for table in manager.hook.toolkit_schedulers()] == [["constant"]]
    assert "step" in (manager.hook.toolkit_schedulers.spec.function.__doc__ or "")


def test_a_hook_of_no_kind_is_refused_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt hook is named, with the closest real one."""
    write(tmp_path / "typo_hook.py", "def toolkit_activation():\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as caught:
        get_plugin_manager(["typo_hook"], autoload=False)
    assert str(caught.value) == (
        "plugin module 'typo_hook': unknown hook 'toolkit_activation'; "
        "did you mean 'toolkit_activations'?"
    )


def test_the_spec_keys_name_their_kinds() -> None:
    """The spec keys naming a part, and their kinds, as the spec language defines them."""
    assert {key: kind.name for key, kind in PART_KEYS.items()} == {
        "data": "dataset",
        "loss": "loss",
        "gradient": "gradient_estimator",
        "optimizer": "optimizer",
    }
    assert {key: kind.name for key, kind in LAYER_PART_KEYS.items()} == {
        "activation": "activation",
        "init": "initializer",
        "bias_init": "initializer",
        "type": "layer",
    }
    assert (
        *("loss", "gradient", "optimizer"),
        *("activation", "init", "bias_init", "type"),
    ) == DEFAULT_KEYS
    assert {kind.label for kind in KINDS} >= {"gradient estimator", "dataset"}
