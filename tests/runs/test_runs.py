"""Runs that stop and go on: checkpoints, resume after a real kill, the run folder, metrics,
weight decay, the divergence stop, evaluate/predict/plot, and the progress bar."""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import toolkit
import toolkit.cli
import toolkit.runs.trainer
from tests.helpers import SPECS, RunCli, _toolkit_command, call_toolkit
from toolkit.runs.build import assemble, call_part
from toolkit.runs.checkpoint import Checkpoint, capture, load_checkpoint, restore
from toolkit.runs.rundir import RunDirectory

try:  # pseudo-terminals: Unix only
    import fcntl
    import pty
    import termios
except ImportError:  # pragma: no cover
    pty = None  # type: ignore[assignment]

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
TEACHER = SPECS / "two_layer_teacher.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEMPORARY = re.compile(r"\..+\.tmp")


# ---------------------------------------------------------------------------- helpers


def _sets(*overrides: str) -> list[str]:
    """``--set A --set B ...`` for the command line."""
    return [word for override in overrides for word in ("--set", override)]


def _environment() -> dict[str, str]:
    """What ``run_cli`` and ``run_process`` give the command: this environment without
    TOOLKIT_DEBUG."""
    return {key: value for key, value in os.environ.items() if key != "TOOLKIT_DEBUG"}


def _popen(args: list[str], cwd: Path, **options: Any) -> subprocess.Popen[Any]:
    """Start the installed ``toolkit`` command the way ``run_process`` runs it."""
    return subprocess.Popen([_toolkit_command(), *args], cwd=cwd, env=_environment(), **options)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    process = _popen(args, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _forward(params: dict[str, np.ndarray], x: np.ndarray, output: str = "softmax") -> np.ndarray:
    """affine -> sigmoid -> affine -> softmax (or identity), written out here."""
    hidden = _sigmoid(x @ params["W1"] + params["b1"])
    out = hidden @ params["W2"] + params["b2"]
    return _softmax(out) if output == "softmax" else out


def _labels(t: np.ndarray) -> np.ndarray:
    return np.argmax(t, axis=1) if t.ndim == 2 else t.astype(int)


def _cross_entropy(y: np.ndarray, t: np.ndarray) -> float:
    labels = _labels(t)
    return float(-np.sum(np.log(y[np.arange(len(y)), labels] + 1e-7)) / len(y))


def _accuracy(y: np.ndarray, t: np.ndarray) -> float:
    return float(np.count_nonzero(np.argmax(y, axis=1) == _labels(t)) / len(y))


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _without_seconds(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in r.items() if key != "seconds"} for r in records]


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as file:
        return {key: file[key] for key in file.files}


def _assert_same_params(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert np.array_equal(actual[key], expected[key]), key


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _loss_lines(stdout: str) -> dict[str, tuple[float, str, int]]:
    """``label: loss L  accuracy A  (N samples)`` lines of toolkit evaluate, by label."""
    found = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"(\w+): loss (\S+)  accuracy (\S+)  \((\d+) samples?\)", line)
        if match:
            found[match[1]] = (float(match[2]), match[3], int(match[4]))
    return found


# ------------------------------------------------------------- 1. a real kill, then resume

KILL_OVERRIDES = (
    "gradient.name=central_difference_loop",
    "train.iterations=40",
    "train.log_every=5",
    "train.checkpoint_every=5",
)


@pytest.mark.long
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_sigkill_mid_run_then_resume_is_bit_identical(run_cli: RunCli, tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves only whole files; resuming it ends exactly where an
    uninterrupted run of the same command ends (parameters and metrics, bit for bit)."""
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    command = ["train", str(SIGMOID), *_sets(*KILL_OVERRIDES), "-q"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    victim = _popen([*command, "--out", str(killed)], tmp_path, **quiet)
    reference = _popen(
        [*command, "--out", str(whole)],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        reached = 0
        while reached < 10:
            assert victim.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint at iteration 10 in time"
            if (killed / "checkpoint.npz").exists():
                reached = load_checkpoint(killed / "checkpoint.npz").iteration
            time.sleep(0.02)
        assert reached < 40, "the run got to its end before it could be killed"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL

    # Right after the kill: each file under its final name is whole; the rest is temporary.
    names = {path.name for path in killed.iterdir()} - {".toolkit.lock"}  # no longer held
    final = {name for name in names if not TEMPORARY.fullmatch(name)}
    assert final == {"spec.yaml", "inputs.json", "metrics.jsonl", "checkpoint.npz"}, names
    expected_spec = toolkit.load_spec(SIGMOID, list(KILL_OVERRIDES)).config
    assert yaml.safe_load((killed / "spec.yaml").read_text()) == expected_spec
    text = (killed / "metrics.jsonl").read_text()
    assert text == "" or text.endswith("\n")
    logged = [json.loads(line) for line in text.splitlines()]
    checkpoint = load_checkpoint(killed / "checkpoint.npz")
    assert 10 <= checkpoint.iteration < 40
    assert checkpoint.iteration % 5 == 0
    assert [r["iteration"] for r in checkpoint.history] == list(
        range(5, checkpoint.iteration + 1, 5)
    )
    # metrics.jsonl starts at iteration 0 (before any update) and is appended to before the
    # checkpoint of the same log point is written: at most one line ahead of it.
    assert logged[0]["iteration"] == 0
    assert logged[1 : len(checkpoint.history) + 1] == checkpoint.history
    assert len(logged) - 1 - len(checkpoint.history) in (0, 1)

    # evaluate on the unfinished run takes the checkpoint's parameters, and says so.
    evaluated = run_cli("evaluate", str(killed))
    assert evaluated.returncode == 0, evaluated.stderr
    notes = [line for line in evaluated.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and f"iteration {checkpoint.iteration}" in notes[0], evaluated.stderr
    data = assemble(toolkit.load_spec(SIGMOID, list(KILL_OVERRIDES))).data
    printed = _loss_lines(evaluated.stdout)
    assert set(printed) == {"train"}  # no held-out split in this spec
    own = _cross_entropy(_forward(checkpoint.params, data.x), data.t)
    assert printed["train"][0] == pytest.approx(own, rel=1e-12)

    planted = killed / ".metrics.jsonl.planted.tmp"
    planted.write_text('{"iteration": 5, "lo')
    resumed = run_cli("train", "--resume", str(killed), "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming two_layer_sigmoid at iteration {checkpoint.iteration}/40" in resumed.stdout
    assert "Traceback" not in resumed.stderr
    assert not list(killed.glob(".*.tmp"))
    assert not (killed / ".toolkit.lock").exists()  # taken over, and removed when done

    _, stderr = reference.communicate(timeout=600)
    assert reference.returncode == 0, stderr
    assert (killed / "params.npz").exists()
    _assert_same_params(_npz(killed / "params.npz"), _npz(whole / "params.npz"))
    after, uninterrupted = _records(killed / "metrics.jsonl"), _records(whole / "metrics.jsonl")
    assert [r["iteration"] for r in after] == [0, *range(5, 41, 5)]
    assert _without_seconds(after) == _without_seconds(uninterrupted)
    seconds = [r["seconds"] for r in after]
    assert all(isinstance(s, float) for s in seconds)
    assert seconds == sorted(seconds)
    assert load_checkpoint(killed / "checkpoint.npz").iteration == 40


# ------------------------------------------------- 2. in-process resume, every kind of state

ESTIMATORS = ("central_difference", "spsa", "backprop")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
RESUME_CASES = [
    (estimator, optimizer, ("legacy", "default")[(i + j) % 2])
    for i, estimator in enumerate(ESTIMATORS)
    for j, optimizer in enumerate(OPTIMIZERS)
]


def _resume_spec(estimator: str, optimizer: str, rng: str) -> toolkit.Spec:
    return toolkit.load_spec(
        SIGMOID,
        [
            f"gradient.name={estimator}",
            f"optimizer.name={optimizer}",
            f"rng={rng}",
            "train.iterations=9",
            "train.log_every=2",
            "train.checkpoint_every=3",
        ],
    )


@pytest.mark.parametrize(("estimator", "optimizer", "rng"), RESUME_CASES)
def test_resume_in_process_is_exact(
    estimator: str, optimizer: str, rng: str, tmp_path: Path
) -> None:
    """Resuming from a mid-run checkpoint (in memory, or saved and loaded) gives the
    uninterrupted run's parameters and history, bit for bit."""
    spec = _resume_spec(estimator, optimizer, rng)
    kept: list[Checkpoint] = []
    full = toolkit.train(spec, on_checkpoint=kept.append)
    assert [c.iteration for c in kept] == [3, 6, 9]
    middle = kept[0]
    assert [r["iteration"] for r in middle.history] == [2]
    assert not np.array_equal(middle.params["W1"], full.network.params["W1"])
    folder = RunDirectory(tmp_path)
    folder.save_checkpoint(middle)  # before it is used: see test_resuming_twice_...
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]
    from_file = load_checkpoint(tmp_path / "checkpoint.npz")

    for start in (middle, from_file):
        resumed = toolkit.train(spec, resume=start)
        _assert_same_params(resumed.network.params, full.network.params)
        assert [r["iteration"] for r in resumed.history] == [2, 4, 6, 8, 9]
        assert _without_seconds(resumed.history) == _without_seconds(full.history)


