"""Single sign-on to the portal through OpenID Connect, end to end: the real web server, a local
provider, and a browser-like client following the redirects with its cookies."""

import http.cookiejar
import urllib.error
import urllib.request

import pytest

from mdm.actors import SYSTEM
from mdm.models import AuditEvent, ExternalIdentity
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
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)
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


def _sign_in(server) -> tuple[str, str]:
    """Sign in through the provider; the final URL and page."""
    client = browser()
    try:
        page = client.open(f"{server.url}/oidc/authenticate/?next=/portal/", timeout=20)
    except urllib.error.HTTPError as exc:
        page = exc
    return page.geturl(), page.read().decode()


def _employ_erin(actors) -> None:
    membership_add(organization=actors.org, user=actors.employee, role="employee", actor=SYSTEM)


def test_the_first_sso_sign_in_binds_the_account_to_the_providers_subject(sso, actors):
    provider, server = sso
    _employ_erin(actors)
    provider.user_email, provider.subject = "erin@acme.test", "idp-user-1001"
    final, html = _sign_in(server)
    assert final.endswith("/portal/") and "My devices" in html
    binding = ExternalIdentity.objects.get(user=actors.employee)
    assert (binding.issuer, binding.subject) == (provider.url, "idp-user-1001")
    event = AuditEvent.objects.get(organization=actors.org, action="account.sso_bound")
    assert event.details["subject"] == "idp-user-1001" and event.actor_label == "erin@acme.test"
    assert _sign_in(server)[0].endswith("/portal/")  # the same identity signs in again
    assert AuditEvent.objects.filter(action="account.sso_bound").count() == 1


def test_a_later_sso_sign_in_with_another_subject_for_the_same_email_is_refused(sso, actors):
    provider, server = sso
    _employ_erin(actors)
    provider.user_email, provider.subject = "erin@acme.test", "idp-user-1001"
    assert _sign_in(server)[0].endswith("/portal/")
    provider.subject = "idp-user-2002"  # the address was given to someone else at the provider
    final, html = _sign_in(server)
    assert "/portal/login/" in final
    assert "linked to a different company account" in html
    assert list(ExternalIdentity.objects.values_list("subject", flat=True)) == ["idp-user-1001"]


def test_an_sso_sign_in_for_an_account_bound_at_another_issuer_is_refused(sso, actors):
    provider, server = sso
    _employ_erin(actors)
    ExternalIdentity.objects.create(user=actors.employee, issuer="https://old-idp.test", subject="erin")
    provider.user_email = "erin@acme.test"
    final, html = _sign_in(server)
    assert "/portal/login/" in final and "linked to another sign-in provider" in html
    assert ExternalIdentity.objects.filter(user=actors.employee).count() == 1


def test_an_sso_sign_in_whose_subject_is_bound_to_another_account_is_refused(sso, actors):
    provider, server = sso
    _employ_erin(actors)
    ExternalIdentity.objects.create(user=actors.admin, issuer=provider.url, subject="idp-user-1001")
    provider.user_email, provider.subject = "erin@acme.test", "idp-user-1001"
    final, html = _sign_in(server)
    assert "/portal/login/" in final and "already linked to another account" in html
    assert not ExternalIdentity.objects.filter(user=actors.employee).exists()


def test_a_userinfo_response_about_another_subject_signs_nobody_in(sso, actors):
    provider, server = sso
    _employ_erin(actors)
    provider.user_email, provider.subject, provider.userinfo_subject = "erin@acme.test", "idp-1", "idp-2"
    assert "/portal/login/" in _sign_in(server)[0]
    assert not ExternalIdentity.objects.exists()
