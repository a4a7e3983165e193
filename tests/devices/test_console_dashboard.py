"""The console's dashboard (issue 16): tiles that open the list they count, devices by platform
and OS version, compliance over time from a daily snapshot, and a walkthrough for a new admin."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from devices.choices import ContainerState, DeviceState, Platform
from tests.devices.test_device_selectors import make_device


def login(client, user):
    client.force_login(user)
    return client


def listed(client, href: str) -> set[str]:
    """The names of the devices the console's list shows at `href` (a link of the dashboard)."""
    response = client.get(html_lib.unescape(href))
    assert response.status_code == 200, href
    page = response.content.decode()
    assert "field-error" not in page, href  # the list understood every parameter
    return set(re.findall(r'<a href="/console/devices/[0-9a-f-]{36}/"[^>]*>([^<]+)</a>', page))


def tile_links(page: str) -> dict[str, str]:
    """Each tile's words (without its number) and where it leads."""
    tiles = re.findall(r'<a class="tile[^"]*" href="([^"]+)"><span class="num">\d+</span>([^<]+)', page)
    return {label.strip(): href for href, label in tiles}


@pytest.fixture
def fleet(actors):
    org = actors.org
    make_device(org, name="Good phone", compliant=True, container_state=ContainerState.ACTIVE, os_version="14")
    make_device(org, name="Bad phone", compliant=False, container_state=ContainerState.ACTIVE, os_version="13")
    make_device(org, name="Quiet iPad", platform=Platform.IOS, compliant=True, silent=True, os_version="17.2")
    make_device(org, name="New laptop", platform=Platform.WINDOWS)  # nothing reported yet
    make_device(org, name="Gone phone", state=DeviceState.RETIRED, compliant=False, silent=True, os_version="13")
    make_device(actors.other_org, name="Globex phone", compliant=False, silent=True, os_version="13")


def test_every_device_tile_opens_the_list_of_what_it_counts(client, actors, fleet):
    page = login(client, actors.auditor).get("/console/").content.decode()
    links = tile_links(page)
    assert listed(client, links["enrolled devices"]) == {"Good phone", "Bad phone", "Quiet iPad", "New laptop"}
    assert listed(client, links["not compliant"]) == {"Bad phone"}
    assert listed(client, links["compliant"]) == {"Good phone", "Quiet iPad"}
    assert listed(client, links["silent too long"]) == {"Quiet iPad"}
    assert listed(client, links["retired"]) == {"Gone phone"}
    assert links["pushes in flight"] == "/console/personas/"
    assert links["wipes pending"] == "/console/wipes/"
    # The counts are those of the lists they open.
    assert '<span class="num">4</span> enrolled devices' in page
    assert '<span class="num">1</span> silent too long' in page


def test_every_tile_is_a_link(client, actors, fleet):
    page = login(client, actors.auditor).get("/console/").content.decode()
    assert 'class="tile' in page and not re.search(r'<div class="tile[ "]', page)
    assert len(tile_links(page)) == 7


def table_rows(page: str, caption: str) -> list[tuple[str, str, int]]:
    """(label, link or "", count) of the table alternative named `caption`."""
    region = re.search(rf'aria-label="{caption}">(.*?)</table>', page, re.S)
    assert region, caption
    rows = []
    for cell, count in re.findall(r'<tr><td>(.*?)</td><td class="num">(\d+)</td></tr>', region.group(1)):
        link = re.fullmatch(r'<a href="([^"]+)">([^<]+)</a>', cell)
        rows.append((link.group(2), link.group(1), int(count)) if link else (cell, "", int(count)))
    return rows


def test_devices_by_platform_bars_and_table_link_to_the_platforms_list(client, actors, fleet):
    page = login(client, actors.auditor).get("/console/").content.decode()
    rows = table_rows(page, "Devices by platform")
    assert [(label, count) for label, _, count in rows] == [("Android", 2), ("iOS", 1), ("Windows", 1)]
    links = {label: href for label, href, _ in rows}
    assert listed(client, links["Android"]) == {"Good phone", "Bad phone"}  # not the retired one
    assert listed(client, links["iOS"]) == {"Quiet iPad"}
    # Each bar of the chart is the same link, named in words for a screen reader.
    assert f'<a href="{links["iOS"]}">' in page
    assert "<title>iOS: 1 device</title>" in page and "<title>Android: 2 devices</title>" in page


