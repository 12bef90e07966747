"""Property-based fuzzing of the array files commands read: whatever bytes come in, a valid
result or one line naming the file, exit 2.

The bytes are a valid ``.npz`` with bytes changed, cut or added; zips of hand-made members
(any ``.npy`` header: shapes huge, negative or not shapes at all, every dtype, data short
or long, or no ``.npy`` at all); or any bytes. They are given as a spec's ``data.path``
(``toolkit validate`` and ``toolkit train``) and as ``toolkit evaluate --data`` and
``toolkit predict --input``, each command run in this process through
``toolkit.cli.main``. Allowed: exit 0 with the command's usual output, or exit 2 with a
single ``error:`` line that names the file; never a traceback, another exit code or more
lines.

The properties run at CI size with a fixed derandomized search; the same properties run
again with many more examples under ``pytest -m slow``.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zipfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.helpers import fuzz_settings, write
from toolkit.cli import main

CI, SLOW = fuzz_settings(ci=60, slow=1000)
pytestmark = pytest.mark.long  # seconds each

ROWS, FEATURES, CLASSES = 6, 3, 3
_RNG = np.random.default_rng(5)
X = _RNG.standard_normal((ROWS, FEATURES))
T = np.arange(ROWS) % CLASSES


def _saved(save: Callable[..., None], **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    save(buffer, **arrays)
    return buffer.getvalue()


BASES = [
    _saved(np.savez, x=X, t=T),
    _saved(np.savez_compressed, x=X, t=T),
    _saved(np.savez, x=X, t=np.eye(CLASSES)[T], x_test=X[:2], t_test=np.eye(CLASSES)[T[:2]]),
]
"""Valid files: stored, deflated, and with a held-out split."""


# -- Strategies: changed valid files, hand-made members, any bytes ---------------------------


@st.composite
def changed(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes replaced, then perhaps cut short or lengthened."""
    data = bytearray(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=8))


DESCRS = [
    "<f8",
    ">f4",
    "<f2",
    "|b1",
    "<i8",
    "|u1",
    "<c16",
    "<U3",
    "|S2",
    "|O",
    "<M8[D]",
    "|V8",
    [("a", "<f8")],
    ("<f8", (2,)),
    "no such type",
]
LENGTHS = st.one_of(st.integers(0, 8), st.sampled_from([2**31, 10**12, 2**62, -1]))
SHAPES = st.one_of(
    st.lists(LENGTHS, max_size=3).map(tuple),
    st.sampled_from([[3], "3", None, 3.0, (1.5,)]),
)


