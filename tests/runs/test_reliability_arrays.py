"""Array files read within bounds: every .npz the toolkit reads (``evaluate --data``,
``predict --input``, a run's ``params.npz`` and ``checkpoint.npz``, a spec's ``data.path``)
is a regular file, its members are .npy arrays of numbers whose declared size is within
the cap, and no more than that is ever inflated; anything else is one line, exit 2."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import toolkit
from tests.helpers import SPECS, capped_toolkit, write
from toolkit import NpzError, NpzReader, read_npz
from toolkit.base import npzfile
from toolkit.cli import main
from toolkit.model.data import Dataset, as_dataset

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
FEATURES = 100  # two_layer_sigmoid's random data
"""Address space given to a command reading a bomb: far below what inflating it takes."""


# -- Files built by hand: .npy members with any header, zips of any members -----------------


def npy(shape: object, descr: str = "<f8", payload: bytes | None = None) -> bytes:
    """An .npy member declaring ``shape`` and ``descr``, followed by ``payload`` (by default
    the bytes the header declares, as zeros)."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    if payload is None:
        payload = bytes(int(np.prod(shape)) * np.dtype(descr).itemsize)  # type: ignore[call-overload]
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    """A zip at ``path`` of the members as given (names as written, ``.npy`` not added)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def deflate_bomb(path: Path, head: bytes, chunks: int = 100) -> Path:
    """A one-member zip (``x.npy``): ``head``, then ``chunks`` x 16 MiB of zeros, deflated
    to about 16 KB per chunk: 1.6 MB on disk that inflate to 1.6 GB."""
    zero = bytes(16 * 1024**2)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zero) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zero) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == again  # after a full flush each chunk of zeros deflates alike
    data = start + block * chunks + compressor.flush()
    size = len(head) + chunks * len(zero)
    crc = zlib.crc32(head)
    for _ in range(chunks):
        crc = zlib.crc32(zero, crc)
    name = b"x.npy"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, 5, 0)
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size, 5, 0, 0, 0, 0, 0, 0
    )
    offset = len(local) + len(name) + len(data)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), offset, 0)
    path.write_bytes(local + name + data + central + name + end)
    return path


# -- A run to evaluate and predict with, and the commands in this process --------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two_layer_sigmoid run (random data of 100 features, 10 classes)."""
    out = tmp_path_factory.mktemp("arrays") / "run"
    args = ["train", str(SIGMOID), "--set", "train.iterations=2", "--out", str(out), "-q"]
    assert main(args) == 0
    return out


def one_line(code: int, capsys: pytest.CaptureFixture[str]) -> str:
    """Exit 2 and a single ``error:`` line on stderr; returns the line."""
    captured = capsys.readouterr()
    assert code == 2, (code, captured.out, captured.err)
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def npz_spec(folder: Path, path: str = "data.npz", units: int = 3) -> Path:
    """A spec in ``folder`` training on the npz file ``path``."""
    text = (
        f"seed: 4\ndata: {{name: npz, path: {path}}}\n"
        f"model:\n  layers:\n    - {{units: {units}, activation: softmax}}\n"
        "train: {iterations: 2, batch_size: 2}\n"
    )
    return write(folder / "spec.yaml", text)


def four_rows(features: int = FEATURES) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((4, features))


