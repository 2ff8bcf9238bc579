"""numpy's SIMD dispatch on AMD Zen 4: keep sorts and partitions off its AVX-512 path.

numpy sorts and partitions float64 with x86-simd-sort, whose AVX-512 kernels store
through ``vpcompress`` with a memory destination. On Zen 4 (AMD family 19h with
AVX-512) that form is microcoded (AMD's Zen 4 optimization guide, 2.11.2: "avoid the
memory destination form of COMPRESS instructions"; numpy/x86-simd-sort#6), so
``np.sort`` of a 32,768-value profile sample took 1.4–2.9 ms instead of ~0.3 ms on
AVX2, and ``np.argpartition`` 8× longer: at 10^5 rows × 1,000 features about 1.5 s
of an analysis' ~4.5 s of CPU (bench/RESULTS.md, addendum 11). numpy reads
``NPY_DISABLE_CPU_FEATURES`` once, when it loads, so the engine commands set it before
that (cli/main.py). Zen 4's AVX-512 runs as two 256-bit halves, so the other kernels
lose nothing measurable on AVX2; Zen 5 (family 1Ah) and Intel keep AVX-512.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from importlib.util import find_spec
from pathlib import Path

_VARIABLE = "NPY_DISABLE_CPU_FEATURES"
# The dispatch targets that hold the AVX-512 kernels: grouped as X86_V4 from numpy 2.4,
# named per instruction set extension before it (numpy warns about, and otherwise
# ignores, a name it does not dispatch on; the image pins 2.4).
_AVX512_TARGETS_GROUPED = "X86_V4 AVX512_ICL AVX512_SPR"
_AVX512_TARGETS_NAMED = (
    "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
)
_ZEN3_ZEN4_FAMILY = 0x19  # Zen 3 has no AVX-512: its family's AVX-512 parts are Zen 4


def is_zen4(cpuinfo: str) -> bool:
    """True when ``/proc/cpuinfo``'s first processor is an AMD family 19h part with AVX-512."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block ends; the others are alike
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    try:
        family = int(fields.get("cpu family", ""))
    except ValueError:
        return False
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and family == _ZEN3_ZEN4_FAMILY
        and "avx512f" in fields.get("flags", "").split()
    )


def avx512_targets(numpy_version: str) -> str:
    """The value of ``NPY_DISABLE_CPU_FEATURES`` that drops numpy's AVX-512 dispatch."""
    try:
        major, minor = (int(part) for part in numpy_version.split(".")[:2])
    except ValueError:
        return _AVX512_TARGETS_GROUPED
    return _AVX512_TARGETS_GROUPED if (major, minor) >= (2, 4) else _AVX512_TARGETS_NAMED


def avoid_slow_sorts(
    environ: MutableMapping[str, str], cpuinfo_path: str = "/proc/cpuinfo"
) -> bool:
    """On Zen 4, ask numpy (not yet loaded) for its AVX2 kernels; True when it did.

    A setting already in the environment wins, as does anything that keeps the CPU
    from being read (no /proc, another OS, no numpy installed).
    """
    if _VARIABLE in environ or "NPY_ENABLE_CPU_FEATURES" in environ:
        return False
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as handle:
            cpuinfo = handle.read(16384)  # the first processor's block is ~1.5 KB
        if not is_zen4(cpuinfo):
            return False
        version = _numpy_version()
    except (OSError, ValueError):
        return False
    if version is None:
        return False
    environ[_VARIABLE] = avx512_targets(version)
    return True


def _numpy_version() -> str | None:
    """The installed numpy's version, read from its ``version.py`` without importing it
    (importing numpy would read the variable too early; importlib.metadata costs 60 ms)."""
    spec = find_spec("numpy")
    if spec is None or spec.origin is None:
        return None
    text = Path(spec.origin).with_name("version.py").read_text(encoding="utf-8")
    found = re.search(r'^version(?:\s*:\s*str)?\s*=\s*["\']([0-9][^"\']*)["\']', text, re.MULTILINE)
    return found.group(1) if found else None
