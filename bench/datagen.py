"""Generate the benchmark datasets (see ``spec.py`` for what they hold), streaming.

``python bench/datagen.py --rows N --workdir DIR`` makes sure ``DIR/data/nN`` holds a
reference and a current dataset of N rows each and prints a JSON description of them.

Data is written one row group of at most ``ROW_GROUP_ROWS`` rows at a time, into a few
files per dataset, so memory stays around one row group whatever the size. A finished
size is described by ``manifest.json`` and is reused while the manifest matches
(generator version, row count, files present with the right row counts). A size is
written under ``nN.partial`` and renamed when complete, so an interrupted run never
leaves a half-written size that looks complete.

``--sides current`` writes only the current dataset (under ``DIR/data/nN-current``):
``huge.py`` compares 10^8 current rows with the 10^7 reference, whose profile is cached.
Files are written one after the other, so a 10^8-row dataset (40 files of 2.5M rows)
takes no more memory to write than a small one.

``--files N`` writes each dataset as N files of equal row counts instead (under
``DIR/data/nN-…-fN``): ``shards.py`` deals files to shards, so it needs several even
at toy sizes, and 100 of them for its 100-shard merge.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spec import (
    CATEGORICAL,
    CATEGORICAL_NAMES,
    NULL_RATE,
    NUMERIC,
    NUMERIC_NAMES,
    ROW_GROUP_ROWS,
    SEEDS,
    NumericFeature,
    file_plan,
    manifest,
)

SCHEMA = pa.schema(
    [pa.field(n, pa.float64()) for n in NUMERIC_NAMES]
    + [pa.field(n, pa.string()) for n in CATEGORICAL_NAMES]
)


def _draw(feature: NumericFeature, rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    a, b = feature.parameters(shifted)
    if feature.kind == "normal":
        return rng.normal(a, b, n)
    if feature.kind == "lognormal":
        return rng.lognormal(a, b, n)
    return rng.poisson(a, n).astype(np.float64)


def _null_mask(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random(n) < NULL_RATE


def make_batch(rng: np.random.Generator, n: int, shifted: bool) -> pa.RecordBatch:
    """One batch of ``n`` rows of every feature (plain string columns for categories)."""
    arrays: list[pa.Array] = []
    for feature in NUMERIC:
        values = _draw(feature, rng, n, shifted)
        mask = _null_mask(rng, n) if feature.nulls else None
        arrays.append(pa.array(values, pa.float64(), mask=mask))
    for feature in CATEGORICAL:
        p = np.asarray(feature.probabilities(shifted))
        codes = rng.choice(feature.categories, size=n, p=p).astype(np.int32)
        mask = _null_mask(rng, n) if feature.nulls else None
        indices = pa.array(codes, pa.int32(), mask=mask)
        labels = pa.array(feature.labels(), pa.string())
        arrays.append(pa.DictionaryArray.from_arrays(indices, labels).cast(pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def write_dataset(
    directory: Path, rows: int, seed: int, shifted: bool, files: int | None = None
) -> None:
    """Write ``rows`` rows into ``directory`` as ``part-NNN.parquet`` files (``files``
    of them, else ``spec.file_plan``'s count), streaming."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    plan = file_plan(rows, files)
    for index, file_rows in enumerate(plan):
        if len(plan) > 4:
            print(f"  {directory.name} file {index + 1}/{len(plan)}", file=sys.stderr, flush=True)
        with pq.ParquetWriter(directory / f"part-{index:03d}.parquet", SCHEMA) as writer:
            left = file_rows
            while left:
                n = min(left, ROW_GROUP_ROWS)
                writer.write_batch(make_batch(rng, n, shifted), row_group_size=n)
                left -= n


def _rows_on_disk(directory: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in sorted(directory.glob("*.parquet")))


def _manifest(rows: int, sides: list[str], files: int | None = None) -> dict[str, object]:
    """``spec.manifest``, naming the sides when not both were written and the file
    count when it was asked for."""
    described = manifest(rows)
    if sides != list(SEEDS):
        described["sides"] = sides
    if files is not None:
        described["files"] = files
    return described


def _is_complete(root: Path, rows: int, sides: list[str], files: int | None = None) -> bool:
    try:
        if json.loads((root / "manifest.json").read_text()) != _manifest(rows, sides, files):
            return False
    except (OSError, ValueError):
        return False
    return all(_rows_on_disk(root / side) == rows for side in sides)


def ensure_data(
    workdir: Path, rows: int, sides: list[str] | None = None, files: int | None = None
) -> dict[str, Any]:
    """The datasets of one size under ``workdir/data``, generated unless a complete copy exists.

    ``sides`` (default: reference and current) chooses which of the two to write; a
    size with only some of them lives in its own directory (``nN-current``), and so
    does one written as ``files`` files (``nN-current-f100``).
    """
    sides = list(SEEDS) if sides is None else [s for s in SEEDS if s in sides]
    suffix = "" if sides == list(SEEDS) else "-" + "-".join(sides)
    if files is not None:
        suffix += f"-f{files}"
    root = workdir / "data" / f"n{rows}{suffix}"
    started = time.perf_counter()
    generated = not _is_complete(root, rows, sides, files)
    if generated:
        print(
            f"generating {rows:,} rows x {len(sides)} dataset(s) in {root}",
            file=sys.stderr,
            flush=True,
        )
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for side in sides:
            write_dataset(partial / side, rows, SEEDS[side], side == "current", files)
        (partial / "manifest.json").write_text(json.dumps(_manifest(rows, sides, files), indent=2))
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    return {
        "rows": rows,
        "reference": str(root / "reference") if "reference" in sides else None,
        "current": str(root / "current") if "current" in sides else None,
        "files": len(file_plan(rows, files)),
        "rowGroupRows": min(ROW_GROUP_ROWS, max(file_plan(rows, files))),
        "bytesOnDisk": sum(p.stat().st_size for p in root.glob("*/*.parquet")),
        "generated": generated,
        "generationSeconds": round(time.perf_counter() - started, 2) if generated else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Generate (or find) one size and print its description as JSON."""
    parser = argparse.ArgumentParser(description="Generate the benchmark datasets of one size.")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--sides",
        type=lambda text: text.split(","),
        default=list(SEEDS),
        help="which datasets to write: reference,current (default) or one of them",
    )
    parser.add_argument(
        "--files", type=int, help="write each dataset as this many files (default: by size)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.sides) - set(SEEDS)
    if unknown:
        parser.error(f"unknown side(s): {', '.join(sorted(unknown))}")
    if args.files is not None and not 1 <= args.files <= args.rows:
        parser.error(f"--files {args.files}: give 1 … --rows ({args.rows})")
    json.dump(ensure_data(args.workdir, args.rows, args.sides, args.files), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
