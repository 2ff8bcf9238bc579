"""Find the data files a source URI names: a file, a directory/prefix, or a glob.

Rules (the same on every filesystem, so a local test means what S3 means):

* a file is taken as is (a zero-byte file counts as holding no rows);
* a directory or prefix is listed recursively; names starting with ``.`` or
  ``_`` at any level below it are skipped (``_SUCCESS``, ``_temporary/``,
  ``.crc``), and when some files carry the format's extension only those are
  kept (so a ``README`` next to the parquet files is not read);
* on local disks directory symlinks are followed, but every real directory is
  entered and every real file read once (a link back to an ancestor is no loop);
* a glob (``*``, ``?``, ``[...]`` within a path segment, ``**`` across
  segments) is matched against the files under its literal prefix; a pattern
  that matches a directory takes the files below it.

Zero-byte files are dropped: they carry no rows in any format, and writers
leave them behind as markers.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow.fs as pafs

from driftwarden.errors import ConfigError, DataNotFoundError
from driftwarden.storage.formats import has_extension
from driftwarden.storage.uri import is_local, redact, split_scheme

log = logging.getLogger("driftwarden.storage")

_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True, order=True)
class FileInfo:
    """One data file: where it is, how big, and when it last changed (for fingerprints)."""

    path: str  # path on the filesystem (what pyarrow wants)
    size: int
    mtime: datetime | None  # UTC, None when the filesystem does not say
    uri: str  # the same file as a user-facing URI (s3://bucket/key, /abs/path)


@dataclass(frozen=True)
class Discovery:
    """The files found for a source, and the directory hive partitions are relative to."""

    files: list[FileInfo]
    base_dir: str


def is_glob(path: str) -> bool:
    """True when ``path`` contains glob characters."""
    return bool(_GLOB_CHARS.search(path))


def to_uri(uri: str, path: str) -> str:
    """Rebuild a user-facing URI for filesystem ``path`` using the scheme of ``uri``."""
    if is_local(uri):
        return path
    scheme, _ = split_scheme(redact(uri))
    return f"{scheme}://{path}"


def discover(
    filesystem: pafs.FileSystem, path: str, uri: str, fmt: str, *, label: str = "data"
) -> Discovery:
    """List the data files ``uri`` (already resolved to ``path``) names; raise if none."""
    if is_glob(path):
        base = _literal_prefix(path)
        if not is_local(uri) and is_glob(path.split("/", 1)[0]):
            raise ConfigError(
                f"wildcards in the bucket name are not supported: {redact(uri)}",
                hint="name the bucket; wildcards may follow in the key",
            )
        infos = _list_recursive(filesystem, base)
        matcher = _glob_regex(path)
        picked = [i for i in infos if _matches(matcher, i.path, base)]
        files = _keep(picked, base, fmt)
        if not files:
            raise DataNotFoundError(
                f"{label} not found: no files match {redact(uri)}",
                hint="check the pattern; * and ? stay within one directory level, ** crosses levels",
            )
        return Discovery(_to_files(files, uri), base)

    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.File:
        files = [info] if info.size else []
        if not files:
            raise DataNotFoundError(
                f"{label} not found: {redact(uri)} is an empty file",
                hint="point the path at files that hold rows",
            )
        return Discovery(_to_files(files, uri), _parent(path))
    if info.type == pafs.FileType.Directory:
        files = _keep(_list_recursive(filesystem, path), path, fmt)
        if not files:
            raise DataNotFoundError(
                f"{label} not found: no data files under {redact(uri)}",
                hint="the directory holds no non-empty files (names starting with . or _ are skipped)",
            )
        return Discovery(_to_files(files, uri), path)
    raise DataNotFoundError(
        f"{label} not found: {redact(uri)}", hint=_why_missing(filesystem, path, uri)
    )


def _why_missing(filesystem: pafs.FileSystem, path: str, uri: str) -> str:
    """Say whether the bucket itself is missing (one extra request, failure path only)."""
    if is_local(uri):
        return "nothing at this path; check the path"
    bucket = path.split("/", 1)[0]
    if "/" in path and filesystem.get_file_info(bucket).type == pafs.FileType.NotFound:
        return f"bucket {bucket!r} does not exist; check the bucket name and the storage endpoint"
    return "nothing at this path; check the bucket and prefix"


def _list_recursive(filesystem: pafs.FileSystem, base: str) -> list[pafs.FileInfo]:
    if isinstance(filesystem, pafs.LocalFileSystem):
        return filesystem.get_file_info(_local_files(base))
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    return [i for i in filesystem.get_file_info(selector) if i.type == pafs.FileType.File]


def _local_files(base: str) -> list[str]:
    """Every file below a local directory, each real file once, symlink loops cut.

    Arrow's recursive listing follows directory symlinks blindly: a link back to an
    ancestor lists the same files at every depth until the path is too long (rows read
    dozens of times), and two such links make the listing exponential. Here each real
    directory is entered once (real directories before links to them, so hive
    partition names stay in the paths) and each real file is kept once, by the
    shortest path that does not go through a symlink when there is one.
    """
    seen_dirs: set[tuple[int, int]] = set()
    found: dict[tuple[int, int], tuple[tuple[bool, int, str], str]] = {}
    skipped = 0
    for root, dirs, files in os.walk(base, followlinks=True):
        real = os.stat(root)
        if (real.st_dev, real.st_ino) in seen_dirs:
            dirs[:] = []
            skipped += 1
            continue
        seen_dirs.add((real.st_dev, real.st_ino))
        dirs.sort(key=lambda d: (os.path.islink(os.path.join(root, d)), d))
        linked_dir = root != base and os.path.realpath(root) != os.path.abspath(root)
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:  # a dangling link: nothing to read
                continue
            rank = (linked_dir or os.path.islink(path), len(path), path)
            key = (st.st_dev, st.st_ino)
            if key in found:
                skipped += 1
                if rank >= found[key][0]:
                    continue
            found[key] = (rank, path)
    if skipped:
        log.warning("skipped %d paths that reach data already listed through symlinks", skipped)
    return sorted(path for _, path in found.values())


def _keep(infos: list[pafs.FileInfo], base: str, fmt: str) -> list[pafs.FileInfo]:
    """Drop hidden/marker and empty files; prefer files with the format's extension."""
    visible = [i for i in infos if i.size and not _hidden(i.path, base)]
    typed = [i for i in visible if has_extension(i.base_name, fmt)]
    return typed or visible