@st.composite
def member(draw: st.DrawFn) -> bytes:
    """An .npy member with any header (a valid one most often) and data of any length."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=64))
    descr = draw(st.sampled_from(DESCRS))
    shape = draw(SHAPES)
    header = repr({"descr": descr, "fortran_order": draw(st.booleans()), "shape": shape}).encode(
        "latin1"
    )
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    try:
        size = int(np.prod(shape)) * np.dtype(descr).itemsize  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        size = 0
    size = size if 0 <= size <= 4096 else 0
    payload = bytes(_RNG.integers(0, 256, size, dtype=np.uint8)) if descr != "|O" else b""
    cut = draw(st.sampled_from(["exact", "short", "long"]))
    if cut == "short":
        payload = payload[: draw(st.integers(0, max(0, len(payload) - 1)))]
    elif cut == "long":
        payload += draw(st.binary(min_size=1, max_size=16))
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


@st.composite
def made(draw: st.DrawFn) -> bytes:
    """A zip of hand-made members under the names the commands look for, and others."""
    names = st.sampled_from(["x.npy", "t.npy", "x_test.npy", "t_test.npy", "x", "junk.npy"])
    members = draw(st.dictionaries(names, member(), min_size=1, max_size=4))
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


FILES = st.one_of(
    changed(), made(), st.binary(max_size=200), st.binary(max_size=60).map(b"PK\x03\x04".__add__)
)


# -- The commands, in this process -----------------------------------------------------------


def command(*args: str) -> tuple[int, str, str]:
    """``toolkit ARGS``: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def check(result: tuple[int, str, str], path: Path, done: re.Pattern[str]) -> None:
    """Exit 0 with each output line matching ``done``, or exit 2 with one line naming ``path``."""
    code, out, err = result
    assert "Traceback" not in err, err
    if code == 2:
        event("refused")
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert str(path) in lines[0], lines[0]
        return
    event("accepted")
    assert code == 0, (code, out, err)
    assert all(done.fullmatch(line) for line in out.splitlines()), out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each example's file is written (module-scoped: examples share it)."""
    return tmp_path_factory.mktemp("fuzz_arrays")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run on 3 features and 3 classes (its data in a folder of its own)."""
    home = tmp_path_factory.mktemp("fuzz_run")
    np.savez(home / "data.npz", x=X, t=T)
    spec = spec_for(home, "data.npz")
    out = home / "run"
    assert command("train", str(spec), "--out", str(out), "-q")[0] == 0
    return out


def spec_for(folder: Path, path: str) -> Path:
    """A spec in ``folder`` training on ``path`` for two iterations."""
    text = (
        f"seed: 3\ndata: {{name: npz, path: {path}}}\n"
        f"model:\n  layers:\n    - {{units: {CLASSES}, activation: softmax}}\n"
        "train: {iterations: 2, batch_size: 2, log_every: 1}\n"
    )
    return write(folder / "spec.yaml", text)


ANY_LINE = re.compile(r".*")
SPLITS = re.compile(r"(data|test): loss \S+  accuracy \S+  \(\d+ samples?\)")
CLASS = re.compile(r"\d+")


def check_data_path(folder: Path, data: bytes, verb: str) -> None:
    path = folder / "data.npz"
    path.write_bytes(data)
    spec = spec_for(folder, "data.npz")
    args = ("validate", str(spec)) if verb == "validate" else ("train", str(spec), "-q")
    check(command(*args), path, ANY_LINE)


def check_evaluate(folder: Path, run: Path, data: bytes) -> None:
    path = folder / "evaluate.npz"
    path.write_bytes(data)
    check(command("evaluate", str(run), "--data", str(path)), path, SPLITS)


def check_predict(folder: Path, run: Path, data: bytes) -> None:
    path = folder / "predict.npz"
    path.write_bytes(data)
    check(command("predict", str(run), "--input", str(path)), path, CLASS)


# -- The properties --------------------------------------------------------------------------


def test_the_valid_files_are_accepted(folder: Path, run: Path) -> None:
    """Each unchanged base file is read and used by every command (exit 0)."""
    for data in BASES:
        path = folder / "valid.npz"
        path.write_bytes(data)
        assert command("validate", str(spec_for(folder, "valid.npz")))[0] == 0
        assert command("evaluate", str(run), "--data", str(path))[0] == 0
        code, out, _ = command("predict", str(run), "--input", str(path))
        assert code == 0 and len(out.split()) == ROWS


@CI
@given(data=FILES)
def test_data_path_validate(folder: Path, data: bytes) -> None:
    """data.path of any bytes: validate exits 0 or says what is wrong with the file."""
    check_data_path(folder, data, "validate")


@CI
@given(data=FILES)
def test_data_path_train(folder: Path, data: bytes) -> None:
    """data.path of any bytes: train runs, or says what is wrong with the file."""
    check_data_path(folder, data, "train")


@CI
@given(data=FILES)
def test_evaluate_data(folder: Path, run: Path, data: bytes) -> None:
    """evaluate --data of any bytes: loss lines, or what is wrong with the file."""
    check_evaluate(folder, run, data)


@CI
@given(data=FILES)
def test_predict_input(folder: Path, run: Path, data: bytes) -> None:
    """predict --input of any bytes: one class per line, or what is wrong with the file."""
    check_predict(folder, run, data)


@pytest.mark.slow
@SLOW
@given(data=FILES, target=st.sampled_from(["validate", "train", "evaluate", "predict"]))
def test_any_file_anywhere_long(folder: Path, run: Path, data: bytes, target: str) -> None:
    if target in ("validate", "train"):
        check_data_path(folder, data, target)
    else:
        (check_evaluate if target == "evaluate" else check_predict)(folder, run, data)
