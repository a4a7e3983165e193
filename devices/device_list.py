"""The console's device list as a page: its query (the filters of devices.filters, a sort and the
columns shown, each from a whitelist), the column headers that sort, the chips of the active
filters, and the canonical query a saved view keeps.

Everything a link or a saved view carries goes through `ListQuery.parse`: a parameter outside the
whitelists is never echoed back into a link, and never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from devices.filters import FILTERS, DeviceFilterForm
from devices.selectors import DEFAULT_DEVICE_SORT, DEVICE_SORTS, DeviceFilter
from personas.models import Persona


@dataclass(frozen=True)
class Column:
    """A column of the list: its key in `?cols=`, its header, the sort key its header links to
    (none: it does not sort), and whether it is shown until the admin chooses."""

    key: str
    label: Promise
    sort: str | None = None
    default: bool = True


NAME = Column("name", _("Name"), "name")
# The columns an admin may hide or add, in the table's order (the name always comes first).
OPTIONAL_COLUMNS: tuple[Column, ...] = (
    Column("owner", _("Owner"), "owner"),
    Column("platform", _("Platform"), "platform"),
    Column("model", _("Model"), default=False),
    Column("persona", _("Persona"), "persona"),
    Column("state", _("State"), "state"),
    Column("work_profile", _("Work profile")),
    Column("compliant", _("Compliance"), "compliant"),
    Column("last_seen", _("Last check-in"), "last_seen"),
    Column("enrolled", _("Enrolled"), "enrolled", default=False),
    Column("agent_version", _("Agent version"), default=False),
)
COLUMNS = {c.key: c for c in (NAME, *OPTIONAL_COLUMNS)}
DEFAULT_COLUMNS: tuple[str, ...] = tuple(c.key for c in OPTIONAL_COLUMNS if c.default)
SORT_KEYS: tuple[str, ...] = tuple(DEVICE_SORTS)
FILTER_NAMES: tuple[str, ...] = tuple(f.name for f in FILTERS)
LIST_COLUMNS_SESSION_KEY = "devices.list_columns"  # the columns an admin chose last
# Every parameter a list's query (and so a saved view) may hold.
LIST_PARAMS = frozenset({*FILTER_NAMES, "sort", "cols"})


@dataclass
class ListQuery:
    """The list's query, parsed: `form` holds the filters (and their errors), `sort` and `columns`
    are valid (the default where the query's were not, with `errors` saying so), `given_columns`
    says whether the query chose the columns (else the caller may use the remembered ones)."""

    form: DeviceFilterForm
    sort: str = DEFAULT_DEVICE_SORT
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    given_columns: bool = False
    errors: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # parameters outside the whitelists
    given_order: tuple[str, ...] = FILTER_NAMES  # the filters' order in the query (links keep it)

    @classmethod
    def parse(cls, data: QueryDict, *, personas: Iterable[Persona] = ()) -> ListQuery:
        filters = data.copy()
        for name in ("sort", "cols", "page"):
            filters.pop(name, None)
        query = cls(form=DeviceFilterForm(filters or None, personas=personas))
        query.unknown = sorted(name for name in data if name not in LIST_PARAMS and name != "page")
        query.given_order = tuple(name for name in data if name in FILTER_NAMES)
        sorts = data.getlist("sort")
        if sorts:
            wanted = sorts[-1].strip()
            if len(sorts) > 1:
                query.errors.append(gettext("Sort by one column at a time: the list is in its default order."))
            elif wanted.removeprefix("-") not in DEVICE_SORTS:
                query.errors.append(
                    gettext("“%(sort)s” is not a column the list sorts by (%(keys)s): it is in its default order.")
                    % {"sort": wanted[:40], "keys": ", ".join(SORT_KEYS)}
                )
            else:
                query.sort = wanted
        if "cols" in data:
            wanted_columns = [key.strip() for value in data.getlist("cols") for key in value.split(",") if key.strip()]
            unknown = [key for key in wanted_columns if key not in COLUMNS]
            if unknown:
                query.errors.append(
                    gettext("There is no column “%(col)s” (%(keys)s): the usual columns are shown.")
                    % {"col": unknown[0][:40], "keys": ", ".join(c.key for c in OPTIONAL_COLUMNS)}
                )
            else:
                query.columns = tuple(c.key for c in OPTIONAL_COLUMNS if c.key in wanted_columns)
                query.given_columns = True
        return query

    @property
    def custom_sort(self) -> str:
        """The sort if it is not the default one (a form then carries it), else ""."""
        return "" if self.sort == DEFAULT_DEVICE_SORT else self.sort

    @property
    def in_error(self) -> bool:
        """A filter, the sort or the columns asked for could not be applied (the page says why)."""
        return bool(self.errors) or (self.form.is_bound and not self.form.is_valid())

    @property
    def valid(self) -> bool:
        """Applied exactly as given, with nothing outside the whitelists."""
        return not self.in_error and not self.unknown

    def device_filter(self) -> DeviceFilter:
        return self.form.device_filter()

    def filter_items(self, *, canonical: bool = False) -> list[tuple[str, str]]:
        """The filters given and valid, as (parameter, value) in the query's order (`canonical`:
        in the form's)."""
        if not self.form.is_bound or not self.form.is_valid():
            return []
        return [
            (name, _param_value(self.form.cleaned_data[name]))
            for name in (FILTER_NAMES if canonical else self.given_order)
            if self.form.cleaned_data.get(name) is not None
        ]

    def items(self, *, columns: bool = True, canonical: bool = False) -> list[tuple[str, str]]:
        """The whole valid query as (parameter, value): filters, then a sort other than the
        default, then the columns (if the query chose them and `columns`)."""
        items = self.filter_items(canonical=canonical)
        if self.sort != DEFAULT_DEVICE_SORT:
            items.append(("sort", self.sort))
        if columns and self.given_columns:
            items.append(("cols", ",".join(("name", *self.columns))))
        return items

    def canonical(self, *, columns: Sequence[str] | None = None) -> str:
        """The query as a saved view keeps it: only whitelisted parameters, each valid, in a fixed
        order; `columns`, if given, are the ones shown (remembered rather than in the query)."""
        items = self.items(columns=columns is None, canonical=True)
        if columns is not None:
            items.append(("cols", ",".join(("name", *columns))))
        return encode_query(items)


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(items: Sequence[tuple[str, str]]) -> str:
    query = QueryDict(mutable=True)
    for name, value in items:
        query.appendlist(name, value)
    return query.urlencode()


# --- What the page shows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """A column header: its link toggles the sort (none: the column does not sort), `aria_sort`
    is "ascending"/"descending" on the sorted column."""

    column: Column
    href: str | None
    aria_sort: str | None
    label_next: str  # what the link does, for a screen reader


def headers(query: ListQuery) -> list[Header]:
    base = [(name, value) for name, value in query.items() if name != "sort"]
    current = query.sort.removeprefix("-")
    descending = query.sort.startswith("-")
    shown = [NAME, *(COLUMNS[key] for key in query.columns)]
    out = []
    for column in shown:
        if column.sort is None:
            out.append(Header(column, None, None, ""))
            continue
        sorted_here = column.sort == current
        # A first click sorts ascending; a click on the sorted column turns the order around.
        next_sort = column.sort if not sorted_here or descending else f"-{column.sort}"
        aria = ("descending" if descending else "ascending") if sorted_here else None
        label_next = gettext("sort descending") if next_sort.startswith("-") else gettext("sort ascending")
        out.append(Header(column, "?" + encode_query([*base, ("sort", next_sort)]), aria, label_next))
    return out


@dataclass(frozen=True)
class Chip:
    """An active filter, and the list without it."""

    label: str
    value: str
    remove_href: str


def chips(query: ListQuery, *, personas: Iterable[Persona] = ()) -> list[Chip]:
    given = query.filter_items(canonical=True)
    rest = [(name, value) for name, value in query.items() if name not in FILTER_NAMES]
    names = {str(p.pk): p.name for p in personas}
    specs = {f.name: f for f in FILTERS}
    out = []
    for name, value in given:
        spec = specs[name]
        shown = {str(v): str(label) for v, label in spec.options}.get(value, value)
        if name == "persona":
            shown = names.get(value, value)
        others = [(n, v) for n, v in query.filter_items() if n != name]
        out.append(Chip(str(spec.label), shown, "?" + encode_query([*others, *rest])))
    return out


def clear_all_href(query: ListQuery) -> str:
    """The list without any filter, in the same order and columns."""
    rest = [(name, value) for name, value in query.items() if name not in FILTER_NAMES]
    return "?" + encode_query(rest) if rest else "?"