def _hidden(path: str, base: str) -> bool:
    rel = path[len(base) :].lstrip("/") if path.startswith(base) else path.rsplit("/", 1)[-1]
    return any(part.startswith((".", "_")) for part in rel.split("/") if part)


def _to_files(infos: list[pafs.FileInfo], uri: str) -> list[FileInfo]:
    files = [
        FileInfo(
            path=i.path,
            size=int(i.size or 0),
            mtime=_utc(i.mtime),
            uri=to_uri(uri, i.path),
        )
        for i in infos
    ]
    return sorted(files, key=lambda f: f.path)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parent(path: str) -> str:
    parent = path.rstrip("/").rsplit("/", 1)[0]
    return parent or "/"


def _literal_prefix(path: str) -> str:
    """The directory part of a glob before its first wildcard segment."""
    parts = path.split("/")
    literal: list[str] = []
    for part in parts:
        if is_glob(part):
            break
        literal.append(part)
    prefix = "/".join(literal)
    return prefix or "/"


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``*``/``?``/``[..]`` within a segment, ``**`` any depth."""
    out: list[str] = []
    segments = pattern.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            # zero or more whole directories; as the last segment, any file below
            out.append("(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(out))


def _segment_regex(segment: str) -> str:
    regex: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            regex.append("[^/]*")
        elif char == "?":
            regex.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2)
            if end == -1:
                regex.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                regex.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            regex.append(re.escape(char))
        i += 1
    return "".join(regex)


def _matches(regex: re.Pattern[str], path: str, base: str) -> bool:
    """The file matches, or one of its directories below ``base`` does."""
    if regex.fullmatch(path):
        return True
    parent = path
    while True:
        parent = parent.rsplit("/", 1)[0]
        if len(parent) <= len(base.rstrip("/")) or not parent:
            return False
        if regex.fullmatch(parent):
            return True