def test_resuming_twice_from_one_checkpoint_gives_the_same_run() -> None:
    """A Checkpoint is a value: resuming from it must not change it."""
    spec = _resume_spec("backprop", "adam", "default")
    kept: list[Checkpoint] = []
    full = toolkit.train(spec, on_checkpoint=kept.append)
    first = toolkit.train(spec, resume=kept[0])
    _assert_same_params(first.network.params, full.network.params)
    second = toolkit.train(spec, resume=kept[0])
    _assert_same_params(second.network.params, full.network.params)


# ------------------------------------------------------------ 3. what a checkpoint holds


def _adam_by_hand(spec: toolkit.Spec, steps: int) -> tuple[dict[str, np.ndarray], ...]:
    """``steps`` iterations replayed here: the batch draws, backprop gradients, the book's
    Adam written out; returns params, m, v."""
    assembly = assemble(spec)
    network, data, rng = assembly.network, assembly.data, assembly.rng
    settings = spec.config["optimizer"]
    lr, beta1, beta2 = settings["learning_rate"], settings["beta1"], settings["beta2"]
    params = {key: value.copy() for key, value in network.params.items()}
    m = {key: np.zeros_like(value) for key, value in params.items()}
    v = {key: np.zeros_like(value) for key, value in params.items()}
    for step in range(1, steps + 1):
        batch = rng.choice(data.samples, spec.config["train"]["batch_size"])
        network.params.update({key: value.copy() for key, value in params.items()})
        grads = network.gradient(data.x[batch], data.t[batch])
        lr_t = lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
        for key in params:
            m[key] = beta1 * m[key] + (1 - beta1) * grads[key]
            v[key] = beta2 * v[key] + (1 - beta2) * grads[key] ** 2
            params[key] = params[key] - lr_t * m[key] / (np.sqrt(v[key]) + 1e-7)
    return params, m, v


