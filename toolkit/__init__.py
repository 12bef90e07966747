"""layer-toolkit: build and train neural networks from parts registered through pluggy."""

from __future__ import annotations

from . import gradcheck as gradcheck  # modules the README calls: toolkit.gradcheck.gradcheck
from . import memory as memory  # toolkit.memory.retain_freed_memory()
from .assembly import build, load_data
from .checkpoint import Checkpoint, load_checkpoint
from .data import Dataset
from .errors import (
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
from .hookspecs import hookimpl
from .manager import get_plugin_manager
from .network import Network
from .npzfile import NpzError, NpzReader, read_npz
from .objective import Objective
from .parts import REQUIRED, Part
from .saved import load_run
from .spec import Spec, load_spec
from .trainer import TrainResult, train

__all__ = [
    "REQUIRED",
    "Checkpoint",
    "Dataset",
    "Location",
    "MissingDependency",
    "Network",
    "NpzError",
    "NpzReader",
    "Objective",
    "Part",
    "PluginError",
    "Problem",
    "RunError",
    "SettingError",
    "Spec",
    "SpecError",
    "ToolkitError",
    "ToolkitNotice",
    "TrainResult",
    "UsageError",
    "build",
    "get_plugin_manager",
    "hookimpl",
    "load_checkpoint",
    "load_data",
    "load_run",
    "load_spec",
    "read_npz",
    "train",
]
