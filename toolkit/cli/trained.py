"""``toolkit evaluate`` and ``toolkit predict``: a trained run's network, used on data."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..base.errors import UsageError
from ..base.wording import one_line
from ..model.network import Network
from ..registry.manager import get_plugin_manager
from ..runs.arrays import read_arrays, read_dataset, write_arrays
from ..runs.build import Assembly
from ..runs.rundir import check_output
from ..runs.saved import restore_run
from ..runs.trainer import training_loss
from .loading import warn_about_skipped_plugins
from .options import Commands, Options, refuse_empty
from .report import count

__all__ = ["add_evaluate", "add_predict"]


def add_evaluate(commands: Commands, options: Options) -> None:
    """``toolkit evaluate RUN_DIR [--data FILE.npz]``."""
    evaluation = commands.add_parser(
        "evaluate",
        parents=[options.plugin],
        help="loss and accuracy of a run's saved parameters on its data (or another file)",
    )
    evaluation.add_argument("run", metavar="RUN_DIR", help="a folder written by train --out")
    evaluation.add_argument(
        "--data", metavar="FILE.npz", help="evaluate on arrays x and t from this file instead"
    )
    evaluation.set_defaults(handler=_evaluate)


def add_predict(commands: Commands, options: Options) -> None:
    """``toolkit predict RUN_DIR --input FILE.npz [--out FILE.npz [--force]]``."""
    prediction = commands.add_parser(
        "predict", parents=[options.plugin], help="a run's predictions for the inputs in a file"
    )
    prediction.add_argument("run", metavar="RUN_DIR", help="a folder written by train --out")
    prediction.add_argument(
        "--input", metavar="FILE.npz", required=True, help="a file with an array x of inputs"
    )
    prediction.add_argument(
        "--out",
        metavar="FILE.npz",
        help="write outputs y and classes to this file (default: print one class per line)",
    )
    prediction.add_argument(
        "--force",
        action="store_true",
        help="replace the --out file if it exists (never a run's own file)",
    )
    prediction.set_defaults(handler=_predict)


def _saved_network(args: argparse.Namespace) -> Assembly:
    """The network of a run folder, with its final (or last checkpointed) parameters."""
    manager = get_plugin_manager(args.plugins)
    try:
        return restore_run(args.run, manager=manager)
    finally:
        warn_about_skipped_plugins(args, manager)


def _evaluate(args: argparse.Namespace) -> int:
    """Print loss and accuracy of a run's parameters on its data, or on a file's."""
    assembly = _saved_network(args)
    network = assembly.network
    data = read_dataset(args.data) if args.data else assembly.data
    _check_features(data.x, network, args.data or "the run's data")
    splits = [("train" if not args.data else "data", data.x, data.t)]
    if data.x_test is not None and data.t_test is not None:
        splits.append(("test", data.x_test, data.t_test))
    decay = assembly.spec.settings.train.weight_decay
    for label, x, t in splits:
        try:
            loss, accuracy = training_loss(network, x, t, decay), network.accuracy(x, t)
        except (IndexError, ValueError) as error:
            raise UsageError(
                f"{args.data or 'the data'}: the targets don't fit the network's "
                f"{network.predict(x[:1]).shape[-1]} outputs ({error})"
            ) from None
        print(f"{label}: loss {loss!r}  accuracy {accuracy:.4g}  ({count(len(x), 'sample')})")
    return 0


def _predict(args: argparse.Namespace) -> int:
    """Print (or write) a run's predicted classes for the inputs x in a file."""
    refuse_empty(args.out, "predict --out", "a file")
    if args.out is not None:  # refused before any work: a run's file, or one that exists
        check_output(Path(args.out), force=args.force, runs=[Path(args.run)])
    assembly = _saved_network(args)
    network = assembly.network
    x = read_arrays(args.input, ["x"])["x"]
    if x.ndim == 1:
        x = x[None]
    _check_features(x, network, args.input)
    _check_inputs(x, args.input)
    y = network.predict(x)
    classes = np.argmax(y, axis=1)
    if args.out is not None:
        write_arrays(args.out, {"y": y, "classes": classes}, force=args.force, runs=[args.run])
        print(f"wrote outputs y and classes for {count(len(x), 'sample')} to {one_line(args.out)}")
    else:
        print("\n".join(str(int(c)) for c in classes))
    return 0


def _check_features(x: np.ndarray, network: Network, where: str) -> None:
    """Rows of the shape the first layer takes (whether or not it has parameters)."""
    (expected,) = network.layers[0].input_shape  # the data's: one axis of features
    if x.ndim != 2 or x.shape[1] != expected:
        raise UsageError(
            f"{where}: x has shape {x.shape}, the network takes rows of {expected} features"
        )


def _check_inputs(x: np.ndarray, where: str) -> None:
    """Rows to predict: at least one, each of finite numbers (no class is right for a nan)."""
    if len(x) == 0:
        raise UsageError(f"{where}: x has no rows; give at least one sample to predict")
    broken = ~np.isfinite(x).all(axis=1)
    if broken.any():
        raise UsageError(
            f"{where}: x has {count(int(broken.sum()), 'row')} holding nan or infinite values "
            f"(first: row {int(np.argmax(broken))}); remove or replace them"
        )
