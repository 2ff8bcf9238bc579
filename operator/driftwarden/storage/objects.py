"""Whole-object reads and writes: the reference-profile cache and report output."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.fs as pafs

from driftwarden.errors import ConfigError
from driftwarden.storage.errors import storage_errors
from driftwarden.storage.uri import StorageOptions, is_local, redact, resolve_filesystem


def join_uri(base: str, name: str) -> str:
    """Append ``name`` (a relative path) to a directory URI or path.

    ``join_uri("s3://b/reports", "x.json") == "s3://b/reports/x.json"``; a
    trailing slash on ``base`` is optional. ``name`` may not climb out of base.
    """
    name = name.lstrip("/")
    if not name or any(part == ".." for part in name.split("/")):
        raise ConfigError(f"invalid object name {name!r} under {redact(base)}")
    if is_local(base) and "://" not in base:
        return os.path.join(base, name)
    return base.rstrip("/") + "/" + name


def read_bytes(uri: str, options: StorageOptions, *, label: str = "object") -> bytes | None:
    """The object's content, or None when nothing is stored at ``uri``."""
    filesystem, path = resolve_filesystem(uri, options)
    with storage_errors(uri, options, label=label):
        info = filesystem.get_file_info(path)
        if info.type != pafs.FileType.File:
            return None
        try:
            # One ranged GET of the known size; no streaming reader needed.
            with filesystem.open_input_file(path) as handle:
                return handle.read()
        except FileNotFoundError:
            return None  # deleted between the stat and the read


def read_mapped(
    uri: str, options: StorageOptions, *, label: str = "object"
) -> bytes | memoryview | None:
    """:func:`read_bytes`, but a local file is memory-mapped instead of copied in.

    For large objects read once per run (the window cache's profiles, 10 MiB each):
    the pages come straight from the page cache, without a private copy (measured 18 ms
    of CPU less for three such profiles). Local cache files are only ever replaced by
    a rename (:func:`write_bytes`), never rewritten in place, so a mapping stays valid.
    """
    filesystem, path = resolve_filesystem(uri, options)
    if not isinstance(filesystem, pafs.LocalFileSystem):
        return read_bytes(uri, options, label=label)
    with storage_errors(uri, options, label=label):
        if filesystem.get_file_info(path).type != pafs.FileType.File:
            return None
        try:
            with pa.memory_map(path, "r") as mapped:
                return memoryview(mapped.read_buffer())
        except FileNotFoundError:
            return None  # deleted between the stat and the mapping


def list_names(uri: str, options: StorageOptions, *, label: str = "objects") -> list[str] | None:
    """Names of the files directly under the directory or prefix ``uri``, or None when
    nothing is stored there. One listing request (no reads, no recursion), so a
    caller can pick the few objects it needs from a long listing."""
    filesystem, path = resolve_filesystem(uri, options)
    with storage_errors(uri, options, label=label):
        selector = pafs.FileSelector(path.rstrip("/"), recursive=False, allow_not_found=True)
        infos = filesystem.get_file_info(selector)
        if not infos and filesystem.get_file_info(path.rstrip("/")).type != pafs.FileType.Directory:
            return None
    return [info.base_name for info in infos if info.type == pafs.FileType.File]


def write_bytes(
    uri: str,
    data: bytes | Sequence[bytes | memoryview],
    options: StorageOptions,
    *,
    label: str = "object",
) -> None:
    """Store ``data`` (bytes, or consecutive pieces) at ``uri``, replacing what is there.

    Local writes go to a temporary file in the same directory that is then
    renamed, so a concurrent reader never sees half a file; an S3/GCS upload is
    atomic by itself.
    """
    parts = [data] if isinstance(data, bytes | bytearray | memoryview) else list(data)
    filesystem, path = resolve_filesystem(uri, options)
    with storage_errors(uri, options, label=label):
        if isinstance(filesystem, pafs.LocalFileSystem):
            parent = os.path.dirname(path)
            filesystem.create_dir(parent, recursive=True)
            temporary = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
            try:
                with filesystem.open_output_stream(temporary, compression=None) as out:
                    for part in parts:
                        out.write(part)
                filesystem.move(temporary, path)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
            return
        with filesystem.open_output_stream(path, compression=None) as out:
            for part in parts:
                out.write(part)


def delete_object(uri: str, options: StorageOptions, *, label: str = "object") -> None:
    """Delete the object at ``uri``; nothing stored there is no error."""
    filesystem, path = resolve_filesystem(uri, options)
    with storage_errors(uri, options, label=label), contextlib.suppress(FileNotFoundError):
        filesystem.delete_file(path)
