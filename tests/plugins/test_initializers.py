"""The standard initializers: exact draws from legacy RandomState and from Generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from toolkit_plugins import initializers

TABLE = initializers.toolkit_initializers()
SEED = 1234


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_initializers() lists exactly uniform, normal, xavier, he and zeros."""
    assert set(TABLE) == {"uniform", "normal", "xavier", "he", "zeros"}


@pytest.mark.parametrize("shape", [(4, 3), (5,), (2, 3, 2)])
def test_uniform_with_random_state_equals_scale_times_rand(shape):
    """uniform(shape, RandomState(s), scale) == scale * RandomState(s).rand(*shape) exactly."""
    out = TABLE["uniform"](shape, np.random.RandomState(SEED), scale=0.5)
    assert_array_equal(out, 0.5 * np.random.RandomState(SEED).rand(*shape))


def test_uniform_default_scale_is_one_hundredth():
    """uniform without a scale equals 0.01 * rand."""
    out = TABLE["uniform"]((3, 4), np.random.RandomState(SEED))
    assert_array_equal(out, 0.01 * np.random.RandomState(SEED).rand(3, 4))


def test_uniform_with_generator_equals_scale_times_random():
    """uniform(shape, default_rng(s), scale) == scale * default_rng(s).random(shape)."""
    out = TABLE["uniform"]((4, 3), np.random.default_rng(SEED), scale=2.0)
    assert_array_equal(out, 2.0 * np.random.default_rng(SEED).random((4, 3)))


def test_uniform_values_lie_in_zero_to_scale():
    """uniform draws lie in [0, scale)."""
    out = TABLE["uniform"]((50, 20), np.random.RandomState(SEED), scale=0.5)
    assert out.min() >= 0.0
    assert out.max() < 0.5


@pytest.mark.parametrize("shape", [(4, 3), (6,)])
def test_normal_with_random_state_equals_scale_times_randn(shape):
    """normal(shape, RandomState(s), scale) == scale * RandomState(s).randn(*shape) exactly."""
    out = TABLE["normal"](shape, np.random.RandomState(SEED), scale=0.3)
    assert_array_equal(out, 0.3 * np.random.RandomState(SEED).randn(*shape))


def test_normal_default_scale_is_one_hundredth():
    """normal without a scale equals 0.01 * randn."""
    out = TABLE["normal"]((3, 4), np.random.RandomState(SEED))
    assert_array_equal(out, 0.01 * np.random.RandomState(SEED).randn(3, 4))


def test_normal_with_generator_equals_scale_times_standard_normal():
    """normal with default_rng equals scale * Generator.standard_normal(shape)."""
    out = TABLE["normal"]((4, 3), np.random.default_rng(SEED), scale=0.3)
    assert_array_equal(out, 0.3 * np.random.default_rng(SEED).standard_normal((4, 3)))


def test_xavier_equals_randn_times_sqrt_one_over_fan_in():
    """xavier((n_in, n_out)) == randn(n_in, n_out) * sqrt(1 / n_in)."""
    out = TABLE["xavier"]((8, 3), np.random.RandomState(SEED))
    expected = np.random.RandomState(SEED).randn(8, 3) * math.sqrt(1 / 8)
    assert_array_equal(out, expected)


def test_he_equals_randn_times_sqrt_two_over_fan_in():
    """he((n_in, n_out)) == randn(n_in, n_out) * sqrt(2 / n_in)."""
    out = TABLE["he"]((8, 3), np.random.RandomState(SEED))
    expected = np.random.RandomState(SEED).randn(8, 3) * math.sqrt(2 / 8)
    assert_array_equal(out, expected)


@pytest.mark.parametrize(("name", "factor"), [("xavier", 1.0), ("he", 2.0)])
def test_fan_in_scaled_initializers_with_generator(name, factor):
    """xavier and he with default_rng use standard_normal(shape) * sqrt(factor / shape[0])."""
    out = TABLE[name]((5, 2), np.random.default_rng(SEED))
    expected = np.random.default_rng(SEED).standard_normal((5, 2)) * math.sqrt(factor / 5)
    assert_array_equal(out, expected)


@pytest.mark.parametrize("make_rng", [np.random.RandomState, np.random.default_rng])
def test_zeros_is_all_zero_and_draws_nothing(make_rng):
    """zeros returns zeros and leaves the rng's next draw equal to a fresh rng's first draw."""
    rng = make_rng(SEED)
    out = TABLE["zeros"]((3, 4), rng)
    assert out.shape == (3, 4)
    assert_array_equal(out, np.zeros((3, 4)))
    assert_array_equal(rng.standard_normal(5), make_rng(SEED).standard_normal(5))


@pytest.mark.parametrize("name", ["uniform", "normal", "xavier", "he", "zeros"])
@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 5)])
def test_shape_is_as_requested(name, shape):
    """Every initializer returns an array of exactly the requested shape."""
    out = TABLE[name](shape, np.random.RandomState(SEED))
    assert isinstance(out, np.ndarray)
    assert out.shape == shape


@pytest.mark.parametrize("name", ["uniform", "normal", "xavier", "he"])
def test_deterministic_for_a_seed_and_different_for_another(name):
    """The same seed gives identical arrays; a different seed gives different ones."""
    first = TABLE[name]((4, 3), np.random.RandomState(7))
    again = TABLE[name]((4, 3), np.random.RandomState(7))
    other = TABLE[name]((4, 3), np.random.RandomState(8))
    assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("name", ["uniform", "normal", "xavier", "he"])
def test_random_initializers_advance_the_rng(name):
    """A drawing initializer consumes exactly prod(shape) draws from a legacy RandomState."""
    rng = np.random.RandomState(SEED)
    TABLE[name]((4, 3), rng)
    reference = np.random.RandomState(SEED)
    if name == "uniform":
        reference.rand(4, 3)
    else:
        reference.randn(4, 3)
    assert_array_equal(rng.rand(3), reference.rand(3))