# -- Not a regular file: refused before anything is opened for reading -----------------------


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``toolkit`` command, within a time limit (a blocked read fails the test)."""
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={key: value for key, value in os.environ.items() if key != "TOOLKIT_DEBUG"},
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_wherever_an_npz_is_read(run: Path, tmp_path: Path) -> None:
    """data.path naming a FIFO blocked validate and train forever: each command now says
    the name is not a regular file, at once."""
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    spec = npz_spec(tmp_path)
    for args in (
        ("validate", str(spec)),
        ("train", str(spec)),
        ("evaluate", str(run), "--data", str(fifo)),
        ("predict", str(run), "--input", str(fifo)),
    ):
        line = _error_line(_command(*args))
        assert f"{fifo}: is not a regular file" in line, (args, line)


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_dev_zero_is_not_read(run: Path, capsys: pytest.CaptureFixture[str], command) -> None:
    """/dev/zero as --data or --input: not a regular file (it was said to hold Python objects)."""
    option = "--data" if command == "evaluate" else "--input"
    line = one_line(main([command, str(run), option, "/dev/zero"]), capsys)
    assert line == "error: /dev/zero: is not a regular file (a pipe or a device); name an .npz file"


def test_a_folder_is_named_as_a_folder(run: Path, tmp_path: Path, capsys) -> None:
    """A folder given as --input is said to be one."""
    line = one_line(main(["predict", str(run), "--input", str(tmp_path)]), capsys)
    assert f"{tmp_path}: is a folder" in line


# -- Declared sizes are checked first, and no more than declared is inflated -----------------


def test_a_deflate_bomb_that_is_not_npy_is_refused_unread(run: Path, tmp_path: Path) -> None:
    """1.6 MB inflating to 1.6 GB of zeros where x belongs: numpy inflated it whole (and the
    dataset then failed with AttributeError, exit 1); now its first bytes are not .npy, and
    that is one line, exit 2, within a 1 GiB address space."""
    bomb = deflate_bomb(tmp_path / "data.npz", b"")
    assert bomb.stat().st_size < 2_000_000
    line = _error_line(capped_toolkit("validate", str(npz_spec(tmp_path))))
    assert f"{bomb}: array 'x' is not an .npy array" in line, line
    assert "data.path" in line, line
    line = _error_line(capped_toolkit("predict", str(run), "--input", str(bomb)))
    assert line.startswith(f"error: {bomb}: array 'x' is not an .npy array"), line


def test_a_bomb_behind_a_small_array_inflates_only_the_array(run: Path, tmp_path: Path) -> None:
    """A valid 4 x 100 x followed by 1.6 GB of deflated zeros: predict reads the 4 rows
    (the bytes their header declares) and answers within a 1 GiB address space."""
    x = four_rows()
    head = io.BytesIO()
    np.lib.format.write_array(head, x)
    bomb = deflate_bomb(tmp_path / "inputs.npz", head.getvalue())
    result = capped_toolkit("predict", str(run), "--input", str(bomb))
    assert result.returncode == 0, result.stderr
    network = toolkit.load_run(run)
    expected = np.argmax(network.predict(x), axis=1)
    assert result.stdout.split() == [str(c) for c in expected]


def test_an_array_within_the_cap_but_beyond_memory_is_one_line(run: Path, tmp_path) -> None:
    """1.6 GB of zeros declared and present (a 1.6 MB deflated file), read within a 1 GiB
    address space: one line saying memory ran short, exit 2, not a MemoryError traceback."""
    head = npy((200_000_000,), payload=b"")
    bomb = deflate_bomb(tmp_path / "inputs.npz", head)
    line = _error_line(capped_toolkit("predict", str(run), "--input", str(bomb)))
    assert "array 'x' declares shape (200000000,) of float64 (1600000000 bytes)" in line, line
    assert "more memory than can be had now" in line, line


@pytest.mark.parametrize(
    "shape", [(10**6, 10**6), (2**62, 2**62), (2**28 + 1,)], ids=["8 TB", "overflowing", "2 GiB+8"]
)
def test_a_huge_declared_shape_is_refused_before_reading(
    run: Path, tmp_path: Path, capsys, shape
) -> None:
    """A header declaring more than 2 GiB (the cap, named in the message) is refused at once,
    the file itself being tiny (2**28 + 1 float64 values are 8 bytes over the cap)."""
    path = npz(tmp_path / "inputs.npz", {"x.npy": npy(shape, payload=b"")})
    line = one_line(main(["predict", str(run), "--input", str(path)]), capsys)
    assert f"array 'x' declares shape {shape} of float64" in line, line
    assert "over the cap of 2 GiB" in line, line


def test_the_cap_counts_every_array_read_from_the_file(tmp_path: Path, monkeypatch) -> None:
    """Arrays within the cap one by one but not together: the one that passes it is refused."""
    monkeypatch.setattr(npzfile, "MAX_NPZ_BYTES", 1000)
    path = npz(tmp_path / "two.npz", {"a.npy": npy((100,)), "b.npy": npy((100,))})
    with NpzReader(path) as file:
        assert file.read("a").nbytes == 800
        with pytest.raises(
            NpzError,
            match=r"'b' declares shape \(100,\) of float64 \(800 bytes\) with the arrays read",
        ):
            file.read("b")


def test_a_member_shorter_than_its_header_is_damaged(run: Path, tmp_path: Path, capsys) -> None:
    """A header declaring 4 x 100 float64 with 8 bytes of data: refused as damaged, before
    3.2 KB are allocated for it."""
    path = npz(tmp_path / "inputs.npz", {"x.npy": npy((4, 100), payload=bytes(8))})
    line = one_line(main(["predict", str(run), "--input", str(path)]), capsys)
    assert "array 'x' is shorter than its header declares" in line, line


def test_a_large_zip_directory_is_refused(tmp_path: Path, monkeypatch) -> None:
    """The zip directory is read whole when opening; it is capped first."""
    monkeypatch.setattr(npzfile, "MAX_NPZ_DIRECTORY_BYTES", 100)
    path = npz(tmp_path / "many.npz", {f"a{i}.npy": npy((1,)) for i in range(5)})
    with pytest.raises(NpzError, match=r"zip directory is \d+ bytes, over the cap of 100 bytes"):
        read_npz(path)


# -- What is read is what numpy saved, bit for bit -------------------------------------------


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_arrays_read_are_those_numpy_reads(tmp_path: Path, compression) -> None:
    """Every numeric dtype, byte order and memory order, as ``np.load`` reads the same file."""
    rng = np.random.default_rng(3)
    arrays = {
        "f8": rng.standard_normal((3, 4)),
        "big": rng.standard_normal((5,)).astype(">f4"),
        "fortran": np.asfortranarray(rng.standard_normal((4, 3))),
        "ints": rng.integers(-9, 9, (2, 3, 4)).astype(np.int16),
        "flags": rng.random(6) > 0.5,
        "empty": np.zeros((0, 3)),
        "scalar": np.array(7.5),
    }
    path = tmp_path / "all.npz"
    (np.savez_compressed if compression == zipfile.ZIP_DEFLATED else np.savez)(path, **arrays)
    read = read_npz(path)
    with np.load(path) as expected:
        assert sorted(read) == sorted(expected.files)
        for name in expected.files:
            assert read[name].dtype == expected[name].dtype, name
            assert_array_equal(read[name], expected[name])
            assert read[name].tobytes("A") == expected[name].tobytes("A"), name


# -- What is not numbers: one line naming file and member, in each place ---------------------

BAD_MEMBERS = {
    "text": (np.array([["a"] * FEATURES] * 4), "array 'x' holds <U1 values; save real numbers"),
    "objects": (
        np.array([[{}]] * 4, dtype=object),
        "array 'x' holds Python objects (pickled data), which are refused",
    ),
    "dates": (
        np.array(["2026-01-01"] * 4, dtype="datetime64[D]"),
        "array 'x' holds datetime64[D] values; save real numbers",
    ),
    "not npy": (b"x,t\n1,2\n", "array 'x' is not an .npy array"),
}


def _member(value: np.ndarray | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, value, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("case", list(BAD_MEMBERS))
def test_a_bad_member_is_one_line_in_evaluate_and_predict(run: Path, tmp_path, capsys, case):
    """--data and --input: exit 2, one line naming the file, the member and a fix."""
    value, message = BAD_MEMBERS[case]
    members = {"x.npy": _member(value), "t.npy": _member(np.zeros(4))}
    path = npz(tmp_path / "data.npz", members)
    for args in (
        ["evaluate", str(run), "--data", str(path)],
        ["predict", str(run), "--input", str(path)],
    ):
        line = one_line(main(args), capsys)
        assert line.startswith(f"error: {path}: {message}"), line


@pytest.mark.parametrize("case", list(BAD_MEMBERS))
def test_a_bad_member_is_one_line_at_data_path(tmp_path, capsys, case):
    """validate on a spec whose data.path holds such a member: exit 2 at data.path (a member
    that was not .npy was exit 1, 'dataset failed: AttributeError')."""
    value, message = BAD_MEMBERS[case]
    npz(tmp_path / "data.npz", {"x.npy": _member(value), "t.npy": _member(np.zeros(4))})
    line = one_line(main(["validate", str(npz_spec(tmp_path))]), capsys)
    assert line.startswith(f"error: data.path: dataset 'npz': path {tmp_path / 'data.npz'}: "), line
    assert message in line, line


@pytest.mark.parametrize("case", ["text", "not npy", "huge"])
def test_a_bad_params_npz_is_one_line(run: Path, tmp_path, capsys, case) -> None:
    """A run whose params.npz holds text, non-.npy bytes or a huge header for W1: evaluate
    and predict exit 2 naming params.npz and W1."""
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("spec.yaml", "params.npz"):
        (folder / name).write_bytes((run / name).read_bytes())
    with np.load(run / "params.npz") as saved:
        members = {f"{key}.npy": _member(saved[key]) for key in saved.files}
    members["W1.npy"] = {
        "text": _member(np.array([["1.0"] * 10] * FEATURES)),
        "not npy": b"\x00" * 64,
        "huge": npy((10**9, 10**3), payload=b""),
    }[case]
    npz(folder / "params.npz", members)
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=four_rows())
    for args in (["evaluate", str(folder)], ["predict", str(folder), "--input", str(inputs)]):
        line = one_line(main(args), capsys)
        assert line.startswith(f"error: {folder / 'params.npz'}: array 'W1' "), line


def test_a_huge_member_in_a_checkpoint_is_a_damaged_checkpoint(run, tmp_path, capsys) -> None:
    """--resume on a checkpoint whose meta declares 8 TB: not a readable checkpoint, exit 2."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "spec.yaml").write_bytes((run / "spec.yaml").read_bytes())
    npz(folder / "checkpoint.npz", {"meta.json.npy": npy((10**12,), "|u1", payload=b"")})
    line = one_line(main(["train", "--resume", str(folder), "-q"]), capsys)
    assert "checkpoint.npz: not a readable checkpoint (array 'meta.json' declares shape" in line
    assert "over the cap of 2 GiB" in line, line


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_file_that_is_no_npz_is_not_said_to_hold_objects(run, tmp_path, capsys, command):
    """A text file (or an .npy) given to evaluate or predict is 'not an .npz file': it was
    said to hold Python objects, which only an object array does."""
    option = "--data" if command == "evaluate" else "--input"
    for path, said in (
        (write(tmp_path / "data.csv", "x,t\n1,0\n"), "is not an .npz file; save it with np.savez"),
        (tmp_path / "x.npy", "is not an .npz file (it is an .npy file: one array)"),
    ):
        if path.suffix == ".npy":
            np.save(path, four_rows())
        line = one_line(main([command, str(run), option, str(path)]), capsys)
        assert line.startswith(f"error: {path}: {said}"), line
        assert "objects" not in line


