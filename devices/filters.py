"""The device list's filters, declared once for the admin API and the console.

Each filter is one `QueryParam` of mdm.api.params: the admin API parses a query string with it
(strictly: a 400 problem names each parameter given twice, empty, or of the wrong type), the
OpenAPI schema documents it, and the console's filter form shows it with the same names, the
same values (`compliant=true|false`) and the same checks. Either way the result is a
`devices.selectors.DeviceFilter` for `device_list`.

django-filter was considered (issue 13) and not adopted: its forms take the last of a repeated
parameter, treat an empty value as no filter, and its boolean filter ignores what it does not
understand, so each of our parameter rules would be rewritten as an override, and the OpenAPI
parameters would still have to come from our own declarations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import TextChoices
from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request

from devices.choices import ContainerState, DeviceState, Ownership, Platform
from devices.selectors import DEFAULT_DEVICE_SORT, DEVICE_SORTS, NO_FILTER, DeviceFilter
from mdm.api.params import MAX_TEXT, QueryParam, parse_query
from personas.models import Persona

Option = tuple[str, str | Promise]


@dataclass(frozen=True)
class _Filter:
    """One filter: its query parameter, its label in the console, and the options the console
    offers for it (none: a text box); a choice filter's values are those of its TextChoices."""

    param: QueryParam
    label: Promise
    options: tuple[Option, ...] = ()
    choices: type[TextChoices] | None = None

    @property
    def name(self) -> str:
        return self.param.name


def _choice(name: str, choices: type[TextChoices], label: Promise) -> _Filter:
    return _Filter(QueryParam(name, "choice", tuple(choices.values)), label, tuple(choices.choices), choices)


# In the console form's order.
FILTERS: tuple[_Filter, ...] = (
    _Filter(QueryParam("q", description="Part of the name or model."), _("Search")),
    _choice("state", DeviceState, _("State")),
    _choice("container_state", ContainerState, _("Work profile")),
    _Filter(
        QueryParam("compliant", "bool"), _("Compliance"), (("true", _("Compliant")), ("false", _("Not compliant")))
    ),
    _Filter(QueryParam("persona", "uuid"), _("Persona")),  # the console offers the organization's personas
    _Filter(QueryParam("owner", description="The owner's e-mail address."), _("Owner's e-mail")),
    _choice("platform", Platform, _("Platform")),
    _choice("ownership", Ownership, _("Ownership")),
    # The dashboard's tiles and bars link here (issue 16): its silent tile, its OS version bars.
    _Filter(
        QueryParam("silent", "bool", description="No check-in for too long."),
        _("Check-ins"),
        (("true", _("Silent too long")), ("false", _("Checking in"))),
    ),
    _Filter(QueryParam("os_version", description="The OS version, exactly as reported."), _("OS version")),
)

# The admin API's parameters of GET /api/v1/devices/ (and their OpenAPI description).
DEVICE_QUERY_PARAMS: list[QueryParam] = [f.param for f in FILTERS]


def _device_filter(values: Mapping[str, Any]) -> DeviceFilter:
    """A DeviceFilter from parsed values (None where a parameter was left out)."""
    typed: dict[str, Any] = {}
    for spec in FILTERS:
        value = values[spec.name]
        typed[spec.name] = spec.choices(value) if spec.choices is not None and value is not None else value
    return DeviceFilter(**typed)


def device_filter_from_query(request: Request) -> DeviceFilter:
    """The admin API's filters, or a 400 problem naming each bad parameter."""
    return _device_filter(parse_query(request, DEVICE_QUERY_PARAMS))


# The admin API's order of the device list, as the console's column headers sort it.
DEVICE_SORT_PARAM = QueryParam(
    "sort",
    "choice",
    tuple(key for name in DEVICE_SORTS for key in (name, f"-{name}")),
    description=f"The order (`-` for descending; ties by id). Default: `{DEFAULT_DEVICE_SORT}`.",
)


def device_sort_from_query(request: Request) -> str:
    """The admin API's `sort`, or a 400 problem naming it."""
    return parse_query(request, [DEVICE_SORT_PARAM])["sort"] or DEFAULT_DEVICE_SORT


# --- The console's form -------------------------------------------------------------------------

# The console's links said yes/no before issue 13 gave it the API's true/false: bookmarks still work.
_OLD_COMPLIANCE = {"yes": "true", "no": "false"}


class _FilterField(forms.Field):
    """A field checked by its query parameter: left empty, it filters nothing (a form sends every
    field); given, it is parsed exactly as the admin API parses it."""

    def __init__(self, param: QueryParam, **kwargs: Any):
        self.param = param
        super().__init__(required=False, **kwargs)

    def clean(self, value: Any) -> Any:
        if value in (None, ""):
            return None
        try:
            return self.param.parse(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


def _form_field(spec: _Filter, personas: Iterable[Persona]) -> _FilterField:
    options: tuple[Option, ...] = spec.options
    if spec.name == "persona":
        options = tuple((str(p.pk), p.name) for p in personas)
    widget: forms.Widget = forms.TextInput(attrs={"maxlength": MAX_TEXT})
    if options:
        widget = forms.Select(choices=[("", _("Any")), *options])
    return _FilterField(spec.param, label=spec.label, widget=widget)


class DeviceFilterForm(forms.Form):
    """The console's device filters: the admin API's parameters, as a form in a GET query."""

    def __init__(self, data: QueryDict | None = None, *, personas: Iterable[Persona] = ()):
        old = data.get("compliant") if data is not None else None
        if data is not None and old in _OLD_COMPLIANCE:
            data = data.copy()
            data["compliant"] = _OLD_COMPLIANCE[old]
        super().__init__(data)
        personas = list(personas)
        for spec in FILTERS:
            self.fields[spec.name] = _form_field(spec, personas)

    def device_filter(self) -> DeviceFilter:
        """What the query asks for; nothing filtered while a field is in error (shown on the form)."""
        if not self.is_bound or not self.is_valid():
            return NO_FILTER
        return _device_filter(self.cleaned_data)
