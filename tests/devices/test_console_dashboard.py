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
