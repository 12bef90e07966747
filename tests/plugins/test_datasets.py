"""The standard datasets (random, teacher, digits, npz): their draws reproduced independently,
their checks, and the held-out split that ``as_dataset`` accepts."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import toolkit
from tests.helpers import SPECS, RunCli, write
from toolkit import Dataset
from toolkit.model.data import as_dataset
from toolkit.runs.build import assemble
from toolkit_plugins import datasets

TABLE = datasets.toolkit_datasets()


def one_hot(labels: list[int], classes: int) -> np.ndarray:
    """One-hot rows built with a loop."""
    t = np.zeros((len(labels), classes))
    for row, label in enumerate(labels):
        t[row, label] = 1.0
    return t


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_datasets() lists exactly random, teacher, digits and npz."""
    assert set(TABLE) == {"random", "teacher", "digits", "npz"}


def test_random_inputs_equal_randn_of_the_same_seed():
    """With RandomState(42), x equals RandomState(42).randn(samples, features)."""
    data = TABLE["random"](np.random.RandomState(42), samples=7, features=5, classes=3)
    assert isinstance(data, Dataset)
    assert data.x.shape == (7, 5)
    assert_array_equal(data.x, np.random.RandomState(42).randn(7, 5))


def test_random_labels_are_one_randint_per_row_after_the_inputs():
    """Labels are drawn after x, one scalar randint(0, classes) per row, in row order."""
    samples, features, classes = 12, 4, 5
    data = TABLE["random"](np.random.RandomState(42), samples, features, classes)
    reference = np.random.RandomState(42)
    reference.randn(samples, features)
    labels = []
    for _ in range(samples):
        labels.append(int(reference.randint(0, classes)))
    assert data.t.shape == (samples, classes)
    assert_array_equal(data.t, one_hot(labels, classes))


def test_random_defaults_are_100_samples_100_features_10_classes():
    """Without settings the dataset is 100 x 100 inputs with 10 one-hot classes."""
    data = TABLE["random"](np.random.RandomState(42))
    assert data.x.shape == (100, 100)
    assert data.t.shape == (100, 10)
    reference = np.random.RandomState(42)
    assert_array_equal(data.x, reference.randn(100, 100))
    labels = [int(reference.randint(0, 10)) for _ in range(100)]
    assert_array_equal(data.t, one_hot(labels, 10))


def test_random_targets_are_one_hot_rows():
    """Every target row has a single 1 and zeros elsewhere."""
    data = TABLE["random"](np.random.RandomState(3), samples=50, features=2, classes=4)
    assert set(np.unique(data.t).tolist()) <= {0.0, 1.0}
    assert_array_equal(data.t.sum(axis=1), np.ones(50))


def test_random_with_default_rng_uses_standard_normal_then_integers():
    """With default_rng(42): x = standard_normal((s, f)), then one integers(0, c) per row."""
    samples, features, classes = 9, 3, 4
    data = TABLE["random"](np.random.default_rng(42), samples, features, classes)
    reference = np.random.default_rng(42)
    assert_array_equal(data.x, reference.standard_normal((samples, features)))
    labels = []
    for _ in range(samples):
        labels.append(int(reference.integers(0, classes)))
    assert_array_equal(data.t, one_hot(labels, classes))


def test_random_accepts_the_smallest_sizes():
    """samples = features = classes = 1 is allowed: one input, one class."""
    data = TABLE["random"](np.random.RandomState(0), samples=1, features=1, classes=1)
    assert data.x.shape == (1, 1)
    assert_array_equal(data.t, [[1.0]])


@pytest.mark.parametrize("key", ["samples", "features", "classes"])
@pytest.mark.parametrize("value", [0, -3])
def test_random_rejects_sizes_below_one_naming_the_parameter(key, value):
    """samples, features or classes below 1 are each reported by the part's validate."""
    settings = {"samples": 4, "features": 3, "classes": 2, key: value}
    assert list(TABLE["random"].validate(**settings)) == [(key, f"must be at least 1, got {value}")]
    assert list(TABLE["random"].validate(samples=4, features=3, classes=2)) == []


