"""A period's model performance from its joined partitions, and two periods compared.

:class:`PeriodAccumulator` takes the labeled prediction rows partition by partition
(:func:`driftwarden.model.join.join_labels`) and keeps, in memory bounded by the
number of classes and segments, not rows:

* the metric tallies (:mod:`.metrics`): exact at any size;
* a bottom-k sample of ``SAMPLE_ROWS`` rows by a hash of their id
  (:func:`.keys.sampling_keys`): ROC AUC is computed on it (on all rows, hence
  exactly, while they fit), and the confidence intervals are bootstrapped from it;
* per-segment tallies of the named categorical columns.

Confidence intervals: percentile bootstrap, ``RESAMPLES`` resamples of the
``BOOTSTRAP_ROWS`` smallest-keyed rows (a uniform subsample). When the period has
more labeled rows ``n`` than that ``m``, the resampled deviations are scaled by
√(m/n) (the m-out-of-n bootstrap of a √n-consistent statistic), so the interval
is the one of all ``n`` rows. The standard error of the same bootstrap feeds the
one-sided z-test of a drop between periods (:func:`compare`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from driftwarden.model import metrics as m
from driftwarden.model.join import LABEL, Coverage
from driftwarden.model.keys import id_hashes, sampling_keys
from driftwarden.stats.distributions import normal_sf

CLASSIFICATION, REGRESSION = "classification", "regression"
SAMPLE_ROWS = 1 << 20
BOOTSTRAP_ROWS = 20_000
RESAMPLES = 200
LEVEL = 0.95
MAX_SEGMENT_VALUES = 1000  # distinct values tracked per segment column; the rest are "(other)"
REPORTED_SEGMENTS = 20  # per column in the report: the most-rows values
SEGMENT_COLUMNS = 64  # categorical columns segmented (the first in the plan's order)
REPORTED_SEGMENT_COLUMNS = 16  # in the report: those whose worst value lost the most
MIN_SEGMENT_ROWS = 30  # a segment needs this many labeled rows in both periods to be ranked
OTHER, NULL = "(other)", "(null)"


@dataclass(frozen=True)
class Task:
    """What the model predicts and where its columns are (the spec, resolved)."""

    kind: str  # classification | regression
    prediction: str
    score: str | None = None  # probability of the positive class (classification)
    positive: str | None = None  # the positive class, as text
    id: str = "id"
    segments: tuple[str, ...] = ()
    seed: int = 0


class ClassIndex:
    """Class labels (as text) to indices, shared by both periods of a run."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def index_of(self, name: str) -> int:
        if name not in self._index:
            self._index[name] = len(self.names)
            self.names.append(name)
        return self._index[name]

    def indices(self, values: pa.Array | pa.ChunkedArray) -> NDArray[np.intp]:
        """The class index of each value (no nulls)."""
        encoded = pc.dictionary_encode(class_text(values))
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        lookup = np.array(
            [self.index_of(str(v)) for v in encoded.dictionary.to_pylist()], dtype=np.intp
        )
        return lookup[np.asarray(encoded.indices.to_numpy(zero_copy_only=False))]


def class_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Class labels as text: ``1`` for 1, 1.0 and True's ``true``; so a model logging
    integer classes and a label log holding floats agree."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = (
            values.dictionary_decode()
            if isinstance(values, pa.Array)
            else pc.cast(values, kind.value_type)
        )
        kind = values.type
    if pa.types.is_floating(kind):
        whole = pc.all(pc.equal(pc.floor(values), values)).as_py()
        if whole is not False:
            values = pc.cast(values, pa.int64(), safe=False)
    return pc.cast(values, pa.string())


def default_positive(label_type: pa.DataType) -> str | None:
    """The positive class when the spec names none: ``true`` or ``1``; None for text labels."""
    if pa.types.is_boolean(label_type):
        return "true"
    if pa.types.is_integer(label_type) or pa.types.is_floating(label_type):
        return "1"
    return None


