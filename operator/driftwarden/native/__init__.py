"""Compiled kernels for the engine's hottest loops, with numpy as the fallback.

The engine's per-value and per-feature work is numpy at its own speed already; what
remains at 10^5 rows x 1,000 features is numpy's fixed cost per call and one memory
pass per operation (bench/RESULTS.md, addendum 15). The kernels here fuse such passes
in C. Each is optional: the callers keep their numpy code and use a kernel only when
:func:`load` returns its module, and tests check both paths give the same results.

``DRIFTWARDEN_NATIVE`` chooses:

* unset or ``auto``: the kernels when they were built, numpy otherwise;
* ``0``: numpy only (to rule the kernels out when a result looks wrong);
* ``1``: the kernels, and an error naming the missing module if one was not built
  (the container image's build check uses this, so an image never ships without them).

The modules are C extensions built by setuptools with the package (``pyproject.toml``,
``[tool.setuptools] ext-modules``); they use only the CPython API and the buffer
protocol, so they build against any numpy. A machine without a C compiler still
installs driftwarden (the extensions are optional) and runs the numpy code.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from driftwarden.errors import ConfigError

# The kernel modules this package ships, as built by setuptools.
MODULES = ("_ecdf", "_profile")
_ENV = "DRIFTWARDEN_NATIVE"


class NativeKernelMissing(ImportError):
    """``DRIFTWARDEN_NATIVE=1`` and a kernel module was not built."""


_MODES = {"": "auto", "auto": "auto", "0": "off", "false": "off", "no": "off", "off": "off"}
_MODES.update(dict.fromkeys(("1", "true", "yes", "on", "required"), "required"))


def mode() -> str:
    """``auto``, ``off`` or ``required``, from ``DRIFTWARDEN_NATIVE``; a
    :class:`~driftwarden.errors.ConfigError` naming the variable for any other value."""
    value = os.environ.get(_ENV, "auto")
    chosen = _MODES.get(value.strip().lower())
    if chosen is None:
        raise ConfigError(f"{_ENV}={value!r}: use 0 (numpy only), 1 (require the kernels) or auto")
    return chosen


def load(name: str) -> ModuleType | None:
    """The compiled module ``driftwarden.native.<name>``, or None to run the numpy code.

    Called once per importing module, at import time: the choice holds for the process.
    """
    if name not in MODULES:
        raise ValueError(f"unknown native module {name!r}: one of {', '.join(MODULES)}")
    # Loading happens at import time, where an exception would be a traceback: a bad
    # value counts as auto here, and the commands refuse it with mode() (exit 2).
    wanted = _MODES.get(os.environ.get(_ENV, "auto").strip().lower(), "auto")
    if wanted == "off":
        return None
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as error:
        if wanted == "required":
            raise NativeKernelMissing(
                f"{_ENV}=1 but the compiled module driftwarden.native.{name} is missing "
                f"({error}); reinstall driftwarden where a C compiler is available"
            ) from error
        return None


def status() -> dict[str, bool]:
    """Which kernel modules this process can use (for start-up logs)."""
    return {name: load(name) is not None for name in MODULES}


def missing() -> list[str]:
    """The kernel modules this process runs without although it was not told to
    (``DRIFTWARDEN_NATIVE`` unset or ``auto``): what a start-up warning names."""
    if mode() == "off":
        return []
    return [name for name, loaded in status().items() if not loaded]
