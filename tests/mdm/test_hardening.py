"""Regression tests for the hostile-input findings of issue 11, each named after what broke.

Every refused request is a 4xx problem (never a 500), and a refused write changes nothing.
"""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from devices.models import Device, EnrollmentToken, Wipe
from mdm.errors import ServiceError
from personas.models import Persona
from personas.spec import PRESETS, validate_spec
from tests.agents import Keys, enroll_body

PROBLEM = "application/problem+json"


def nested(depth: int, kind: str = "dict"):
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value} if kind == "dict" else [value]
    return value


def default_persona(org) -> Persona:
    return Persona.objects.get(organization=org, is_default=True)


def patch(client, persona: Persona, body) -> object:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.generic("PATCH", f"/api/v1/personas/{persona.pk}/", raw, content_type="application/json")


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(PROBLEM)
    if field is not None:
        assert field in response.json()["errors"], response.json()


# 1. Deep nesting in managed_config ---------------------------------------------------------------


@pytest.mark.parametrize(("depth", "kind"), [(400, "dict"), (500, "list"), (40, "dict"), (11, "list")])
def test_deeply_nested_managed_config_is_a_400_through_the_api(actors, depth, kind):
    persona = default_persona(actors.org)
    config = {"deep": nested(depth, kind)}
    body = {"apps": [{"id": "com.acme.mail", "managed_config": config}]}
    assert_problem(patch(actors.api(actors.admin), persona, body), 400)
    created = actors.api(actors.admin).post("/api/v1/personas/", {"name": "Deep", **body}, format="json")
    assert_problem(created, 400)
    persona.refresh_from_db()
    assert persona.revision == 1 and not Persona.objects.filter(name="Deep").exists()


def test_a_managed_config_within_the_depth_limit_is_kept(actors):
    persona = default_persona(actors.org)
    config = {"bundle": nested(8, "list")}
    response = patch(actors.api(actors.admin), persona, {"apps": [{"id": "com.acme.mail", "managed_config": config}]})
    assert response.status_code == 200, response.json()
    assert response.json()["apps"][0]["managed_config"] == config


def test_deeply_nested_managed_config_in_the_console_editor_is_an_error_in_place(client, actors):
    from tests.personas.test_console_personas import form_of

    client.force_login(actors.admin)
    persona = default_persona(actors.org)
    url = f"/console/personas/{persona.pk}/"
    data = form_of(client.get(url).content.decode())
    data["apps[0].id"] = "com.acme.mail"
    data["apps[0].managed_config"] = json.dumps(nested(400))
    response = client.post(url, data)
    assert response.status_code == 400 and "Nested deeper than" in response.content.decode()
    persona.refresh_from_db()
    assert persona.revision == 1


# 2. Non-finite numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_managed_config_are_a_400(actors, number):
    persona = default_persona(actors.org)
    raw = '{"apps": [{"id": "com.acme.mail", "managed_config": {"n": NUMBER}}]}'.replace("NUMBER", number)
    assert_problem(patch(actors.api(actors.admin), persona, raw), 400)
    persona.refresh_from_db()
    assert persona.revision == 1


def test_non_finite_numbers_are_refused_by_the_agent_api_too(enrolled):
    raw = '{"applied_policy_version": 1e400, "container_state": "active", "os_version": "14", "agent_version": "1.0.0"}'
    response = enrolled.transport.client.generic(
        "POST",
        "/api/v1/agent/checkin",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {enrolled.access_token()}",
    )
    assert_problem(response, 400)


def test_a_non_finite_managed_config_given_in_python_is_refused_by_the_validation():
    spec = {"name": "X", **PRESETS["byod-basic"]}
    spec["apps"] = [{"id": "com.acme.mail", "managed_config": {"n": float("inf")}}]
    with pytest.raises(ServiceError) as caught:
        validate_spec(spec)
    assert list(caught.value.errors) == ["apps[0].managed_config"]