@dataclass
class _Sample:
    keys: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    true: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    predicted: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    score: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def add(self, keys: NDArray[np.float64], true: Any, predicted: Any, score: Any) -> None:
        self.keys = np.concatenate([self.keys, keys])
        self.true = np.concatenate([self.true, np.asarray(true, dtype=np.float64)])
        self.predicted = np.concatenate([self.predicted, np.asarray(predicted, np.float64)])
        if score is not None:
            self.score = np.concatenate([self.score, score])
        if self.keys.size > 2 * SAMPLE_ROWS:
            self.trim(SAMPLE_ROWS)

    def trim(self, k: int) -> None:
        """Keep the ``k`` smallest keys, in key order (ties cannot occur: keys hash ids)."""
        order = np.argsort(self.keys, kind="stable")[:k]
        self.keys, self.true, self.predicted = (
            self.keys[order],
            self.true[order],
            self.predicted[order],
        )
        if self.score.size:
            self.score = self.score[order]


@dataclass
class PeriodAccumulator:
    """The labeled rows of one period (reference or current), added partition by partition."""

    task: Task
    classes: ClassIndex
    coverage: Coverage = field(default_factory=Coverage)
    class_tally: m.ClassTally = field(default_factory=lambda: m.ClassTally(0))
    regression_tally: m.RegressionTally = field(default_factory=m.RegressionTally)
    sample: _Sample = field(default_factory=_Sample)
    # segment column -> value -> [rows, sum, sum of squares] of the per-row quality
    # (1/0 for a correct class, the absolute error of a regression)
    segments: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, table: pa.Table) -> None:
        """Take one joined partition: prediction columns plus :data:`LABEL`."""
        task = self.task
        # A row whose prediction (or score) is missing cannot be scored: counted, not used.
        needed = [task.prediction] + ([task.score] if task.score is not None else [])
        valid = None
        for name in needed:
            ok = pc.is_valid(table.column(name))
            valid = ok if valid is None else pc.and_(valid, ok)
        if valid is not None:
            kept = table.filter(valid)
            self.coverage.without_prediction += table.num_rows - kept.num_rows
            table = kept
        if table.num_rows == 0:
            return
        keys = sampling_keys(id_hashes(table.column(task.id).combine_chunks()), task.seed)
        score = None
        if task.kind == CLASSIFICATION:
            true = self.classes.indices(table.column(LABEL))
            predicted = self.classes.indices(table.column(task.prediction))
            positive = None if task.positive is None else self.classes.index_of(task.positive)
            if task.score is not None and positive is not None:
                score = _floats(table.column(task.score))
            self.class_tally.grow(len(self.classes.names))
            tally = m.class_tally(true, predicted, len(self.classes.names), score, positive)
            self.class_tally.add(tally)
            quality = (true == predicted).astype(np.float64)
            self.sample.add(keys, true, predicted, score)
        else:
            truth = _floats(table.column(LABEL))
            output = _floats(table.column(task.prediction))
            self.regression_tally.add(m.regression_tally(truth, output))
            quality = np.abs(truth - output)
            self.sample.add(keys, truth, output, None)
        for column in task.segments:
            self._add_segments(column, table.column(column), quality)

    def _add_segments(
        self, column: str, values: pa.ChunkedArray, quality: NDArray[np.float64]
    ) -> None:
        text = pc.fill_null(class_text(values), NULL)
        encoded = pc.dictionary_encode(text).combine_chunks()
        index = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        size = len(encoded.dictionary)
        rows = np.bincount(index, minlength=size)
        sums = np.bincount(index, weights=quality, minlength=size)
        squares = np.bincount(index, weights=quality * quality, minlength=size)
        seen = self.segments.setdefault(column, {})
        for i, name in enumerate(encoded.dictionary.to_pylist()):
            if rows[i] == 0:
                continue
            if name not in seen and len(seen) >= MAX_SEGMENT_VALUES:
                name = OTHER
            slot = seen.setdefault(name, [0.0, 0.0, 0.0])
            slot[0] += float(rows[i])
            slot[1] += float(sums[i])
            slot[2] += float(squares[i])

    @property
    def rows(self) -> int:
        if self.task.kind == CLASSIFICATION:
            return self.class_tally.rows
        return self.regression_tally.rows


def _floats(values: pa.ChunkedArray) -> NDArray[np.float64]:
    return np.asarray(
        pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
    )


