"""The cheap sortedness guard for samples a profile keeps sorted."""

import numpy as np
import pytest

from driftwarden.stats import is_sorted, wasserstein_sampling_error
from driftwarden.stats.inference import looks_sorted

RNG = np.random.default_rng(12)


@pytest.mark.parametrize("size", [0, 1, 2, 63, 64, 65, 1000, 32_768])
def test_a_sorted_array_passes(size):
    values = np.sort(RNG.normal(size=size))
    assert looks_sorted(values)
    assert looks_sorted(np.round(values, 1))  # ties


@pytest.mark.parametrize("size", [65, 1000, 32_768])
def test_shuffled_descending_and_unsorted_ends_fail(size):
    values = np.sort(RNG.normal(size=size))
    assert not looks_sorted(RNG.permutation(values))
    assert not looks_sorted(values[::-1])
    last_low = values.copy()
    last_low[-1] = values[0] - 1  # only the last value out of place
    assert not looks_sorted(last_low)


@pytest.mark.parametrize("size", [2, 10, 64])
def test_small_arrays_are_checked_in_full(size):
    values = np.sort(RNG.normal(size=size))
    values[[0, 1]] = values[[1, 0]]
    assert not is_sorted(values)
    assert not looks_sorted(values)


def test_presorted_sampling_error_equals_the_checked_one():
    sample = RNG.lognormal(size=5000)
    expected = wasserstein_sampling_error(sample, 10**6)
    assert expected > 0
    ordered = np.sort(sample)
    assert wasserstein_sampling_error(ordered, 10**6, presorted=True) == expected
    # a caller wrong about the order is caught by the guard, not answered wrongly
    assert wasserstein_sampling_error(sample, 10**6, presorted=True) == expected
