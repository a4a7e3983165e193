"""devices.filters: one definition of the device list's filters, one vocabulary for the console
and the admin API (issue 13: the console said compliant=yes/no, the API true/false)."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from devices.choices import DeviceState
from devices.filters import DEVICE_QUERY_PARAMS, DeviceFilterForm
from personas.models import Persona
from tests.devices.test_device_selectors import make_device


def login(client, user):
    client.force_login(user)
    return client


def documented_parameters() -> dict[str, dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/devices/"]["get"]
    return {p["name"]: p["schema"] for p in operation["parameters"] if p["name"] not in ("page", "page_size", "sort")}


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, name
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_the_console_form_offers_exactly_the_values_the_api_documents(client, actors):
    documented = documented_parameters()
    assert set(documented) == {p.name for p in DEVICE_QUERY_PARAMS} == set(DeviceFilterForm().fields)
    html = login(client, actors.auditor).get("/console/devices/").content.decode()
    for name, schema in documented.items():
        if "enum" in schema:
            offered = options(html, name)
            assert offered[0] == "" and sorted(offered[1:]) == sorted(schema["enum"]), name
        elif schema["type"] == "boolean":
            assert options(html, name) == ["", "true", "false"], name
    assert documented["persona"] == {"type": "string", "format": "uuid"}
    personas = Persona.objects.filter(organization=actors.org).order_by("name")
    assert options(html, "persona") == ["", *[str(p.pk) for p in personas]]  # the organization's only


@pytest.fixture
def fleet(actors):
    return {
        "compliant": make_device(actors.org, name="Good phone", compliant=True),
        "noncompliant": make_device(actors.org, name="Bad phone", compliant=False),
        "retired": make_device(actors.org, name="Gone phone", state=DeviceState.RETIRED, compliant=False),
    }


def console_names(client, query: str) -> set[str]:
    html = client.get(f"/console/devices/?{query}").content.decode()
    return set(re.findall(r'<td><a href="/console/devices/[^"]+/">([^<]+)</a></td>', html))


def api_names(api, query: str) -> set[str]:
    response = api.get(f"/api/v1/devices/?{query}")
    assert response.status_code == 200, response.json()
    return {row["name"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    "query",
    ["compliant=false", "compliant=true", "compliant=false&state=active", "state=retired", "q=bad", "q=phone",
     "platform=ios", "ownership=personal", "container_state=pending"],
)  # fmt: skip
def test_a_query_lists_the_same_devices_in_the_console_and_the_api(client, actors, fleet, query):
    login(client, actors.auditor)
    expected = api_names(actors.api(actors.auditor), query)
    assert console_names(client, query) == expected


def test_the_not_compliant_tile_of_the_dashboard_links_to_the_apis_vocabulary(client, actors, fleet):
    login(client, actors.auditor)
    dashboard = client.get("/console/").content.decode()
    assert 'href="/console/devices/?compliant=false&amp;state=active"' in dashboard
    assert console_names(client, "compliant=false&state=active") == {"Bad phone"}


@pytest.mark.parametrize(("old", "new"), [("yes", "true"), ("no", "false")])
def test_old_console_links_with_yes_or_no_still_filter(client, actors, fleet, old, new):
    login(client, actors.auditor)
    assert console_names(client, f"compliant={old}") == console_names(client, f"compliant={new}")
    html = client.get(f"/console/devices/?compliant={old}").content.decode()
    assert f'<option value="{new}" selected>' in html


def test_an_empty_console_form_filters_nothing(client, actors, fleet):
    login(client, actors.auditor)
    blank = "q=&state=&container_state=&compliant=&persona=&owner=&platform=&ownership="
    assert console_names(client, blank) == {"Good phone", "Bad phone", "Gone phone"}


@pytest.mark.parametrize(
    ("query", "message"),
    [("compliant=maybe", "true or false."), ("state=gone", "One of: active, retired."),
     ("persona=nope", "An id (UUID)."), ("q=" + "x" * 201, "At most 200 characters.")],
)  # fmt: skip
def test_a_bad_console_value_is_shown_by_its_field_as_the_api_words_it_and_filters_nothing(
    client, actors, fleet, query, message
):
    login(client, actors.auditor)
    response = client.get(f"/console/devices/?{query}")
    assert response.status_code == 200
    assert f'<span class="error" role="alert">{message}</span>' in response.content.decode()
    assert console_names(client, query) == {"Good phone", "Bad phone", "Gone phone"}
    name = query.split("=")[0]
    assert actors.api(actors.auditor).get(f"/api/v1/devices/?{query}").json()["errors"] == {name: [message]}