def binary_positive(period: PeriodAccumulator, other: PeriodAccumulator | None) -> int | None:
    """The positive class index for binary metrics, None for macro averages.

    Binary when the spec names the positive class, or when every class seen in either
    period is the default positive (``1``/``true``) or its opposite (``0``/``false``).
    """
    task = period.task
    if task.positive is None:
        return None
    positive = period.classes.index_of(task.positive)
    if task.positive not in ("1", "true"):
        return positive  # named in the spec
    opposite = {"1": "0", "true": "false"}[task.positive]
    seen: set[str] = set()
    for acc in (period, other):
        if acc is None:
            continue
        confusion = acc.class_tally.confusion
        used = np.flatnonzero(confusion.sum(axis=0) + confusion.sum(axis=1))
        seen.update(acc.classes.names[i] for i in used)
    return positive if seen <= {task.positive, opposite} else None


def _metrics_of(
    task: Task,
    true: NDArray[np.float64],
    predicted: NDArray[np.float64],
    score: NDArray[np.float64] | None,
    classes: int,
    positive: int | None,
) -> dict[str, float | None]:
    """Every metric of rows given as arrays (the sample, or a bootstrap resample)."""
    if task.kind == REGRESSION:
        return m.regression_metrics(m.regression_tally(true, predicted))
    t, p = true.astype(np.intp), predicted.astype(np.intp)
    values = m.classification_metrics(m.class_tally(t, p, classes, score, positive), positive)
    if score is not None and positive is not None:
        values["rocAuc"] = m.roc_auc(t == positive, score)
    return values


def period_metrics(
    period: PeriodAccumulator, positive: int | None
) -> dict[str, dict[str, float | None]]:
    """Each metric of a period with its bootstrap interval: ``{metric: {value, low, high,
    standardError}}``; a metric the period cannot define (no score, one class) is None."""
    task = period.task
    classes = len(period.classes.names)
    scored = task.score is not None and positive is not None and period.sample.score.size > 0
    if task.kind == CLASSIFICATION:
        values = m.classification_metrics(period.class_tally, positive)
        if not scored:
            values["logLoss"] = values["ece"] = None
    else:
        values = m.regression_metrics(period.regression_tally)
    n = period.rows
    if n == 0:
        return {name: {"value": None} for name in values}
    sample = period.sample
    sample.trim(SAMPLE_ROWS)
    if scored:
        t = sample.true.astype(np.intp)
        values["rocAuc"] = m.roc_auc(t == positive, sample.score)
    # The bootstrap: resamples of the m smallest-keyed rows (a uniform subsample).
    rows = min(sample.keys.size, BOOTSTRAP_ROWS)
    true, predicted = sample.true[:rows], sample.predicted[:rows]
    score = sample.score[:rows] if scored else None
    base = _metrics_of(task, true, predicted, score, classes, positive)
    rng = np.random.default_rng(task.seed)
    draws: dict[str, list[float]] = {name: [] for name in values}
    for _ in range(RESAMPLES):
        pick = rng.integers(0, rows, rows)
        again = _metrics_of(
            task,
            true[pick],
            predicted[pick],
            None if score is None else score[pick],
            classes,
            positive,
        )
        for name, value in again.items():
            if value is not None and name in draws:
                draws[name].append(value)
    scale = math.sqrt(rows / n)
    tail = (1 - LEVEL) / 2
    result: dict[str, dict[str, float | None]] = {}
    for name, value in values.items():
        if value is None:
            continue
        spread = np.asarray(draws[name])
        centre = base.get(name)
        if spread.size < RESAMPLES // 2 or centre is None:
            result[name] = {"value": value, "low": None, "high": None, "standardError": None}
            continue
        low, high = np.quantile(spread, [tail, 1 - tail])
        result[name] = {
            "value": value,
            "low": float(value + scale * (low - centre)),
            "high": float(value + scale * (high - centre)),
            "standardError": float(scale * spread.std(ddof=1)),
        }
    return result


@dataclass(frozen=True)
class Threshold:
    """A metric whose drop (in its own units, worse direction) degrades the monitor."""

    metric: str
    max_drop: float


