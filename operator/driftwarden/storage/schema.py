"""One schema for many files written at different times.

Columns added later are fine (older files read them as null) and compatible
types are widened (int32 + int64 → int64, int + float → float, string +
large_string → large_string, null + anything). Dictionary-encoded columns are
compared by their value type: whether a writer dictionary-encoded a column is a
storage detail, not a schema change. A real conflict (int64 in one file,
string in another) is a :class:`SchemaError` that names the column, both types
and one file of each, because that is what someone has to go and fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from driftwarden.errors import SchemaError

_PROMOTE = "permissive"


def decode_dictionaries(schema: pa.Schema) -> pa.Schema:
    """Replace dictionary types by their value types (metadata is kept)."""
    fields = [
        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def unify(
    schemas: Sequence[pa.Schema], sources: Sequence[str], *, label: str = "data"
) -> pa.Schema:
    """Unify ``schemas`` (``sources[i]`` names where ``schemas[i]`` came from)."""
    cleaned = [decode_dictionaries(s) for s in schemas]
    try:
        return pa.unify_schemas(cleaned, promote_options=_PROMOTE)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _explain(cleaned, sources, label, exc) from exc


def _explain(
    schemas: Sequence[pa.Schema], sources: Sequence[str], label: str, exc: Exception
) -> SchemaError:
    """Find the first column whose types cannot be merged and name both sides."""
    seen: dict[str, tuple[pa.DataType, str]] = {}
    for schema, source in zip(schemas, sources, strict=True):
        names = schema.names
        if len(names) != len(set(names)):
            duplicate = next(n for n in names if names.count(n) > 1)
            return SchemaError(
                f"{label}: column {duplicate!r} appears twice in {source}",
                hint="rename one of the duplicate columns",
            )
        for field in schema:
            if field.name not in seen:
                seen[field.name] = (field.type, source)
                continue
            first_type, first_source = seen[field.name]
            try:
                merged = pa.unify_schemas(
                    [pa.schema([(field.name, first_type)]), pa.schema([field])],
                    promote_options=_PROMOTE,
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return SchemaError(
                    f"{label}: column {field.name!r} has conflicting types: "
                    f"{first_type} in {first_source}, {field.type} in {source}",
                    hint="rewrite the odd files with one type, or point the path at files "
                    "with one schema",
                )
            seen[field.name] = (merged.field(field.name).type, first_source)
    return SchemaError(f"{label}: the files' schemas cannot be merged: {exc}")


def with_dictionaries(schema: pa.Schema, columns: Sequence[str]) -> pa.Schema:
    """Declare string/binary ``columns`` as ``dictionary<int32, value>`` in ``schema``."""
    wanted = set(columns)
    fields = []
    for field in schema:
        kind = field.type
        if field.name in wanted and (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
        ):
            field = field.with_type(pa.dictionary(pa.int32(), kind))
        fields.append(field)
    return pa.schema(fields, metadata=schema.metadata)
