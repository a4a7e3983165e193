"""SCIM filters (RFC 7644 §3.4.2.2) as Django Q objects over our rows.

scim2-models parses a filter (its lark grammar) and checks it against the resource's schema (an
unknown attribute, an operator its type does not take, a value of the wrong type: invalidFilter);
this module walks the tree it gives (a FilterVisitor) and answers only for the attributes we keep
as columns. Anything else is refused with invalidFilter rather than evaluated wrongly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db.models import Q
from scim2_models import InvalidFilterException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text", "exact" (case-exact text), "bool", "uuid"


USER_COLUMNS: dict[tuple[str, str | None], Column] = {
    ("id", None): Column("pk", "uuid"),
    ("username", None): Column("user_name", "text"),
    ("externalid", None): Column("external_id", "exact"),
    ("active", None): Column("active", "bool"),
    ("displayname", None): Column("display_name", "text"),
    ("name", "givenname"): Column("given_name", "text"),
    ("name", "familyname"): Column("family_name", "text"),
    ("emails", None): Column("email", "text"),
    ("emails", "value"): Column("email", "text"),
}
GROUP_COLUMNS: dict[tuple[str, str | None], Column] = {
    ("id", None): Column("pk", "uuid"),
    ("displayname", None): Column("display_name", "text"),
    ("externalid", None): Column("external_id", "exact"),
    ("members", None): Column("memberships__member_id", "uuid"),
    ("members", "value"): Column("memberships__member_id", "uuid"),
}
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:user"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:group"

_TEXT_LOOKUPS = {
    CompareOperator.eq: "iexact",
    CompareOperator.ne: "iexact",
    CompareOperator.co: "icontains",
    CompareOperator.sw: "istartswith",
    CompareOperator.ew: "iendswith",
}
_EXACT_LOOKUPS = {
    CompareOperator.eq: "exact",
    CompareOperator.ne: "exact",
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
}


def _refuse(detail: str) -> InvalidFilterException:
    return InvalidFilterException(detail=detail)


class QueryTranslator(FilterVisitor[Q]):
    """A parsed filter as a Q over one model's columns."""

    def __init__(self, columns: dict[tuple[str, str | None], Column], schema: str, prefix: str | None = None):
        self.columns = columns
        self.schema = schema
        self.prefix = prefix  # inside a value path: the multi-valued attribute selected into

    def column(self, path: AttrPath) -> Column:
        if path.uri is not None and path.uri.lower() != self.schema:
            raise _refuse(f"Filtering on {path} is not supported.")
        key: tuple[str, str | None] = (path.attr.lower(), path.sub_attr.lower() if path.sub_attr else None)
        if self.prefix is not None:
            if path.sub_attr is not None or path.uri is not None:
                raise _refuse(f"Filtering on {self.prefix}[{path}] is not supported.")
            key = (self.prefix, path.attr.lower())
        column = self.columns.get(key)
        if column is None:
            raise _refuse(f"Filtering on {path} is not supported.")
        return column

    def visit_comparison(self, node: Comparison) -> Q:
        column = self.column(node.attr_path)
        value: Any = node.value
        if isinstance(value, str) and "\x00" in value:
            raise _refuse("A filter value may not contain NUL characters.")
        negate = node.op == CompareOperator.ne
        if column.kind in ("text", "exact"):
            lookups = _TEXT_LOOKUPS if column.kind == "text" else _EXACT_LOOKUPS
            if node.op not in lookups or not isinstance(value, str):
                raise _refuse(f"{node.op.value} is not supported on {node.attr_path}.")
            q = Q(**{f"{column.name}__{lookups[node.op]}": value})
        elif column.kind == "bool":
            if node.op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, bool):
                raise _refuse(f"{node.attr_path} compares with eq or ne to true or false.")
            q = Q(**{column.name: value})
        else:  # uuid: an id that is not one matches nothing
            if node.op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, str):
                raise _refuse(f"{node.attr_path} compares with eq or ne to an id.")
            try:
                q = Q(**{column.name: uuid.UUID(value)})
            except ValueError:
                q = Q(pk__in=[])
        return ~q if negate else q

    def visit_present(self, node: Present) -> Q:
        column = self.column(node.attr_path)
        if column.kind in ("text", "exact"):
            return ~Q(**{column.name: ""})
        if column.kind == "uuid" and "__" in column.name:
            return Q(**{f"{column.name}__isnull": False})
        return Q()

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        terms = [self.visit(term) for term in node.terms]
        return reduce((lambda a, b: a & b) if node.op == LogicalOperator.and_ else (lambda a, b: a | b), terms)

    def visit_value_path(self, node: ValuePath) -> Q:
        if self.prefix is not None or node.attr_path.sub_attr is not None:
            raise _refuse(f"Filtering on {node} is not supported.")
        attr = node.attr_path.attr.lower()
        return QueryTranslator(self.columns, self.schema, prefix=attr).visit(node.val_filter)


def user_filter(ast) -> Q:
    return QueryTranslator(USER_COLUMNS, USER_SCHEMA).visit(ast)


def group_filter(ast) -> Q:
    return QueryTranslator(GROUP_COLUMNS, GROUP_SCHEMA).visit(ast)
