"""Profiles as small, versioned files, so a reference is scanned once and then read back.

The format is gzip-compressed JSON with numeric arrays as base64 little-endian bytes:
no pickle (a cached file from object storage must never be able to run code), readable
with any JSON tool after ``gunzip``, and ``format``/``version`` checked on load.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import datasketches
import numpy as np

from driftwarden.errors import ProfileError
from driftwarden.profile.categorical import CategoricalProfile
from driftwarden.profile.dataset import ColumnProfile, DatasetProfile, ProfileOptions
from driftwarden.profile.numeric import NumericProfile

FORMAT = "driftwarden-profile"
VERSION = 1


def _encode(array: np.ndarray | None, dtype: str) -> str | None:
    if array is None:
        return None
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _decode(text: str | None, dtype: str) -> np.ndarray | None:
    if text is None:
        return None
    return np.frombuffer(base64.b64decode(text), dtype=dtype).copy()


def _column_to_dict(profile: ColumnProfile, keep_keys: bool) -> dict[str, Any]:
    if isinstance(profile, NumericProfile):
        # The sample is stored sorted (keys permuted alike): KS and Wasserstein need it
        # sorted, and a loaded reference then skips the sort on every later run.
        order = np.argsort(profile.sample, kind="stable")
        return {
            "kind": "numerical",
            "sampleSize": profile.sample_size,
            "rows": profile.rows,
            "nulls": profile.nulls,
            "nan": profile.nan,
            "posInf": profile.pos_inf,
            "negInf": profile.neg_inf,
            "finite": profile.finite,
            "rounded": profile.rounded,
            "min": profile.minimum if profile.finite else None,
            "max": profile.maximum if profile.finite else None,
            "mean": profile.mean,
            "m2": profile.m2,
            "sample": _encode(profile.sample[order], "<f8"),
            "keys": _encode(profile.keys[order], "<f8") if keep_keys else None,
            "edges": _encode(profile.edges, "<f8"),
            "binCounts": _encode(profile.bin_counts, "<i8"),
        }
    return {
        "kind": "categorical",
        "maxCategories": profile.max_categories,
        "rows": profile.rows,
        "nulls": profile.nulls,
        "labels": list(profile.counts),
        "counts": list(profile.counts.values()),
        "sketch": None
        if profile.sketch is None
        else base64.b64encode(profile.sketch.serialize()).decode("ascii"),
    }


def _check_numeric_arrays(
    sample: np.ndarray | None,
    keys: np.ndarray | None,
    edges: np.ndarray | None,
    bin_counts: np.ndarray | None,
    sample_size: int,
) -> None:
    """Raise ValueError when a numerical column's arrays cannot belong together."""
    size = 0 if sample is None else sample.size
    if size > sample_size:
        raise ValueError(f"a sample of {size} values exceeds the sample size {sample_size}")
    if keys is not None and keys.size != size:
        raise ValueError(f"{keys.size} sampling keys for {size} sampled values")
    if (edges is None) != (bin_counts is None) or (
        edges is not None and bin_counts is not None and bin_counts.size != edges.size + 1
    ):
        raise ValueError("histogram counts do not match the bin edges")


def _column_from_dict(data: dict[str, Any]) -> ColumnProfile:
    if data["kind"] == "numerical":
        sample = _decode(data["sample"], "<f8")
        keys = _decode(data.get("keys"), "<f8")
        edges = _decode(data.get("edges"), "<f8")
        bin_counts = _decode(data.get("binCounts"), "<i8")
        _check_numeric_arrays(sample, keys, edges, bin_counts, int(data["sampleSize"]))
        return NumericProfile(
            sample_size=int(data["sampleSize"]),
            rows=int(data["rows"]),
            nulls=int(data["nulls"]),
            nan=int(data["nan"]),
            pos_inf=int(data["posInf"]),
            neg_inf=int(data["negInf"]),
            finite=int(data["finite"]),
            rounded=int(data.get("rounded", 0)),
            minimum=float("inf") if data["min"] is None else float(data["min"]),
            maximum=float("-inf") if data["max"] is None else float(data["max"]),
            mean=float(data["mean"]),
            m2=float(data["m2"]),
            sample=sample if sample is not None else np.empty(0),
            # Without keys a profile can still be compared; merging it again keeps its
            # sample as if every key were 0, i.e. whole.
            keys=keys if keys is not None else np.zeros(0 if sample is None else sample.size),
            edges=edges,
            bin_counts=bin_counts,
        )
    if data["kind"] == "categorical":
        profile = CategoricalProfile(
            int(data["maxCategories"]), rows=int(data["rows"]), nulls=int(data["nulls"])
        )
        profile.counts = dict(zip(data["labels"], (int(c) for c in data["counts"]), strict=True))
        if data.get("sketch"):
            profile.sketch = datasketches.frequent_strings_sketch.deserialize(
                base64.b64decode(data["sketch"])
            )
        return profile
    raise ValueError(f"unknown column kind {data['kind']!r}")


def dumps_profile(profile: DatasetProfile, *, keep_keys: bool = True) -> bytes:
    """Serialise a profile. ``keep_keys=False`` drops the sampling keys (half the size);
    such a profile still compares, but no longer merges as a uniform sample."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "options": {
            "sampleSize": profile.options.sample_size,
            "maxCategories": profile.options.max_categories,
            "seed": profile.options.seed,
        },
        "rows": profile.rows,
        "metadata": profile.metadata,
        "columns": {
            name: _column_to_dict(column, keep_keys) for name, column in profile.columns.items()
        },
    }
    return gzip.compress(
        json.dumps(document, separators=(",", ":")).encode(), compresslevel=5, mtime=0
    )


def loads_profile(data: bytes, *, source: str = "profile") -> DatasetProfile:
    """Read a profile written by :func:`dumps_profile`; ProfileError names ``source`` if it can't."""
    try:
        document = json.loads(gzip.decompress(data))
    # Any failure to decode is damage (zlib.error for a corrupt deflate stream is not an
    # OSError; a truncated multi-byte sequence is a UnicodeDecodeError, …): the caller
    # recomputes, so nothing here may escape as an internal error.
    except Exception as error:
        raise ProfileError(
            f"{source} is not a readable driftwarden profile ({error})",
            hint="delete it; it will be recomputed from the reference data",
        ) from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ProfileError(f"{source} is not a driftwarden profile", hint="delete it to recompute")
    if document.get("version") != VERSION:
        raise ProfileError(
            f"{source} has profile version {document.get('version')!r}; this driftwarden reads version {VERSION}",
            hint="delete it to recompute",
        )
    try:
        options = ProfileOptions(
            sample_size=int(document["options"]["sampleSize"]),
            max_categories=int(document["options"]["maxCategories"]),
            seed=int(document["options"]["seed"]),
        )
        columns = {name: _column_from_dict(column) for name, column in document["columns"].items()}
        return DatasetProfile(
            options, columns, int(document["rows"]), dict(document.get("metadata") or {})
        )
    except Exception as error:
        raise ProfileError(
            f"{source} is damaged ({error!r})", hint="delete it to recompute"
        ) from error
