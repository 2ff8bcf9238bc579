"""Errors a person can act on.

Every failure that reaches a user is a :class:`DriftwardenError` whose message
names the failing input and says what to do about it. The CLI prints it as one
line and exits non-zero; the operator copies it into a status condition and an
Event. Messages never contain secrets: storage credentials are referred to by
the environment variable or Secret that holds them, never by value.
"""

from __future__ import annotations


class DriftwardenError(Exception):
    """Base of every error meant for a person, with a stable machine-readable reason."""

    reason = "Error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(DriftwardenError):
    """The configuration (flags, a monitor spec) is invalid."""

    reason = "InvalidSpec"


class DataNotFoundError(DriftwardenError):
    """A path names nothing, or a dataset or time window holds no rows."""

    reason = "DataNotFound"


class DataFormatError(DriftwardenError):
    """A file cannot be read in the declared format (truncated, corrupt, wrong format)."""

    reason = "UnreadableData"


class SchemaError(DriftwardenError):
    """The columns requested cannot be compared (missing everywhere, unsupported type)."""

    reason = "SchemaMismatch"


class StorageError(DriftwardenError):
    """Object storage could not be reached or refused access."""

    reason = "StorageUnavailable"


class ProfileError(DriftwardenError):
    """A cached or given profile cannot be used (corrupt, other version, other settings)."""

    reason = "InvalidProfile"
