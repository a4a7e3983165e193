"""The console's device list: its columns and words, the sort, the filter chips, the column
chooser and the saved views."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import mdm.lib.csvstream as csvstream
from devices.choices import Ownership, Platform
from devices.device_list import DEFAULT_COLUMNS, LIST_PARAMS, ListQuery
from devices.exports import DEVICE_COLUMNS, device_export
from devices.models import SavedDeviceView
from devices.saved_views import saved_view_create
from devices.selectors import DEVICE_SORTS, NO_FILTER, device_list
from mdm.errors import ServiceError
from mdm.models import AuditEvent
from tests.devices.test_device_selectors import default_persona, make_device


def login(client, user):
    client.force_login(user)
    return client


def names(html: str) -> list[str]:
    """The devices listed, in the page's order."""
    return re.findall(r'<td><a href="/console/devices/[^"]+/">([^<]+)</a></td>', html)


def headers(html: str) -> list[str]:
    thead = re.search(r"<thead>(.*?)</thead>", html, re.S)
    assert thead
    cells = [th for th in re.findall(r"<th[^>]*>(.*?)</th>", thead[1]) if "data-bulk-all" not in th]  # the selection
    return [re.sub(r"<[^>]+>|\s*\(sort \w+\)", "", th).strip() for th in cells]


@pytest.fixture
def fleet(actors):
    now = timezone.now()
    persona = default_persona(actors.org)
    return {
        "banana": make_device(actors.org, name="banana", owner=actors.employee, persona=persona, os_version="14",
                              last_seen_at=now - timedelta(minutes=5), compliant=True),
        "Apple": make_device(actors.org, name="Apple", platform=Platform.IOS, os_version="17.4",
                             ownership=Ownership.CORPORATE, last_seen_at=now - timedelta(days=2), compliant=False),
        "cherry": make_device(actors.org, name="cherry"),  # never checked in, no owner, personal
        "other": make_device(actors.other_org, name="Aardvark of Globex"),
    }  # fmt: skip


# --- The table's words ---------------------------------------------------------------------------


def test_the_table_says_when_in_words_whose_device_and_which_os(client, actors, fleet):
    html = login(client, actors.auditor).get("/console/devices/").content.decode()
    assert "5\xa0minutes ago</time>" in html
    assert '<span class="muted">never</span>' in html
    assert "erin@acme.test" in html
    assert "Personal device, no owner" in html and "Company-owned device, no owner" in html
    table = html.split("<table")[1]
    assert "Personal (BYOD)" not in table and "—" not in table
    assert "Android 14" in html and "iOS 17.4" in html
    assert '<div class="table-wrap" role="region" aria-labelledby="devices-title" tabindex="0">' in html
    assert "Aardvark of Globex" not in html


# --- Sorting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["cherry", "Apple", "banana"]),  # the newest enrollment first
        ("name", ["Apple", "banana", "cherry"]),  # regardless of case
        ("-name", ["cherry", "banana", "Apple"]),
        ("last_seen", ["cherry", "Apple", "banana"]),  # never first, then the longest silent
        ("-last_seen", ["banana", "Apple", "cherry"]),
        ("owner", ["Apple", "cherry", "banana"]),  # no owner first, ties by pk
        ("compliant", ["Apple", "cherry", "banana"]),  # failing, not reported, compliant
        ("platform", ["banana", "cherry", "Apple"]),
    ],
)
def test_the_list_sorts_by_a_whitelisted_key_with_ties_broken_by_pk(client, actors, fleet, sort, expected):
    html = login(client, actors.auditor).get(f"/console/devices/?sort={sort}" if sort else "/console/devices/")
    assert html.status_code == 200
    if sort == "owner":  # the two without an owner, in primary key order
        expected = [*sorted(["Apple", "cherry"], key=lambda n: fleet[n].pk), "banana"]
    if sort == "platform":  # "android " < "android 14" < "ios 17.4"
        expected = ["cherry", "banana", "Apple"]
    assert names(html.content.decode()) == expected


