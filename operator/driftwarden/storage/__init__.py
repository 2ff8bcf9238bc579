"""Storage layer: URIs → Arrow filesystems, dataset discovery and scanning, objects.

Public API::

    StorageOptions, resolve_filesystem, redact          (uri)
    DatasetSource, OpenedDataset, open_dataset          (dataset)
    FileInfo                                            (discovery)
    read_bytes, read_mapped, write_bytes, join_uri,     (objects)
    list_names, delete_object
    FORMATS, normalize_format                           (formats)
"""

from driftwarden.storage.dataset import DatasetSource, FileCoverage, OpenedDataset, open_dataset
from driftwarden.storage.discovery import FileInfo
from driftwarden.storage.formats import FORMATS, normalize_format
from driftwarden.storage.objects import (
    delete_object,
    join_uri,
    list_names,
    read_bytes,
    read_mapped,
    write_bytes,
)
from driftwarden.storage.uri import StorageOptions, redact, resolve_filesystem

__all__ = [
    "FORMATS",
    "DatasetSource",
    "FileCoverage",
    "FileInfo",
    "OpenedDataset",
    "StorageOptions",
    "delete_object",
    "join_uri",
    "list_names",
    "normalize_format",
    "open_dataset",
    "read_bytes",
    "read_mapped",
    "redact",
    "resolve_filesystem",
    "write_bytes",
]
