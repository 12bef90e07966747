"""The standard `random` dataset: its draws reproduced independently, and its checks."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from toolkit import Dataset
from toolkit_plugins import datasets

TABLE = datasets.toolkit_datasets()


def one_hot(labels: list[int], classes: int) -> np.ndarray:
    """One-hot rows built with a loop."""
    t = np.zeros((len(labels), classes))
    for row, label in enumerate(labels):
        t[row, label] = 1.0
    return t


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_datasets() lists exactly the `random` dataset."""
    assert set(TABLE) == {"random"}


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
