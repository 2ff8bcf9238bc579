"""The compiled profiling kernel (native/_profile.c) and the numpy code give the same profile.

Real Parquet files through the storage layer, profiled twice in one process: with the
kernel, and with ``numeric._kernel`` and ``reserve._kernel`` set to None (the path
``DRIFTWARDEN_NATIVE=0`` takes). Counts and samples must be identical, moments equal
within the kernel's rounding (tests/native/test_profile_kernel.py bounds it exactly).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from driftwarden import native
from driftwarden.profile import ColumnPlan, NumericProfile, build_profile
from driftwarden.profile import numeric as numeric_module
from driftwarden.profile import reserve as reserve_module
from driftwarden.profile.sampling import RowKeys

from .test_reserve import OPTIONS, ROWS, STREAM, _file, _profile

pytestmark = pytest.mark.skipif(
    native.load("_profile") is None, reason="compiled kernels off or not built"
)

_COUNTS = ("rows", "nulls", "nan", "pos_inf", "neg_inf", "finite", "rounded")


def _numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numeric_module, "_kernel", None)
    monkeypatch.setattr(reserve_module, "_kernel", None)


def _assert_same(kernel: NumericProfile, numpy: NumericProfile, name: str) -> None:
    for attribute in _COUNTS:
        assert getattr(kernel, attribute) == getattr(numpy, attribute), (name, attribute)
    assert (kernel.minimum, kernel.maximum) == (numpy.minimum, numpy.maximum), name
    assert kernel.sample.tobytes() == numpy.sample.tobytes(), name
    assert kernel.keys.tobytes() == numpy.keys.tobytes(), name
    if numpy.bin_counts is not None:
        assert kernel.bin_counts is not None
        assert kernel.bin_counts.tolist() == numpy.bin_counts.tolist(), name
    assert math.isclose(kernel.mean, numpy.mean, rel_tol=1e-13, abs_tol=1e-13), name
    assert math.isclose(kernel.m2, numpy.m2, rel_tol=1e-12), name


@pytest.mark.parametrize(("cut", "breaking"), [(True, False), (False, True)])
def test_kernel_and_numpy_profile_a_file_alike(tmp_path, monkeypatch, cut, breaking):
    # Clean columns, NaN after the first batch, nulls, integers (and +inf from the middle,
    # which exhausts the cut): the kernel's batches and the ones it hands back to numpy.
    dataset, plan = _file(tmp_path / "data", seed=3, breaking=breaking)
    rows = ROWS if cut else None
    with_kernel = _profile(dataset, plan, rows)
    _numpy_path(monkeypatch)
    with_numpy = _profile(dataset, plan, rows)
    for column in plan:
        mine, theirs = with_kernel.columns[column.name], with_numpy.columns[column.name]
        if isinstance(mine, NumericProfile):
            assert isinstance(theirs, NumericProfile)
            _assert_same(mine, theirs, column.name)


def test_kernel_and_numpy_agree_on_a_mean_of_1e9_with_spread_1(monkeypatch):
    rng = np.random.default_rng(11)
    batches = [
        pa.record_batch({"x": 1e9 + rng.normal(size=700)}),
        pa.record_batch({"x": 1e9 + rng.normal(size=900)}),
    ]
    plan = [ColumnPlan("x", "numerical")]
    edges = {"x": np.array([1e9 - 1.0, 1e9, 1e9 + 1.0])}
    with_kernel = build_profile(batches, plan, OPTIONS, edges=edges, stream=STREAM)
    _numpy_path(monkeypatch)
    with_numpy = build_profile(batches, plan, OPTIONS, edges=edges, stream=STREAM)
    mine, theirs = with_kernel.columns["x"], with_numpy.columns["x"]
    assert isinstance(mine, NumericProfile) and isinstance(theirs, NumericProfile)
    _assert_same(mine, theirs, "x")
    values = np.concatenate([b.column(0).to_numpy() for b in batches])
    # Each batch's mean rounds to float64's step at 1e9 (~1e-7) before batches combine
    # (on either path): that, not the kernel, limits this to ~1e-9.
    assert mine.std == pytest.approx(values.std(), rel=1e-7)


def test_a_batch_the_kernel_hands_back_is_counted_once(monkeypatch):
    # NaN, ±inf and a huge finite value: the kernel refuses the batch, numpy counts it.
    values = pa.array([1.0, np.nan, np.inf, -np.inf, 2.0, None, 1e308, -1e308])
    edges = np.array([0.0, 1.5])
    with_kernel = NumericProfile(10).with_edges(edges)
    with_kernel.update(values, RowKeys(0))
    _numpy_path(monkeypatch)
    with_numpy = NumericProfile(10).with_edges(edges)
    with_numpy.update(values, RowKeys(0))
    _assert_same(with_kernel, with_numpy, "mixed")
    assert with_kernel.bin_counts is not None
    assert with_kernel.bin_counts.tolist() == [2, 1, 3]  # -inf, -1e308 | 1.0 | 2.0, 1e308, +inf


def test_edges_are_kept_contiguous_for_the_kernel():
    profile = NumericProfile(10).with_edges(np.arange(6.0)[::2])
    profile.update(pa.array([0.5, 2.5, 4.5]), RowKeys(0))
    assert profile.bin_counts is not None
    assert profile.bin_counts.tolist() == [0, 1, 1, 1]  # edges 0, 2, 4


def test_a_profile_with_edges_but_no_counts_is_still_observed(monkeypatch):
    # A merge keeps the edges but drops counts when one side had none (numeric.merge).
    counted = NumericProfile(10).with_edges(np.array([0.0]))
    merged = counted.merge(NumericProfile(10, edges=counted.edges))
    assert merged.edges is not None and merged.bin_counts is None
    merged.update(pa.array([1.0, 2.0]), RowKeys(0))
    _numpy_path(monkeypatch)
    expected = counted.merge(NumericProfile(10, edges=counted.edges))
    expected.update(pa.array([1.0, 2.0]), RowKeys(0))
    _assert_same(merged, expected, "merged")