# -- the held-out split in as_dataset ------------------------------------------------------------

X = np.arange(12.0).reshape(4, 3)
ONE_HOT = np.eye(3)[[0, 1, 2, 1]]
INDICES = np.array([0, 1, 2, 1])


def test_as_dataset_converts_a_held_out_split_like_x_and_t():
    """x_test becomes float64 and 1-D t_test int64; has_test says a split is there."""
    data = as_dataset(Dataset(X, INDICES, np.ones((2, 3), dtype=np.int32), np.array([2.0, 0.0])))
    assert data.x_test is not None and data.t_test is not None
    assert data.x_test.dtype == np.float64 and data.t_test.dtype == np.int64
    assert_array_equal(data.t_test, [2, 0])
    assert data.has_test
    assert not as_dataset((X, ONE_HOT)).has_test


@pytest.mark.parametrize(
    ("t", "x_test", "t_test", "message"),
    [
        (ONE_HOT, np.ones((2, 3)), None, "gave x_test without t_test; give both or neither"),
        (ONE_HOT, None, np.eye(3)[:2], "gave t_test without x_test; give both or neither"),
        (ONE_HOT, np.ones(3), np.eye(3)[:1], r"x_test must be a non-empty 2-D array .* \(3,\)"),
        (ONE_HOT, np.ones((0, 3)), np.eye(3)[:0], "x_test must be a non-empty 2-D array"),
        (ONE_HOT, np.ones((2, 4)), np.eye(3)[:2], "x_test must have the 3 features of x, got 4"),
        (ONE_HOT, np.ones((2, 3)), np.eye(3)[:3], r"t_test must have one row per sample of x_t"),
        (ONE_HOT, np.ones((2, 3)), np.array([0, 1]), r"t_test must be one-hot rows \(2-D\) like t"),
        (INDICES, np.ones((2, 3)), np.eye(3)[:2], r"t_test must be class indices \(1-D\) like t"),
        (ONE_HOT, np.ones((2, 3)), np.eye(4)[:2], "t_test must have the 3 columns of t"),
        (
            INDICES,
            np.ones((2, 3)),
            np.array([0, 3]),
            "t_test holds class 3, but t has classes 0 to 2",
        ),
        (
            INDICES,
            np.ones((2, 3)),
            np.array([0, -1]),
            "class indices in a 1-D t_test must be whole",
        ),
        (
            INDICES,
            np.ones((2, 3)),
            np.array([0, 0.5]),
            "class indices in a 1-D t_test must be whole",
        ),
        (ONE_HOT, [[1, 2, np.nan]], np.eye(3)[:1], "x_test and t_test must hold finite numbers"),
        (ONE_HOT, np.ones((1, 3)), [[np.inf, 0, 0]], "x_test and t_test must hold finite numbers"),
        (ONE_HOT, [["a", "b", "c"]], np.eye(3)[:1], "x_test must be an array of numbers"),
        (ONE_HOT, np.ones((1, 3)), np.array(["a"]), "t_test must hold numbers"),
    ],
)
def test_as_dataset_refuses_a_held_out_split_that_does_not_fit(t, x_test, t_test, message):
    """Each way a held-out split can disagree with x and t is a one-line ValueError."""
    with pytest.raises(ValueError, match=message) as raised:
        as_dataset(Dataset(X, t, x_test, t_test))
    assert "\n" not in str(raised.value)


# -- teacher --------------------------------------------------------------------------------------


def teacher_reference(draw, samples, features, classes, hidden):
    """x, W1, W2 from ``draw(shape)`` in order; labels by loops over the documented formula."""
    x, w1, w2 = draw((samples, features)), draw((features, hidden)), draw((hidden, classes))
    v = np.empty_like(w2)
    for j in range(hidden):
        v[j] = w2[j] - sum(w2[j]) / classes
    for c in range(classes):
        v[:, c] /= math.sqrt(sum(value * value for value in v[:, c]))
    labels = []
    for row in x:
        h = [math.tanh(sum(row * w1[:, j]) / math.sqrt(features)) for j in range(hidden)]
        scores = [sum(h[j] * v[j, c] for j in range(hidden)) for c in range(classes)]
        labels.append(scores.index(max(scores)))
    return x, labels


