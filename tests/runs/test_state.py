"""Running state and per-batch draws through checkpoints, run folders, resume, evaluate and
predict: a network that keeps running statistics and draws a mask per batch is saved,
read back and continued exactly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import RunCli, _toolkit_command, write
from tests.stateful_layers import MODULE, write_plugin, write_spec
from toolkit.base.errors import UsageError
from toolkit.registry.manager import get_plugin_manager
from toolkit.runs.build import assemble, call_part
from toolkit.runs.checkpoint import Checkpoint, load_checkpoint, restore
from toolkit.runs.checkpoint_check import KEYS
from toolkit.runs.rundir import RunDirectory
from toolkit.runs.saved import load_run

RATE = 0.3  # the spec's mask rate
TEMPORARY = re.compile(r"\..+\.tmp")


def _spec(folder: Path, **sizes: int | str) -> toolkit.Spec:
    write_plugin(folder)
    path = write_spec(folder, **sizes)  # type: ignore[arg-type]
    return toolkit.load_spec(path, manager=get_plugin_manager([MODULE]))


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as file:
        return {name: file[name] for name in file.files}


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert a[key].tobytes() == b[key].tobytes(), key


def _eval_by_hand(
    params: dict[str, np.ndarray], state: dict[str, np.ndarray], x: np.ndarray
) -> np.ndarray:
    """The evaluation-mode output written out: sigmoid(x W1 + b1), less the running mean,
    times (1 - rate), then softmax(. W2 + b2)."""
    h = 1.0 / (1.0 + np.exp(-(x @ params["W1"] + params["b1"])))
    h = (h - state["running_mean1"]) * (1.0 - RATE)
    a = h @ params["W2"] + params["b2"]
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _cross_entropy(y: np.ndarray, t: np.ndarray) -> float:
    return float(-np.sum(t * np.log(y + 1e-7)) / len(y))


# ------------------------------------------------------------------------ checkpoints


def test_a_checkpoint_holds_the_running_state_and_restores_it(
    plugin_folder: Path, tmp_path: Path
) -> None:
    """capture copies network.state; the file keeps it; restore puts it back."""
    spec = _spec(plugin_folder)
    kept: list[Checkpoint] = []
    result = toolkit.train(spec, on_checkpoint=kept.append)
    final = kept[-1]
    assert set(final.state) == {"running_mean1"}
    _same(final.state, result.network.state)
    assert not np.array_equal(final.state["running_mean1"], 0.0)  # it moved
    RunDirectory(tmp_path).save_checkpoint(final)
    assert "state/running_mean1" in _npz(tmp_path / "checkpoint.npz")
    read = load_checkpoint(tmp_path / "checkpoint.npz")
    _same(read.state, result.network.state)

    fresh = assemble(spec)
    assert np.array_equal(fresh.network.state["running_mean1"], np.zeros(5))
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    restore(read, fresh.network, optimizer, fresh.rng)
    _same(fresh.network.state, result.network.state)
    fresh.network.state["running_mean1"][...] = 7.0  # the checkpoint is not shared
    assert not np.array_equal(read.state["running_mean1"], 7.0)


def test_a_checkpoint_of_a_network_without_state_holds_no_state_entries(tmp_path: Path) -> None:
    """Nothing about state is added where there is none: meta.json has exactly the keys it
    always had, and every array is a parameter's or the optimizer's."""
    spec = toolkit.load_spec(
        Path(toolkit.__file__).parent.parent / "specs" / "two_layer_sigmoid.yaml",
        ["train.iterations=2", "gradient=backprop"],
    )
    kept: list[Checkpoint] = []
    toolkit.train(spec, on_checkpoint=kept.append)
    RunDirectory(tmp_path).save_checkpoint(kept[-1])
    arrays = _npz(tmp_path / "checkpoint.npz")
    meta = json.loads(arrays.pop("meta.json").tobytes())
    assert tuple(meta) == KEYS
    assert all(name.startswith(("param/", "optimizer/")) for name in arrays), list(arrays)


def _saved_checkpoint(spec: toolkit.Spec, folder: Path) -> Path:
    kept: list[Checkpoint] = []
    toolkit.train(spec, on_checkpoint=kept.append)
    RunDirectory(folder).save_checkpoint(kept[-1])
    return folder / "checkpoint.npz"


def _rewrite(path: Path, change: dict[str, np.ndarray | None]) -> None:
    arrays = _npz(path)
    for name, value in change.items():
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value
    np.savez(path, **arrays)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"state/running_mean1": None}, "running state 'running_mean1' has no array"),
        ({"state/running_mean1": np.full(5, np.nan)}, "running state 'running_mean1' holds nan"),
        ({"state/running_mean1": np.arange(5)}, "holds int64 values, not floating point"),
        ({"state/other": np.zeros(5)}, "array 'state/other' is not one meta.json names"),
    ],
)
def test_a_checkpoint_with_damaged_state_is_refused_as_it_is_read(
    plugin_folder: Path, tmp_path: Path, change: dict[str, np.ndarray | None], problem: str
) -> None:
    path = _saved_checkpoint(_spec(plugin_folder), tmp_path)
    _rewrite(path, change)
    with pytest.raises(UsageError, match="damaged checkpoint") as caught:
        load_checkpoint(path)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({}, "its running state is none, the spec's network has running_mean1"),
        ({"running_mean1": np.zeros(4)}, "running state 'running_mean1' is float64 (4,)"),
        ({"running_mean1": np.zeros(5, np.float32)}, "is float32 (5,), the spec's network"),
        ({"running_mean1": np.zeros(5), "running_var1": np.ones(5)}, "running_mean1, running_var1"),
    ],
)
def test_restore_refuses_state_that_is_not_the_networks(
    plugin_folder: Path, state: dict[str, np.ndarray], problem: str
) -> None:
    """State of other names, shapes or dtypes than the network's is a damaged checkpoint,
    refused before anything of the run changes."""
    spec = _spec(plugin_folder, iterations=3)
    kept: list[Checkpoint] = []
    toolkit.train(spec, on_checkpoint=kept.append)
    checkpoint = kept[-1]
    checkpoint.state = state
    fresh = assemble(spec)
    before = {key: value.copy() for key, value in fresh.network.params.items()}
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    with pytest.raises(UsageError, match="damaged checkpoint") as caught:
        restore(checkpoint, fresh.network, optimizer, fresh.rng)
    assert problem in str(caught.value)
    _same(fresh.network.params, before)
    assert np.array_equal(fresh.network.state["running_mean1"], np.zeros(5))


@pytest.mark.parametrize("rng", ["legacy", "default"])
def test_resume_in_process_with_state_and_draws_is_exact(plugin_folder: Path, rng: str) -> None:
    """Resuming from a mid-run checkpoint gives the uninterrupted run's parameters, state
    and history bit for bit (the masks come from the batch generator, which it restores)."""
    spec = _spec(plugin_folder, iterations=12, rng=rng)
    kept: list[Checkpoint] = []
    full = toolkit.train(spec, on_checkpoint=kept.append)
    middle = next(c for c in kept if c.iteration == 5)
    assert not np.array_equal(middle.state["running_mean1"], full.network.state["running_mean1"])
    resumed = toolkit.train(spec, resume=middle)
    _same(resumed.network.params, full.network.params)
    _same(resumed.network.state, full.network.state)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in full.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip


# ------------------------------------------------------------------------ run folders


def _train(run_cli: RunCli, tmp_path: Path, out: Path, *extra: str) -> str:
    write_plugin(tmp_path)
    spec = write_spec(tmp_path)
    done = run_cli("train", str(spec), "-p", MODULE, "--out", str(out), "-q", *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_run_folder_holds_state_npz_and_evaluate_and_predict_use_it(
    run_cli: RunCli, plugin_folder: Path
) -> None:
    """state.npz holds the final running state (listed in the wrote line); evaluate and
    predict give the evaluation-mode outputs written out here from params.npz and it."""
    tmp_path = plugin_folder  # the plugin module is written there, and imported here too
    out = tmp_path / "run"
    stdout = _train(run_cli, tmp_path, out)
    assert str(out / "state.npz") in stdout.splitlines()[-1]
    state, params = _npz(out / "state.npz"), _npz(out / "params.npz")
    assert set(state) == {"running_mean1"} and set(params) == {"W1", "b1", "W2", "b2"}
    checkpoint = load_checkpoint(out / "checkpoint.npz")
    _same(state, checkpoint.state)
    assert not np.array_equal(state["running_mean1"], np.zeros(5))

    data = toolkit.load_data(toolkit.load_spec(out / "spec.yaml", manager=_manager()))
    evaluated = run_cli("evaluate", str(out), "-p", MODULE)
    assert evaluated.returncode == 0, evaluated.stderr
    loss = float(re.search(r"train: loss (\S+)", evaluated.stdout)[1])  # type: ignore[index]
    assert loss == pytest.approx(_cross_entropy(_eval_by_hand(params, state, data.x), data.t))
    # the running state matters: without it (zeros) the loss is another
    fresh = {"running_mean1": np.zeros(5)}
    assert loss != pytest.approx(_cross_entropy(_eval_by_hand(params, fresh, data.x), data.t))

    np.savez(tmp_path / "inputs.npz", x=data.x[:7])
    predicted = run_cli(
        "predict", str(out), "-p", MODULE, "--input", "inputs.npz", "--out", "y.npz"
    )
    assert predicted.returncode == 0, predicted.stderr
    y = _npz(tmp_path / "y.npz")["y"]
    np.testing.assert_allclose(y, _eval_by_hand(params, state, data.x[:7]), rtol=1e-12)

    network = load_run(out, manager=_manager())
    _same(network.state, state)
    np.testing.assert_allclose(network.predict(data.x[:7]), y, rtol=0, atol=0)


def _manager() -> toolkit.ToolkitPluginManager:
    return get_plugin_manager([MODULE])


def test_a_folder_without_state_npz_is_one_line_naming_it(run_cli: RunCli, tmp_path: Path) -> None:
    """Without state.npz, the checkpoint that holds params.npz's parameters gives the
    state; without it too, a one-line error naming state.npz, exit 2."""
    out = tmp_path / "run"
    _train(run_cli, tmp_path, out)
    expected = run_cli("evaluate", str(out), "-p", MODULE).stdout
    (out / "state.npz").unlink()
    assert run_cli("evaluate", str(out), "-p", MODULE).stdout == expected
    (out / "checkpoint.npz").unlink()
    refused = run_cli("evaluate", str(out), "-p", MODULE)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), refused.stderr
    assert str(out / "state.npz") in lines[0] and "missing" in lines[0]


def test_a_users_state_npz_is_never_overwritten(run_cli: RunCli, tmp_path: Path) -> None:
    """A folder holding a state.npz the toolkit did not write is refused for a new run, and
    predict --out never writes over a run's state.npz."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "state.npz").write_bytes(b"mine")
    write_plugin(tmp_path)
    spec = write_spec(tmp_path)
    refused = run_cli("train", str(spec), "-p", MODULE, "--out", str(folder), "-q")
    assert refused.returncode == 2, refused.stderr
    assert (folder / "state.npz").read_bytes() == b"mine"

    out = tmp_path / "run"
    _train(run_cli, tmp_path, out)
    before = (out / "state.npz").read_bytes()
    np.savez(tmp_path / "inputs.npz", x=np.zeros((2, 6)))
    target = str(out / "state.npz")
    clash = run_cli("predict", str(out), "-p", MODULE, "--input", "inputs.npz", "--out", target)
    assert clash.returncode == 2 and "the run's own state.npz" in clash.stderr, clash.stderr
    assert (out / "state.npz").read_bytes() == before


