"""Querysets compiled to SQL once per process, run again with new values.

The ORM compiles a queryset on every evaluation; for the agent API's hottest reads (the check-in,
the long poll's delivery) that compilation cost more CPU than the query itself. A
`CompiledQuery` builds its queryset once with sentinel values, keeps the SQL, and at each run
puts the real values where the sentinels were, through `Model.objects.raw` (which still applies
every field's converters). Where a backend prepares a value so that its sentinel cannot be found
among the parameters (SQLite turns UUIDs and datetimes into text), it is not cached: the
queryset is built and run as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet


class CompiledQuery:
    def __init__(self, build: Callable[..., QuerySet], **sentinels: Any):
        self._build = build
        self._sentinels = sentinels
        self._compiled: dict[str, tuple[type[Model], str, list, dict[int, str]] | None] = {}
        self._lock = threading.Lock()

    def _compile(self, vendor: str) -> tuple[type[Model], str, list, dict[int, str]] | None:
        queryset = self._build(**self._sentinels)
        sql, params = queryset.query.sql_with_params()
        positions: dict[int, str] = {}
        for name, sentinel in self._sentinels.items():
            found = [index for index, param in enumerate(params) if type(param) is type(sentinel) and param == sentinel]
            if len(found) != 1:
                return None  # prepared out of recognition by this backend: build it each time
            positions[found[0]] = name
        return queryset.model, sql, list(params), positions

    def run(self, **values: Any) -> Iterable[Any]:
        vendor = connection.vendor
        if vendor not in self._compiled:
            with self._lock:
                if vendor not in self._compiled:
                    self._compiled[vendor] = self._compile(vendor)
        compiled = self._compiled[vendor]
        if compiled is None:
            return self._build(**values)
        model, sql, params, positions = compiled
        bound = [values[positions[index]] if index in positions else param for index, param in enumerate(params)]
        return model._default_manager.raw(sql, bound)
