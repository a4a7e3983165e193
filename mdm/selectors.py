"""Reads of the shared parts that grow beyond a filter."""

from __future__ import annotations

import contextlib
import uuid

from django.db.models import Q


def org_filter(value: str, prefix: str = "") -> Q:
    """Match an organization by name, slug or id (`prefix` reaches it through a relation)."""
    query = Q(**{f"{prefix}name": value}) | Q(**{f"{prefix}slug": value})
    with contextlib.suppress(ValueError):
        query |= Q(**{f"{prefix}id": uuid.UUID(value)})
    return query
