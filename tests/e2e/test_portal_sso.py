"""Single sign-on to the portal through OpenID Connect, end to end: the real web server, a local
provider, and a browser-like client following the redirects with its cookies."""

import http.cookiejar
import urllib.error
import urllib.request

import pytest

from mdm.audit import SYSTEM_ACTOR
from mdm.services import membership_add
from tests.live import LiveServer
from tests.oidc_provider import Provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sso(tmp_path):
    provider = Provider().start()
    server = LiveServer(tmp_path / "web.log", **provider.settings_env())
    server.start()
    yield provider, server
    server.stop()
    provider.stop()


def browser():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def test_an_invited_employee_signs_in_with_sso(sso, actors):
    provider, server = sso
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM_ACTOR)
    provider.user_email = "erin@acme.test"
    client = browser()
    login = client.open(f"{server.url}/portal/login/", timeout=10).read().decode()
    assert "Sign in with your company account" in login
    page = client.open(f"{server.url}/oidc/authenticate/?next=/portal/", timeout=20)
    assert page.geturl().endswith("/portal/"), page.geturl()
    html = page.read().decode()
    assert "erin@acme.test" in html and "My devices" in html


def _final_url(client, url):
    try:
        return client.open(url, timeout=20).geturl()
    except urllib.error.HTTPError as exc:
        return exc.geturl()


@pytest.mark.parametrize("verified", [None, "false", False])
def test_an_unverified_email_claim_signs_nobody_in(sso, actors, verified):
    provider, server = sso
    provider.user_email = "alice@acme.test"  # an owner's address, as another tenant might claim it
    provider.email_verified = verified
    assert "/portal/login/" in _final_url(browser(), f"{server.url}/oidc/authenticate/?next=/portal/")


def test_sso_never_creates_an_account(sso, actors):
    provider, server = sso
    provider.user_email = "stranger@elsewhere.test"
    client = browser()
    try:
        page = client.open(f"{server.url}/oidc/authenticate/?next=/portal/", timeout=20)
        final = page.geturl()
    except urllib.error.HTTPError as exc:
        final = exc.geturl()
    assert "/portal/login/" in final
    from mdm.models import User

    assert not User.objects.filter(email="stranger@elsewhere.test").exists()