def test_the_sorted_header_says_so_and_its_link_turns_the_order_around(client, actors, fleet):
    html = login(client, actors.auditor).get("/console/devices/?platform=android&sort=name").content.decode()
    assert re.search(
        r'<th scope="col" aria-sort="ascending"><a class="sort" href="\?platform=android&amp;sort=-name">Name', html
    )
    # Another column's link sorts by it, ascending, and keeps the filters.
    assert '<a class="sort" href="?platform=android&amp;sort=last_seen">Last check-in' in html
    assert html.count("aria-sort=") == 1
    html = client.get("/console/devices/?sort=-name").content.decode()
    assert re.search(r'<th scope="col" aria-sort="descending"><a class="sort" href="\?sort=name">Name', html)
    # The default order (newest enrollment) is not a column shown: no header claims it.
    assert "aria-sort" not in client.get("/console/devices/").content.decode()


@pytest.mark.parametrize("sort", ["color", "-", "name;drop", "owner__password"])
def test_an_unknown_sort_is_said_on_the_page_and_the_list_keeps_its_default_order(client, actors, fleet, sort):
    response = login(client, actors.auditor).get("/console/devices/", {"sort": sort})
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a column the list sorts by" in html and 'role="alert"' in html
    assert names(html) == ["cherry", "Apple", "banana"]
    assert f"sort={sort}" not in html  # never echoed into a link


def test_two_sorts_at_once_are_refused_in_words(client, actors, fleet):
    html = login(client, actors.auditor).get("/console/devices/?sort=name&sort=-name").content.decode()
    assert "Sort by one column at a time" in html


def test_pages_keep_the_sort_and_the_filters(client, actors):
    for n in range(55):
        make_device(actors.org, name=f"d{n:02}", platform=Platform.IOS)
    make_device(actors.org, name="android one")
    html = login(client, actors.auditor).get("/console/devices/?platform=ios&sort=-name").content.decode()
    assert names(html)[:2] == ["d54", "d53"] and len(names(html)) == 50
    assert 'href="?platform=ios&amp;sort=-name&amp;page=2"' in html
    second = client.get("/console/devices/?platform=ios&sort=-name&page=2").content.decode()
    assert names(second) == ["d04", "d03", "d02", "d01", "d00"]


def test_the_csv_export_keeps_the_sort_and_the_filters(client, actors, fleet):
    login(client, actors.auditor)
    html = client.get("/console/devices/?ownership=personal&sort=-last_seen").content.decode()
    assert 'href="/console/devices/export.csv?ownership=personal&amp;sort=-last_seen"' in html
    response = client.get("/console/devices/export.csv?ownership=personal&sort=-last_seen")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[1] for row in rows[1:]] == ["banana", "cherry"]
    event = AuditEvent.objects.filter(action="data.exported").latest("seq")
    assert event.details["filters"] == {"ownership": "personal", "sort": "-last_seen"}


def test_the_csv_export_refuses_an_unknown_sort(client, actors, fleet):
    response = login(client, actors.auditor).get("/console/devices/export.csv?sort=secret")
    assert response.status_code == 302 and "/console/devices/?sort=secret" in response["Location"]


@pytest.mark.parametrize("sort", sorted({*DEVICE_SORTS, *(f"-{k}" for k in DEVICE_SORTS)}))
def test_every_sort_walks_the_export_in_chunks_without_losing_a_row(actors, fleet, sort, monkeypatch):
    """Chunks of 2 rows: the keyset walk compares the sort's value (never NULL) and the pk."""
    for n in range(7):
        make_device(actors.org, name=f"x{n % 3}", owner=actors.employee if n % 2 else None)
    monkeypatch.setattr(csvstream, "CHUNK_ROWS", 2)
    chunks = list(device_export(organization_id=actors.org.pk, filters=NO_FILTER, sort=sort))
    listed = [d.pk for d in device_list(organization_id=actors.org.pk, sort=sort)]
    assert [row[0] for chunk in chunks for row in chunk] == listed and len(listed) == 10
    assert len(chunks) == 5 and all(len(row) == len(DEVICE_COLUMNS) for chunk in chunks for row in chunk)