@pytest.mark.parametrize("legacy", [True, False], ids=["RandomState", "Generator"])
def test_teacher_labels_are_the_argmax_of_the_documented_teacher(legacy):
    """x, W1, W2 are standard-normal draws in that order; labels match a loop re-computation."""
    samples, features, classes, hidden = 60, 5, 4, 7
    make = np.random.RandomState if legacy else np.random.default_rng
    data = as_dataset(TABLE["teacher"](make(11), samples, features, classes, hidden, 0.25))
    reference = make(11)
    x, labels = teacher_reference(reference.standard_normal, samples, features, classes, hidden)
    assert_array_equal(np.concatenate([data.x, data.x_test]), x)
    assert_array_equal(np.concatenate([data.t, data.t_test]), one_hot(labels, classes))
    assert data.samples == 45 and data.x_test.shape == (15, features)


@pytest.mark.parametrize("make", [np.random.RandomState, np.random.default_rng])
def test_teacher_is_the_same_for_a_seed_and_differs_across_seeds(make):
    """The same seed gives the same arrays bit for bit; another seed gives other arrays."""
    first, again, other = (as_dataset(TABLE["teacher"](make(s))) for s in (5, 5, 6))
    for name in ("x", "t", "x_test", "t_test"):
        assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.x, other.x)
    assert not np.array_equal(first.t, other.t)


@pytest.mark.parametrize(
    ("samples", "fraction", "test_rows"),
    [(1000, 0.2, 200), (50, 0.3, 15), (7, 0.5, 4), (3, 0.1, 0)],
)
def test_held_out_rows_round_half_up(samples, fraction, test_rows):
    """The held-out split is samples * test_fraction rounded half up."""
    assert datasets.held_out_rows(samples, fraction) == test_rows


def test_teacher_defaults_are_800_training_and_200_test_rows_of_20_features_3_classes():
    """Defaults: 1000 samples, 20% held out, one-hot targets over 3 classes."""
    data = as_dataset(TABLE["teacher"](np.random.default_rng(0)))
    assert data.x.shape == (800, 20) and data.t.shape == (800, 3)
    assert data.x_test.shape == (200, 20) and data.t_test.shape == (200, 3)
    assert set(np.unique(data.t).tolist()) == {0.0, 1.0}
    assert_array_equal(data.t.sum(axis=1), np.ones(800))


@pytest.mark.parametrize("make", [np.random.RandomState, np.random.default_rng])
def test_teacher_classes_are_not_degenerate(make):
    """Over 20 seeds, each of the 3 default classes holds at least 15% of the 1000 labels."""
    for seed in range(20):
        data = as_dataset(TABLE["teacher"](make(seed)))
        counts = np.concatenate([data.t, data.t_test]).sum(axis=0)
        assert counts.min() >= 150, (seed, counts)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"test_fraction": 0.0}, ("test_fraction", "must be above 0 and below 1, got 0.0")),
        ({"test_fraction": 1.0}, ("test_fraction", "must be above 0 and below 1, got 1.0")),
        (
            {"samples": 3, "test_fraction": 0.1},
            ("test_fraction", "0.1 of 3 samples leaves the test split empty"),
        ),
        (
            {"samples": 3, "test_fraction": 0.9},
            ("test_fraction", "0.9 of 3 samples leaves the training split empty"),
        ),
        ({"classes": 1}, ("classes", "must be at least 2, got 1")),
        ({"samples": 1}, ("samples", "must be at least 2, got 1")),
        ({"hidden": 0}, ("hidden", "must be at least 1, got 0")),
    ],
)
def test_teacher_validate_names_the_setting_that_cannot_work(settings, expected):
    """Fractions outside (0, 1), an empty split, too few classes or samples are each reported."""
    full = {"samples": 1000, "features": 20, "classes": 3, "hidden": 16, "test_fraction": 0.2}
    assert list(TABLE["teacher"].validate(**full)) == []
    assert list(TABLE["teacher"].validate(**{**full, **settings})) == [expected]


