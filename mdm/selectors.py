"""Reads of the shared parts that grow beyond a filter."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet


def org_filter(value: str, prefix: str = "") -> Q:
    """Match an organization by name, slug or id (`prefix` reaches it through a relation)."""
    query = Q(**{f"{prefix}name": value}) | Q(**{f"{prefix}slug": value})
    with contextlib.suppress(ValueError):
        query |= Q(**{f"{prefix}id": uuid.UUID(value)})
    return query


class SeekPaginator(Paginator):
    """Django's paginator, with pages as cheap deep in a long list as at its start.

    An OFFSET makes the database read, and throw away, every row before the page: 100,000 of
    them on the last page of a fleet. Here the page's keys are picked first (`key`, unique within
    the list: the primary key, or the audit log's `seq`), by a subquery that an index holding the
    list's filter, order and key answers without touching the rows; then only the page's rows
    are read. The list must be a queryset with a total order (its order_by ends on a unique key).
    """

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, key: str = "pk", **kwargs: Any):
        super().__init__(object_list, per_page, **kwargs)
        self.queryset = object_list
        self.key = key

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = self.queryset.values(self.key)[bottom:top]
        return Page(self.queryset.filter(**{f"{self.key}__in": keys}), number, self)
