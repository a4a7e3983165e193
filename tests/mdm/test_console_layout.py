"""The console's and the portal's shared layout: error pages with navigation, the favicon, the
current page marked in the navigation, and times as people read them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from mdm.templatetags.ui import ago
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in(client, email: str):
    assert client.login(username=email, password=PASSWORD)
    return client


def test_a_missing_console_page_is_the_console_with_its_navigation_and_a_way_back(client, actors):
    response = signed_in(client, actors.owner.email).get("/console/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist" in html
    assert 'href="/console/devices/"' in html and "Sign out" in html  # the sidebar, not a bare page
    assert "Go to the dashboard" in html


def test_another_organizations_device_is_a_404_page_not_a_leak(client, actors):
    from tests.devices.test_device_selectors import make_device

    theirs = make_device(actors.other_org, name="Globex phone")
    response = signed_in(client, actors.owner.email).get(f"/console/devices/{theirs.pk}/")
    assert response.status_code == 404
    assert "Globex phone" not in response.content.decode()


def test_a_missing_page_signed_out_still_has_navigation(client):
    response = client.get("/console/nope/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist" in html and 'href="/portal/"' in html


def test_a_missing_portal_page_offers_the_employees_devices(client, actors):
    response = client.get("/portal/nope/")
    assert response.status_code == 404
    assert "Go to my devices" in response.content.decode()


def test_a_forbidden_page_says_why_in_the_layout(client, actors):
    response = signed_in(client, actors.helpdesk.email).get("/console/api-tokens/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You are not allowed to do this" in html and "helpdesk" in html
    assert 'href="/console/devices/"' in html


def test_the_api_keeps_its_problem_json_for_a_missing_path(client, actors):
    response = signed_in(client, actors.owner.email).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_favicon_ico_leads_to_the_icon_every_page_links(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")
    page = client.get("/console/login/").content.decode()
    assert 'rel="icon"' in page


def test_the_navigation_marks_the_current_page(client, actors):
    html = signed_in(client, actors.owner.email).get("/console/devices/").content.decode()
    assert '<a href="/console/devices/" aria-current="page">' in html
    assert '<a href="/console/" aria-current="page">' not in html  # the dashboard is exact


def test_ago_reads_as_people_say_it():
    now = timezone.now()
    assert ago(now - timedelta(seconds=20), now) == "just now"
    assert ago(now + timedelta(minutes=3), now) == "just now"  # a device clock ahead
    assert ago(now - timedelta(minutes=5), now) == "5\xa0minutes ago"
    assert ago(now - timedelta(days=3, hours=4), now) == "3\xa0days ago"
    assert ago(None) == ""


def test_when_shows_the_exact_time_and_the_relative_one_as_its_title():
    value = timezone.now() - timedelta(hours=2)
    html = Template("{% load ui %}{% when value %}|{% when value relative=True %}|{% when none %}").render(
        Context({"value": value, "none": None})
    )
    exact, relative, missing = html.split("|")
    assert value.strftime("%Y-%m-%d %H:%M") in exact and "ago" in exact
    assert relative.count("ago") == 1 and "UTC" in relative
    assert missing == "—"


def test_the_sign_in_page_says_where_a_development_server_put_the_demo_sign_in(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert "demo owner" not in client.get("/console/login/").content.decode()
    (tmp_path / "demo-credentials.txt").write_text("owner@demo.test / secret\n")
    html = client.get("/console/login/").content.decode()
    assert "demo owner" in html and str(tmp_path / "demo-credentials.txt") in html
    assert "secret" not in html  # where it is, never the password itself
    assert 'href="/portal/login/"' in html  # employees are sent to their portal
    settings.PRODUCTION = True
    assert "demo owner" not in client.get("/console/login/").content.decode()