# -- Class labels, features and inputs that cannot be right ----------------------------------


def test_a_class_label_of_1e300_is_one_honest_line(run: Path, tmp_path, capsys) -> None:
    """evaluate --data with a float label of 1e300: no numpy warning, no count of
    -9223372036854775807 classes; the label and its index are named."""
    path = tmp_path / "labels.npz"
    np.savez(path, x=four_rows(), t=np.array([0.0, 1.0, 1e300, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        line = one_line(main(["evaluate", str(run), "--data", str(path)]), capsys)
    assert line == (
        f"error: {path}: class indices in a 1-D t must be whole numbers from 0 to 2147483647, "
        "got 1e+300 at index 2"
    )


def test_a_dataset_part_returning_1e300_labels_is_refused_without_a_warning() -> None:
    """as_dataset (every dataset part's result goes through it) refuses such a label."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="got 1e\\+300 at index 1"):
            as_dataset(Dataset(np.ones((2, 1)), np.array([0.0, 1e300])))


def test_a_class_label_of_1e300_at_data_path(tmp_path, capsys) -> None:
    """The npz dataset names the label and its index too."""
    np.savez(tmp_path / "data.npz", x=np.ones((3, 2)), t=np.array([0.0, 1e300, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        line = one_line(main(["validate", str(npz_spec(tmp_path))]), capsys)
    assert (
        "'t' holds 1 class indices that are not whole numbers from 0 (first at index 1: 1e+300)"
        in line
    )


def test_x_without_features_is_refused(tmp_path, capsys) -> None:
    """x of shape (4, 0) in data.path was accepted (validate exit 0); now refused, at data.path."""
    np.savez(tmp_path / "data.npz", x=np.ones((4, 0)), t=np.array([0, 1, 2, 0]))
    line = one_line(main(["validate", str(npz_spec(tmp_path))]), capsys)
    assert "data.path" in line and "'x' has shape (4, 0)" in line, line
    with pytest.raises(ValueError, match=r"got shape \(4, 0\)"):
        as_dataset(Dataset(np.ones((4, 0)), np.array([0, 1, 2, 0])))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_refuses_rows_that_are_not_finite(run: Path, tmp_path, capsys, bad) -> None:
    """predict printed class 0 for a row of nan; now the first such row is named."""
    x = four_rows()
    x[2, 7] = x[3, 0] = bad
    path = tmp_path / "inputs.npz"
    np.savez(path, x=x)
    line = one_line(main(["predict", str(run), "--input", str(path)]), capsys)
    assert line == (
        f"error: {path}: x has 2 rows holding nan or infinite values (first: row 2); "
        "remove or replace them"
    )


def test_predict_refuses_no_rows(run: Path, tmp_path, capsys) -> None:
    """An x of no rows printed nothing and exited 0; it is refused."""
    path = tmp_path / "inputs.npz"
    np.savez(path, x=np.zeros((0, FEATURES)))
    line = one_line(main(["predict", str(run), "--input", str(path)]), capsys)
    assert "x has no rows" in line