# 3. Durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", ["999999w", "999999d", "91d", "\u0667d", "7 d ", "1e3d", 7])
def test_an_overflowing_or_non_ascii_duration_is_a_400(actors, expires_in):
    before = EnrollmentToken.objects.count()
    response = actors.api(actors.admin).post("/api/v1/enrollment-tokens/", {"expires_in": expires_in}, format="json")
    if expires_in == "7 d ":  # spaces around a valid duration are fine
        assert response.status_code == 201
        return
    assert_problem(response, 400, "expires_in")
    assert EnrollmentToken.objects.count() == before


def test_a_duration_at_the_limit_is_accepted(actors):
    response = actors.api(actors.admin).post("/api/v1/enrollment-tokens/", {"expires_in": "90d"}, format="json")
    assert response.status_code == 201


# 4. NUL in query parameters, everywhere ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices/?q=%00",
        "/api/v1/devices/?owner=a%00b",
        "/api/v1/devices/?state=%00",
        "/api/v1/devices/?%00=1",
        "/api/v1/audit-events/?action=%00",
        "/api/v1/audit-events/?actor=%00",
        "/api/v1/audit-events/?target=%00",
        "/api/v1/audit-events/?target_type=%00",
        "/api/v1/audit-events/?since=%00",
        "/api/v1/wipes/?state=%00",
        "/api/v1/personas/?page=%00",
        "/api/v1/enrollment-tokens/?page=1%00",
    ],
)
def test_a_nul_in_a_query_parameter_of_an_api_list_is_a_400(actors, url):
    assert_problem(actors.api(actors.owner).get(url), 400)


@pytest.mark.parametrize(
    "url",
    [
        "/console/devices/?q=%00",
        "/console/devices/?owner=%00",
        "/console/audit/?actor=%00",
        "/console/audit/?target=%00",
        "/console/enrollment/?page=%00",
        "/portal/?x=%00",
    ],
)
def test_a_nul_in_a_query_parameter_of_a_console_page_is_a_400(client, actors, url):
    client.force_login(actors.owner)
    assert client.get(url).status_code == 400


def test_a_nul_in_the_long_polls_query_is_a_400(enrolled):
    from agent.transport import AgentError

    with pytest.raises(AgentError) as caught:
        enrolled.call("GET", "commands?wait=%00")
    assert caught.value.status == 400


# 5. Time-zone offsets ----------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["2020-01-01T00:00:00+20:09", "2020-01-01T00:00:00-23:59"])
def test_a_time_zone_offset_postgresql_does_not_know_is_converted_not_a_500(actors, since):
    response = actors.api(actors.auditor).get("/api/v1/audit-events/", {"since": since})
    assert response.status_code == 200 and response.json()["count"] > 0


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "2020-01-01T00:00:00"])
def test_a_date_time_that_overflows_in_utc_or_lacks_a_zone_is_a_400(actors, since):
    assert_problem(actors.api(actors.auditor).get("/api/v1/audit-events/", {"since": since}), 400, "since")


# 6. Console persona form -------------------------------------------------------------------------


@pytest.mark.parametrize("index", ["9" * 5000, "99999", "503", "٣", "-1", ""])
def test_a_persona_form_naming_rows_that_do_not_exist_is_an_error_in_place(client, actors, index):
    from tests.personas.test_console_personas import form_of

    client.force_login(actors.admin)
    persona = default_persona(actors.org)
    url = f"/console/personas/{persona.pk}/"
    data = form_of(client.get(url).content.decode())
    data[f"apps[{index}].id"] = "com.acme.mail"
    # As a browser posts the form (a multipart part's header this long is refused by Django itself).
    response = client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "app rows this page does not have" in response.content.decode()
    persona.refresh_from_db()
    assert persona.revision == 1 and not persona.app_rules.exists()


def test_a_whole_number_field_of_5000_digits_is_an_error_in_place(client, actors):
    from tests.personas.test_console_personas import form_of

    client.force_login(actors.admin)
    persona = default_persona(actors.org)
    url = f"/console/personas/{persona.pk}/"
    data = form_of(client.get(url).content.decode())
    data["access.max_offline_days"] = "9" * 5000
    response = client.post(url, data)
    assert response.status_code == 400 and "access.max_offline_days" in response.content.decode()
    persona.refresh_from_db()
    assert persona.revision == 1