def compare(
    current: Mapping[str, Mapping[str, float | None]],
    reference: Mapping[str, Mapping[str, float | None]] | None,
    thresholds: Sequence[Threshold],
    significance: float,
) -> list[dict[str, Any]]:
    """Each metric of the current period against the reference period.

    ``drop`` is how much worse the current value is (reference − current for metrics
    where higher is better, current − reference otherwise); its one-sided p-value is
    P(Z ≥ drop / √(se_cur² + se_ref²)). A metric with a threshold is ``degraded``
    when its drop is significant (p < ``significance``) and larger than the threshold.
    """
    limits = {t.metric: t.max_drop for t in thresholds}
    rows = []
    for name, cur in current.items():
        ref = (reference or {}).get(name)
        entry: dict[str, Any] = {
            "metric": name,
            "current": cur.get("value"),
            "reference": None if ref is None else ref.get("value"),
            "drop": None,
            "pValue": None,
            "maxDrop": limits.get(name),
            "degraded": False,
        }
        if ref is not None and cur.get("value") is not None and ref.get("value") is not None:
            change = float(cur["value"]) - float(ref["value"])  # type: ignore[arg-type]
            drop = change if name in m.LOWER_IS_BETTER else -change
            entry["drop"] = drop
            se = math.hypot(cur.get("standardError") or 0.0, ref.get("standardError") or 0.0)
            if se > 0:
                entry["pValue"] = normal_sf(drop / se)
            elif drop != 0:
                entry["pValue"] = 0.0 if drop > 0 else 1.0
            limit = limits.get(name)
            entry["degraded"] = bool(
                limit is not None
                and entry["pValue"] is not None
                and entry["pValue"] < significance
                and drop > limit
            )
        rows.append(entry)
    return rows


def segment_report(
    task: Task,
    current: PeriodAccumulator,
    reference: PeriodAccumulator | None,
) -> list[dict[str, Any]]:
    """Per segment column, the most-rows values with their metric in both periods; the
    ``REPORTED_SEGMENT_COLUMNS`` columns whose worst value dropped most, first.

    The metric is accuracy for a classifier and MAE for a regression; ``drop`` is how
    much worse the segment got, with the one-sided p-value of that drop (normal
    approximation from each period's per-row variance).
    """
    metric = "accuracy" if task.kind == CLASSIFICATION else "mae"
    out = []
    for column in task.segments:
        cur = current.segments.get(column, {})
        ref = {} if reference is None else reference.segments.get(column, {})
        values = []
        for value, (rows, total, squares) in sorted(cur.items(), key=lambda kv: (-kv[1][0], kv[0]))[
            :REPORTED_SEGMENTS
        ]:
            mean, se = _mean_se(rows, total, squares)
            entry: dict[str, Any] = {
                "value": value,
                "rows": int(rows),
                "current": mean,
                "referenceRows": 0,
                "reference": None,
                "drop": None,
                "pValue": None,
            }
            if value in ref:
                ref_rows, ref_total, ref_squares = ref[value]
                ref_mean, ref_se = _mean_se(ref_rows, ref_total, ref_squares)
                drop = (mean - ref_mean) if metric == "mae" else (ref_mean - mean)
                spread = math.hypot(se, ref_se)
                entry.update(
                    referenceRows=int(ref_rows),
                    reference=ref_mean,
                    drop=drop,
                    pValue=normal_sf(drop / spread) if spread > 0 else None,
                )
            values.append(entry)
        out.append({"feature": column, "metric": metric, "values": values})

    def worst(group: dict[str, Any]) -> float:
        drops = [v["drop"] for v in group["values"] if v["drop"] is not None]
        return max(drops, default=-math.inf)

    out.sort(key=lambda g: -worst(g))  # stable: ties keep the plan's order
    return out[:REPORTED_SEGMENT_COLUMNS]


def _mean_se(rows: float, total: float, squares: float) -> tuple[float, float]:
    mean = total / rows
    variance = max(squares / rows - mean * mean, 0.0)
    return mean, math.sqrt(variance / rows)


def worst_segments(
    performance: Mapping[str, Any] | None, limit: int = 5, min_rows: int = MIN_SEGMENT_ROWS
) -> list[dict[str, Any]]:
    """The segments that lost the most, from a report's ``performance`` section.

    Pure: it reads only the section (the root-cause ranking calls it on a report).
    Each item is ``{feature, value, metric, rows, current, reference, drop, pValue}``;
    only segments with ``min_rows`` labeled rows in both periods and a positive
    drop count, largest drop first (ties: more rows first, then by name).
    """
    if not performance:
        return []
    found = []
    for group in performance.get("segments") or []:
        for item in group.get("values") or []:
            drop = item.get("drop")
            if drop is None or drop <= 0:
                continue
            if item.get("rows", 0) < min_rows or item.get("referenceRows", 0) < min_rows:
                continue
            found.append({"feature": group["feature"], "metric": group["metric"], **item})
    found.sort(key=lambda s: (-s["drop"], -s["rows"], s["feature"], s["value"]))
    return found[:limit]
