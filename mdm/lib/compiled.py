"""Querysets compiled to SQL once per process, run again with new values.

The ORM compiles a queryset on every evaluation, and builds its row converters and column map
every time; for the agent API's hottest reads (the check-in, the long poll's delivery) that cost
more CPU than the query itself. A `CompiledQuery` compiles its queryset once with sentinel
values, keeps the SQL, the converters (each field's own `from_db_value`, the backend's) and where
each column goes, and at each run puts the real values where the sentinels were and builds the
instances as the ORM's own iterable does (`Model.from_db`, annotations as attributes). Where a
backend prepares a value so that its sentinel cannot be found among the parameters (SQLite turns
UUIDs and datetimes into text), nothing is cached: the queryset is built and run as usual.
Querysets with select_related or prefetches are refused: their rows need more than one model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    sql: str
    params: list
    positions: dict[int, str]  # parameter index -> the value's name
    converters: list[tuple[int, list, Any]]  # (column, converters, expression)
    fields: tuple[int, int, list[str]]  # the model's columns: start, end, attnames
    annotations: dict[str, int]


class CompiledQuery:
    def __init__(self, build: Callable[..., QuerySet], **sentinels: Any):
        self._build = build
        self._sentinels = sentinels
        self._compiled: dict[str, _Compiled | None] = {}
        self._lock = threading.Lock()

    def _compile(self) -> _Compiled | None:
        queryset = self._build(**self._sentinels)
        if queryset.query.select_related or queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise ValueError("A CompiledQuery reads one model: no select_related, no prefetch.")
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()  # fills compiler.select, klass_info, annotation_col_map
        positions: dict[int, str] = {}
        for name, sentinel in self._sentinels.items():
            found = [index for index, param in enumerate(params) if type(param) is type(sentinel) and param == sentinel]
            if len(found) != 1:
                return None  # prepared out of recognition by this backend: build it each time
            positions[found[0]] = name
        select = compiler.select
        converters = compiler.get_converters([column[0] for column in select])
        fields = compiler.klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        return _Compiled(
            model=queryset.model,
            sql=sql,
            params=list(params),
            positions=positions,
            converters=[(index, convs, expression) for index, (convs, expression) in converters.items()],
            fields=(start, end, [column[0].target.attname for column in select[start:end]]),
            annotations=dict(compiler.annotation_col_map or {}),
        )

    def run(self, **values: Any) -> Iterable[Any]:
        vendor = connection.vendor
        if vendor not in self._compiled:
            with self._lock:
                if vendor not in self._compiled:
                    self._compiled[vendor] = self._compile()
        compiled = self._compiled[vendor]
        if compiled is None:
            return self._build(**values)
        bound = [values[compiled.positions[i]] if i in compiled.positions else p for i, p in enumerate(compiled.params)]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, bound)
            rows = cursor.fetchall()
        start, end, attnames = compiled.fields
        found = []
        for raw in rows:
            row = list(raw)
            for index, convs, expression in compiled.converters:
                for convert in convs:
                    row[index] = convert(row[index], expression, connection)
            instance = compiled.model.from_db(connection.alias, attnames, row[start:end])
            for name, index in compiled.annotations.items():
                setattr(instance, name, row[index])
            found.append(instance)
        return found