def test_shipped_teacher_spec_reaches_test_accuracy_080():
    """specs/two_layer_teacher.yaml trains to >= 0.8 accuracy on its held-out 200 rows."""
    spec = toolkit.load_spec(SPECS / "two_layer_teacher.yaml")
    data = assemble(spec).data
    network = toolkit.train(spec).network
    counts = data.t_test.sum(axis=0)
    assert counts.max() / counts.sum() < 0.5  # always guessing one class stays below 0.5
    assert network.accuracy(data.x_test, data.t_test) >= 0.8


# -- digits ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_data():
    """scikit-learn's digits as bundled: (1797 x 64 pixels 0..16, labels)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = sklearn_datasets.load_digits()
    return bunch.data, bunch.target


@pytest.mark.parametrize("make", [np.random.RandomState, np.random.default_rng])
def test_digits_are_the_bundled_images_shuffled_by_one_permutation(digits_data, make):
    """x / t are images / 16 and one-hot labels in rng.permutation(1797) order; 359 held out."""
    pixels, labels = digits_data
    data = as_dataset(TABLE["digits"](make(3)))
    order = make(3).permutation(1797)
    assert data.x.shape == (1438, 64) and data.x_test.shape == (359, 64)
    assert data.t.shape == (1438, 10) and data.t_test.shape == (359, 10)
    assert_array_equal(np.concatenate([data.x, data.x_test]) * 16, pixels[order])
    assert_array_equal(np.concatenate([data.t, data.t_test]), one_hot(list(labels[order]), 10))
    assert data.x.min() == 0.0 and data.x.max() == 1.0


def test_digits_are_the_same_for_a_seed_and_differ_across_seeds(digits_data):
    """The same seed gives the same split; another seed another; test_fraction 0 keeps all."""
    first, again, other = (as_dataset(TABLE["digits"](np.random.default_rng(s))) for s in (1, 1, 2))
    assert_array_equal(first.x_test, again.x_test)
    assert_array_equal(first.t, again.t)
    assert not np.array_equal(first.x_test, other.x_test)
    whole = as_dataset(TABLE["digits"](np.random.default_rng(1), test_fraction=0.0))
    assert whole.x.shape == (1797, 64) and not whole.has_test


def test_digits_validate_refuses_fractions_outside_0_to_1():
    """test_fraction must be in [0, 1); 0 means no held-out split."""
    assert list(TABLE["digits"].validate(test_fraction=0.0)) == []
    assert list(TABLE["digits"].validate(test_fraction=1.0)) == [
        ("test_fraction", "must be from 0 up to (not including) 1, got 1.0")
    ]


DIGITS_SPEC = "seed: 1\ndata: {name: digits}\nmodel:\n  layers:\n    - {units: 10}\n"
NO_SKLEARN = "needs scikit-learn, which is not installed; pip install 'layer-toolkit[digits]'"


def test_digits_without_scikit_learn_is_a_spec_problem_at_data(tmp_path, monkeypatch):
    """With scikit-learn missing, building the data raises SpecError at `data` saying how to
    install it (loading the spec does not import scikit-learn: digits declares its classes)."""
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    spec = toolkit.load_spec(write(tmp_path / "spec.yaml", DIGITS_SPEC))
    with pytest.raises(toolkit.SpecError) as raised:
        toolkit.build(spec)
    [problem] = raised.value.problems
    assert problem.path == "data" and NO_SKLEARN in problem.message
    assert problem.location is not None and problem.location.line == 2
    assert raised.value.exit_code == 2


def test_digits_without_scikit_learn_through_the_cli(run_cli: RunCli, tmp_path):
    """`toolkit validate` with an sklearn that cannot be imported: exit 2, one error line."""
    write(tmp_path / "spec.yaml", DIGITS_SPEC)
    (tmp_path / "fake" / "sklearn").mkdir(parents=True)
    write(tmp_path / "fake" / "sklearn" / "__init__.py", "raise ImportError('simulated')\n")
    line = one_error(run_cli("validate", "spec.yaml", env={"PYTHONPATH": str(tmp_path / "fake")}))
    assert line.startswith("error: data: dataset 'digits': ") and NO_SKLEARN in line, line


# -- npz ------------------------------------------------------------------------------------------


def npz_spec(tmp_path: Path, settings: str = "path: data.npz") -> Path:
    """A spec in tmp_path with an npz dataset (paths relative to the spec's folder)."""
    text = (
        f"seed: 4\ndata: {{name: npz, {settings}}}\n"
        "model:\n  layers:\n    - {units: 3, activation: softmax}\n"
    )
    return write(tmp_path / "spec.yaml", text)


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, one ``error: `` line on stderr and no traceback; returns the line."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("t", [INDICES, ONE_HOT], ids=["indices", "one-hot"])
def test_npz_round_trips_the_saved_arrays(tmp_path, monkeypatch, t):
    """x and t come back exactly as saved, with no held-out split and nothing drawn."""
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "data.npz", x=X, t=t)
    data = assemble(toolkit.load_spec(npz_spec(tmp_path))).data
    assert_array_equal(data.x, X)
    assert_array_equal(data.t, t)
    assert not data.has_test
    rng = np.random.default_rng(0)
    TABLE["npz"](rng, "data.npz")
    assert rng.random() == np.random.default_rng(0).random()