# --- Filter chips --------------------------------------------------------------------------------


def test_each_active_filter_is_a_chip_whose_cross_removes_only_it(client, actors, fleet):
    persona = default_persona(actors.org)
    html = (
        login(client, actors.auditor)
        .get(f"/console/devices/?platform=android&compliant=true&persona={persona.pk}&sort=name")
        .content.decode()
    )
    chips = re.findall(r'<li class="chip">(.*?) <a href="([^"]*)"', html)
    assert chips == [
        ("Compliance: Compliant", f"?platform=android&amp;persona={persona.pk}&amp;sort=name"),
        (f"Persona: {persona.name}", "?platform=android&amp;compliant=true&amp;sort=name"),
        ("Platform: Android", f"?compliant=true&amp;persona={persona.pk}&amp;sort=name"),
    ]
    assert '<a href="?sort=name">Clear all</a>' in html
    assert "chip" not in client.get("/console/devices/?sort=name").content.decode().split("<main")[1]


def test_a_filter_in_error_makes_no_chip(client, actors, fleet):
    html = login(client, actors.auditor).get("/console/devices/?compliant=maybe&q=ban").content.decode()
    assert 'class="chip"' not in html and 'role="alert"' in html


# --- Columns -------------------------------------------------------------------------------------


def test_the_admin_chooses_the_columns_and_the_list_remembers_them(client, actors, fleet):
    login(client, actors.admin)
    assert headers(client.get("/console/devices/").content.decode()) == [
        "Name", "Owner", "Platform", "Persona", "State", "Work profile", "Compliance", "Last check-in"
    ]  # fmt: skip
    html = client.get("/console/devices/?cols=name&cols=model&cols=enrolled&cols=owner").content.decode()
    assert headers(html) == ["Name", "Owner", "Model", "Enrolled"]
    # The column chooser shows what is chosen.
    assert '<input type="checkbox" name="cols" value="model" checked>' in html
    assert '<input type="checkbox" name="cols" value="state">' in html
    # Remembered for this person, on the next visit without ?cols=.
    assert headers(client.get("/console/devices/?platform=ios").content.decode()) == [
        "Name",
        "Owner",
        "Model",
        "Enrolled",
    ]
    # Not for another admin.
    other = client.__class__()
    other.force_login(actors.owner)
    assert len(headers(other.get("/console/devices/").content.decode())) == 1 + len(DEFAULT_COLUMNS)


def test_the_name_column_cannot_be_hidden(client, actors, fleet):
    html = login(client, actors.admin).get("/console/devices/?cols=name").content.decode()
    assert headers(html) == ["Name"] and names(html) == ["cherry", "Apple", "banana"]
    assert '<td colspan="1"' not in html


def test_an_unknown_column_is_said_and_the_usual_columns_are_shown(client, actors, fleet):
    response = login(client, actors.admin).get("/console/devices/?cols=name,signing_public_key")
    html = response.content.decode()
    assert response.status_code == 200 and "There is no column “signing_public_key”" in html
    assert len(headers(html)) == 1 + len(DEFAULT_COLUMNS)
    assert client.session.get("devices.list_columns") is None


# --- Saved views ---------------------------------------------------------------------------------


def test_an_admin_saves_the_view_and_finds_it_again(client, actors, fleet):
    login(client, actors.admin)
    response = client.post(
        "/console/devices/views/?platform=android&sort=-last_seen&cols=name,owner,last_seen",
        {"name": "  Android  by check-in "},
    )
    view = SavedDeviceView.objects.get(owner=actors.admin)
    assert view.organization == actors.org and view.name == "Android by check-in"
    assert view.query == "platform=android&sort=-last_seen&cols=name%2Cowner%2Clast_seen"
    assert response.status_code == 302 and response["Location"] == f"/console/devices/?{view.query}"
    event = AuditEvent.objects.get(action="saved_device_view.created")
    assert event.details == {"name": "Android by check-in", "query": view.query}
    assert event.organization == actors.org and event.target_id == str(view.pk)
    html = client.get("/console/devices/").content.decode()
    assert f'<a href="/console/devices/?{view.query.replace("&", "&amp;")}">Android by check-in</a>' in html
    followed = client.get(f"/console/devices/?{view.query}").content.decode()
    assert names(followed) == ["banana", "cherry"] and headers(followed) == ["Name", "Owner", "Last check-in"]
    assert 'aria-current="true">Android by check-in</a>' in followed