def test_devices_by_os_version_link_to_the_devices_on_that_version(client, actors, fleet):
    make_device(actors.org, name="Other phone", compliant=True, os_version="13")
    page = login(client, actors.auditor).get("/console/").content.decode()
    rows = table_rows(page, "Devices by OS version")
    assert [(label, count) for label, _, count in rows] == [
        ("Android 13", 2),
        ("Android 14", 1),
        ("iOS 17.2", 1),
        ("Not reported yet", 1),
    ]
    links = {label: href for label, href, _ in rows}
    assert listed(client, links["Android 13"]) == {"Bad phone", "Other phone"}
    assert listed(client, links["iOS 17.2"]) == {"Quiet iPad"}
    assert links["Not reported yet"] == ""  # no filter describes it: words, no link


def test_versions_past_the_top_ones_are_added_up(client, actors):
    for n in range(10):
        make_device(actors.org, os_version=f"1{n}")
    page = login(client, actors.auditor).get("/console/").content.decode()
    rows = table_rows(page, "Devices by OS version")
    assert len(rows) == 9 and rows[-1] == ("Other versions", "", 2)


def test_the_charts_scale_with_the_screen(client, actors, fleet):
    page = login(client, actors.auditor).get("/console/").content.decode()
    charts = re.findall(r"<svg [^>]*>", page)
    assert charts and all("viewBox=" in svg and "chart-scale" in svg and " width=" not in svg for svg in charts)


def test_a_work_profile_bar_opens_the_devices_in_that_state(client, actors, fleet):
    page = login(client, actors.auditor).get("/console/").content.decode()
    links = {label: href for label, href, _ in table_rows(page, "Work profiles by state")}
    assert listed(client, links["Active"]) == {"Good phone", "Bad phone"}
    assert listed(client, links["Pending (not reported yet)"]) == {"Quiet iPad", "New laptop"}


# --- Compliance over time ----------------------------------------------------------------------


def test_the_snapshot_task_counts_each_organization_and_is_idempotent(actors, fleet, django_assert_max_num_queries):
    from devices.models import ComplianceSnapshot
    from devices.tasks import compliance_snapshots_take_task

    with django_assert_max_num_queries(2):  # one count for every organization, one upsert
        assert compliance_snapshots_take_task.apply().get() == 2
    acme = ComplianceSnapshot.objects.get(organization=actors.org)
    globex = ComplianceSnapshot.objects.get(organization=actors.other_org)
    assert (acme.devices, acme.compliant, acme.not_compliant, acme.unknown) == (4, 2, 1, 1)  # retired ones left out
    assert (globex.devices, globex.compliant, globex.not_compliant, globex.unknown) == (1, 0, 1, 0)
    # Run again the same day (a redelivered task, the next hour's run): still one row per day,
    # with the day's latest numbers.
    make_device(actors.org, name="Late phone", compliant=False)
    compliance_snapshots_take_task.apply().get()
    compliance_snapshots_take_task.apply().get()
    assert ComplianceSnapshot.objects.count() == 2
    acme.refresh_from_db()
    assert (acme.devices, acme.not_compliant) == (5, 2)


def test_an_organization_without_devices_gets_a_snapshot_of_zeros(actors):
    from devices.compliance import compliance_snapshots_take
    from devices.models import ComplianceSnapshot

    compliance_snapshots_take()
    snapshot = ComplianceSnapshot.objects.get(organization=actors.org)
    assert (snapshot.devices, snapshot.compliant, snapshot.not_compliant, snapshot.unknown) == (0, 0, 0, 0)


def test_the_snapshot_runs_from_the_beat_schedule():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "devices.tasks.compliance_snapshots_take_task" in tasks


def snapshot(org, days_ago: int, compliant: int, not_compliant: int):
    from datetime import timedelta

    from django.utils import timezone

    from devices.models import ComplianceSnapshot

    return ComplianceSnapshot.objects.create(
        organization=org,
        day=timezone.now().date() - timedelta(days=days_ago),
        devices=compliant + not_compliant,
        compliant=compliant,
        not_compliant=not_compliant,
    )


def test_without_history_the_chart_says_when_it_starts(client, actors, fleet):
    page = login(client, actors.auditor).get("/console/").content.decode()
    assert "The chart starts tomorrow: a snapshot is taken every day." in page
    assert "<polyline" not in page
    assert "Today (live)" in page  # the table has today's numbers already


def test_a_single_snapshot_of_today_is_still_no_chart(client, actors, fleet):
    snapshot(actors.org, 0, 2, 1)
    page = login(client, actors.auditor).get("/console/").content.decode()
    assert "The chart starts tomorrow" in page and "<polyline" not in page


