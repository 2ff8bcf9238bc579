"""The in-process parts of the sharding benchmark (``shards.py``); each runs in its own process.

``python bench/shard_work.py merge --repeat K --compare PROFILE URI [URI ...]``
    Times ``analysis.shards.load_profiles`` (read and merge the shard profiles, what
    ``analyze --current-profiles`` does before comparing) ``K`` times in one process,
    after the imports, which are timed apart. With ``--compare``, also says whether the
    merged profile serialises to the same bytes as ``PROFILE`` (the single pass's).

``python bench/shard_work.py write DATA --count N --output DIR [--edges PROFILE]``
    Writes the N shard profiles of DATA (``DIR/shard-I.dwprofile``) through the
    ``driftwarden profile`` command's own ``main``, one process for all of them, so
    the 100-shard merge can be measured without 100 interpreter start-ups; ``--edges``
    passes the reference's profile as ``--reference-profiles``.

``python bench/shard_work.py deal --files F --count N``
    Times dealing F files of slightly different sizes to N shards
    (``analysis.shards.assign``), what every shard does after listing the files.

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()


def merge(uris: list[str], repeat: int, compare: str | None) -> dict[str, Any]:
    """Median and every time of reading and merging ``uris``; identity with ``compare``."""
    from driftwarden.analysis.shards import load_profiles
    from driftwarden.profile import dumps_profile
    from driftwarden.storage import StorageOptions

    imported = time.perf_counter()
    storage = StorageOptions()
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        loaded = load_profiles(uris, storage, "--current-profiles")
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    result: dict[str, Any] = {
        "profiles": len(uris),
        "rows": loaded.profile.rows,
        "importSeconds": imported - STARTED,
        "mergeSeconds": times,
        "mergeMedianSeconds": statistics.median(times),
        "mergeCpuSeconds": cpu,
        "mergeCpuMedianSeconds": statistics.median(cpu),
        "profileBytes": sum(Path(uri).stat().st_size for uri in uris),
    }
    if compare is not None:
        result["identicalToSinglePass"] = (
            dumps_profile(loaded.profile) == Path(compare).read_bytes()
        )
    return result


def write(data: str, count: int, output: Path, edges: str | None) -> dict[str, Any]:
    """The ``count`` shard profiles of ``data`` through ``driftwarden profile``'s ``main``
    (with ``--reference-profiles edges`` when given)."""
    from driftwarden.cli.main import main

    output.mkdir(parents=True, exist_ok=True)
    times = []
    for index in range(count):
        started = time.perf_counter()
        argv = ["profile", "--input", data, "--shard", f"{index}/{count}"]
        argv += ["--output", str(output / f"shard-{index}.dwprofile"), "--log-level", "warning"]
        argv += [] if edges is None else ["--reference-profiles", edges]
        code = main(argv)
        if code != 0:
            raise SystemExit(f"driftwarden profile --shard {index}/{count} exited {code}")
        times.append(time.perf_counter() - started)
    return {"profiles": count, "output": str(output), "profileSeconds": times}


def deal(files: int, count: int, repeat: int) -> dict[str, Any]:
    """Median time of dealing ``files`` files (sizes within 1% of 140 MB) to ``count`` shards."""
    from driftwarden.analysis.shards import assign
    from driftwarden.storage.discovery import FileInfo

    listing = [
        FileInfo(f"bucket/day/part-{i:05d}.parquet", 140_000_000 + (i * 7919) % 1_400_000, None, "")
        for i in range(files)
    ]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        shards = assign(listing, count)
        times.append(time.perf_counter() - started)
    sizes = [sum(f.size for f in shard) for shard in shards]
    return {
        "files": files,
        "shards": count,
        "dealSeconds": times,
        "dealMedianSeconds": statistics.median(times),
        "bytesSpread": max(sizes) - min(sizes),
        "largestFile": max(f.size for f in listing),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand, run it, print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    merging = sub.add_parser("merge")
    merging.add_argument("uris", nargs="+")
    merging.add_argument("--repeat", type=int, default=5)
    merging.add_argument("--compare", metavar="PROFILE")
    writing = sub.add_parser("write")
    writing.add_argument("data")
    writing.add_argument("--count", type=int, required=True)
    writing.add_argument("--output", type=Path, required=True)
    writing.add_argument("--edges", metavar="PROFILE", help="the reference's profile")
    dealing = sub.add_parser("deal")
    dealing.add_argument("--files", type=int, required=True)
    dealing.add_argument("--count", type=int, required=True)
    dealing.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "merge":
        result = merge(args.uris, args.repeat, args.compare)
    elif args.command == "write":
        result = write(args.data, args.count, args.output, args.edges)
    else:
        result = deal(args.files, args.count, args.repeat)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