# 7. Chunked bodies (in process, through Django's WSGI handler; over HTTP in tests/integration) ---


def wsgi_call(path: str, method: str, body: bytes, **headers) -> tuple[int, dict, bytes]:
    """A request as a WSGI server hands it over after undoing the chunking: no CONTENT_LENGTH.
    (Django's test client always sets one, so the environ is given whole.)"""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    response = Client().request(**environ)
    return response.status_code, dict(response.items()), response.content


def test_a_chunked_patch_is_read_and_applied_not_silently_dropped(actors):
    persona = default_persona(actors.org)
    body = json.dumps({"access": {"max_offline_days": 9}}).encode()
    status, _, content = wsgi_call(
        f"/api/v1/personas/{persona.pk}/", "PATCH", body, authorization=f"Bearer {actors.token(actors.admin)}"
    )
    assert status == 200, content
    persona.refresh_from_db()
    assert persona.revision == 2 and persona.max_offline_days == 9


def test_a_chunked_body_over_the_limit_is_a_413_like_one_with_a_length(actors):
    persona = default_persona(actors.org)
    body = json.dumps({"description": "x" * 72 * 1024}).encode()
    status, headers, _ = wsgi_call(
        f"/api/v1/personas/{persona.pk}/", "PATCH", body, authorization=f"Bearer {actors.token(actors.admin)}"
    )
    assert status == 413 and headers["Content-Type"].startswith(PROBLEM)
    persona.refresh_from_db()
    assert persona.revision == 1


def test_a_chunked_enroll_reads_its_body(actors, issue_token):
    body = json.dumps(enroll_body(issue_token().token, Keys())).encode()
    status, _, content = wsgi_call("/api/v1/agent/enroll", "POST", body)
    assert status == 201, content
    assert Device.objects.filter(organization=actors.org).count() == 1


# 8. Smaller ones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [123, True, ["lost"], {"why": "lost"}])
def test_a_wipe_reason_that_is_not_a_string_is_a_400(actors, enrolled, reason):
    device = enrolled.server_device
    response = actors.api(actors.admin).post(
        f"/api/v1/devices/{device.pk}/wipe-corporate/", {"reason": reason}, format="json"
    )
    assert_problem(response, 400, "reason")
    assert not Wipe.objects.filter(device=device).exists()


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/devices/{device}/lock-corporate/", {"reason": 5}, "reason"),
        ("/api/v1/employees/wipe-corporate/", {"employee": "erin@acme.test", "reason": 5}, "reason"),
        ("/api/v1/employees/wipe-corporate/", {"employee": 5, "reason": "left"}, "employee"),
        ("/api/v1/api-tokens/", {"name": 5}, "name"),
        ("/api/v1/enrollment-tokens/", {"uses": "5"}, "uses"),
        ("/api/v1/enrollment-tokens/", {"persona": 5}, "persona"),
        ("/api/v1/enrollment-tokens/", {"note": 5}, "note"),
    ],
)
def test_every_admin_input_is_strictly_typed(actors, enrolled, url, body, field):
    response = actors.api(actors.owner).post(url.format(device=enrolled.server_device.pk), body, format="json")
    assert_problem(response, 400, field)


def test_posting_to_the_long_poll_is_a_405_not_a_403(enrolled):
    response = enrolled.transport.client.post(
        "/api/v1/agent/commands", "{}", content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {enrolled.access_token()}",
    )  # fmt: skip
    assert_problem(response, 405)
    assert response["Allow"] == "GET"


def test_the_schema_documents_the_personas_list_as_a_page(client, actors):
    client.force_login(actors.owner)
    schema = client.get("/api/schema/?format=json").json()
    answer = schema["paths"]["/api/v1/personas/"]["get"]["responses"]["200"]["content"]["application/json"]
    ref = answer["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) >= {"count", "next", "previous", "results"}
    listed = actors.api(actors.owner).get("/api/v1/personas/").json()
    assert set(listed) >= {"count", "results"}