def test_npz_takes_the_files_own_held_out_split(tmp_path, monkeypatch):
    """x_test and t_test saved beside x and t are the held-out split."""
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", x=X, t=INDICES, x_test=X[:2] + 1, t_test=INDICES[:2])
    data = as_dataset(TABLE["npz"](np.random.default_rng(0), "data.npz"))
    assert_array_equal(data.x_test, X[:2] + 1)
    assert_array_equal(data.t_test, INDICES[:2])


def test_npz_takes_the_held_out_split_from_test_path(tmp_path, monkeypatch):
    """test_path's x and t are the held-out split."""
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", x=X, t=ONE_HOT)
    np.savez("test.npz", x=X[1:], t=ONE_HOT[1:])
    data = as_dataset(TABLE["npz"](np.random.default_rng(0), "data.npz", test_path="test.npz"))
    assert_array_equal(data.x_test, X[1:])
    assert_array_equal(data.t_test, ONE_HOT[1:])


def test_npz_test_fraction_holds_out_the_last_rows_of_one_permutation(tmp_path, monkeypatch):
    """test_fraction 0.25 of 8 rows: rng.permutation(8), the last 2 held out."""
    monkeypatch.chdir(tmp_path)
    x, t = np.arange(16.0).reshape(8, 2), np.arange(8) % 3
    np.savez("data.npz", x=x, t=t)
    data = as_dataset(TABLE["npz"](np.random.RandomState(9), "data.npz", test_fraction=0.25))
    order = np.random.RandomState(9).permutation(8)
    assert_array_equal(data.x, x[order[:6]])
    assert_array_equal(data.x_test, x[order[6:]])
    assert_array_equal(data.t_test, t[order[6:]])


def save_text(path: Path) -> None:
    path.write_text("x,t\n1,0\n", encoding="utf-8")


