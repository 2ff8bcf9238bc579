"""Streaming, mergeable column profiles built from Arrow record batches."""

from driftwarden.profile.categorical import OTHER, UNSEEN, CategoricalProfile
from driftwarden.profile.dataset import (
    ColumnPlan,
    ColumnProfile,
    DatasetProfile,
    ProfileOptions,
    build_profile,
    empty_profile,
    kind_of,
)
from driftwarden.profile.numeric import NumericProfile
from driftwarden.profile.reserve import ReserveExhausted
from driftwarden.profile.serialize import dump_parts, dumps_profile, loads_profile

__all__ = [
    "OTHER",
    "UNSEEN",
    "CategoricalProfile",
    "ColumnPlan",
    "ColumnProfile",
    "DatasetProfile",
    "NumericProfile",
    "ProfileOptions",
    "ReserveExhausted",
    "build_profile",
    "dump_parts",
    "dumps_profile",
    "empty_profile",
    "kind_of",
    "loads_profile",
]
