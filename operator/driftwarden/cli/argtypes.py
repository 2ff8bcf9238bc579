"""argparse types shared by subcommands (standard library only: every command imports them)."""

from __future__ import annotations

import argparse


def runs_count(text: str) -> int:
    """argparse type of a number of runs: a whole number from 1 to 10,000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 1 to 10000")
    return value