def test_a_saved_view_keeps_the_remembered_columns(client, actors, fleet):
    login(client, actors.admin)
    client.get("/console/devices/?cols=name,state")
    client.post("/console/devices/views/?ownership=corporate", {"name": "Company"})
    assert SavedDeviceView.objects.get().query == "ownership=corporate&cols=name%2Cstate"


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Give the view a name."), ("   ", "Give the view a name."),
     ("x" * 81, "Ensure this value has at most 80 characters")],
)  # fmt: skip
def test_a_view_needs_a_name_of_sane_length(client, actors, fleet, name, message):
    response = login(client, actors.admin).post("/console/devices/views/?sort=name", {"name": name})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and '<details class="save-view" open>' in html
    assert names(html) == ["Apple", "banana", "cherry"]  # the list the form was on
    assert not SavedDeviceView.objects.exists()
    assert not AuditEvent.objects.filter(action="saved_device_view.created").exists()


def test_a_second_view_of_the_same_name_is_refused(client, actors, fleet):
    login(client, actors.admin)
    client.post("/console/devices/views/?sort=name", {"name": "Mine"})
    response = client.post("/console/devices/views/?sort=-name", {"name": "Mine"})
    assert response.status_code == 400 and "You already have a view named “Mine”." in response.content.decode()
    assert SavedDeviceView.objects.get().query.startswith("sort=name&cols=name%2Cowner%2C")
    # Another person may use the same name.
    client.force_login(actors.owner)
    assert client.post("/console/devices/views/", {"name": "Mine"}).status_code == 302
    assert SavedDeviceView.objects.count() == 2


def test_a_view_of_an_invalid_list_is_refused(client, actors, fleet):
    response = login(client, actors.admin).post("/console/devices/views/?sort=password", {"name": "Bad"})
    assert response.status_code == 400 and "nothing was saved" in response.content.decode()
    assert not SavedDeviceView.objects.exists()


def test_the_service_keeps_only_whitelisted_parameters(actors):
    with pytest.raises(ServiceError):
        saved_view_create(organization=actors.org, owner=actors.admin, name="x", query="platform=android&evil=1")
    with pytest.raises(ServiceError):
        saved_view_create(organization=actors.org, owner=actors.admin, name="x", query="compliant=maybe")
    view = saved_view_create(
        organization=actors.org, owner=actors.admin, name="x", query="sort=name&compliant=yes&cols=state,name&page=3"
    )
    assert view.query == "compliant=true&sort=name&cols=name%2Cstate"
    assert {name for name, _ in ListQuery.parse(QueryDict(view.query)).items()} <= LIST_PARAMS


def test_deleting_a_view_is_a_post_of_its_owner_only(client, actors, fleet):
    mine = saved_view_create(organization=actors.org, owner=actors.admin, name="Mine", query="sort=name")
    theirs = saved_view_create(organization=actors.org, owner=actors.owner, name="Theirs", query="")
    foreign = saved_view_create(organization=actors.other_org, owner=actors.outsider, name="Globex", query="")
    login(client, actors.admin)
    assert client.get(f"/console/devices/views/{mine.pk}/delete/").status_code == 405
    assert client.post(f"/console/devices/views/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/console/devices/views/{foreign.pk}/delete/").status_code == 404
    assert "Theirs" not in client.get("/console/devices/").content.decode()
    response = client.post(f"/console/devices/views/{mine.pk}/delete/")
    assert response.status_code == 302
    assert set(SavedDeviceView.objects.values_list("name", flat=True)) == {"Theirs", "Globex"}
    event = AuditEvent.objects.get(action="saved_device_view.deleted")
    assert event.details == {"name": "Mine"} and event.organization == actors.org