def save_zip_garbage(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 not really a zip")


def save_npy(path: Path) -> None:
    """A single .npy array under the .npz name."""
    with path.open("wb") as file:
        np.save(file, X)


BAD_FILES = {
    "missing file": (None, "data.npz: no such file; check the path (relative to the spec file's"),
    "text file": (save_text, "data.npz: is not an .npz file; save it with numpy.savez("),
    "npy file": (save_npy, "data.npz: is not an .npz file"),
    "broken zip": (save_zip_garbage, "data.npz: is not a readable .npz file"),
    "missing t": (
        lambda p: np.savez(p, x=X, labels=INDICES),
        "data.npz: no array 't' (it has: labels, x); save it with numpy.savez(",
    ),
    "x not 2-D": (
        lambda p: np.savez(p, x=np.ones(4), t=INDICES),
        "'x' has shape (4,); it must be 2-D (samples x features)",
    ),
    "rows differ": (
        lambda p: np.savez(p, x=X, t=INDICES[:3]),
        "'x' has 4 rows but 't' has 3; give one target per sample",
    ),
    "nan in x": (
        lambda p: np.savez(p, x=np.where(X > 6, np.nan, X), t=INDICES),
        "'x' holds 5 nan or infinite values (first at index (2, 1))",
    ),
    "negative class": (
        lambda p: np.savez(p, x=X, t=np.array([0, 1, -1, 2])),
        "'t' holds 1 class indices that are not whole numbers from 0 (first at index 2: -1)",
    ),
    "fractional class": (
        lambda p: np.savez(p, x=X, t=np.array([0, 0.5, 1, 1.5])),
        "'t' holds 2 class indices that are not whole numbers from 0 (first at index 1: 0.5)",
    ),
    "pickled objects": (
        lambda p: np.savez(p, x=np.array([[{}], [1], [2], [3]], dtype=object), t=INDICES),
        "array 'x' holds Python objects (pickled data), which are refused",
    ),
    "text values": (
        lambda p: np.savez(p, x=X, t=np.array(list("abcd"))),
        "array 't' holds <U1 values; save real numbers",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_npz_bad_file_is_one_error_at_data_path(run_cli: RunCli, tmp_path, case):
    """Each bad file: `toolkit validate` exits 2 with one line naming data.path and the fix."""
    save, message = BAD_FILES[case]
    spec = npz_spec(tmp_path)
    if save is not None:
        save(tmp_path / "data.npz")
    line = one_error(run_cli("validate", spec.name))
    where = tmp_path / "data.npz"  # the file's path as read: from the spec's folder
    assert line.startswith(f"error: data.path: dataset 'npz': path {where}: "), line
    assert message in line, line
    assert "spec.yaml line 2, column" in line, line


def test_npz_bad_test_path_is_blamed_on_data_test_path(tmp_path, monkeypatch):
    """A held-out file whose x has other features than x is reported at data.test_path."""
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", x=X, t=INDICES)
    np.savez("test.npz", x=np.ones((2, 5)), t=INDICES[:2])
    spec = toolkit.load_spec(npz_spec(tmp_path, "path: data.npz, test_path: test.npz"))
    with pytest.raises(toolkit.SpecError) as raised:  # when the data is built
        toolkit.build(spec)
    [problem] = raised.value.problems
    assert problem.path == "data.test_path"
    assert "test.npz: the held-out split has 5 features per sample but x has 3" in problem.message


@pytest.mark.parametrize(
    ("settings", "path", "message"),
    [
        ("path: 3", "data.path", "must be a file name in quotes, got 3"),
        ("path: d.npz, test_path: [a]", "data.test_path", "must be a file name in quotes"),
        ("path: d.npz, test_path: t.npz, test_fraction: 0.5", "data.test_fraction", "must be 0"),
        ("path: d.npz, test_fraction: 1", "data.test_fraction", "(not including) 1, got 1.0"),
        ("test_fraction: 0.5", "data.path", "missing required parameter 'path'"),
    ],
)
def test_npz_settings_are_checked_before_any_file_is_read(tmp_path, settings, path, message):
    """path and test_path must be text; test_path and test_fraction exclude each other."""
    with pytest.raises(toolkit.SpecError) as raised:
        toolkit.load_spec(npz_spec(tmp_path, settings))
    [problem] = raised.value.problems
    assert problem.path == path and message in problem.message, problem
