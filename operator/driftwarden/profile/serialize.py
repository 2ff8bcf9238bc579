"""Profiles as versioned files, so a reference is scanned once and then read back.

No pickle: a cached file from object storage must never be able to run code. The file
(the container of version 2, which version 3 keeps) is built to load in milliseconds
per feature::

    b"DWPROF2\n" | header length (u64 LE) | gzip(JSON header) | zero padding to 8 | payload

The JSON header holds every number and label; numeric arrays (samples, stored sorted,
bin edges and counts) are raw little-endian bytes in the payload, referenced by
``{"at": byte offset, "n": count}`` and read back with ``np.frombuffer`` (no copy,
no base64, no inflating 256 KiB of incompressible doubles per feature). The header
records the payload's size and a checksum, so any damaged byte is detected: ``sum64``
(:func:`payload_checksum`), or in files written before it ``crc32`` (CRC-32, still
read). Version 3 (the
header's ``version``) stores categorical columns past ``maxCategories`` as first keys and
a count-min table, which merge order-free (profile/categorical.py); files of versions 1
(gzip-compressed JSON with base64 arrays) and 2 (a frequent-items sketch, whose merge
depends on order) are refused with a ProfileError, so caches recompute them.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from driftwarden.background import Background
from driftwarden.errors import ProfileError
from driftwarden.profile.categorical import DEPTH, CategoricalProfile, sketch_width
from driftwarden.profile.dataset import ColumnProfile, DatasetProfile, ProfileOptions
from driftwarden.profile.numeric import NumericProfile
from driftwarden.profile.rows import RowSample

FORMAT = "driftwarden-profile"
VERSION = 3  # 3: order-free categorical summaries past the cap (first keys, count-min)
_MAGIC = b"DWPROF2\n"
_LENGTH = struct.Struct("<Q")

# Stores an array and returns what the JSON header holds in its place; and back.
Put = Callable[[np.ndarray | None, str], Any]
Get = Callable[[Any, str], np.ndarray | None]


class _Payload:
    """The binary payload being written: arrays appended 8-byte aligned."""

    def __init__(self) -> None:
        self.parts: list[memoryview] = []
        self.size = 0

    def put(self, array: np.ndarray | None, dtype: str) -> dict[str, int] | None:
        if array is None:
            return None
        # A view of the array's own bytes (copied only if its layout or type differs):
        # the parts are written out one by one, never joined in memory.
        data = np.ascontiguousarray(array, dtype=dtype).data.cast("B")
        ref = {"at": self.size, "n": len(data) // np.dtype(dtype).itemsize}
        self.parts.append(data)
        self.size += len(data)  # every dtype here is 8 bytes wide: stays aligned
        return ref


# payload_checksum: the payload's 8-byte words are weighted in chunks of this many words,
# by odd multipliers that differ for every position in a chunk and for every chunk.
_CHUNK_WORDS = 1 << 15
_MASK = (1 << 64) - 1
# Position j's multiplier: (2j · 0x9E3779B97F4A7C15 mod 2^64) | 1, i.e. 2^64/φ steps
# (as splitmix64's, profile/sampling.py), made odd.
_STEP = np.uint64((2 * 0x9E3779B97F4A7C15) & _MASK)
_WEIGHTS = (np.arange(_CHUNK_WORDS, dtype=np.uint64) * _STEP) | np.uint64(1)
_WEIGHTS.flags.writeable = False


class PayloadChecksum:
    """``sum64`` of a payload fed in parts (see :func:`payload_checksum`)."""

    def __init__(self) -> None:
        self.words = 0  # words seen so far: the position of the next one
        self.value = 0

    def update(self, part: bytes | memoryview | np.ndarray) -> None:
        """Add the next ``part`` of the payload (a whole number of 8-byte words)."""
        words = np.frombuffer(part, dtype="<u8")
        at = 0
        while at < words.size:
            chunk, offset = divmod(self.words, _CHUNK_WORDS)
            whole = (words.size - at) // _CHUNK_WORDS if offset == 0 else 0
            if whole:
                # Whole chunks in one call: a matrix of them times the weights gives every
                # chunk's sum, the chunks' odd factors then weight those. Two numpy calls
                # that release the GIL throughout, where a call per chunk took it back
                # 1,000 times a 262 MB payload (and that many ~5 µs of Python).
                sums = np.dot(words[at : at + whole * _CHUNK_WORDS].reshape(whole, -1), _WEIGHTS)
                factors = np.arange(2 * chunk + 1, 2 * (chunk + whole), 2, dtype=np.uint64)
                weighted = int(np.dot(sums, factors))
                take = whole * _CHUNK_WORDS
            else:
                take = min(words.size - at, _CHUNK_WORDS - offset)
                part_sum = np.dot(words[at : at + take], _WEIGHTS[offset : offset + take])
                weighted = int(part_sum) * (2 * chunk + 1)
            # Wraps modulo 2^64, as unsigned integer arithmetic does: exact in any order.
            self.value = (self.value + weighted) & _MASK
            self.words += take
            at += take


def payload_checksum(payload: bytes | memoryview) -> int:
    """A 64-bit checksum of a payload of 8-byte words: Σ wᵢ·mᵢ mod 2^64, with an odd
    multiplier mᵢ per position (the word's place in its chunk of 32,768, times the
    chunk's own odd factor).

    Any damaged word changes it (mᵢ is odd, so no non-zero change of a word is lost
    modulo 2^64), and so do zeroed, truncated or reordered stretches, words swapped
    but for a vanishing share of cases. Damage to a few words can cancel, though, where
    CRC-32 caught every 2-bit error: a weighted sum carries a change upwards only, so
    the top bits of two words flipped together (two doubles' signs) are never seen, and
    ~3% of pairs of flips in two words' top bytes are missed (a damaged block of many
    words, the common case, is missed with odds of ~2^-64). Not a cryptographic hash,
    as CRC-32 was not: it detects damage, not tampering. Why not CRC-32: zlib's ran at
    ~3 GB/s, 80 ms of every analysis that loads a 1,000-feature reference profile
    (262 MB); this is one integer dot product per chunk in numpy, at memory speed
    (bench/RESULTS.md, addendum 15).
    """
    checksum = PayloadChecksum()
    checksum.update(payload)
    return checksum.value


def _zero_keys(size: int) -> np.ndarray:
    """``size`` sampling keys of 0, as a read-only view of a single value."""
    return np.broadcast_to(np.zeros(1), (size,))


def _getter(payload: memoryview) -> Get:
    def get(ref: Any, dtype: str) -> np.ndarray | None:
        if ref is None:
            return None
        at, n = int(ref["at"]), int(ref["n"])
        if at < 0 or n < 0 or at + n * np.dtype(dtype).itemsize > len(payload):
            raise ValueError(f"array at {at} of {n} values lies outside the payload")
        # A read-only view of the file's bytes: loading copies nothing.
        return np.frombuffer(payload, dtype=dtype, count=n, offset=at)

    return get


def _put_base64(array: np.ndarray | None, dtype: str) -> str | None:
    if array is None:
        return None
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _get_base64(text: Any, dtype: str) -> np.ndarray | None:
    if text is None:
        return None
    return np.frombuffer(base64.b64decode(text), dtype=dtype).copy()


def _column_to_dict(
    profile: ColumnProfile, keep_keys: bool, put: Put, sort: bool = True
) -> dict[str, Any]:
    if isinstance(profile, NumericProfile):
        # The sample is stored sorted (keys permuted alike): KS and Wasserstein need it
        # sorted, and a loaded reference then skips the sort on every later run.
        order = _sample_order(profile) if sort else slice(None)
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
            # A merged profile's exact moment sums, so merging it again stays exact.
            "sums": None if profile._sums is None else [str(part) for part in profile._sums],
            "sample": put(profile.sample[order], "<f8"),
            "keys": put(profile.keys[order], "<f8") if keep_keys else None,
            "edges": put(profile.edges, "<f8"),
            "binCounts": put(profile.bin_counts, "<i8"),
            # Read back, a sample stored sorted needs no full check that it is
            # (NumericProfile.mark_sorted): 1,000 passes over memory per loaded reference.
            "sorted": sort,
        }
    # By label, not in the order the rows met them: the same counts give the same
    # bytes whichever file (or shard) was read or merged first. Past the cap the labels
    # are the candidates and the counts the count-min table (profile/categorical.py).
    labels = sorted(profile.counts if profile.exact else profile.firsts)
    firsts = np.array([profile.firsts.get(label, 0.0) for label in labels], dtype=np.float64)
    return {
        "kind": "categorical",
        "maxCategories": profile.max_categories,
        "rows": profile.rows,
        "nulls": profile.nulls,
        "labels": labels,
        "counts": [profile.counts[label] for label in labels] if profile.exact else None,
        "firsts": put(firsts, "<f8") if keep_keys else None,
        "table": None if profile.table is None else put(profile.table.reshape(-1), "<i8"),
    }


def _sample_order(profile: NumericProfile) -> np.ndarray:
    """The sample's order by value, equal values by key: a merge leaves equal values'
    keys in the order the inputs came, and the stored keys must not depend on that."""
    # Without ties every sort gives this one order, so numpy's fastest (its SIMD
    # quicksort) does: ~0.5 ms a 32,768-value sample against stable timsort's ~4.5 ms,
    # seconds of writing a 1,000-feature profile.
    order = np.argsort(profile.sample)
    ordered = profile.sample[order]
    if ordered.size > 1 and np.any(ordered[1:] == ordered[:-1]):
        order = np.lexsort((profile.keys, profile.sample))
    return order


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


def _column_from_dict(data: dict[str, Any], get: Get) -> ColumnProfile:
    if data["kind"] == "numerical":
        sample = get(data["sample"], "<f8")
        keys = get(data.get("keys"), "<f8")
        edges = get(data.get("edges"), "<f8")
        counts = get(data.get("binCounts"), "<i8")
        bin_counts = None if counts is None else counts.copy()  # small, and updated in place
        _check_numeric_arrays(sample, keys, edges, bin_counts, int(data["sampleSize"]))
        sums = data.get("sums")
        numeric = NumericProfile(
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
            # A read-only broadcast zero takes no memory (np.zeros took 250 MiB at
            # 1,000 features, as much as the samples themselves).
            keys=keys if keys is not None else _zero_keys(0 if sample is None else sample.size),
            edges=edges,
            bin_counts=bin_counts,
        )
        if sums is not None:
            total, squares = (Fraction(str(part)) for part in sums)
            numeric._set_sums(total, squares)
        if data.get("sorted") is True:
            numeric.mark_sorted()
        return numeric
    if data["kind"] == "categorical":
        return _categorical_from_dict(data, get)
    raise ValueError(f"unknown column kind {data['kind']!r}")


def _categorical_from_dict(data: dict[str, Any], get: Get) -> CategoricalProfile:
    cap = int(data["maxCategories"])
    profile = CategoricalProfile(cap, rows=int(data["rows"]), nulls=int(data["nulls"]))
    labels = [str(label) for label in data["labels"]]
    firsts = get(data.get("firsts"), "<f8")
    if firsts is not None and firsts.size != len(labels):
        raise ValueError(f"{firsts.size} first keys for {len(labels)} labels")
    # Without keys (a cached reference) every first key reads 0: such a profile still
    # compares, and merging it again keeps its labels in label order.
    profile.firsts = dict(
        zip(labels, [0.0] * len(labels) if firsts is None else firsts.tolist(), strict=True)
    )
    table = get(data.get("table"), "<i8")
    if table is None:
        profile.counts = dict(zip(labels, (int(c) for c in data["counts"]), strict=True))
        return profile
    width = sketch_width(cap)
    if table.size != DEPTH * width or len(labels) > cap:
        raise ValueError(f"a count-min table of {table.size} counters, not {DEPTH} x {width}")
    profile.table = table.reshape(DEPTH, width)
    return profile


def _options_to_dict(options: ProfileOptions) -> dict[str, Any]:
    document: dict[str, Any] = {
        "sampleSize": options.sample_size,
        "maxCategories": options.max_categories,
        "seed": options.seed,
    }
    if options.keeps_rows:  # only then: profiles without a row sample read as before
        document["rowFeatures"] = list(options.row_features)
        document["rowSampleSize"] = options.row_sample_size
    return document


def _options_from_dict(data: dict[str, Any]) -> ProfileOptions:
    features = data.get("rowFeatures") or []
    if not isinstance(features, list) or not all(isinstance(name, str) for name in features):
        raise ValueError("rowFeatures is not a list of column names")
    return ProfileOptions(
        sample_size=int(data["sampleSize"]),
        max_categories=int(data["maxCategories"]),
        seed=int(data["seed"]),
        row_features=tuple(features),
        row_sample_size=int(data.get("rowSampleSize") or 0),
    )


def _rows_to_dict(sample: RowSample | None, put: Put) -> dict[str, Any] | None:
    if sample is None:
        return None
    # Keys always kept (8 bytes a row, against 8 per feature): the sample is small, and
    # a cached reference's rows keep their order, which the detector's split relies on.
    return {
        "rows": sample.rows,
        "values": put(sample.values.reshape(-1), "<f8"),
        "keys": put(sample.keys, "<f8"),
    }


def _rows_from_dict(data: Any, options: ProfileOptions, get: Get) -> RowSample | None:
    if data is None:
        return None
    width, rows = len(options.row_features), int(data["rows"])
    values, keys = get(data["values"], "<f8"), get(data["keys"], "<f8")
    if values is None or keys is None or keys.size != rows or values.size != rows * width:
        raise ValueError(f"the row sample does not hold {rows} rows of {width} features")
    if rows > options.row_sample_size or np.any(np.diff(keys) < 0):
        raise ValueError("the row sample is larger than its size or not in key order")
    return RowSample(
        options.row_features, options.row_sample_size, values.reshape(rows, width), keys
    )


def dumps_profile(profile: DatasetProfile, *, keep_keys: bool = True, sort: bool = True) -> bytes:
    """Serialise a profile. ``keep_keys=False`` drops the sampling keys (half the size);
    such a profile still compares, but no longer merges as a uniform sample.
    ``sort=False`` stores samples in their own order: for profiles that are only merged
    again (the window cache), where sorting ~2 ms a column would be wasted."""
    return b"".join(dump_parts(profile, keep_keys=keep_keys, sort=sort))


def dump_parts(
    profile: DatasetProfile, *, keep_keys: bool = True, sort: bool = True
) -> list[bytes | memoryview]:
    """:func:`dumps_profile` as the consecutive pieces of the file, for a writer that
    takes them one by one: the arrays are views of the profile's own memory, so a
    10 MiB profile is not copied twice (into bytes, then into one joined object) before
    it is written. Valid while the profile is unchanged."""
    payload = _Payload()
    document = {
        "format": FORMAT,
        "version": VERSION,
        "options": _options_to_dict(profile.options),
        "rows": profile.rows,
        "metadata": profile.metadata,
        "columns": {
            name: _column_to_dict(column, keep_keys, payload.put, sort)
            for name, column in profile.columns.items()
        },
    }
    if profile.row_sample is not None:
        document["rowSample"] = _rows_to_dict(profile.row_sample, payload.put)
    checksum = PayloadChecksum()
    for part in payload.parts:  # part by part: the payload is copied once, below
        checksum.update(part)
    document["payload"] = {"size": payload.size, "sum64": checksum.value}
    header = gzip.compress(
        json.dumps(document, separators=(",", ":")).encode(), compresslevel=5, mtime=0
    )
    padding = b"\0" * (-(len(_MAGIC) + _LENGTH.size + len(header)) % 8)
    return [_MAGIC + _LENGTH.pack(len(header)) + header + padding, *payload.parts]


def _unreadable(source: str, error: Exception) -> ProfileError:
    return ProfileError(
        f"{source} is not a readable driftwarden profile ({error})",
        hint="delete it; it will be recomputed from the reference data",
    )


def _read_document(data: bytes | memoryview, source: str) -> tuple[Any, Get, PayloadCheck | None]:
    """The JSON document of a profile file, how to read its arrays, and the check of its
    payload's checksum still to be run (None for version 1, which has no payload)."""
    view = memoryview(data).cast("B")
    if bytes(view[: len(_MAGIC)]) != _MAGIC:  # version 1: gzip-compressed JSON
        return json.loads(gzip.decompress(bytes(view))), _get_base64, None
    start = len(_MAGIC) + _LENGTH.size
    (length,) = _LENGTH.unpack_from(view, len(_MAGIC))
    # gzip checks the header's own CRC-32: only the payload is left to its checksum.
    document = json.loads(gzip.decompress(bytes(view[start : start + length])))
    body_start = start + length + (-(start + length) % 8)
    body = view[body_start:]
    expected = document.get("payload") if isinstance(document, dict) else None
    if not isinstance(expected, dict):
        raise ValueError("no payload description in the header")
    if len(body) != expected.get("size"):
        raise _mismatch(body)
    return document, _getter(body), PayloadCheck(body, expected, source)


def _mismatch(body: memoryview) -> ValueError:
    return ValueError(f"the payload of {len(body)} bytes does not match its checksum")


def _checksum_matches(body: memoryview, expected: dict[str, Any]) -> bool:
    if "sum64" in expected:
        return len(body) % 8 == 0 and payload_checksum(body) == expected["sum64"]
    return zlib.crc32(body) == expected.get("crc32")  # written before sum64


class PayloadCheck:
    """The checksum of a profile file's payload, compared apart from reading the file
    (:func:`loads_profile_unchecked`): on a thread of its own after :meth:`start`, so
    that a caller can go on meanwhile (numpy's integer dot and zlib's CRC-32 release
    the GIL), or in :meth:`wait` itself."""

    def __init__(self, body: memoryview, expected: dict[str, Any], source: str) -> None:
        self.source = source
        self._body = body
        self._expected = expected
        self._running: Background | None = None  # the thread comparing, once started
        self._outcome: bool | Exception | None = None  # matches, or what failed

    def start(self) -> None:
        """Compare the checksum on a thread from now on (once)."""
        if self._running is None and self._outcome is None:
            self._running = Background(self._compare)

    def _compare(self) -> None:
        try:
            self._outcome = _checksum_matches(self._body, self._expected)
        except Exception as error:  # raised by wait(), in the caller's thread
            self._outcome = error

    def wait(self) -> None:
        """Return once the payload matches its checksum; raise ProfileError (as
        :func:`loads_profile` would have) if it does not."""
        if self._running is not None:
            self._running.wait()
        elif self._outcome is None:
            self._compare()
        if isinstance(self._outcome, Exception):
            raise _unreadable(self.source, self._outcome) from self._outcome
        if self._outcome is not True:  # False, or None if the thread died unfinished
            raise _unreadable(self.source, _mismatch(self._body))


def loads_profile(data: bytes | memoryview, *, source: str = "profile") -> DatasetProfile:
    """Read a profile written by :func:`dumps_profile`; ProfileError names ``source`` if it can't.

    ``data`` may be any buffer (a memory-mapped file): the arrays of the profile are
    read-only views of it, so it must not change while the profile is in use."""
    return _loads(data, source, check_later=False)[0]


def loads_profile_unchecked(
    data: bytes | memoryview, *, source: str = "profile"
) -> tuple[DatasetProfile, PayloadCheck | None]:
    """:func:`loads_profile`, but with the payload's checksum compared on a thread,
    started as soon as the header is read: the PayloadCheck returned (None for a file
    without a payload) tells its outcome. For a caller that goes on meanwhile
    (analysis/run.py: the current data is profiled on the cached reference's histogram
    edges while its 262 MB are checked).

    Everything else is checked here (the header, by gzip's CRC-32, and every array's
    place in the payload), so no read falls outside ``data``; but until the check's
    ``wait()`` has returned, the arrays' values are unverified bytes: nothing computed
    from them may be kept, stored or reported before.
    """
    return _loads(data, source, check_later=True)


def _loads(
    data: bytes | memoryview, source: str, *, check_later: bool
) -> tuple[DatasetProfile, PayloadCheck | None]:
    try:
        document, get, check = _read_document(data, source)
        if check is not None and check_later:
            check.start()  # before the columns are read: ~15 ms of 1,000 columns overlap it
        elif check is not None:
            check.wait()
    except ProfileError:
        raise
    # Any failure to decode is damage (zlib.error for a corrupt deflate stream is not an
    # OSError; a truncated multi-byte sequence is a UnicodeDecodeError, …): the caller
    # recomputes, so nothing here may escape as an internal error.
    except Exception as error:
        raise _unreadable(source, error) from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ProfileError(f"{source} is not a driftwarden profile", hint="delete it to recompute")
    version = document.get("version")
    if version != VERSION or get is _get_base64:
        # Older versions hold categorical summaries that do not merge order-free: a
        # cache recomputes them (the caches' keys name the version, so it never meets
        # them); a profile given on the command line is written again.
        raise ProfileError(
            f"{source} has profile version {version!r}; this driftwarden reads version {VERSION}",
            hint="write it again with this driftwarden (driftwarden profile), or delete it to recompute",
        )
    try:
        options = _options_from_dict(document["options"])
        columns = {
            name: _column_from_dict(column, get) for name, column in document["columns"].items()
        }
        row_sample = _rows_from_dict(document.get("rowSample"), options, get)
        if (row_sample is None) == options.keeps_rows:
            raise ValueError("the row sample does not match the profile's options")
        profile = DatasetProfile(
            options,
            columns,
            int(document["rows"]),
            dict(document.get("metadata") or {}),
            row_sample,
        )
    except Exception as error:
        raise ProfileError(
            f"{source} is damaged ({error!r})", hint="delete it to recompute"
        ) from error
    return profile, check
