"""Query parameters of the admin API's lists, validated before any of them reaches the ORM.

Each list names its parameters once (`QueryParam`s); `parse_query` answers their typed values or
raises a 400 naming every parameter at fault: a value of the wrong type, out of its choices, too
long, empty where a value is required, or given twice (which one would win is a guess). The same
declarations describe the parameters in the OpenAPI schema (`openapi_parameters`), so what is
documented is what is checked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

MAX_TEXT = 200
_TYPES = {
    "text": OpenApiTypes.STR,
    "choice": OpenApiTypes.STR,
    "uuid": OpenApiTypes.UUID,
    "bool": OpenApiTypes.BOOL,
    "datetime": OpenApiTypes.DATETIME,
}


@dataclass(frozen=True)
class QueryParam:
    name: str
    kind: str = "text"  # text | choice | uuid | bool | datetime
    choices: tuple[str, ...] = ()
    description: str = ""

    def parse(self, raw: str):
        if self.kind == "text":
            if len(raw) > MAX_TEXT:
                raise ValueError(f"At most {MAX_TEXT} characters.")
            return raw.strip() or None
        if raw == "":
            raise ValueError("Give a value, or leave the parameter out.")
        if self.kind == "choice":
            if raw not in self.choices:
                raise ValueError(f"One of: {', '.join(self.choices)}.")
            return raw
        if self.kind == "uuid":
            try:
                return uuid.UUID(raw)
            except ValueError:
                raise ValueError("An id (UUID).") from None
        if self.kind == "bool":
            if raw not in ("true", "false"):
                raise ValueError("true or false.")
            return raw == "true"
        if self.kind == "datetime":
            return parse_rfc3339(raw)
        raise AssertionError(self.kind)

    def openapi(self) -> OpenApiParameter:
        return OpenApiParameter(
            self.name, _TYPES[self.kind], enum=list(self.choices) or None, description=self.description
        )


def parse_rfc3339(raw: str) -> datetime:
    """An RFC 3339 date-time with its zone, in UTC (PostgreSQL refuses offsets past 15:59 that
    Python accepts, such as +20:09); ValueError for anything else."""
    try:
        parsed = parse_datetime(raw)
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # February 30th, a +99:00 offset, year 1 at +01:00
        pass
    raise ValueError("An RFC 3339 date-time with a time zone is required.")


def parse_query(request, params: list[QueryParam]) -> dict:
    """The typed value of each declared parameter (None when left out), or a 400 naming each bad one."""
    query = request.query_params
    values, errors = {}, {}
    for param in params:
        given = query.getlist(param.name)
        if len(given) > 1:
            errors[param.name] = ["Given more than once."]
            continue
        try:
            values[param.name] = param.parse(given[0]) if given else None
        except ValueError as exc:
            errors[param.name] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return values


def openapi_parameters(params: list[QueryParam]) -> list[OpenApiParameter]:
    return [param.openapi() for param in params]
