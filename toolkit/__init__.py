"""layer-toolkit: build and train neural networks from parts registered through pluggy."""

from __future__ import annotations

from .base.errors import (
    Location,
    MissingDependency,
    PluginError,
    Problem,
    RunError,
    SettingError,
    SpecError,
    ToolkitError,
    ToolkitNotice,
    UsageError,
)
from .base.npzfile import NpzError, NpzReader, read_npz
from .gradients.objective import Objective
from .model.data import Dataset
from .model.layers import Layer, Mode, ParamSpec, Step
from .model.network import Network
from .registry.hookspecs import hookimpl
from .registry.manager import get_plugin_manager
from .registry.parts import REQUIRED, Part
from .runs import gradcheck as gradcheck  # modules the README calls: toolkit.gradcheck.gradcheck
from .runs.build import build, load_data
from .runs.checkpoint import Checkpoint, load_checkpoint
from .runs.saved import load_run
from .runs.trainer import TrainResult, train
from .spec.load import Spec, load_spec
from .sweeps.api import sweep
from .sweeps.coordinator import TrialRecord

__all__ = [
    "REQUIRED",
    "Checkpoint",
    "Dataset",
    "Layer",
    "Location",
    "MissingDependency",
    "Mode",
    "Network",
    "NpzError",
    "NpzReader",
    "Objective",
    "ParamSpec",
    "Part",
    "PluginError",
    "Problem",
    "RunError",
    "SettingError",
    "Spec",
    "SpecError",
    "Step",
    "ToolkitError",
    "ToolkitNotice",
    "TrainResult",
    "TrialRecord",
    "UsageError",
    "build",
    "get_plugin_manager",
    "hookimpl",
    "load_checkpoint",
    "load_data",
    "load_run",
    "load_spec",
    "read_npz",
    "sweep",
    "train",
]
