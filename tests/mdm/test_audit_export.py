"""The audit log as CSV (issue 15, part 3): the API's filters in the API, the console's in the
console, newest first, every event exactly once however many chunks it takes, and the export
itself audited."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mdm.actors import SYSTEM
from mdm.audit import audit_event_record
from mdm.exports import AUDIT_COLUMNS
from mdm.lib import csvstream
from mdm.models import AuditEvent

pytestmark = pytest.mark.django_db


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_it_exports_every_event_newest_first_across_chunks(actors, monkeypatch):
    monkeypatch.setattr(csvstream, "CHUNK_ROWS", 3)
    api = actors.api(actors.auditor)
    for n in range(7):
        audit_event_record(organization=actors.org, action="signing_key.rotated", details={"old_kid": f"k{n}"})
    expected = list(AuditEvent.objects.filter(organization=actors.org).order_by("-seq"))

    got = rows(api.get("/api/v1/audit-events/export.csv"))

    assert list(got[0]) == list(AUDIT_COLUMNS)
    # The export's own event is written before the first row is read: it comes first.
    assert got[0]["action"] == "data.exported"
    assert [int(r["seq"]) for r in got[1:]] == [e.seq for e in expected]
    assert json.loads(got[1]["details"]) == {"old_kid": "k6"}
    assert got[1]["hash"] == expected[0].hash


def test_it_applies_the_apis_filters(actors):
    audit_event_record(organization=actors.org, action="signing_key.rotated", actor=SYSTEM)
    audit_event_record(organization=actors.other_org, action="signing_key.rotated", actor=SYSTEM)
    got = rows(actors.api(actors.admin).get("/api/v1/audit-events/export.csv?action=signing_key.rotated"))
    assert [r["action"] for r in got] == ["signing_key.rotated"]
    export = AuditEvent.objects.filter(organization=actors.org, action="data.exported").get()
    assert export.details == {"what": "audit_events", "filters": {"action": "signing_key.rotated"}}


def test_it_refuses_bad_input_and_the_wrong_role_and_exports_nothing(actors):
    api = actors.api(actors.admin)
    assert api.get("/api/v1/audit-events/export.csv?since=yesterday").status_code == 400
    assert api.get("/api/v1/audit-events/export.csv?acton=x").json()["errors"] == {
        "acton": ["Not a parameter of this export. Known: action, actor, since, target, target_type, until."]
    }
    assert actors.api(actors.helpdesk).get("/api/v1/audit-events/export.csv").status_code == 403
    assert actors.api(None).get("/api/v1/audit-events/export.csv").status_code == 401
    assert not AuditEvent.objects.filter(action="data.exported").exists()


def test_the_console_exports_with_its_own_filters(actors, client):
    audit_event_record(organization=actors.org, action="signing_key.rotated", actor=SYSTEM)
    client.force_login(actors.auditor)
    assert 'href="/console/audit/export.csv?action=signing_key.rotated"' in (
        client.get("/console/audit/?action=signing_key.rotated").content.decode()
    )
    got = rows(client.get("/console/audit/export.csv?action=signing_key.rotated"))
    assert [r["action"] for r in got] == ["signing_key.rotated"]
    assert client.get("/console/audit/export.csv?since=not-a-date").status_code == 302
    client.force_login(actors.helpdesk)
    assert client.get("/console/audit/export.csv").status_code == 403
    assert AuditEvent.objects.filter(action="data.exported").count() == 1