@pytest.mark.parametrize("rng", ["legacy", "default"])
def test_checkpoint_holds_iteration_params_and_optimizer_state(rng: str, tmp_path: Path) -> None:
    """A checkpoint after k iterations holds k, the network's parameters then, and Adam's
    m, v and iter, as a replay written here computes them; the file keeps them all."""
    spec = toolkit.load_spec(
        SIGMOID,
        [
            "gradient=backprop",
            "optimizer.name=adam",
            "optimizer.learning_rate=0.01",
            f"rng={rng}",
            "train.iterations=6",
            "train.log_every=2",
            "train.checkpoint_every=4",
        ],
    )
    live: dict[str, Any] = {}
    kept: list[tuple[Checkpoint, dict[str, np.ndarray]]] = []

    def keep(checkpoint: Checkpoint) -> None:
        network = live["assembly"].network
        kept.append((checkpoint, {key: value.copy() for key, value in network.params.items()}))

    toolkit.train(spec, on_start=lambda a: live.update(assembly=a), on_checkpoint=keep)
    assert [c.iteration for c, _ in kept] == [4, 6]
    checkpoint, params_then = kept[0]
    _assert_same_params(checkpoint.params, params_then)
    shorter = toolkit.train(toolkit.load_spec(spec.config, ["train.iterations=4"]))
    _assert_same_params(checkpoint.params, shorter.network.params)

    params, m, v = _adam_by_hand(spec, 4)
    assert checkpoint.optimizer["iter"] == 4
    for key in params:
        np.testing.assert_allclose(checkpoint.params[key], params[key], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(checkpoint.optimizer["m"][key], m[key], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(checkpoint.optimizer["v"][key], v[key], rtol=1e-10, atol=1e-20)

    RunDirectory(tmp_path).save_checkpoint(checkpoint)
    loaded = load_checkpoint(tmp_path / "checkpoint.npz")
    assert loaded.iteration == 4
    _assert_same_params(loaded.params, checkpoint.params)
    assert loaded.optimizer["iter"] == 4
    assert loaded.optimizer["learning_rate"] == 0.01
    for name in ("m", "v"):
        _assert_same_params(loaded.optimizer[name], checkpoint.optimizer[name])
    assert _without_seconds(loaded.history) == _without_seconds(checkpoint.history)
    assert loaded.seconds == checkpoint.seconds


def _draws(rng: np.random.RandomState | np.random.Generator) -> list[np.ndarray]:
    return [rng.choice(100, 10), rng.standard_normal(5), rng.random(5), rng.choice([-1.0, 1.0], 7)]


@pytest.mark.parametrize("rng", ["legacy", "default"])
def test_checkpoint_restores_both_generators(rng: str, tmp_path: Path) -> None:
    """Generators restored from a saved checkpoint draw what the run's own would have drawn
    next: the batch generator (RandomState or Generator) and the estimators' (spsa's)."""
    spec = toolkit.load_spec(
        SIGMOID,
        [
            "gradient.name=spsa",
            "optimizer.name=momentum",
            f"rng={rng}",
            "train.iterations=5",
            "train.checkpoint_every=3",
        ],
    )
    live: dict[str, Any] = {}
    continuing: dict[int, tuple[Checkpoint, Any, Any]] = {}

    def keep(checkpoint: Checkpoint) -> None:
        assembly = live["assembly"]
        twins = copy.deepcopy(assembly.rng), copy.deepcopy(assembly.network.rng)
        continuing[checkpoint.iteration] = (checkpoint, *twins)

    toolkit.train(spec, on_start=lambda a: live.update(assembly=a), on_checkpoint=keep)
    checkpoint, batch_twin, estimator_twin = continuing[3]
    expected_batch, expected_estimator = _draws(batch_twin), _draws(estimator_twin)

    RunDirectory(tmp_path).save_checkpoint(checkpoint)
    fresh = assemble(spec)
    kind = np.random.RandomState if rng == "legacy" else np.random.Generator
    assert isinstance(fresh.rng, kind)
    untouched = _draws(copy.deepcopy(fresh.rng)), _draws(copy.deepcopy(fresh.network.rng))
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    restore(load_checkpoint(tmp_path / "checkpoint.npz"), fresh.network, optimizer, fresh.rng)
    for got, want, before in zip(
        (_draws(fresh.rng), _draws(fresh.network.rng)),
        (expected_batch, expected_estimator),
        untouched,
        strict=True,
    ):
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
        assert not np.array_equal(got[1], before[1])  # the state did move during the run
    _assert_same_params(fresh.network.params, checkpoint.params)
    _assert_same_params(optimizer.v, checkpoint.optimizer["v"])


def test_checkpoint_keeps_a_legacy_generators_cached_gaussian(tmp_path: Path) -> None:
    """RandomState holds a second normal draw between calls; the checkpoint keeps it."""
    spec = toolkit.load_spec(SIGMOID, ["rng=legacy"])
    assembly = assemble(spec)
    assembly.rng.standard_normal()
    assert assembly.rng.get_state()[3] == 1  # a gaussian is cached
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    RunDirectory(tmp_path).save_checkpoint(
        capture(0, assembly.network, optimizer, assembly.rng, [], 0.0)
    )
    fresh = assemble(spec)
    restore(load_checkpoint(tmp_path / "checkpoint.npz"), fresh.network, optimizer, fresh.rng)
    np.testing.assert_array_equal(fresh.rng.standard_normal(5), assembly.rng.standard_normal(5))


# ------------------------------------------------------------------------ 4. CLI guards

SHORT = ("train.iterations=3", "train.log_every=1")


def test_train_cli_guards_a_run_folder(run_cli: RunCli, tmp_path: Path) -> None:
    """--out on a run is refused untouched; --resume needs a checkpoint and nothing else;
    resuming a finished run does nothing; no traceback anywhere."""
    run = tmp_path / "run"
    started = run_cli("train", str(SIGMOID), *_sets(*SHORT), "--out", str(run), "-q")
    assert started.returncode == 0, started.stderr
    before = _snapshot(run)
    assert set(before) == {
        "spec.yaml",
        "inputs.json",
        "metrics.jsonl",
        "checkpoint.npz",
        "params.npz",
        "curves.png",
    }
    results = []

    again = run_cli("train", str(SIGMOID), *_sets(*SHORT), "--out", str(run))
    results.append(again)
    assert again.returncode == 2
    assert len(again.stderr.splitlines()) == 1 and again.stderr.startswith("error:")
    assert "--resume" in again.stderr
    assert _snapshot(run) == before

    bare = tmp_path / "started"  # a run killed before its first checkpoint
    bare.mkdir()
    shutil.copy(run / "spec.yaml", bare / "spec.yaml")
    (bare / "metrics.jsonl").write_text("")
    for folder in (tmp_path / "missing", bare):
        nothing = run_cli("train", "--resume", str(folder))
        results.append(nothing)
        assert nothing.returncode == 2, nothing.stderr
        assert len(_errors(nothing.stderr)) == 1
        assert "nothing to resume" in nothing.stderr
    assert not (tmp_path / "missing").exists()

    for extra in (
        [str(SIGMOID), "--resume", str(run)],
        ["--resume", str(run), "--set", "train.batch_size=5"],
        ["--resume", str(run), "--out", str(tmp_path / "elsewhere")],
    ):
        mixed = run_cli("train", *extra)
        results.append(mixed)
        assert mixed.returncode == 2, extra
        assert len(_errors(mixed.stderr)) == 1, mixed.stderr
        assert "--resume" in mixed.stderr
    assert _snapshot(run) == before

    finished = run_cli("train", "--resume", str(run))
    results.append(finished)
    assert finished.returncode == 0, finished.stderr
    assert "already finished" in finished.stdout
    assert _snapshot(run) == before
    for result in results:
        assert "Traceback" not in result.stderr


def test_resume_after_the_last_checkpoint_writes_the_params(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A kill between the final checkpoint and params.npz leaves checkpoint.npz at the last
    iteration and no params.npz; resuming must finish the folder, not leave it so."""
    run = tmp_path / "run"
    started = run_cli("train", str(SIGMOID), *_sets(*SHORT), "--out", str(run), "-q")
    assert started.returncode == 0, started.stderr
    (run / "params.npz").unlink()  # the folder as such a kill leaves it
    (run / "curves.png").unlink()
    resumed = run_cli("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert (run / "params.npz").exists()
    _assert_same_params(_npz(run / "params.npz"), load_checkpoint(run / "checkpoint.npz").params)


# ------------------------------------------------------------------ 5. the divergence stop

DIVERGING = (
    "model.layers.1.activation=identity",
    "loss=mean_squared_error",
    "optimizer.learning_rate=10",
    "gradient=backprop",
)
DIVERGED = 1e6
"""The trainer's rule, restated: a loss over a millionfold max(1, the starting loss)."""


def _first_broken_iteration(spec: toolkit.Spec) -> tuple[int, dict[str, np.ndarray], list[float]]:
    """Replay SGD here until the parameters or the batch loss stop being finite, or the
    loss passes a millionfold where it started: that iteration, the last good parameters
    and the losses before it."""
    assembly = assemble(spec)
    network, data, rng = assembly.network, assembly.data, assembly.rng
    lr, batch_size = spec.config["optimizer"]["learning_rate"], spec.config["train"]["batch_size"]
    good = {key: value.copy() for key, value in network.params.items()}
    losses = []
    start = None
    with np.errstate(all="ignore"):
        for iteration in range(1, 1000):
            batch = rng.choice(data.samples, batch_size)
            x, t = data.x[batch], data.t[batch]
            if start is None:
                start = float(np.mean((_forward(network.params, x, "identity") - t) ** 2))
            grads = network.gradient(x, t)
            for key in network.params:
                network.params[key] -= lr * grads[key]
            loss = float(np.mean((_forward(network.params, x, "identity") - t) ** 2))
            finite = all(np.all(np.isfinite(value)) for value in network.params.values())
            if not (finite and np.isfinite(loss)) or loss > DIVERGED * max(1.0, start):
                return iteration, good, losses
            good = {key: value.copy() for key, value in network.params.items()}
            losses.append(loss)
    raise AssertionError("the replay never diverged")


def test_divergence_stops_with_one_error_and_keeps_the_last_good_state(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A run whose loss explodes stops at that iteration with exit 1 and one error line;
    its folder keeps the last good checkpoint and metrics, and no params.npz."""
    every = ("train.checkpoint_every=1", "train.log_every=1")
    spec = toolkit.load_spec(SIGMOID, [*DIVERGING, *every])
    broken, good, losses = _first_broken_iteration(spec)
    assert broken > 2

    out = tmp_path / "run"
    result = run_cli("train", str(SIGMOID), *_sets(*DIVERGING, *every), "--out", str(out), "-q")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert re.search(rf"\biteration {broken}\b", errors[0]), errors[0]
    assert "smaller" in errors[0] and "learning_rate" in errors[0]
    assert not (out / "params.npz").exists()

    checkpoint = load_checkpoint(out / "checkpoint.npz")
    assert checkpoint.iteration == broken - 1
    assert all(np.all(np.isfinite(value)) for value in checkpoint.params.values())
    _assert_same_params(checkpoint.params, good)
    records = _records(out / "metrics.jsonl")
    assert [r["iteration"] for r in records] == list(range(0, broken))
    assert all(np.isfinite(value) for r in records for value in r.values())
    assert [r["loss"] for r in records[1:]] == pytest.approx(losses, rel=1e-9)


def test_the_issues_diverging_run_stops_at_its_first_iteration(run_cli: RunCli) -> None:
    """Identity output, mean_squared_error, learning rate 1e6 (with the spec's own
    central differences): exit 1 at iteration 1, where the loss leaps from about 0.1 to
    about 1e10, one error line, no traceback."""
    result = run_cli(
        "train",
        str(SIGMOID),
        *_sets(
            "model.layers.1.activation=identity",
            "loss=mean_squared_error",
            "optimizer.learning_rate=1e6",
        ),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (error,) = _errors(result.stderr)
    assert error.startswith("error: iteration 1: the loss grew from"), error


# ------------------------------------------------------------------------------ 6. metrics


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short run of the teacher spec (held-out split), written by train --out."""
    folder = tmp_path_factory.mktemp("teacher")
    result = call_toolkit(
        "train",
        str(TEACHER),
        *_sets("train.iterations=40", "train.log_every=10"),
        "--out",
        str(folder / "run"),
        "-q",
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    return folder / "run"


def test_metrics_records_hold_the_batch_and_held_out_metrics(teacher_run: Path) -> None:
    """Each log point has iteration, loss, accuracy, test_loss, test_accuracy and seconds;
    accuracies are fractions of the batch (or of the held-out rows)."""
    records = _records(teacher_run / "metrics.jsonl")
    assert [r["iteration"] for r in records] == [0, 10, 20, 30, 40]
    for record in records:
        assert set(record) == {
            "iteration",
            "loss",
            "accuracy",
            "test_loss",
            "test_accuracy",
            "seconds",
        }
        for key, count in (("accuracy", 32), ("test_accuracy", 200)):
            assert 0 <= record[key] <= 1
            assert record[key] * count == pytest.approx(round(record[key] * count), abs=1e-9)
        assert np.isfinite(record["loss"]) and np.isfinite(record["test_loss"])


def test_metrics_without_a_split_have_no_test_keys() -> None:
    spec = toolkit.load_spec(SIGMOID, ["train.iterations=3", "train.log_every=1"])
    history = toolkit.train(spec).history
    assert len(history) == 3
    for record in history:
        assert set(record) == {"iteration", "loss", "accuracy", "seconds"}
        assert record["accuracy"] * 10 == pytest.approx(round(record["accuracy"] * 10))


def test_metrics_values_match_a_hand_computed_forward_pass() -> None:
    """After one iteration the record's accuracy (and loss) on the replayed batch, and on
    the held-out split, are what a forward pass written here gives with the trained params."""
    spec = toolkit.load_spec(TEACHER, ["train.iterations=1", "train.log_every=1"])
    result = toolkit.train(spec)
    (record,) = result.history
    assembly = assemble(spec)
    data = assembly.data
    batch = assembly.rng.choice(data.samples, spec.config["train"]["batch_size"])
    params = result.network.params
    y = _forward(params, data.x[batch])
    assert record["accuracy"] == _accuracy(y, data.t[batch])
    assert record["loss"] == pytest.approx(_cross_entropy(y, data.t[batch]), rel=1e-12)
    assert data.x_test is not None and data.t_test is not None
    y_test = _forward(params, data.x_test)
    assert record["test_accuracy"] == _accuracy(y_test, data.t_test)
    assert record["test_loss"] == pytest.approx(_cross_entropy(y_test, data.t_test), rel=1e-12)


# ------------------------------------------------------------------------- 7. weight decay


def test_weight_decay_adds_to_weight_gradients_and_the_logged_loss() -> None:
    """One SGD step with weight_decay 0.1: W -= lr * (g + 0.1 W), b -= lr * g; the logged
    loss is the batch loss after the step plus 0.5 * 0.1 * sum(W**2)."""
    overrides = [
        "gradient=backprop",
        "model.layers.0.bias_init=uniform",  # non-zero biases, so decaying them would show
        "model.layers.1.bias_init=uniform",
        "train.iterations=1",
        "train.log_every=1",
    ]
    spec = toolkit.load_spec(SIGMOID, [*overrides, "train.weight_decay=0.1"])
    result = toolkit.train(spec)
    assembly = assemble(spec)
    network, data = assembly.network, assembly.data
    batch = assembly.rng.choice(data.samples, spec.config["train"]["batch_size"])
    x, t = data.x[batch], data.t[batch]
    before = {key: value.copy() for key, value in network.params.items()}
    assert all(np.any(value != 0) for value in before.values())
    g = network.gradient(x, t)
    lr = spec.config["optimizer"]["learning_rate"]
    after = result.network.params
    for key in ("W1", "W2"):
        decayed = before[key] - lr * (g[key] + 0.1 * before[key])
        np.testing.assert_allclose(after[key], decayed, rtol=1e-12, atol=0)
        assert not np.allclose(after[key], before[key] - lr * g[key], rtol=1e-9, atol=0)
    for key in ("b1", "b2"):
        np.testing.assert_allclose(after[key], before[key] - lr * g[key], rtol=1e-12, atol=0)

    network.params.update({key: value.copy() for key, value in after.items()})
    decay = 0.5 * 0.1 * sum(float(np.sum(after[key] ** 2)) for key in ("W1", "W2"))
    (record,) = result.history
    assert record["loss"] == pytest.approx(network.loss(x, t) + decay, rel=1e-12)
    assert record["loss"] == pytest.approx(_cross_entropy(_forward(after, x), t) + decay, rel=1e-12)
    plain = toolkit.train(toolkit.load_spec(SIGMOID, overrides))
    assert not np.allclose(plain.network.params["W1"], after["W1"], rtol=1e-9, atol=0)


# ---------------------------------------------------------------- 8. evaluate, predict, plot


def _teacher_params(run: Path) -> dict[str, np.ndarray]:
    return _npz(run / "params.npz")


def test_evaluate_prints_the_loss_of_the_saved_params(
    run_cli: RunCli, teacher_run: Path, tmp_path: Path
) -> None:
    """evaluate prints the saved network's loss and accuracy on the train and test splits;
    --data evaluates on a file's arrays; a file with other features is refused."""
    result = run_cli("evaluate", str(teacher_run))
    assert result.returncode == 0, result.stderr
    printed = _loss_lines(result.stdout)
    assert set(printed) == {"train", "test"}
    spec = toolkit.load_spec(teacher_run / "spec.yaml")
    assembly = assemble(spec)
    params = _teacher_params(teacher_run)
    assembly.network.params.update(params)
    data = assembly.data
    assert data.x_test is not None and data.t_test is not None
    for label, x, t in (("train", data.x, data.t), ("test", data.x_test, data.t_test)):
        loss, accuracy, samples = printed[label]
        assert loss == assembly.network.loss(x, t)
        y = _forward(params, x)
        assert loss == pytest.approx(_cross_entropy(y, t), rel=1e-12)
        assert accuracy == f"{_accuracy(y, t):.4g}"
        assert samples == len(x)

    x, labels = data.x_test[:50], np.argmax(data.t_test[:50], axis=1)
    np.savez(tmp_path / "other.npz", x=x, t=labels)
    other = run_cli("evaluate", str(teacher_run), "--data", str(tmp_path / "other.npz"))
    assert other.returncode == 0, other.stderr
    printed = _loss_lines(other.stdout)
    assert set(printed) == {"data"}
    y = _forward(params, x)
    assert printed["data"][0] == pytest.approx(_cross_entropy(y, labels), rel=1e-12)
    assert printed["data"][1] == f"{_accuracy(y, labels):.4g}"
    assert printed["data"][2] == 50

    np.savez(tmp_path / "narrow.npz", x=x[:, :19], t=labels)
    narrow = run_cli("evaluate", str(teacher_run), "--data", str(tmp_path / "narrow.npz"))
    assert narrow.returncode == 2
    assert len(narrow.stderr.splitlines()) == 1 and narrow.stderr.startswith("error:")
    assert "20 features" in narrow.stderr and "Traceback" not in narrow.stderr


def test_predict_writes_or_prints_the_argmax_classes(
    run_cli: RunCli, teacher_run: Path, tmp_path: Path
) -> None:
    params = _teacher_params(teacher_run)
    x = np.random.default_rng(7).standard_normal((9, 20))
    np.savez(tmp_path / "inputs.npz", x=x)
    expected = _forward(params, x)

    written = run_cli(
        "predict", str(teacher_run), "--input", "inputs.npz", "--out", str(tmp_path / "out.npz")
    )
    assert written.returncode == 0, written.stderr
    saved = _npz(tmp_path / "out.npz")
    np.testing.assert_array_equal(saved["classes"], np.argmax(expected, axis=1))
    np.testing.assert_allclose(saved["y"], expected, rtol=1e-12)
    assert len(set(saved["classes"].tolist())) > 1  # not one class for everything

    printed = run_cli("predict", str(teacher_run), "--input", "inputs.npz")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == [str(c) for c in np.argmax(expected, axis=1)]

    np.savez(tmp_path / "unnamed.npz", inputs=x, labels=np.zeros(9))
    missing = run_cli("predict", str(teacher_run), "--input", "unnamed.npz")
    assert missing.returncode == 2
    assert len(missing.stderr.splitlines()) == 1 and missing.stderr.startswith("error:")
    assert "inputs" in missing.stderr and "labels" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_train_draws_curves_and_plot_redraws_them(
    run_cli: RunCli, teacher_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(teacher_run, run)
    assert (run / "curves.png").read_bytes().startswith(PNG_SIGNATURE)  # train --out drew it
    (run / "curves.png").unlink()
    result = run_cli("plot", str(run))
    assert result.returncode == 0, result.stderr
    assert (run / "curves.png").read_bytes().startswith(PNG_SIGNATURE)
    elsewhere = run_cli("plot", str(run), "--out", str(tmp_path / "other.png"))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert (tmp_path / "other.png").read_bytes().startswith(PNG_SIGNATURE)


# ------------------------------------------------------------------------ 9. progress bar

PROGRESS = ("train.iterations=20", "train.log_every=5")


def _run_with_terminal_stderr(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run toolkit with standard error on a pseudo-terminal (100 columns), standard output
    on a pipe; returns the exit code, stdout and what the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = _popen(args, cwd, stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    received = bytearray()
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last writer closed it
                break
            if not chunk:
                break
            received += chunk
        stdout, _ = process.communicate(timeout=60)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout.decode(), received.decode(errors="replace")


def _iteration_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("iteration")]


@pytest.mark.skipif(pty is None, reason="no pseudo-terminals on this platform")
def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    """A bar on standard error when it is a terminal (log lines still plain on standard
    output); no bar on a pipe; -q drops the bar and the log lines but keeps done:."""
    args = ["train", str(SIGMOID), *_sets(*PROGRESS)]
    code, stdout, terminal = _run_with_terminal_stderr(args, tmp_path)
    assert code == 0, terminal
    assert "20/20" in terminal and ("it/s" in terminal or "it]" in terminal), repr(terminal)
    assert "%|" in terminal
    piped = _run(args, tmp_path)
    assert piped.returncode == 0, piped.stderr
    lines = _iteration_lines(piped.stdout)
    assert [line.split()[1] for line in lines] == ["5/20", "10/20", "15/20", "20/20"]
    assert _iteration_lines(stdout) == lines
    assert "\r" not in stdout and "\x1b" not in stdout
    assert piped.stderr == ""

    code, quiet_stdout, quiet_terminal = _run_with_terminal_stderr([*args, "-q"], tmp_path)
    assert code == 0, quiet_terminal
    assert _iteration_lines(quiet_stdout) == []
    assert re.search(r"^done: 20 iterations", quiet_stdout, re.MULTILINE), quiet_stdout
    assert "it/s" not in quiet_terminal and "20/20" not in quiet_terminal


# ------------------------------------------------------- 10. bad run folders and files


def _short_run(run_cli: RunCli, out: Path, *sets: str) -> None:
    result = run_cli(
        "train",
        str(SIGMOID),
        *_sets("train.iterations=4", "train.log_every=2", *sets),
        "--out",
        str(out),
        "-q",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(
            lambda data: data[:100] + bytes([data[100] ^ 0xFF]) + data[101:], id="flipped"
        ),
    ],
)
def test_a_damaged_checkpoint_is_one_error_line(run_cli: RunCli, tmp_path: Path, damage) -> None:
    """train --resume on a checkpoint cut short or corrupted: exit 2, one line naming the
    file, no traceback."""
    out = tmp_path / "run"
    _short_run(run_cli, out)
    checkpoint = out / "checkpoint.npz"
    checkpoint.write_bytes(damage(checkpoint.read_bytes()))
    (out / "params.npz").unlink()
    result = run_cli("train", "--resume", str(out))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    (error,) = _errors(result.stderr)
    assert "checkpoint.npz" in error and "not a readable checkpoint" in error


def test_an_edited_spec_is_refused_naming_the_key(run_cli: RunCli, tmp_path: Path) -> None:
    """A spec.yaml changed after the run started (another seed) is refused on resume: the
    checkpoint belongs to the spec it was made with."""
    out = tmp_path / "run"
    result = run_cli(
        "train",
        str(SIGMOID),
        *_sets("train.iterations=40", "train.log_every=2"),
        "--out",
        str(out),
        "-q",
    )
    assert result.returncode == 0
    checkpoint = load_checkpoint(out / "checkpoint.npz")
    (out / "params.npz").unlink()
    spec_file = out / "spec.yaml"
    spec_file.write_text(spec_file.read_text().replace("seed: 42", "seed: 7"))
    result = run_cli("train", "--resume", str(out))
    assert result.returncode == 2
    (error,) = _errors(result.stderr)
    assert error.startswith("error: seed differs from the spec the run was started with"), error
    assert checkpoint.spec["seed"] == 42


def test_a_failed_write_is_a_run_error_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up while a file is written: RunError naming the file; the file
    under its name is the old one, whole, and no temporary file is left."""
    from toolkit.base.errors import RunError
    from toolkit.runs.rundir import write_atomically

    target = tmp_path / "metrics.jsonl"
    target.write_text("old\n")

    def full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunError, match=r"metrics\.jsonl: cannot write \(No space left on device\)"):
        write_atomically(target, lambda file: file.write(b"new\n"))
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]


def test_an_optimizer_state_that_cannot_be_saved_fails_at_the_start() -> None:
    """An optimizer keeping Python objects in an array is refused before any iteration
    (a checkpoint would otherwise pickle them, or fail mid-run)."""

    class Holding:
        def __init__(self) -> None:
            self.things = np.array([object()], dtype=object)

        def update(self, params: dict, grads: dict) -> None:
            raise AssertionError("never reached")

    network = toolkit.build(SIGMOID)
    with pytest.raises(toolkit.RunError, match="attribute 'things'"):
        capture(0, network, Holding(), np.random.default_rng(0), [], 0.0)


def test_evaluate_and_predict_refuse_bad_files_in_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    """Targets outside the network's classes, an .npy instead of .npz, --out naming a
    folder: exit 2, one line each."""
    out = tmp_path / "run"
    _short_run(run_cli, out)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "labels.npz", x=rng.standard_normal((4, 100)), t=np.array([0, 1, 2, 70]))
    np.save(tmp_path / "plain.npy", rng.standard_normal((4, 100)))
    np.savez(tmp_path / "inputs.npz", x=rng.standard_normal((4, 100)))
    (tmp_path / "folder.npz").mkdir()
    results = [
        run_cli("evaluate", str(out), "--data", str(tmp_path / "labels.npz")),
        run_cli("predict", str(out), "--input", str(tmp_path / "plain.npy")),
        run_cli(
            "predict",
            str(out),
            "--input",
            str(tmp_path / "inputs.npz"),
            "--out",
            str(tmp_path / "folder.npz"),
        ),
    ]
    for result in results:
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(_errors(result.stderr)) == 1, result.stderr


# ------------------------------------------ 11. metrics appended, checkpoints by the clock

APPEND = ("train.iterations=40", "train.log_every=5", "train.checkpoint_every=10")


def _cli(*args: str) -> int:
    """``toolkit ARGS`` in this process (its output is left to capsys)."""
    return toolkit.cli.main(list(args))


def test_metrics_are_appended_not_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run at log_every 1 replaces metrics.jsonl once (when the folder is made), then only
    appends to it, and saves few checkpoints; the file ends up with every log point."""
    replaced: list[str] = []
    real_replace = os.replace

    def spy(source: Any, target: Any) -> None:
        replaced.append(Path(target).name)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    out = tmp_path / "run"
    sets = _sets("train.iterations=60", "train.log_every=1")
    assert _cli("train", str(SIGMOID), *sets, "--out", str(out), "-q") == 0
    assert replaced.count("metrics.jsonl") == 1
    assert replaced.count("checkpoint.npz") <= 3  # the first log point, maybe one timed, the end
    assert [r["iteration"] for r in _records(out / "metrics.jsonl")] == list(range(61))


def _checkpoint_iterations(
    monkeypatch: pytest.MonkeyPatch, seconds: float, *overrides: str
) -> list[int]:
    monkeypatch.setattr(toolkit.runs.trainer, "CHECKPOINT_SECONDS", seconds)
    spec = toolkit.load_spec(SIGMOID, ["train.iterations=23", "train.log_every=5", *overrides])
    kept: list[Checkpoint] = []
    toolkit.train(spec, on_checkpoint=kept.append)
    return [checkpoint.iteration for checkpoint in kept]


def test_checkpoint_cadence_follows_the_clock_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset checkpoint_every: the first log point, then log points once CHECKPOINT_SECONDS
    have passed, and the end; set: every checkpoint_every iterations and the end."""
    assert _checkpoint_iterations(monkeypatch, math.inf) == [5, 23]
    assert _checkpoint_iterations(monkeypatch, 0.0) == [5, 10, 15, 20, 23]
    every = "train.checkpoint_every=4"
    assert _checkpoint_iterations(monkeypatch, math.inf, every) == [4, 8, 12, 16, 20, 23]
    assert "checkpoint_every" not in toolkit.load_spec(SIGMOID).config["train"]


def _folder_at(tmp_path: Path, name: str, iteration: int) -> tuple[Path, Path]:
    """A finished run folder turned back into one killed after ``iteration``'s checkpoint
    but with all its metrics lines still there; and an uninterrupted run's folder."""
    whole, killed = tmp_path / "whole", tmp_path / name
    if not whole.exists():
        assert _cli("train", str(SIGMOID), *_sets(*APPEND), "--out", str(whole), "-q") == 0
    shutil.copytree(whole, killed)
    kept: list[Checkpoint] = []
    toolkit.train(toolkit.load_spec(SIGMOID, list(APPEND)), on_checkpoint=kept.append)
    (middle,) = [checkpoint for checkpoint in kept if checkpoint.iteration == iteration]
    RunDirectory(killed).save_checkpoint(middle)
    (killed / "params.npz").unlink()
    records = _records(killed / "metrics.jsonl")  # up to the checkpoint: as it wrote them
    kept = [records[0], *middle.history, *(r for r in records if r["iteration"] > iteration)]
    (killed / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    return killed, whole


def test_resume_trims_the_metrics_logged_after_the_checkpoint(tmp_path: Path) -> None:
    """Lines after the checkpoint's iteration (and a half-written one) are cut on resume,
    so the resumed folder's metrics and parameters are the uninterrupted run's."""
    killed, whole = _folder_at(tmp_path, "killed", 20)
    with open(killed / "metrics.jsonl", "a") as file:
        file.write('{"iteration": 45, "lo')
    before = _records_prefix(killed)
    assert [r["iteration"] for r in before] == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    assert _cli("train", "--resume", str(killed), "-q") == 0
    after = _records(killed / "metrics.jsonl")
    assert [r["iteration"] for r in after] == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    assert _without_seconds(after) == _without_seconds(_records(whole / "metrics.jsonl"))
    assert after[:5] == before[:5]  # kept as they were, seconds too
    assert after[5:] != before[5:]  # written again by the resumed run (other seconds)
    _assert_same_params(_npz(killed / "params.npz"), _npz(whole / "params.npz"))


def _records_prefix(folder: Path) -> list[dict[str, Any]]:
    """The whole lines of a metrics file."""
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()[:-1]]


def test_resume_rebuilds_metrics_that_lost_lines(tmp_path: Path) -> None:
    """A metrics file missing lines before the checkpoint is written anew from the
    checkpoint's history (keeping iteration 0), and the run still ends as it should."""
    killed, whole = _folder_at(tmp_path, "short", 30)
    lines = (killed / "metrics.jsonl").read_text().splitlines(keepends=True)
    (killed / "metrics.jsonl").write_text(lines[0] + lines[2])  # 0 and 10: 5 is lost
    assert _cli("train", "--resume", str(killed), "-q") == 0
    after = _records(killed / "metrics.jsonl")
    assert _without_seconds(after) == _without_seconds(_records(whole / "metrics.jsonl"))
    _assert_same_params(_npz(killed / "params.npz"), _npz(whole / "params.npz"))


def test_the_starting_point_is_iteration_0_before_any_update() -> None:
    """The first record is the loss and accuracy of the initial parameters on the first
    batch, computed here by hand; the log points after it are unchanged."""
    spec = toolkit.load_spec(SIGMOID, ["train.iterations=10", "train.log_every=5"])
    logged: list[dict[str, Any]] = []
    result = toolkit.train(spec, on_log=logged.append)
    assert [r["iteration"] for r in logged] == [0, 5, 10]
    assert [r["iteration"] for r in result.history] == [5, 10]
    assert result.start == logged[0]
    assembly = assemble(spec)
    params = {key: value.copy() for key, value in assembly.network.params.items()}
    batch = assembly.rng.choice(assembly.data.samples, spec.config["train"]["batch_size"])
    x, t = assembly.data.x[batch], assembly.data.t[batch]
    y = _forward(params, x)
    assert logged[0]["loss"] == pytest.approx(_cross_entropy(y, t), rel=1e-12)
    assert logged[0]["accuracy"] == _accuracy(y, t)


# ---------------------------------------------------- 14. extending a run on resume

EXTEND = ("train.log_every=30", "gradient.name=central_difference")


def test_extending_a_finished_run_matches_a_longer_run(tmp_path: Path) -> None:
    """A run of 100 iterations resumed with --set train.iterations=200 ends with the
    parameters of a straight 200-iteration run, bit for bit; its metrics are that run's
    plus the record at iteration 100, where the shorter run ended."""
    short, straight = tmp_path / "short", tmp_path / "straight"
    first = _sets(*EXTEND, "train.iterations=100")
    assert _cli("train", str(SIGMOID), *first, "--out", str(short), "-q") == 0
    assert _cli("train", "--resume", str(short), *_sets("train.iterations=200"), "-q") == 0
    longer = _sets(*EXTEND, "train.iterations=200")
    assert _cli("train", str(SIGMOID), *longer, "--out", str(straight), "-q") == 0

    _assert_same_params(_npz(short / "params.npz"), _npz(straight / "params.npz"))
    extended = _without_seconds(_records(short / "metrics.jsonl"))
    expected = _without_seconds(_records(straight / "metrics.jsonl"))
    assert [r["iteration"] for r in extended] == [0, 30, 60, 90, 100, 120, 150, 180, 200]
    assert [r for r in extended if r["iteration"] != 100] == expected
    assert yaml.safe_load((short / "spec.yaml").read_text()) == yaml.safe_load(
        (straight / "spec.yaml").read_text()
    )
    assert load_checkpoint(short / "checkpoint.npz").iteration == 200


def test_train_from_python_extends_a_run_with_a_longer_spec() -> None:
    """toolkit.train(longer spec, resume=the shorter run's last checkpoint) ends as the
    longer run does; a spec shorter than the checkpoint's iteration is refused."""
    short = toolkit.load_spec(SIGMOID, [*EXTEND, "train.iterations=40"])
    longer = toolkit.load_spec(SIGMOID, [*EXTEND, "train.iterations=70"])
    kept: list[Checkpoint] = []
    toolkit.train(short, on_checkpoint=kept.append)
    extended = toolkit.train(longer, resume=kept[-1])
    straight = toolkit.train(longer)
    _assert_same_params(extended.network.params, straight.network.params)
    assert [r["iteration"] for r in extended.history] == [30, 40, 60, 70]
    shorter = toolkit.load_spec(SIGMOID, [*EXTEND, "train.iterations=39"])
    with pytest.raises(toolkit.UsageError, match="already at iteration 40"):
        toolkit.train(shorter, resume=kept[-1])


def test_resume_refuses_other_settings_and_a_shorter_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only train.iterations may change on resume, and not below the checkpoint's
    iteration: one error line, exit 2, the folder untouched."""
    run = tmp_path / "run"
    assert _cli("train", str(SIGMOID), *_sets(*SHORT), "--out", str(run), "-q") == 0
    before = _snapshot(run)
    capsys.readouterr()
    for override, named in (("seed=3", "seed"), ("train.iterations=2", "at least")):
        assert _cli("train", "--resume", str(run), "--set", override) == 2
        (error,) = _errors(capsys.readouterr().err)
        assert named in error, error
    assert _snapshot(run) == before


# ------------------------------------------------- 13, 18. what the command prints


class _Terminal(io.StringIO):
    """Standard output and standard error of one terminal, in the order written."""

    def isatty(self) -> bool:
        return True


def test_the_header_line_comes_before_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the header is printed before tqdm draws its bar, so the bar cannot
    write over it."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    assert _cli("train", str(SIGMOID), *_sets(*PROGRESS)) == 0
    text = terminal.getvalue()
    assert text.startswith("training two_layer_sigmoid: 2 layers, 20 iterations\n"), repr(text)
    assert "%|" in text  # the bar was drawn, after it


def test_without_matplotlib_train_says_once_how_to_get_curves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No matplotlib: the run and its folder as usual, no curves.png, and one note on
    standard error with the install command."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "run"
    assert _cli("train", str(SIGMOID), *_sets(*PROGRESS), "--out", str(out), "-q") == 0
    stderr = capsys.readouterr().err
    assert stderr.count("pip install 'layer-toolkit[plot]'") == 1, stderr
    (note,) = stderr.splitlines()
    assert note.startswith("note: no curves.png") and f"toolkit plot {out}" in note
    assert not (out / "curves.png").exists() and (out / "params.npz").exists()


# ------------------------------------------- 11. a stop request saves a checkpoint first


def test_a_stop_request_checkpoints_the_iteration_it_stops_at() -> None:
    """``stop`` saying yes after iteration 7 (not a log point): a checkpoint at 7, then
    KeyboardInterrupt; resuming from it ends as the uninterrupted run does."""
    spec = toolkit.load_spec(SIGMOID, ["train.iterations=20", "train.log_every=5"])
    full = toolkit.train(spec)
    kept: list[Checkpoint] = []
    done: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        toolkit.train(
            spec, on_checkpoint=kept.append, on_iteration=done.append, stop=lambda: len(done) >= 7
        )
    assert [checkpoint.iteration for checkpoint in kept] == [5, 7]
    resumed = toolkit.train(spec, resume=kept[-1])
    _assert_same_params(resumed.network.params, full.network.params)
    assert _without_seconds(resumed.history) == _without_seconds(full.history)


STOPPED = ("gradient.name=central_difference_loop", "train.iterations=40", "train.log_every=5")


@pytest.mark.long
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_with_a_checkpoint_where_it_was(
    signal_name: str, run_cli: RunCli, tmp_path: Path
) -> None:
    """Ctrl-C (or SIGTERM) mid-run: exit 130 with the resume hint, a checkpoint at least
    as far as the last log line (nothing logged is lost), and a resume that ends with the
    uninterrupted run's parameters and metrics."""
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    command = ["train", str(SIGMOID), *_sets(*STOPPED), "-q"]
    victim = _popen(
        [*command, "--out", str(stopped)],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while (
            not (stopped / "metrics.jsonl").exists()
            or len((stopped / "metrics.jsonl").read_text().splitlines()) < 4
        ):  # iteration 0, 5, 10, 15: well past the first checkpoint (at 5)
            assert victim.poll() is None, "the run ended before it could be stopped"
            assert time.monotonic() < deadline, "no log point at iteration 15 in time"
            time.sleep(0.02)
        victim.send_signal(getattr(signal, signal_name))
        _, stderr = victim.communicate(timeout=120)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == 130, stderr
    assert "interrupted" in stderr and f"--resume {stopped}" in stderr
    assert "Traceback" not in stderr
    checkpoint = load_checkpoint(stopped / "checkpoint.npz")
    logged = _records(stopped / "metrics.jsonl")
    assert 15 <= logged[-1]["iteration"] <= checkpoint.iteration < 40
    assert not (stopped / "params.npz").exists()

    assert run_cli("train", "--resume", str(stopped), "-q").returncode == 0
    assert run_cli(*command, "--out", str(whole)).returncode == 0
    _assert_same_params(_npz(stopped / "params.npz"), _npz(whole / "params.npz"))
    after, uninterrupted = _records(stopped / "metrics.jsonl"), _records(whole / "metrics.jsonl")
    assert _without_seconds(after) == _without_seconds(uninterrupted)
