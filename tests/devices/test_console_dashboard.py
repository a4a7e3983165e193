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
