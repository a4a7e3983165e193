"""Writing many new rows at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.conf import settings
from django.db import connection, models


def insert_rows(model: type[models.Model], objects: list) -> None:
    """Insert new rows in bulk: COPY on PostgreSQL (the fastest way in, by far, for a batch of
    policy documents), bulk_create elsewhere. Primary keys must be set already (UUIDs) or be
    database-generated (then the objects do not learn them)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects, batch_size=settings.MDM_PUSH_BATCH_SIZE)
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    columns = ", ".join(connection.ops.quote_name(cast(str, f.column)) for f in fields)  # concrete: has one
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            copy.write_row([f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields])


def insert_tuples(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert new rows given as tuples of field values (by attname, in `fields` order), with no
    model instance in between: building and preparing instances field by field cost more than the
    COPY itself. On PostgreSQL the values go to COPY as they are (psycopg adapts them), but for JSON
    fields, which the field prepares; elsewhere every value is prepared by its field."""
    if not rows:
        return
    opts = model._meta
    concrete = {f.attname: f for f in opts.concrete_fields}
    columns = [concrete[name] for name in fields]  # a KeyError names a field the model lacks
    quoted = ", ".join(connection.ops.quote_name(cast(str, f.column)) for f in columns)
    table = connection.ops.quote_name(opts.db_table)
    if connection.vendor != "postgresql":
        marks = ", ".join(["%s"] * len(columns))
        prepared = [[f.get_db_prep_save(v, connection) for f, v in zip(columns, row, strict=True)] for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", prepared)  # noqa: S608
        return
    json_at = [i for i, f in enumerate(columns) if isinstance(f, models.JSONField)]
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = columns[i].get_db_prep_save(row[i], connection)
            copy.write_row(row)
