"""Streamed CSV exports: a million rows leave the server without ever being in its memory.

An export is a sequence of *chunks*: each chunk one query of at most `CHUNK_ROWS` rows, picked
by keyset (the rows after the last one of the previous chunk, in the list's total order), so no
query reads a row it does not send and no cursor stays open between chunks.

Under ASGI (how `manage.py serve` and the container run the server) Django would read a
synchronous iterator to its end before sending a byte, so the response gets an asynchronous one
there, which fetches each chunk in the request's own thread (`sync_to_async`, thread-sensitive:
the same database connection as the view). Under WSGI (the test client, a plain WSGI server) it
gets the synchronous iterator.

Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return at the
start: a device names itself) are prefixed with `'`, as OWASP's CSV injection advice says.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

CHUNK_ROWS = 2000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _encode(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180's line break
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode()


def keyset_chunks(
    queryset: QuerySet[Any],
    *,
    columns: Sequence[str],
    order: Sequence[str],
    row: Callable[[tuple[Any, ...]], Sequence[Any]] | None = None,
    chunk_rows: int | None = None,
) -> Iterator[list[Sequence[Any]]]:
    """The `columns` (values_list paths) of `queryset`'s rows in `order` (field names among the
    columns, `-` for descending, ending on a unique one), a chunk (one query) at a time; `row`,
    if given, turns each tuple into its cells."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    keys = [columns.index(name.lstrip("-")) for name in order]
    rows = queryset.order_by(*order).values_list(*columns)
    after: list[Any] | None = None
    while True:
        page = rows if after is None else rows.filter(_after(order, after))
        values = list(page[:chunk_rows])
        if not values:
            return
        yield [row(v) for v in values] if row is not None else values
        if len(values) < chunk_rows:
            return
        after = [values[-1][key] for key in keys]


def _after(order: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in `order`: (a > x) or (a = x and b > y) or ..., and also
    a >= x on its own, which an index leading with `a` answers as a range (the disjunction alone
    would make the database walk the index from its start at every chunk)."""
    condition = Q()
    equal: dict[str, Any] = {}
    for name, value in zip(order, values, strict=True):
        field = name.lstrip("-")
        lookup = "lt" if name.startswith("-") else "gt"
        condition |= Q(**equal, **{f"{field}__{lookup}": value})
        equal[field] = value
    first = order[0].lstrip("-")
    bound = Q(**{f"{first}__{'lte' if order[0].startswith('-') else 'gte'}": values[0]})
    return bound & condition


def _next_encoded(chunks: Iterator[list[Sequence[Any]]]) -> bytes | None:
    rows = next(chunks, None)
    return None if rows is None else _encode(rows)


async def _async_body(header: bytes, chunks: Iterator[list[Sequence[Any]]]) -> AsyncIterator[bytes]:
    yield header
    fetch = sync_to_async(_next_encoded, thread_sensitive=True)
    while (encoded := await fetch(chunks)) is not None:
        yield encoded


def _sync_body(header: bytes, chunks: Iterator[list[Sequence[Any]]]) -> Iterator[bytes]:
    yield header
    for rows in chunks:
        yield _encode(rows)


def csv_response(
    request: HttpRequest, *, filename: str, header: Sequence[str], chunks: Iterator[list[Sequence[Any]]]
) -> StreamingHttpResponse:
    """A streamed `text/csv` attachment: the header row, then each chunk as it is read."""
    head = _encode([header])
    # DRF hands its own Request around; the Django request under it says which handler serves it.
    django_request = getattr(request, "_request", request)
    body = _async_body(head, chunks) if isinstance(django_request, ASGIRequest) else _sync_body(head, chunks)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def export_filename(kind: str, slug: str) -> str:
    """`devices-acme-20261202-171500.csv`: what, whose, when (UTC)."""
    return f"{kind}-{slug}-{timezone.now().astimezone(UTC):%Y%m%d-%H%M%S}.csv"