def test_extending_a_run_replaces_its_state_npz(run_cli: RunCli, tmp_path: Path) -> None:
    """A run resumed for more iterations writes the longer run's state.npz: that of a run
    trained that long at once."""
    out, whole = tmp_path / "run", tmp_path / "whole"
    _train(run_cli, tmp_path, out)
    longer = run_cli(
        "train", "--resume", str(out), "-p", MODULE, "--set", "train.iterations=30", "-q"
    )
    assert longer.returncode == 0, longer.stderr
    _train(run_cli, tmp_path, whole, "--set", "train.iterations=30")
    _same(_npz(out / "state.npz"), _npz(whole / "state.npz"))
    _same(_npz(out / "params.npz"), _npz(whole / "params.npz"))


# --------------------------------------------------------------- a real kill, then resume

KILL_SIZES = {"iterations": 40, "samples": 60, "features": 30, "units": 8}


def _popen(args: list[str], cwd: Path, **options: object) -> subprocess.Popen[bytes]:
    environment = {key: value for key, value in os.environ.items() if key != "TOOLKIT_DEBUG"}
    return subprocess.Popen([_toolkit_command(), *args], cwd=cwd, env=environment, **options)  # type: ignore[call-overload, no-any-return]


NORM_SPEC = """
name: dropout_batchnorm
seed: 7
rng: {rng}
data: {{name: random, samples: {samples}, features: {features}, classes: 4}}
model:
  layers:
    - {{units: {units}, init: {{name: uniform, scale: 0.3}}}}
    - {{type: batchnorm, momentum: 0.9}}
    - {{type: activation, activation: relu}}
    - {{type: dropout, rate: 0.2}}
    - {{units: 4, activation: softmax, init: {{name: uniform, scale: 0.3}}}}
loss: cross_entropy
gradient: central_difference_loop
optimizer: {{name: sgd, learning_rate: 0.3}}
train: {{iterations: {iterations}, batch_size: 8, log_every: 5}}
"""
"""Affine, the book's BatchNormalization, ReLU, its Dropout, then affine and softmax."""


