from django.test import Client

from mdm.permissions import SESSION_ORG_KEY
from mdm.services import membership_add
from tests.conftest import PASSWORD


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")
    assert client.get("/").status_code == 302


def test_the_sign_in_page_renders_with_labels(client, db):
    response = client.get("/console/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'for="id_username"' in html and 'for="id_password"' in html
    assert "csrfmiddlewaretoken" in html


def test_a_member_signs_in_and_sees_their_organization(client, actors):
    response = client.post("/console/login/", {"username": "alice@acme.test", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme" in html and "alice@acme.test" in html and "Globex" not in html


def test_a_wrong_password_is_refused(client, actors):
    response = client.post("/console/login/", {"username": "alice@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_user_without_a_membership_gets_no_console(client, actors):
    client.force_login(actors.employee)
    response = client.get("/console/")
    assert response.status_code == 403
    assert "not a member" in response.content.decode()


def test_a_member_of_two_organizations_switches_between_them(client, actors):
    membership_add(organization=actors.other_org, user=actors.admin, role="auditor")
    client.force_login(actors.admin)
    assert "Acme" in client.get("/console/").content.decode()
    response = client.post("/console/switch-organization/", {"organization": str(actors.other_org.pk)})
    assert response.status_code == 302
    assert client.session[SESSION_ORG_KEY] == str(actors.other_org.pk)
    page = client.get("/console/").content.decode()
    assert "<h1>Globex</h1>" in page


def test_switching_to_an_organization_you_are_not_in_is_refused(client, actors):
    client.force_login(actors.admin)
    response = client.post("/console/switch-organization/", {"organization": str(actors.other_org.pk)})
    assert response.status_code == 400
    assert SESSION_ORG_KEY not in client.session


def test_the_console_session_works_for_the_admin_api_with_csrf(actors):
    client = Client(enforce_csrf_checks=True)
    client.force_login(actors.auditor)
    assert client.get("/api/v1/audit-events/").status_code == 200
    # A state-changing call without the CSRF token is refused.
    assert client.post("/api/v1/api-tokens/", {"name": "x"}, content_type="application/json").status_code == 403


def test_sign_out(client, actors):
    client.force_login(actors.owner)
    assert client.post("/console/logout/").status_code == 302
    assert client.get("/console/").status_code == 302


def test_repeated_failed_sign_ins_lock_the_address_out(client, actors, settings):
    settings.MDM_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        client.post("/console/login/", {"username": "alice@acme.test", "password": "wrong"})
    response = client.post("/console/login/", {"username": "alice@acme.test", "password": PASSWORD})
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not affected.
    ok = client.post("/console/login/", {"username": "bob@acme.test", "password": PASSWORD})
    assert ok.status_code == 302


def test_a_look_alike_spelling_shares_the_lock_out_counter(client, actors, settings):
    settings.MDM_LOGIN_MAX_FAILURES = 2
    for email in ("ALICE@acme.test", "al\u0131ce@acme.test"):  # upper case, and a dotless i
        client.post("/console/login/", {"username": email, "password": "wrong"})
    response = client.post("/console/login/", {"username": "alice@acme.test", "password": PASSWORD})
    assert "Too many failed sign-ins" in response.content.decode()
