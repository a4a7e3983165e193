"""The console's and the admin API's lists at fleet size (issue 12): the same number of queries
for 3 rows as for 30 (no query per row), deep pages equal to Django's own, and the indexes that
keep them fast present. bench/console.py measures the times at 100,000 devices."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.choices import ContainerState, Ownership, Platform
from devices.models import Device
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.models import AuditEvent
from mdm.selectors import SeekPaginator
from tests.devices.test_device_selectors import default_persona, make_device

# Each filter of the device list, with a value every device of `_grow` matches.
DEVICE_QUERIES = [
    "",
    "state=active",
    "container_state=locked",
    "compliant=false",
    "persona={persona}",
    "owner=ERIN@acme.test",
    "platform=linux",
    "ownership=corporate",
    "q=pixel",
]
AUDIT_CONSOLE_QUERIES = ["", "action=device.lock_requested", "actor=alice", "target=tablet", "since=2000-01-01"]
AUDIT_API_QUERIES = ["", "action=device.lock_requested", "actor=alice", "target=t-1", "since=2000-01-01T00:00:00Z"]


def _grow(actors, devices: int, events: int) -> None:
    """Add devices and audit events until the organization holds `devices` and `events` of them."""
    persona = default_persona(actors.org)
    for _ in range(devices - Device.objects.filter(organization=actors.org).count()):
        make_device(actors.org, model="Pixel 8", owner=actors.employee, persona=persona, compliant=False,
                    container_state=ContainerState.LOCKED, platform=Platform.LINUX,
                    ownership=Ownership.CORPORATE)  # fmt: skip
    actor = Actor.member(actors.owner)
    for _ in range(events - AuditEvent.objects.filter(organization=actors.org, action="device.lock_requested").count()):
        audit_event_record(organization=actors.org, action="device.lock_requested", actor=actor,
                           target_type="devices.device", target_id="t-1", target_label="tablet")  # fmt: skip


def _urls(actors) -> list[tuple[str, str]]:
    """(door, url) of every list measured; page 2 of 2-row API pages takes the deep-page path."""
    persona = default_persona(actors.org).pk
    urls = [("console", "/console/")]
    urls += [("console", "/console/devices/?" + q.format(persona=persona)) for q in DEVICE_QUERIES]
    urls += [("api", "/api/v1/devices/?page_size=2&page=2&" + q.format(persona=persona)) for q in DEVICE_QUERIES]
    urls += [("console", "/console/audit/?" + q) for q in AUDIT_CONSOLE_QUERIES]
    urls += [("api", "/api/v1/audit-events/?page_size=2&page=2&" + q) for q in AUDIT_API_QUERIES]
    return urls


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(queries)


def test_each_list_costs_the_same_queries_for_3_rows_as_for_30(client, actors):
    client.force_login(actors.owner)
    api = actors.api(actors.owner)
    doors = {"console": client, "api": api}
    _grow(actors, 3, 3)
    urls = _urls(actors)
    for door, url in urls:  # warm: the token's last-used write, the session's first read
        doors[door].get(url)
    small = {url: _queries(doors[door], url) for door, url in urls}
    _grow(actors, 30, 30)
    large = {url: _queries(doors[door], url) for door, url in urls}
    assert large == small


def test_a_deep_page_lists_what_djangos_paginator_lists(actors):
    _grow(actors, 22, 0)  # 4 pages, the last one of 5 + 2 orphans
    devices = Device.objects.filter(organization=actors.org).order_by("-enrolled_at", "id")
    plain, seek = Paginator(devices, 5, orphans=2), SeekPaginator(devices, 5, orphans=2)
    assert seek.num_pages == plain.num_pages == 4
    for number in range(1, 5):
        assert [d.pk for d in seek.page(number)] == [d.pk for d in plain.page(number)]
    events = AuditEvent.objects.filter(organization=actors.org).order_by("-seq")
    by_seq = SeekPaginator(events, 2, key="seq")
    assert [e.pk for e in by_seq.page(2)] == [e.pk for e in Paginator(events, 2).page(2)]


def test_an_api_deep_page_keeps_the_pages_contract(actors):
    _grow(actors, 5, 0)
    api = actors.api(actors.owner)
    body = api.get("/api/v1/devices/?page_size=2&page=3").json()
    assert body["count"] == 5 and len(body["results"]) == 1 and body["next"] is None
    assert api.get("/api/v1/devices/?page_size=2&page=4").status_code == 404


def test_the_console_audit_log_keeps_whole_days_in_its_date_filter(client, actors):
    client.force_login(actors.owner)
    event = AuditEvent.objects.filter(organization=actors.org).order_by("-seq").first()
    assert event is not None
    day = event.created_at.date().isoformat()
    listed = client.get(f"/console/audit/?since={day}&until={day}").content.decode()
    assert f"<td>{event.seq}</td>" in listed
    before = client.get("/console/audit/?until=2000-01-01").content.decode()
    assert f"<td>{event.seq}</td>" not in before


FLEET_INDEXES = {
    "devices_device": ["device_org_enrolled", "device_org_container", "device_org_compliant", "device_org_persona",
                       "device_org_platform", "device_org_summary"],
    "mdm_auditevent": ["audit_org_target_id", "audit_org_actor_id"],
}  # fmt: skip
TRIGRAM_INDEXES = {
    "devices_device": ["device_name_trgm", "device_model_trgm"],
    "mdm_auditevent": ["audit_actor_label_trgm", "audit_target_label_trgm"],
}


@pytest.mark.django_db
def test_the_fleet_indexes_exist():
    with connection.cursor() as cursor:
        for table, names in FLEET_INDEXES.items():
            constraints = connection.introspection.get_constraints(cursor, table)
            for name in names:
                assert constraints.get(name, {}).get("index"), f"{table}.{name}"
            assert (
                constraints["device_org_enrolled" if table == "devices_device" else "audit_org_target_id"]["columns"][0]
                == "organization_id"
            )
        if connection.vendor == "postgresql":
            for table, names in TRIGRAM_INDEXES.items():
                constraints = connection.introspection.get_constraints(cursor, table)
                for name in names:
                    assert constraints.get(name, {}).get("type") == "gin", f"{table}.{name}"
