"""Property-based fuzzing of checkpoints: whatever a checkpoint holds, ``train --resume``
resumes or refuses it in one line, exit 2.

Each example takes the checkpoint of a real short run (two_layer_sigmoid with momentum,
4 iterations) and changes it: its ``meta.json`` at the JSON level (a value replaced by one
of another type or a nearby one, a number moved a little, a key or element dropped, two
values swapped) and its arrays (another dtype or shape, other contents, one dropped,
renamed or made text), then writes it back with ``np.savez`` and runs ``toolkit train
--resume DIR --set train.iterations=6`` in this process through ``toolkit.cli.main``.
Allowed: exit 0 (a valid resume, or a run already at its end) with nothing on stderr, or
exit 2 with a single ``error:`` line; never a traceback, an exit 1 or more lines.

The property runs at CI size with a fixed derandomized search; the same property runs
again with many more examples under ``pytest -m slow``.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.helpers import SPECS, fuzz_settings
from toolkit.cli import main

CI, SLOW = fuzz_settings(ci=50, slow=1000)

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
RUN = ["--set", "optimizer.name=momentum", "--set", "train.log_every=2"]
Path_ = tuple[Any, ...]


def command(*args: str) -> tuple[int, str, str]:
    """``toolkit ARGS``: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of 4 iterations, checkpointed at 4."""
    out = tmp_path_factory.mktemp("fuzz_checkpoint") / "run"
    args = ["train", str(SIGMOID), *RUN, "--set", "train.iterations=4", "--out", str(out), "-q"]
    assert command(*args)[0] == 0
    return out


class Quiet(dict[str, Any]):
    """A checkpoint's meta.json or arrays, shown briefly in Hypothesis's reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} entries>"


def read(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(folder / "checkpoint.npz", allow_pickle=False) as npz:
        arrays = Quiet({key: npz[key] for key in npz.files})
    return Quiet(json.loads(arrays.pop("meta.json").tobytes())), arrays


# -- Changes to meta.json ---------------------------------------------------------------------


def paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every place in a JSON value (of a long list, the first two and the last)."""
    if isinstance(node, dict):
        children: list[Any] = list(node)
    elif isinstance(node, list):
        children = sorted({*range(min(2, len(node))), *range(len(node))[-1:]})
    else:
        return []
    found = []
    for key in children:
        found.append((*prefix, key))
        found.extend(paths(node[key], (*prefix, key)))
    return found


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([10**400, -(10**400)])  # beyond any float
    | st.floats()
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@st.composite
def near(draw: st.DrawFn, value: Any) -> Any:
    """A value like ``value`` but of another type, or nearby."""
    options: list[Any] = [str(value), [value], {"value": value}, None]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        options += [-value, value + 1, value - 1, value * 1e6, float(value), True]
        if isinstance(value, float) and math.isfinite(value):
            options += [int(value)]
    return draw(st.sampled_from(options))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def at(meta: Any, path: Path_) -> Any:
    for key in path:
        meta = meta[key]
    return meta


@st.composite
def meta_change(draw: st.DrawFn, meta: dict[str, Any]) -> str:
    """Change ``meta`` in place; say how (for the statistics)."""
    places = paths(meta)
    how = draw(st.sampled_from(["drop", "replace", "near", "swap", "number"]))
    if how == "number":  # a number nearby, in place of one: often still a valid checkpoint
        places = [path for path in places if _is_number(at(meta, path))]
    path = draw(st.sampled_from(places))
    parent, key = at(meta, path[:-1]), path[-1]
    if how == "number":
        value = parent[key]
        parent[key] = draw(st.sampled_from([value + 1, value - 1, -value, 2 * value, 0, 0.5]))
    elif how == "drop":
        del parent[key]
    elif how == "replace":
        parent[key] = draw(JSON)
    elif how == "near":
        parent[key] = draw(near(parent[key]))
    else:
        other = draw(st.sampled_from(places))
        if other[: len(path)] == path or path[: len(other)] == other:
            return "swap (none)"
        other_parent = at(meta, other[:-1])
        parent[key], other_parent[other[-1]] = other_parent[other[-1]], parent[key]
    return f"meta.json: {how}"


# -- Changes to the arrays --------------------------------------------------------------------

DTYPES = [np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128]


@st.composite
def array_change(draw: st.DrawFn, arrays: dict[str, np.ndarray]) -> str:
    """Change ``arrays`` in place; say how."""
    name = draw(st.sampled_from(sorted(arrays)))
    array = arrays[name]
    how = draw(st.sampled_from(["dtype", "shape", "contents", "drop", "rename", "text"]))
    if how == "dtype" and array.dtype.kind in "biufc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # complex to int and so on
            arrays[name] = array.astype(draw(st.sampled_from(DTYPES)))
    elif how == "shape":
        shapes = [
            array[:1],
            array.reshape(-1),
            array[None],
            np.zeros((0,)),
            array.T,
            array[..., :1],
        ]
        arrays[name] = draw(st.sampled_from(shapes))
    elif how == "contents":
        value = draw(st.floats(-1e3, 1e3) | st.sampled_from([math.nan, math.inf, -math.inf]))
        arrays[name] = np.full_like(array, value) if array.dtype.kind in "fc" else np.zeros(3)
    elif how == "drop":
        del arrays[name]
    elif how == "rename":
        arrays[name + draw(st.sampled_from(["x", "/x"]))] = arrays.pop(name)
    elif how == "text":
        arrays[name] = np.array(["text"])
    else:
        return "arrays: none"
    return f"arrays: {how}"


# -- The property -----------------------------------------------------------------------------


def check_resume(run: Path, data: st.DataObject) -> None:
    meta, arrays = read(run)
    for _ in range(data.draw(st.integers(1, 3), label="changes to meta.json")):
        event(data.draw(meta_change(meta)))
    for _ in range(data.draw(st.integers(0, 2), label="changes to the arrays")):
        if arrays:
            event(data.draw(array_change(arrays)))
    with tempfile.TemporaryDirectory() as home:
        folder = Path(shutil.copytree(run, Path(home) / "run"))
        text = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(folder / "checkpoint.npz", **arrays, **{"meta.json": text})
        code, out, err = command("train", "--resume", str(folder), "--set", "train.iterations=6")
    assert "Traceback" not in err, err
    if code == 2:
        event("refused")
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        return
    event("resumed")
    assert code == 0, (code, out, err)
    assert err == "", err
    assert "done: 6 iterations" in out or "the run already finished" in out, out


def test_the_unchanged_checkpoint_resumes(run: Path) -> None:
    """Read and written back as the property writes it, the checkpoint resumes."""
    meta, arrays = read(run)
    with tempfile.TemporaryDirectory() as home:
        folder = Path(shutil.copytree(run, Path(home) / "run"))
        text = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(folder / "checkpoint.npz", **arrays, **{"meta.json": text})
        code, out, err = command("train", "--resume", str(folder), "--set", "train.iterations=6")
    assert (code, err) == (0, ""), err
    assert "done: 6 iterations (2 after resuming)" in out


@pytest.mark.long
@CI
@given(data=st.data())
def test_any_damaged_checkpoint(run: Path, data: st.DataObject) -> None:
    """A changed checkpoint: resumed (exit 0) or refused in one line (exit 2)."""
    check_resume(run, data)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_any_damaged_checkpoint_long(run: Path, data: st.DataObject) -> None:
    """The same property, with many more examples."""
    check_resume(run, data)