def test_an_outsider_cannot_save_into_or_see_another_organization(client, actors, fleet):
    login(client, actors.outsider)
    client.post("/console/devices/views/", {"name": "Mine"})
    assert SavedDeviceView.objects.get().organization == actors.other_org
    html = client.get("/console/devices/").content.decode()
    assert names(html) == ["Aardvark of Globex"]


def test_an_employee_without_a_role_cannot_save_a_view(client, actors):
    response = login(client, actors.employee).post("/console/devices/views/", {"name": "Mine"})
    assert response.status_code in (302, 403, 404)
    assert not SavedDeviceView.objects.exists()


def test_the_list_costs_the_same_queries_with_saved_views_chips_and_a_sort(
    client, actors, fleet, django_assert_num_queries
):
    login(client, actors.admin)
    for n in range(3):
        saved_view_create(organization=actors.org, owner=actors.admin, name=f"v{n}", query="sort=name")
    url = "/console/devices/?platform=android&sort=-last_seen"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(30):
        make_device(actors.org, name=f"more {n}", owner=actors.employee, persona=default_persona(actors.org))
    with django_assert_num_queries(len(few)):
        client.get(url)


# --- The admin API's sort ------------------------------------------------------------------------


def test_the_admin_api_sorts_its_device_list_and_export_the_same_way(actors, fleet):
    api = actors.api(actors.auditor)
    listed = api.get("/api/v1/devices/?sort=-last_seen").json()["results"]
    assert [d["name"] for d in listed] == ["banana", "Apple", "cherry"]
    assert [d["name"] for d in api.get("/api/v1/devices/?sort=name&platform=android").json()["results"]] == [
        "banana",
        "cherry",
    ]
    exported = api.get("/api/v1/devices/export.csv?sort=name")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row[1] for row in rows[1:]] == ["Apple", "banana", "cherry"]


@pytest.mark.parametrize("query", ["sort=password", "sort=", "sort=name&sort=-name"])
def test_the_admin_api_refuses_a_bad_sort_with_a_400_naming_it(actors, fleet, query):
    response = actors.api(actors.auditor).get(f"/api/v1/devices/?{query}")
    assert response.status_code == 400 and "sort" in response.json()["errors"]


# --- The query's parsing -------------------------------------------------------------------------


def test_columns_come_repeated_or_comma_separated_and_keep_the_tables_order():
    repeated = ListQuery.parse(QueryDict("cols=last_seen&cols=owner&cols=name"))
    commas = ListQuery.parse(QueryDict("cols=last_seen,owner"))
    assert repeated.columns == commas.columns == ("owner", "last_seen")
    assert repeated.given_columns and repeated.valid
    assert not ListQuery.parse(QueryDict("platform=android")).given_columns


def test_a_person_has_at_most_fifty_saved_views(actors):
    SavedDeviceView.objects.bulk_create(
        SavedDeviceView(organization=actors.org, owner=actors.admin, name=f"v{n}") for n in range(50)
    )
    with pytest.raises(ServiceError, match="delete one first"):
        saved_view_create(organization=actors.org, owner=actors.admin, name="one more", query="")
    # Another person's views are not counted.
    saved_view_create(organization=actors.org, owner=actors.owner, name="one more", query="")
    assert SavedDeviceView.objects.filter(owner=actors.admin).count() == 50


def test_a_view_too_long_to_keep_is_refused_in_words(client, actors):
    long = "é" * 200  # 200 characters, 1,200 once encoded: three of them exceed what a view keeps
    response = login(client, actors.admin).post(
        "/console/devices/views/", {"name": "Long"}, QUERY_STRING=f"q={long}&owner={long}&os_version={long}"
    )
    assert response.status_code == 400 and "too long to save" in response.content.decode()
    assert not SavedDeviceView.objects.exists()
