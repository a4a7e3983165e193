"""The console's Android Enterprise page (connect, callback, disconnect), the Android choice of
the enrollment page, and an Android device's page. Only refusals and forms here: the flows that
reach Google are the end-to-end tests' (against the stand-in of Google's API)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import AndroidEnterprise, Device, EnrollmentToken
from mdm.models import AuditEvent
from personas.models import Persona
from tests.devices.android_rows import ENTERPRISE, android_device, android_token, connect


@pytest.fixture
def bridge_on(settings):
    """The bridge configured; Google's address is a closed port, so a test that reached it would fail."""
    settings.MDM_ANDROID_SERVICE_ACCOUNT = {"type": "service_account", "token_uri": "http://127.0.0.1:9/token"}
    settings.MDM_ANDROID_PROJECT_ID = "mdm-test"
    settings.MDM_ANDROID_PUBSUB_TOPIC = "projects/mdm-test/topics/android"
    settings.MDM_ANDROID_API_ROOT_URL = "http://127.0.0.1:9/"
    settings.MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT = "pubsub-push@mdm-test.iam.gserviceaccount.com"
    settings.MDM_ANDROID_PUBSUB_AUDIENCE = "https://mdm.test/android/pubsub/"


@pytest.fixture
def bridge_off(settings):
    settings.MDM_ANDROID_SERVICE_ACCOUNT = None
    settings.MDM_ANDROID_PROJECT_ID = ""
    settings.MDM_ANDROID_PUBSUB_TOPIC = "projects/mdm-test/topics/android"


def _signup(org, *, state="s" * 32, started=None) -> AndroidEnterprise:
    """A signup the owner started (the row enterprise_signup_start writes)."""
    return AndroidEnterprise.objects.create(
        organization=org,
        signup_url_name="signupUrls/C1",
        signup_state=state,
        signup_started_at=started or timezone.now(),
    )


def test_with_the_bridge_off_the_page_says_what_to_set(client, actors, bridge_off):
    client.force_login(actors.helpdesk)
    html = client.get("/console/android/").content.decode()
    assert "MDM_ANDROID_SERVICE_ACCOUNT_FILE" in html and "MDM_ANDROID_PROJECT_ID" in html
    assert "MDM_ANDROID_PUBSUB_TOPIC" not in html and "see docs/android.md" in html
    assert "Connect</button>" not in html
    assert 'href="/console/android/"' in html  # in the navigation


def test_with_the_bridge_off_connecting_is_refused_and_nothing_is_written(client, actors, bridge_off):
    client.force_login(actors.owner)
    response = client.post("/console/android/connect/")
    assert response.status_code == 409 and "The Android Enterprise bridge is off" in response.content.decode()
    assert not AndroidEnterprise.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="android.").exists()


def test_the_owner_alone_is_offered_connect(client, actors, bridge_on):
    client.force_login(actors.owner)
    assert "Connect</button>" in client.get("/console/android/").content.decode()
    client.force_login(actors.admin)
    html = client.get("/console/android/").content.decode()
    assert "Connect</button>" not in html and "Only the organization's owner" in html


@pytest.mark.parametrize("role", ["admin", "helpdesk", "auditor"])
def test_other_roles_cannot_connect_finish_or_disconnect(client, actors, bridge_on, role):
    _signup(actors.org)
    client.force_login(getattr(actors, role))
    assert client.post("/console/android/connect/").status_code == 403
    assert client.get("/console/android/callback/", {"state": "s" * 32, "enterpriseToken": "t"}).status_code == 403
    assert client.post("/console/android/disconnect/", {"confirm": "Acme"}).status_code == 403
    assert AndroidEnterprise.objects.get().name == ""


def test_a_bad_admin_email_is_shown_in_place(client, actors, bridge_on):
    client.force_login(actors.owner)
    response = client.post("/console/android/connect/", {"admin_email": "not an address"})
    assert response.status_code == 400 and 'class="error"' in response.content.decode()
    assert not AndroidEnterprise.objects.exists()


def test_the_callback_needs_a_signed_in_owner_and_keeps_google_s_answer(client, actors, bridge_on):
    response = client.get("/console/android/callback/", {"state": "abc", "enterpriseToken": "EToken"})
    assert response.status_code == 302 and response.url.startswith("/console/login/")
    assert "enterpriseToken%3DEToken" in response.url and "state%3Dabc" in response.url


@pytest.mark.parametrize(
    "query",
    [
        {"state": "t" * 32, "enterpriseToken": "EToken"},  # not the state of the signup
        {"enterpriseToken": "EToken"},  # no state
    ],
)
def test_a_callback_that_is_not_the_owner_s_signup_is_refused(client, actors, bridge_on, query):
    _signup(actors.org)
    client.force_login(actors.owner)
    response = client.get("/console/android/callback/", query)
    assert response.status_code == 400 and "unknown or has expired" in response.content.decode()
    record = AndroidEnterprise.objects.get()
    assert (record.name, record.signup_state) == ("", "s" * 32)


def test_an_expired_signup_and_a_missing_token_are_refused(client, actors, bridge_on):
    _signup(actors.org, started=timezone.now() - timedelta(hours=2))
    client.force_login(actors.owner)
    response = client.get("/console/android/callback/", {"state": "s" * 32, "enterpriseToken": "EToken"})
    assert response.status_code == 400 and "unknown or has expired" in response.content.decode()
    AndroidEnterprise.objects.update(signup_started_at=timezone.now())
    response = client.get("/console/android/callback/", {"state": "s" * 32})
    assert response.status_code == 400 and "Google sent no enterprise token back" in response.content.decode()
    assert AndroidEnterprise.objects.get().name == ""


