"""A damaged checkpoint is one line, exit 2, before the run folder is touched.

``train --resume`` on a checkpoint whose ``meta.json`` lacks a key, holds a value of
another type, contradicts itself (an iteration of -5, or below its history's last) or
whose arrays do not fit the spec's network or optimizer: "damaged checkpoint", naming
what is wrong; never a traceback, an exit 1 mid-run, or a run that goes on with it.
The spec is the truth for the optimizer's settings: a checkpoint holding another
learning rate is refused, naming the key.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS
from toolkit.cli import main

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
RUN = ["--set", "optimizer.name=momentum", "--set", "train.log_every=2"]
"""Momentum keeps velocities (arrays by parameter) besides its settings."""
LONGER = ["--set", "train.iterations=6"]
KEYS = (
    *("format", "iteration", "params", "optimizer", "batch_rng", "estimator_rng"),
    *("engines", "history", "seconds", "reference_loss", "spec"),
)
"""What Checkpoint.arrays() writes to meta.json (test_every_key_is_written checks it)."""

Meta = dict[str, Any]
Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two_layer_sigmoid run of 4 iterations with momentum, checkpointed at 4; its
    batch generator is numpy's RandomState, the estimators' a Generator."""
    out = tmp_path_factory.mktemp("checkpoints") / "run"
    args = ["train", str(SIGMOID), *RUN, "--set", "train.iterations=4", "--out", str(out), "-q"]
    assert main(args) == 0
    return out


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    """A copy of the finished run, to damage."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


def read(folder: Path) -> tuple[Meta, Arrays]:
    """The checkpoint's meta.json and arrays, read with numpy itself."""
    with np.load(folder / "checkpoint.npz", allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    return json.loads(arrays.pop("meta.json").tobytes()), arrays


def rewrite(folder: Path, meta: Meta, arrays: Arrays) -> None:
    """Write the checkpoint back as np.savez does, meta.json as given."""
    text = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(folder / "checkpoint.npz", **arrays, **{"meta.json": text})


def damage(folder: Path, change: Callable[[Meta, Arrays], None]) -> None:
    meta, arrays = read(folder)
    change(meta, arrays)
    rewrite(folder, meta, arrays)


def resume(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["train", "--resume", str(folder), *LONGER, "-q"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Resuming is refused as a damaged checkpoint, in one line, exit 2; the line."""
    code, out, err = resume(folder, capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1, (code, out, err)
    line = lines[0]
    assert line.startswith(f"error: {folder / 'checkpoint.npz'}: damaged checkpoint ("), line
    assert line.endswith("remove it to start the run again"), line
    return line


def setter(*path: Any, value: Any) -> Callable[[Meta, Arrays], None]:
    """A change of meta.json: the value at ``path`` set to ``value``."""

    def change(meta: Meta, _: Arrays) -> None:
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def test_the_undamaged_copy_resumes(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read and written back unchanged, the checkpoint resumes (so what the other tests
    refuse is their damage, not the rewriting)."""
    damage(run, lambda meta, arrays: None)
    code, out, err = resume(run, capsys)
    assert code == 0 and err == "", err
    assert "done: 6 iterations (2 after resuming)" in out


def test_every_key_is_written(finished: Path) -> None:
    """The keys tested below are those a run writes."""
    assert set(read(finished)[0]) == set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_a_missing_key_is_damage(run: Path, key: str, capsys) -> None:
    """Each key meta.json is written with must be there (a missing 'spec' used to skip
    the check that the spec is unchanged; a missing 'reference_loss', the guard's)."""
    damage(run, lambda meta, arrays: meta.pop(key))
    assert f"meta.json has no '{key}'" in refused(run, capsys)


DAMAGES = {
    "engines not an object": (setter("engines", value=[]), "engines is a list, not an object"),
    "an engine's state text": (
        setter("engines", "interpolation", value="x"),
        "engines.interpolation is 'x', not an object",
    ),
    "an engine's count text": (
        setter("engines", "interpolation", "interpolations", value="4"),
        "engines.interpolation: interpolations is '4'",
    ),
    "a refused layer the network lacks": (
        setter("engines", "interpolation", "refused", value={"7": "why"}),
        "engines.interpolation: refused is not reasons by layer index",
    ),
    "a refused parameter the network lacks": (
        setter("engines", "perturbation", "refused", value={"W9": "why"}),
        "engines.perturbation: refused is not reasons by parameter name",
    ),
    "history not a list": (setter("history", value={"iteration": 2}), "history is an object"),
    "history of numbers": (setter("history", value=[1, 2]), "history[0] is a number, not a record"),
    "a record's iteration text": (
        setter("history", 0, "iteration", value="2"),
        "history[0].iteration is '2', not a number",
    ),
    "a record's loss text": (
        setter("history", 1, "loss", value="low"),
        "history[1].loss is 'low', not a number",
    ),
    "a record without loss": (
        lambda meta, arrays: meta["history"][0].pop("loss"),
        "history[0] has no 'loss'",
    ),
    "a record's number beyond floats": (
        setter("history", 0, "loss", value=10**400),
        "history[0].loss is a whole number of 401 digits, not a number",
    ),
    "seconds beyond floats": (
        setter("seconds", value=10**400),
        "seconds is a whole number of 401 digits, not a number >= 0",
    ),
    "reference loss beyond floats": (
        setter("reference_loss", value=-(10**400)),
        "reference_loss is a negative whole number of 401 digits, not a number",
    ),
    "iteration text": (setter("iteration", value="4"), "iteration is '4', not a whole number"),
    "iteration fractional": (setter("iteration", value=4.5), "iteration is 4.5, not a whole"),
    "seconds text": (setter("seconds", value="0.1"), "seconds is '0.1', not a number >= 0"),
    "reference loss text": (setter("reference_loss", value="2.3"), "reference_loss is '2.3'"),
    "spec not an object": (setter("spec", value="spec.yaml"), "spec is text, not an object"),
    "params not names": (setter("params", value="W1"), "params is 'W1', not a list of names"),
    "optimizer state text": (
        setter("optimizer", "v", value="velocities"),
        "optimizer state 'v' is 'velocities', not",
    ),
    "optimizer state missing": (
        lambda meta, arrays: [
            meta["optimizer"].pop("v"),
            *(arrays.pop(f"optimizer/v/{key}") for key in ("W1", "b1", "W2", "b2")),
        ],
        "its optimizer state has no 'v'",
    ),
    "no velocities at all": (
        lambda meta, arrays: [
            meta["optimizer"].update(v={"arrays": []}),
            *(arrays.pop(f"optimizer/v/{key}") for key in ("W1", "b1", "W2", "b2")),
        ],
        "optimizer state 'v' is not one array for each of the parameters W1, b1, W2, b2",
    ),
    "optimizer setting text": (
        setter("optimizer", "momentum", "value", value="0.9"),
        "optimizer state 'momentum' is '0.9', where the optimizer holds 0.9",
    ),
    "batch generator text": (setter("batch_rng", value="MT19937"), "batch_rng is 'MT19937'"),
    "legacy generator's cached gaussian text": (
        setter("batch_rng", "legacy", 4, value="x"),
        "batch_rng is not a valid MT19937 state",
    ),
    "legacy generator's position out of its state": (
        setter("batch_rng", "legacy", 2, value=-3),
        "batch_rng is not a valid MT19937 state",
    ),
    "generator state of the other kind": (
        lambda meta, arrays: meta.update(batch_rng=meta["estimator_rng"]),
        "a generator state is not for the spec's rng (legacy)",
    ),
    "Generator state numpy refuses": (
        setter("estimator_rng", "bit_generator", "state", "state", value=-1),
        "a generator state is refused: OverflowError",
    ),
}


@pytest.mark.parametrize("name", DAMAGES)
def test_damaged_meta_is_one_line(run: Path, name: str, capsys) -> None:
    """Each damage of meta.json is named in one line, exit 2."""
    change, expected = DAMAGES[name]
    damage(run, change)
    line = refused(run, capsys)
    assert expected in line, line


def _array(name: str, value: Callable[[np.ndarray], np.ndarray]) -> Callable[[Meta, Arrays], None]:
    def change(meta: Meta, arrays: Arrays) -> None:
        arrays[name] = value(arrays[name])

    return change


ARRAY_DAMAGES = {
    "a parameter of float32": (
        _array("param/W1", lambda a: a.astype(np.float32)),
        "parameter 'W1' is float32 (100, 10), the spec's network has float64 (100, 10)",
    ),
    "a parameter of ints": (
        _array("param/b1", lambda a: a.astype(np.int64)),
        "parameter 'b1' holds int64 values, not floating point",
    ),
    "a parameter of another shape": (
        _array("param/W2", lambda a: a[:3]),
        "parameter 'W2' is float64 (3, 10), the spec's network has float64 (10, 10)",
    ),
    "a parameter holding nan": (
        _array("param/b2", lambda a: np.full_like(a, np.nan)),
        "parameter 'b2' holds nan or infinite values",
    ),
    "a velocity of another shape": (
        _array("optimizer/v/W1", lambda a: a[0]),
        "optimizer state 'v' W1 is float64 (10,), not float64 (100, 10)",
    ),
    "a velocity of ints": (
        _array("optimizer/v/b1", lambda a: a.astype(np.int32)),
        "optimizer state 'v' b1 is int32 (10,), not float64 (10,)",
    ),
    "a parameter gone": (
        lambda meta, arrays: arrays.pop("param/W1"),
        "parameter 'W1' has no array",
    ),
    "an array meta.json does not name": (
        lambda meta, arrays: arrays.update({"param/W3": arrays["param/W1"]}),
        "array 'param/W3' is not one meta.json names",
    ),
}


@pytest.mark.parametrize("name", ARRAY_DAMAGES)
def test_damaged_arrays_are_one_line(run: Path, name: str, capsys) -> None:
    """Arrays of the wrong dtype or shape, or that meta.json does not name: one line."""
    change, expected = ARRAY_DAMAGES[name]
    damage(run, change)
    line = refused(run, capsys)
    assert expected in line, line


def test_a_negative_iteration_is_damage(run: Path, capsys) -> None:
    """Iteration -5 resumed from iteration -4, repeating iterations: refused."""
    damage(run, setter("iteration", value=-5))
    assert "iteration is -5, not a whole number >= 0" in refused(run, capsys)


def test_an_iteration_before_its_history_is_damage(run: Path, capsys) -> None:
    """A checkpoint at iteration 3 whose history logged iteration 4: refused."""
    damage(run, setter("iteration", value=3))
    line = refused(run, capsys)
    assert "history[1].iteration is 4; the history's iterations rise from 1 to the " in line
    assert "checkpoint's iteration (3)" in line


def test_a_refusal_leaves_the_run_folder_as_it_was(run: Path, capsys) -> None:
    """Resuming to extend the run (iterations 4 -> 6) from a checkpoint that fits the
    spec's network only in name: spec.yaml and params.npz are as they were."""
    damage(run, _array("param/W1", lambda a: a[:5]))
    before = {name: (run / name).read_bytes() for name in ("spec.yaml", "params.npz")}
    refused(run, capsys)
    assert {name: (run / name).read_bytes() for name in before} == before


def test_the_spec_is_the_truth_for_the_learning_rate(run: Path, capsys) -> None:
    """A checkpoint whose optimizer holds learning_rate 5.0 where spec.yaml says 0.01 is
    refused naming the key (it used to train on at 5.0)."""
    assert "learning_rate: 0.01" in (run / "spec.yaml").read_text()
    damage(run, setter("optimizer", "learning_rate", "value", value=5.0))
    line = refused(run, capsys)
    assert "optimizer.learning_rate is 5.0 in it, 0.01 in the spec" in line


def test_the_library_refuses_another_learning_rate_too(finished: Path) -> None:
    """toolkit.train(spec, resume=...) with a checkpoint holding another learning rate:
    a UsageError naming optimizer.learning_rate; with the spec's own, it goes on."""
    checkpoint = toolkit.load_checkpoint(finished / "checkpoint.npz")
    spec = toolkit.load_spec(finished / "spec.yaml", ["train.iterations=5"])
    checkpoint.optimizer["learning_rate"] = 0.5
    with pytest.raises(toolkit.UsageError, match=r"optimizer\.learning_rate is 0\.5 in it"):
        toolkit.train(spec, resume=checkpoint)
    checkpoint.optimizer["learning_rate"] = 0.01
    assert toolkit.train(spec, resume=checkpoint).history[-1]["iteration"] == 5


def test_a_run_killed_after_its_last_checkpoint_writes_no_damaged_params(run: Path, capsys):
    """A run at its end without params.npz writes the checkpoint's parameters as its
    params.npz on resume: not those of a damaged checkpoint."""
    (run / "params.npz").unlink()
    damage(run, _array("param/W1", lambda a: a[:5]))
    code = main(["train", "--resume", str(run), "-q"])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2 and len(lines) == 1, (code, captured.out, captured.err)
    assert "checkpoint.npz: damaged checkpoint (parameter 'W1' is float64 (5, 10)" in lines[0]
    assert not (run / "params.npz").exists()


@pytest.mark.parametrize("train", ["every 2", ["iterations"]])
def test_a_damaged_spec_in_a_checkpoint_is_one_line(run: Path, train: Any, capsys) -> None:
    """The spec a checkpoint keeps, its train settings text or a list: one line naming
    train (it used to be an AttributeError)."""
    damage(run, setter("spec", "train", value=train))
    code, out, err = resume(run, capsys)
    assert code == 2 and err.splitlines() == [
        "error: train differs from the spec the run was started with; a resumed run must "
        "keep its spec.yaml as it was (start a new run for a new spec)"
    ], (code, out, err)


def test_a_line_break_in_a_checkpoints_spec_is_shown_escaped(run: Path, capsys) -> None:
    """A key holding a line break, in the checkpoint's spec: named on one line, escaped."""
    damage(run, setter("spec", "model", "\n", value=1))
    code, out, err = resume(run, capsys)
    assert code == 2 and err.splitlines() == [
        "error: model.\\n differs from the spec the run was started with; a resumed run "
        "must keep its spec.yaml as it was (start a new run for a new spec)"
    ], (code, out, err)


def test_an_unfinished_runs_checkpoint_without_a_parameter_is_damage(run: Path, capsys):
    """evaluate on a run without params.npz uses its checkpoint's parameters: one that
    lacks W1 (meta.json and array alike) is refused, not evaluated with a fresh W1."""
    (run / "params.npz").unlink()

    def without_w1(meta: Meta, arrays: Arrays) -> None:
        meta["params"].remove("W1")
        del arrays["param/W1"]

    damage(run, without_w1)
    code = main(["evaluate", str(run)])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.splitlines() == [
        f"error: {run / 'checkpoint.npz'}: damaged checkpoint (its parameters are b1, W2, b2, "
        "the spec's network has W1, b1, W2, b2); remove it to start the run again"
    ], (code, captured.out, captured.err)


def test_the_library_refuses_a_checkpoint_without_engine_state(finished: Path) -> None:
    """toolkit.train(spec, resume=...) with a Checkpoint whose engines are gone: a
    damaged checkpoint naming them (what the engines had learned used to start over,
    silently)."""
    checkpoint = toolkit.load_checkpoint(finished / "checkpoint.npz")
    spec = toolkit.load_spec(finished / "spec.yaml", ["train.iterations=5"])
    checkpoint.engines = {}
    with pytest.raises(toolkit.UsageError, match=r"damaged checkpoint \(engines\.interpolation "):
        toolkit.train(spec, resume=checkpoint)


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_format_that_only_equals_1_is_not_1(run: Path, version: Any, capsys) -> None:
    """meta.json's format true or 1.0 (equal to 1 in Python) is not format 1."""
    damage(run, setter("format", value=version))
    code, out, err = resume(run, capsys)
    assert code == 2 and err.splitlines() == [
        f"error: {run / 'checkpoint.npz'}: not a readable checkpoint (ValueError: format "
        f"{version!r}, expected 1); remove it to start the run again"
    ], (code, out, err)