def test_the_chart_draws_the_last_30_days_and_today_live(client, actors, fleet):
    for days_ago in (40, 29, 10, 1):  # 40 days ago is out of the window
        snapshot(actors.org, days_ago, compliant=days_ago, not_compliant=3)
    snapshot(actors.other_org, 2, compliant=99, not_compliant=99)  # another organization's: never drawn
    page = login(client, actors.auditor).get("/console/").content.decode()
    assert "The chart starts tomorrow" not in page
    lines = re.findall(r'<polyline class="chart-line ([^"]+)" points="([^"]+)"', page)
    assert [css for css, _ in lines] == ["series-3", "series-2"]
    assert all(len(points.split()) == 4 for _, points in lines)  # 29, 10 and 1 days ago, then today
    # The points sit at their day: the oldest on the left edge, today on the right one.
    xs = [float(pair.split(",")[0]) for pair in lines[0][1].split()]
    assert xs[0] == 60 and xs[-1] == 700 and xs == sorted(xs)
    assert 'role="img" aria-labelledby="compliance-svg-title compliance-svg-desc"' in page
    assert "Compliant: 29 devices on" in page and "2 today." in page  # the description in words
    rows = re.findall(r'aria-label="Compliance by day">.*?</table>', page, re.S)[0]
    assert rows.count("<tr><td") == 4 and "99" not in rows


# --- The first enrollment, recent activity ------------------------------------------------------


def test_an_organization_without_devices_gets_the_way_to_the_first_enrollment(client, actors):
    page = login(client, actors.owner).get("/console/").content.decode()
    assert "Enroll your first device" in page
    steps = re.findall(r"<li>\s*<h3>([^<]+)</h3>.*?href=\"([^\"]+)\"", page, re.S)
    assert steps == [
        ("Check a persona", "/console/personas/"),
        ("Issue an enrollment token", "/console/enrollment/"),
        ("Enroll a device", "/portal/enroll/"),
        ("Push a policy", "/console/personas/"),
    ]
    for _, href in steps:
        assert client.get(href).status_code == 200, href
    # What is done already says so: the default persona; no token yet.
    assert "1 persona ready" in page and "token ready" not in page
    # No empty tiles or charts.
    assert 'class="tile' not in page and "<svg" not in page


def test_the_walkthrough_counts_usable_tokens_only(client, actors):
    from devices.models import EnrollmentToken
    from devices.services import enrollment_token_create

    enrollment_token_create(organization=actors.org, created_by=actors.owner)
    enrollment_token_create(organization=actors.other_org)  # another organization's: not counted
    page = login(client, actors.owner).get("/console/").content.decode()
    assert "1 token ready to use" in page
    EnrollmentToken.objects.filter(organization=actors.org).update(revoked_at="2020-01-01T00:00:00Z")
    assert "token ready" not in client.get("/console/").content.decode()


def test_the_first_device_replaces_the_walkthrough_with_the_fleet(client, actors):
    make_device(actors.org, name="First phone")
    page = login(client, actors.owner).get("/console/").content.decode()
    assert "Enroll your first device" not in page and '<span class="num">1</span> enrolled devices' in page


def test_recent_activity_reads_in_words(client, actors, fleet):
    page = login(client, actors.owner).get("/console/").content.decode()
    table = re.search(r'aria-label="Recent activity">(.*?)</table>', page, re.S)
    assert table, "no recent activity"
    assert "Organization: created" in table.group(1)
    assert "organization.created" not in page
    assert re.search(r"<time datetime=\"[^\"]+\" title=\"[^\"]+ UTC\">(just now|\d+\xa0\w+ ago)</time>", table.group(1))


def test_the_recent_activity_is_for_those_who_may_read_the_audit_log(client, actors, fleet):
    page = login(client, actors.helpdesk).get("/console/").content.decode()
    assert "Recent activity" not in page


def test_another_organizations_snapshots_and_devices_never_show(client, actors):
    make_device(actors.other_org, name="Globex phone", platform=Platform.IOS, os_version="17.2")
    snapshot(actors.other_org, 1, 5, 5)
    page = login(client, actors.owner).get("/console/").content.decode()
    assert "Enroll your first device" in page and "iOS" not in page


def test_the_charts_cost_the_same_queries_for_one_or_thirty_days_of_history(client, actors, fleet):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, actors.auditor)
    snapshot(actors.org, 1, 1, 1)
    client.get("/console/")
    with CaptureQueriesContext(connection) as one_day:
        client.get("/console/")
    for days_ago in range(2, 30):
        snapshot(actors.org, days_ago, 1, 1)
    with CaptureQueriesContext(connection) as thirty_days:
        page = client.get("/console/").content.decode()
    assert len(thirty_days) == len(one_day)
    assert all(len(points.split()) == 30 for points in re.findall(r'<polyline [^>]*points="([^"]+)"', page))
