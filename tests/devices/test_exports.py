"""CSV exports of the device list and of a push's per-device results (issue 15, part 3): the
list's own filters and order, streamed a chunk (one query) at a time, formula-safe cells, an
audit event for every export, and the same refusals as the rest of the admin API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.choices import DeviceState, Platform
from devices.exports import DEVICE_COLUMNS, PUSH_RESULT_COLUMNS
from devices.models import Device
from devices.push import push_run, push_start_for_persona
from devices.selectors import device_list
from mdm.lib import csvstream
from mdm.models import AuditEvent
from personas.models import Persona
from personas.services import persona_update, spec_of
from tests.devices.test_device_selectors import make_device

pytestmark = pytest.mark.django_db


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def exports(org) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=org, action="data.exported").order_by("seq"))


def test_it_exports_the_filtered_device_list_in_the_lists_order(actors):
    now = timezone.now()
    for n in range(5):
        make_device(actors.org, name=f"Android {n}", enrolled_at=now - timedelta(minutes=n), compliant=n % 2 == 0)
    make_device(actors.org, name="iPad", platform=Platform.IOS, compliant=False)
    make_device(actors.other_org, name="Android elsewhere")

    got = rows(actors.api(actors.auditor).get("/api/v1/devices/export.csv?platform=android&compliant=true"))

    assert [r["name"] for r in got] == ["Android 0", "Android 2", "Android 4"]
    assert list(got[0]) == list(DEVICE_COLUMNS)
    assert {r["compliant"] for r in got} == {"true"} and {r["platform"] for r in got} == {"android"}
    (event,) = exports(actors.org)
    assert event.details == {"what": "devices", "filters": {"platform": "android", "compliant": "True"}}
    assert event.actor_type == "api_token"


def test_it_streams_a_chunk_per_query_however_long_the_list(actors, monkeypatch):
    monkeypatch.setattr(csvstream, "CHUNK_ROWS", 2)
    same_time = timezone.now()
    # Ties on the list's first key (enrolled_at): the keyset goes on by id, nothing lost or twice.
    made = [make_device(actors.org, name=f"phone {n}", enrolled_at=same_time) for n in range(5)]
    chunks = csvstream.keyset_chunks(
        device_list(organization_id=actors.org.pk), columns=("id", "enrolled_at"), order=("-enrolled_at", "id")
    )
    with CaptureQueriesContext(connection) as queries:
        first = next(chunks)
        assert len(first) == 2 and len(queries) == 1  # the first chunk is read alone
        rest = [row for chunk in chunks for row in chunk]
    assert len(queries) == 3
    assert [row[0] for row in first + rest] == sorted(d.pk for d in made)


def test_it_keeps_spreadsheets_from_running_what_a_device_calls_itself(actors):
    make_device(actors.org, name='=HYPERLINK("http://evil")', model="+1-2")
    (row,) = rows(actors.api(actors.admin).get("/api/v1/devices/export.csv"))
    assert row["name"] == '\'=HYPERLINK("http://evil")' and row["model"] == "'+1-2"


def test_it_refuses_bad_or_unknown_filters_and_exports_nothing(actors):
    api = actors.api(actors.admin)
    for query, field in [("platform=nokia", "platform"), ("compliant=yes", "compliant"), ("plaform=ios", "plaform")]:
        response = api.get(f"/api/v1/devices/export.csv?{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/problem+json"
        assert field in response.json()["errors"]
    assert exports(actors.org) == []


def test_who_may_export_devices(actors, client):
    assert actors.api(None).get("/api/v1/devices/export.csv").status_code == 401
    assert actors.api(actors.helpdesk).get("/api/v1/devices/export.csv").status_code == 200
    client.force_login(actors.employee)
    assert client.get("/api/v1/devices/export.csv").status_code == 403
    # CSV is acceptable, other media types are not.
    assert actors.api(actors.admin).get("/api/v1/devices/export.csv", HTTP_ACCEPT="text/csv").status_code == 200
    assert actors.api(actors.admin).get("/api/v1/devices/export.csv", HTTP_ACCEPT="image/png").status_code == 406


def test_the_console_exports_what_its_filters_show(actors, client):
    make_device(actors.org, name="Kept", compliant=False)
    make_device(actors.org, name="Retired", compliant=False, state=DeviceState.RETIRED)
    client.force_login(actors.auditor)
    page = client.get("/console/devices/?compliant=false&state=active").content.decode()
    assert 'href="/console/devices/export.csv?compliant=false&amp;state=active"' in page

    got = rows(client.get("/console/devices/export.csv?compliant=false&state=active"))
    assert [r["name"] for r in got] == ["Kept"]
    assert exports(actors.org)[0].actor_type == "user"

    refused = client.get("/console/devices/export.csv?compliant=maybe")
    assert refused.status_code == 302 and refused["Location"] == "/console/devices/?compliant=maybe"
    assert len(exports(actors.org)) == 1


@pytest.fixture
def pushed(actors, agent_factory):
    agents = [agent_factory() for _ in range(3)]
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] = 9
    persona, _ = persona_update(persona=persona, spec=spec)
    push = push_run(push_start_for_persona(persona=persona).pk)
    agents[0].poll()  # one of them applies it
    return push, agents


def test_it_exports_a_pushs_result_per_device(actors, pushed):
    push, agents = pushed
    got = rows(actors.api(actors.auditor).get(f"/api/v1/pushes/{push.pk}/results.csv"))
    assert list(got[0]) == list(PUSH_RESULT_COLUMNS)
    by_device = {r["device_id"]: r["state"] for r in got}
    assert by_device == {
        agents[0].identity["device_id"]: "acknowledged",
        agents[1].identity["device_id"]: "queued",
        agents[2].identity["device_id"]: "queued",
    }
    assert {r["device_name"] for r in got} == set(Device.objects.values_list("name", flat=True))
    assert exports(actors.org)[-1].details == {"what": "push_results", "filters": {"push": str(push.pk)}}


def test_a_push_of_another_organization_is_not_found(actors, pushed):
    push, _ = pushed
    assert actors.api(actors.outsider).get(f"/api/v1/pushes/{push.pk}/results.csv").status_code == 404
    assert actors.api(actors.admin).get(f"/api/v1/pushes/{push.pk}/results.csv?page=2").status_code == 400
    assert exports(actors.org) == [] and exports(actors.other_org) == []


def test_the_console_offers_a_pushs_results(actors, pushed, client):
    push, _ = pushed
    client.force_login(actors.auditor)
    assert len(rows(client.get(f"/console/pushes/{push.pk}/results.csv"))) == 3
    client.force_login(actors.outsider)
    assert client.get(f"/console/pushes/{push.pk}/results.csv").status_code == 404
