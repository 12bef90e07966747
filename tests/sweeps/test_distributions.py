"""The distributions of a random search: parsed from text, drawn from a numpy Generator.

Draws are checked against closed forms (bounds, means, the uniform law of the
logarithms) and against the book's own rule for a learning rate
(``ch06/hyperparameter_optimization.py``), never against the module's own arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from toolkit import SpecError
from toolkit.sweeps.distributions import Distribution, parse_distribution

DRAWS = 20_000


def draws(text: str, count: int = DRAWS, seed: int = 0) -> list[object]:
    dist = parse_distribution(text)
    rng = np.random.default_rng(seed)
    return [dist.draw(rng) for _ in range(count)]


def ks_distance(samples: list[float], low: float, high: float) -> float:
    """The largest gap between the samples' empirical CDF and the uniform one on [low, high]."""
    ordered = np.sort(np.asarray(samples))
    cdf = (ordered - low) / (high - low)
    n = len(ordered)
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


def test_loguniform_is_the_books_rule_for_the_same_generator_state() -> None:
    """The book draws ``lr = 10 ** np.random.uniform(-2, -6)``, the same law as
    ``uniform(-6, -2)`` (its legacy generator takes the bounds either way round; a
    Generator takes them low first): loguniform:1e-6,1e-2 gives the numbers of that rule
    from the same generator state."""
    ours = draws("loguniform:1e-6,1e-2", count=100, seed=7)
    rng = np.random.default_rng(7)
    book = [10 ** rng.uniform(-6, -2) for _ in range(100)]
    assert ours == book


def test_loguniform_logarithms_are_uniform_between_the_bounds() -> None:
    values = draws("loguniform:1e-8,1e-4")
    logs = [math.log10(value) for value in values]
    assert min(logs) >= -8 and max(logs) <= -4
    assert ks_distance(logs, -8, -4) < 1.63 / math.sqrt(DRAWS)  # the 1% Kolmogorov bound
    assert all(type(value) is float for value in values)


def test_uniform_draws_fill_the_range_evenly() -> None:
    values = draws("uniform:-1,3")
    assert min(values) >= -1 and max(values) < 3
    assert np.mean(values) == pytest.approx(1.0, abs=0.03)  # the mean of U(-1, 3)
    assert np.var(values) == pytest.approx(16 / 12, rel=0.03)  # (b - a)^2 / 12
    assert ks_distance(values, -1, 3) < 1.63 / math.sqrt(DRAWS)


def test_int_includes_both_ends_each_as_likely() -> None:
    values = draws("int:1,3", count=3000)
    assert set(values) == {1, 2, 3}
    assert all(type(value) is int for value in values)
    for end in (1, 2, 3):
        assert values.count(end) / 3000 == pytest.approx(1 / 3, abs=0.04)


def test_choice_keeps_each_values_yaml_type() -> None:
    assert set(draws("choice:16,32", count=200)) == {16, 32}
    assert set(draws("choice:'16',relu", count=200)) == {"16", "relu"}
    values = draws("choice:a,b,c,d", count=4000)
    for value in "abcd":
        assert values.count(value) / 4000 == pytest.approx(0.25, abs=0.03)


def test_the_same_seed_gives_the_same_draws() -> None:
    assert draws("uniform:0,1", 50, seed=11) == draws("uniform:0,1", 50, seed=11)
    assert draws("uniform:0,1", 50, seed=11) != draws("uniform:0,1", 50, seed=12)


@pytest.mark.parametrize(
    "text",
    ["uniform:0,1", "loguniform:1e-6,1e-2", "int:-3,7", "choice:a,'b,c',16,'16',true,null"],
)
def test_the_written_form_reads_back_as_the_same_distribution(text: str) -> None:
    dist = parse_distribution(text)
    assert parse_distribution(str(dist)) == dist
    assert isinstance(dist, Distribution)


def test_a_choice_value_may_hold_a_comma_in_quotes() -> None:
    assert parse_distribution("choice:'a,b',c").args == ("a,b", "c")


@pytest.mark.parametrize(
    ("text", "says", "fix"),
    [
        ("uniform:1,0", "the first bound must be below the second", "write uniform:0,1"),
        ("uniform:1,1", "the first bound must be below the second", "a < b"),
        ("loguniform:0,1", "must be above 0", "loguniform:1e-6,1e-2"),
        ("loguniform:-1,1", "must be above 0", "uniform:a,b"),
        ("int:0,2.5", "whole numbers, got 2.5", "int:1,10"),
        ("int:true,3", "whole numbers, got true", "int:1,10"),
        ("unifrom:0,1", "unknown distribution 'unifrom'", "did you mean 'uniform'?"),
        ("logunifrom:1,2", "unknown distribution", "did you mean 'loguniform'?"),
        ("0.5", "is not a distribution", "loguniform:1e-4,1e-1"),
        ("uniform:0", "two bounds a,b, got 1 values", "a < b"),
        ("uniform:a,1", "must be numbers, got text 'a'", "a < b"),
        ("uniform:0,.inf", "must be finite", "a < b"),
        ("choice:", "at least one value", "choice:a,b,c"),
        ("choice:a,a", "text 'a' is given twice", "each choice once"),
        ("choice:[1],2", "must be a YAML scalar", "true, false or null"),
        ("uniform:0,,1", "values separated by commas", "quote a value"),
    ],
)
def test_bad_text_is_one_line_naming_it_and_a_fix(text: str, says: str, fix: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_distribution(text, path="optimizer.learning_rate")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("optimizer.learning_rate: ")
    assert says in message and fix in message
    assert repr(text) in message or "unknown distribution" in message or "is not" in message


def test_a_distribution_that_is_not_text_is_refused() -> None:
    with pytest.raises(SpecError, match=r"expected a distribution, got 0\.5"):
        parse_distribution(0.5)