def write_norm_spec(folder: Path, *, rng: str = "legacy", **sizes: int) -> Path:
    """NORM_SPEC with ``KILL_SIZES`` (or the given ones) in ``folder``."""
    text = NORM_SPEC.format(rng=rng, **{**KILL_SIZES, **sizes})
    return write(folder / "norm.yaml", text)


def _spec_and_plugins(network: str, folder: Path) -> tuple[Path, list[str]]:
    """A spec of ``KILL_SIZES`` whose network keeps state and draws masks, and the
    options that load its layers: the test's own layer types, or dropout and batchnorm."""
    if network == "dropout_batchnorm":
        return write_norm_spec(folder), []
    write_plugin(folder)
    return write_spec(folder, **KILL_SIZES), ["-p", MODULE]  # type: ignore[arg-type]


@pytest.mark.long
@pytest.mark.parametrize("network", ["test_layers", "dropout_batchnorm"])
def test_sigkill_mid_run_with_state_and_draws_then_resume_is_bit_identical(
    run_cli: RunCli, tmp_path: Path, network: str
) -> None:
    """A run whose network keeps running state and draws a mask per batch, killed with
    SIGKILL and resumed, ends exactly where an uninterrupted run ends: parameters, state
    and metrics, bit for bit."""
    spec, plugins = _spec_and_plugins(network, tmp_path)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    command = ["train", str(spec), *plugins, "--set", "train.checkpoint_every=5", "-q"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    victim = _popen([*command, "--out", str(killed)], tmp_path, **quiet)
    try:
        deadline = time.monotonic() + 300
        reached = 0
        while reached < 10:
            assert victim.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint at iteration 10 in time"
            if (killed / "checkpoint.npz").exists():
                reached = load_checkpoint(killed / "checkpoint.npz").iteration
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL
    checkpoint = load_checkpoint(killed / "checkpoint.npz")
    assert 10 <= checkpoint.iteration < 40, "the run got to its end before it could be killed"
    assert checkpoint.state and all(value.any() for value in checkpoint.state.values())
    names = {path.name for path in killed.iterdir()} - {".toolkit.lock"}
    assert "state.npz" not in names and "params.npz" not in names

    resumed = run_cli("train", "--resume", str(killed), *plugins, "-q")
    assert resumed.returncode == 0, resumed.stderr
    reference = run_cli(*command, "--out", str(whole))
    assert reference.returncode == 0, reference.stderr
    for name in ("params.npz", "state.npz"):
        _same(_npz(killed / name), _npz(whole / name))
    final, uninterrupted = (load_checkpoint(f / "checkpoint.npz") for f in (killed, whole))
    _same(final.state, uninterrupted.state)

    def records(folder: Path) -> list[dict[str, object]]:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert records(killed) == records(whole)
    assert len(records(whole)) == 1 + 40 // 5


def _book_evaluation(
    params: dict[str, np.ndarray], state: dict[str, np.ndarray], x: np.ndarray
) -> np.ndarray:
    """NORM_SPEC's network in evaluation mode, as the book's layers compute it: Affine;
    BatchNormalization with the running statistics, ``(x - mean) / sqrt(var + 10e-7)``;
    Relu; Dropout's ``x * (1 - rate)``; Affine; softmax."""
    a = x @ params["W1"] + params["b1"]
    xn = (a - state["running_mean1"]) / np.sqrt(state["running_var1"] + 10e-7)
    h = np.maximum(params["gamma1"] * xn + params["beta1"], 0.0) * (1.0 - 0.2)
    z = h @ params["W2"] + params["b2"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_evaluate_and_predict_use_batchnorms_running_statistics(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A trained dropout and batchnorm network's run folder: state.npz holds the running
    mean and variance; evaluate and predict give the book's evaluation-mode outputs."""
    spec = write_norm_spec(tmp_path, iterations=15, features=6, units=5, samples=40)
    out = tmp_path / "run"
    done = run_cli("train", str(spec), "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    state, params = _npz(out / "state.npz"), _npz(out / "params.npz")
    assert set(state) == {"running_mean1", "running_var1"}
    assert set(params) == {"W1", "b1", "gamma1", "beta1", "W2", "b2"}
    assert (state["running_var1"] > 0).all()

    data = toolkit.load_data(toolkit.load_spec(out / "spec.yaml"))
    evaluated = run_cli("evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    loss = float(re.search(r"train: loss (\S+)", evaluated.stdout)[1])  # type: ignore[index]
    assert loss == pytest.approx(_cross_entropy(_book_evaluation(params, state, data.x), data.t))
    np.savez(tmp_path / "inputs.npz", x=data.x[:9])
    predicted = run_cli("predict", str(out), "--input", "inputs.npz", "--out", "y.npz")
    assert predicted.returncode == 0, predicted.stderr
    expected = _book_evaluation(params, state, data.x[:9])
    np.testing.assert_allclose(_npz(tmp_path / "y.npz")["y"], expected, rtol=1e-10)
    fresh = {"running_mean1": np.zeros(5), "running_var1": np.zeros(5)}
    assert not np.allclose(_book_evaluation(params, fresh, data.x[:9]), expected)


FIRST_LAYER_DRAWS = """
name: mask_first
seed: 5
data: {name: random, samples: 30, features: 6, classes: 3}
model:
  layers:
    - {type: mask, rate: 0.3}
    - {units: 3, activation: softmax, init: {name: uniform, scale: 0.3}}
loss: cross_entropy
gradient: central_difference_loop
optimizer: {name: sgd, learning_rate: 0.5}
train: {iterations: 5, batch_size: 6, log_every: 5}
"""


def test_predict_takes_a_first_layer_without_parameters(run_cli: RunCli, tmp_path: Path) -> None:
    """The rows predict and evaluate take are the first layer's samples, whether or not
    that layer has parameters: here a mask, scaling by (1 - rate) in evaluation."""
    write_plugin(tmp_path)
    (tmp_path / "first.yaml").write_text(FIRST_LAYER_DRAWS)
    out = tmp_path / "run"
    done = run_cli("train", "first.yaml", "-p", MODULE, "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    x = np.random.default_rng(0).standard_normal((4, 6))
    np.savez(tmp_path / "inputs.npz", x=x)
    predicted = run_cli(
        "predict", str(out), "-p", MODULE, "--input", "inputs.npz", "--out", "y.npz"
    )
    assert predicted.returncode == 0, predicted.stderr
    params = _npz(out / "params.npz")
    a = (x * (1.0 - RATE)) @ params["W1"] + params["b1"]
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(_npz(tmp_path / "y.npz")["y"], e / e.sum(1, keepdims=True))
    np.savez(tmp_path / "wide.npz", x=np.zeros((2, 7)))
    wrong = run_cli("predict", str(out), "-p", MODULE, "--input", "wide.npz")
    assert wrong.returncode == 2
    assert "x has shape (2, 7), the network takes rows of 6 features" in wrong.stderr


def test_a_run_killed_after_its_last_checkpoint_gets_its_state_npz_on_resume(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Killed after the last checkpoint but before params.npz and state.npz: the resume
    writes both from the checkpoint, the very files the run would have written."""
    out = tmp_path / "run"
    _train(run_cli, tmp_path, out)
    params, state = _npz(out / "params.npz"), _npz(out / "state.npz")
    (out / "params.npz").unlink()
    (out / "state.npz").unlink()
    done = run_cli("train", "--resume", str(out), "-p", MODULE, "-q")
    assert done.returncode == 0, done.stderr
    assert "already finished" in done.stdout
    _same(_npz(out / "params.npz"), params)
    _same(_npz(out / "state.npz"), state)