def test_another_organization_s_signup_cannot_be_finished_by_an_outsider(client, actors, bridge_on):
    _signup(actors.org)
    client.force_login(actors.outsider)
    response = client.get("/console/android/callback/", {"state": "s" * 32, "enterpriseToken": "EToken"})
    assert response.status_code == 400
    assert AndroidEnterprise.objects.get().name == ""


def test_connected_the_page_shows_the_enterprise_and_its_devices(client, actors, bridge_on):
    record = connect(actors.org)
    AndroidEnterprise.objects.filter(pk=record.pk).update(
        reconciled_at=timezone.now(), reconcile_detail="2 devices at Google, 0 new, 0 gone."
    )
    android_device(actors.org)
    android_device(actors.org)
    retired = android_device(actors.org)
    Device.objects.filter(pk=retired.pk).update(state="retired")
    client.force_login(actors.owner)
    html = client.get("/console/android/").content.decode()
    assert ENTERPRISE in html and "alice@acme.test" in html and "2 devices at Google" in html
    assert "<dt>Android devices</dt><dd>2</dd>" in html
    assert "every one of the 2 Android devices is removed" in html and "Disconnect and remove" in html
    client.force_login(actors.auditor)
    html = client.get("/console/android/").content.decode()
    assert ENTERPRISE in html and "Disconnect and remove" not in html


def test_disconnecting_needs_the_organization_s_name_typed(client, actors, bridge_on):
    connect(actors.org)
    phone = android_device(actors.org)
    client.force_login(actors.owner)
    response = client.post("/console/android/disconnect/", {"confirm": "Acme Inc"})
    assert response.status_code == 400 and "Type the organization&#x27;s name to confirm" in response.content.decode()
    response = client.post("/console/android/disconnect/", {"confirm": ""})
    assert response.status_code == 400
    assert AndroidEnterprise.objects.get().name == ENTERPRISE
    assert Device.objects.get(pk=phone.pk).state == "active"
    assert not AuditEvent.objects.filter(action="android.disconnected").exists()


def test_an_outsider_sees_nothing_of_the_enterprise(client, actors, bridge_on):
    connect(actors.org)
    client.force_login(actors.outsider)
    html = client.get("/console/android/").content.decode()
    assert ENTERPRISE not in html and "Connect</button>" in html  # their own organization, not connected
    assert client.post("/console/android/disconnect/", {"confirm": "Acme"}).status_code == 409
    assert AndroidEnterprise.objects.get().name == ENTERPRISE


# --- The enrollment page ----------------------------------------------------------------------------


def _token_form(persona, **extra):
    return {"persona": str(persona.pk), "ownership": "personal", "uses": 1, "expires": "1d", **extra}


def test_not_connected_the_enrollment_page_offers_the_agent_only_and_says_how_to_connect(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    html = client.get("/console/enrollment/").content.decode()
    assert "Android work profile (Google)" not in html and "connect the organization first" in html
    response = client.post("/console/enrollment/", _token_form(persona, channel="android"))
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not EnrollmentToken.objects.exists()


def test_connected_the_enrollment_page_offers_android_and_google_s_refusal_is_shown(client, actors, bridge_off):
    connect(actors.org)
    client.force_login(actors.helpdesk)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    html = client.get("/console/enrollment/").content.decode()
    assert "Android work profile (Google)" in html and "connect the organization first" not in html
    # Connected, but the bridge has been turned off since: the refusal is shown, nothing is issued.
    response = client.post("/console/enrollment/", _token_form(persona, channel="android"))
    assert response.status_code == 200 and "The Android Enterprise bridge is off" in response.content.decode()
    assert not EnrollmentToken.objects.exists()


def test_the_token_list_shows_each_token_s_type_and_an_android_token_is_revoked_alike(client, actors):
    connect(actors.org)
    token = android_token(actors.org)
    client.force_login(actors.helpdesk)
    html = client.get("/console/enrollment/").content.decode()
    assert f"<code>{token.prefix}…</code></td>\n      <td>Android work profile (Google)</td>" in html
    assert client.post(f"/console/enrollment/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.status == "revoked" and token.wrapped_qr_code is None


# --- A device's page --------------------------------------------------------------------------------


def test_an_android_device_s_page_says_google_manages_it_and_offers_no_unlock(client, actors):
    phone = android_device(actors.org)
    client.force_login(actors.helpdesk)
    html = client.get(f"/console/devices/{phone.pk}/").content.decode()
    assert "Managed by Google (Android Enterprise)" in html and phone.google_name in html
    assert "Serial number" not in html and "<dt>Agent</dt>" not in html  # no identifier is kept
    assert "Lock work profile" in html and "Unlock work profile" not in html
    assert "Google has no remote unlock" in html


def test_an_agent_device_s_page_is_unchanged(client, actors, enrolled):
    client.force_login(actors.helpdesk)
    html = client.get(f"/console/devices/{enrolled.identity['device_id']}/").content.decode()
    assert "<dt>Agent version</dt>" in html and "Managed by Google" not in html
    # Not locked: only the lock is offered (tests/devices/test_device_page.py has the others).
    assert "Lock work profile" in html and "Unlock work profile" not in html


def test_an_outsider_cannot_see_an_android_device(client, actors):
    phone = android_device(actors.org)
    client.force_login(actors.outsider)
    assert client.get(f"/console/devices/{phone.pk}/").status_code == 404
