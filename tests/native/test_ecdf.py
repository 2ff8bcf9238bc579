"""driftwarden.native._ecdf against the numpy code it replaces, on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from driftwarden import native

ecdf = native.load("_ecdf")
pytestmark = pytest.mark.skipif(ecdf is None, reason="compiled kernels off or not built")

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(hnp.arrays(np.float64, st.integers(0, 40), elements=FLOATS))
def test_is_sorted_equals_numpy(values):
    assert ecdf.is_sorted(values) == bool((values[1:] >= values[:-1]).all())


@given(hnp.arrays(np.float64, st.integers(0, 40), elements=st.sampled_from([-1.0, -0.0, 0.0, 2.0])))
def test_is_sorted_equals_numpy_on_sorted_ties_and_signed_zeros(values):
    values.sort()
    assert ecdf.is_sorted(values) == bool((values[1:] >= values[:-1]).all())


def test_is_sorted_refuses_what_is_not_contiguous_float64():
    with pytest.raises(TypeError, match="expected float64 values, got format 'l'"):
        ecdf.is_sorted(np.arange(3))
    with pytest.raises(TypeError, match="expected a contiguous float64 array"):
        ecdf.is_sorted(np.arange(6.0)[::2])
    with pytest.raises(TypeError, match="expected a contiguous float64 array"):
        ecdf.is_sorted("abc")
