"""Sharing a usable enrollment token from the console: the issued page again with copy buttons,
the printable page, the QR code as PNG and SVG, and the instructions e-mailed to an employee.
Everything needs the token's wrapped copy: gone once the token is used up, revoked or expired."""

import json
import re
import struct
from datetime import timedelta

import pytest
import segno
from django.core import mail
from django.utils import timezone

from devices.models import EnrollmentToken
from devices.services import enrollment_token_revoke
from mdm.actors import SYSTEM
from mdm.models import AuditEvent
from personas.models import Persona
from tests.devices.android_rows import android_token, connect

ROUTES = ["", "print/", "qr.png", "qr.svg"]


def _url(record, route=""):
    return f"/console/enrollment/{record.pk}/{route}"


def test_the_issued_page_has_copy_buttons_downloads_and_the_send_form(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    form = {"persona": str(persona.pk), "ownership": "personal", "uses": 1, "expires": "1d"}
    response = client.post("/console/enrollment/", form)
    html = response.content.decode()
    record = EnrollmentToken.objects.get()
    for target in ("#token", "#payload", "#agent-command"):
        assert f'data-copy="{target}"' in html
    assert 'id="token" readonly' in html  # without JavaScript the code is still there to select
    assert f'href="{_url(record, "print/")}"' in html
    assert f'href="{_url(record, "qr.png")}" download' in html and f'href="{_url(record, "qr.svg")}" download' in html
    assert f'action="{_url(record, "send/")}"' in html
    assert "<script>" not in html and "style=" not in html  # the CSP: app.js (deferred) does the copying


def test_the_token_page_shows_the_same_code_again_while_usable(client, actors, issue_token):
    issued = issue_token()
    client.force_login(actors.helpdesk)
    html = client.get(_url(issued.enrollment_token)).content.decode()
    payload = json.loads(re.search(r'id="payload" readonly value="([^"]+)"', html).group(1).replace("&quot;", '"'))
    assert payload["token"] == issued.token and payload == issued.qr_payload
    assert response_cache_free(client.get(_url(issued.enrollment_token)))
    assert response_cache_free(client.get(_url(issued.enrollment_token, "print/")))


def response_cache_free(response) -> bool:
    return response.status_code == 200 and response["Cache-Control"] == "no-store"


def test_the_printable_page_has_the_qr_code_and_the_steps(client, actors, issue_token):
    issued = issue_token(note="Front desk")
    client.force_login(actors.admin)
    html = client.get(_url(issued.enrollment_token, "print/")).content.decode()
    assert html.count("<svg") >= 1 and 'class="print-qr qr"' in html
    assert "Set up work profile" in html and "data-print" in html
    assert issued.token not in html  # the paper carries the QR code, not the code as text


def test_the_qr_code_downloads_as_png_and_svg(client, actors, issue_token):
    issued = issue_token()
    client.force_login(actors.admin)
    png = client.get(_url(issued.enrollment_token, "qr.png"))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png["Content-Disposition"] == f'attachment; filename="enrollment-{issued.enrollment_token.prefix}.png"'
    assert png["Cache-Control"] == "no-store"
    svg = client.get(_url(issued.enrollment_token, "qr.svg"))
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content and svg["Content-Disposition"].endswith('.svg"')


def test_the_png_is_the_qr_code_of_the_enrollment_payload(client, actors, issue_token):
    """Same symbol as segno makes of the payload: the PNG's size (IHDR) follows the QR version."""
    issued = issue_token()
    client.force_login(actors.admin)
    png = client.get(_url(issued.enrollment_token, "qr.png")).content
    width, height = struct.unpack(">II", png[16:24])
    expected = segno.make(json.dumps(issued.qr_payload, separators=(",", ":")), error="m")
    assert (width, height) == expected.symbol_size(scale=10, border=4)
    smaller = segno.make("x", error="m").symbol_size(scale=10, border=4)
    assert width > smaller[0]  # a real payload, not an empty code


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("how", ["revoked", "expired", "used"])
def test_a_token_that_can_no_longer_enroll_answers_410_in_words(client, actors, issue_token, route, how):
    issued = issue_token()
    record = issued.enrollment_token
    if how == "revoked":
        enrollment_token_revoke(enrollment_token=record, actor=SYSTEM)
    elif how == "expired":
        EnrollmentToken.objects.filter(pk=record.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        EnrollmentToken.objects.filter(pk=record.pk).update(uses_count=1)
    client.force_login(actors.admin)
    response = client.get(_url(record, route))
    assert response.status_code == 410
    text = response.content.decode()
    assert f"This enrollment token is {how}" in text and "Issue a new token" in text
    assert issued.token not in text


@pytest.mark.parametrize("route", ROUTES)
def test_only_those_who_issue_tokens_and_never_another_organization(client, actors, issue_token, route):
    issued = issue_token()
    client.force_login(actors.auditor)
    assert client.get(_url(issued.enrollment_token, route)).status_code == 403
    client.force_login(actors.outsider)
    assert client.get(_url(issued.enrollment_token, route)).status_code == 404
    client.logout()
    assert client.get(_url(issued.enrollment_token, route)).status_code == 302  # to sign in


def test_instructions_are_e_mailed_and_audited(client, actors, issue_token):
    issued = issue_token(employee=actors.employee)
    client.force_login(actors.admin)
    page = client.get(_url(issued.enrollment_token)).content.decode()
    assert 'value="erin@acme.test"' in page  # the bound employee's address, ready to send
    response = client.post(_url(issued.enrollment_token, "send/"), {"email": "erin@acme.test"})
    assert response.status_code == 302 and response.url == _url(issued.enrollment_token)
    (message,) = mail.outbox
    assert message.to == ["erin@acme.test"] and "Acme" in message.subject
    assert json.dumps(issued.qr_payload, separators=(",", ":")) in message.body
    assert "/portal/enroll/" in message.body
    event = AuditEvent.objects.get(action="enrollment_token.instructions_sent")
    assert event.details == {"prefix": issued.enrollment_token.prefix, "email": "erin@acme.test"}
    assert event.actor_label == actors.admin.email
    assert "Enrollment instructions sent to erin@acme.test" in client.get(response.url).content.decode()


def test_an_unbound_token_goes_to_any_valid_address(client, actors, issue_token):
    issued = issue_token()
    client.force_login(actors.helpdesk)
    response = client.post(_url(issued.enrollment_token, "send/"), {"email": "new.hire@example.com"})
    assert response.status_code == 302 and mail.outbox[0].to == ["new.hire@example.com"]


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b@c.test", "x" * 250 + "@a.test"])
def test_a_bad_address_is_refused_in_place_and_nothing_is_sent(client, actors, issue_token, email):
    issued = issue_token()
    client.force_login(actors.admin)
    response = client.post(_url(issued.enrollment_token, "send/"), {"email": email})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="instructions-email-error"' in html and 'aria-invalid="true"' in html
    assert not mail.outbox and not AuditEvent.objects.filter(action="enrollment_token.instructions_sent").exists()


def test_a_bound_token_goes_to_its_employee_only(client, actors, issue_token):
    issued = issue_token(employee=actors.employee)
    client.force_login(actors.admin)
    response = client.post(_url(issued.enrollment_token, "send/"), {"email": "someone.else@example.com"})
    assert response.status_code == 400 and "erin@acme.test" in response.content.decode()
    assert not mail.outbox and not AuditEvent.objects.filter(action="enrollment_token.instructions_sent").exists()


def test_sending_is_rate_limited_with_a_clear_message(client, actors, issue_token):
    issued = issue_token()
    client.force_login(actors.admin)
    client.post(_url(issued.enrollment_token, "send/"), {"email": "a@example.com"})
    again = client.post(_url(issued.enrollment_token, "send/"), {"email": "a@example.com"})
    assert again.status_code == 429 and "less than a minute ago" in again.content.decode()
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="enrollment_token.instructions_sent").count() == 1


def test_a_mail_server_failure_says_so_and_records_nothing(client, actors, issue_token, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    issued = issue_token()
    client.force_login(actors.admin)
    response = client.post(_url(issued.enrollment_token, "send/"), {"email": "a@example.com"})
    assert response.status_code == 503 and "could not be sent" in response.content.decode()
    assert not AuditEvent.objects.filter(action="enrollment_token.instructions_sent").exists()


def test_sending_for_a_revoked_token_is_refused(client, actors, issue_token):
    issued = issue_token()
    enrollment_token_revoke(enrollment_token=issued.enrollment_token, actor=SYSTEM)
    client.force_login(actors.admin)
    response = client.post(_url(issued.enrollment_token, "send/"), {"email": "a@example.com"})
    assert response.status_code == 410 and not mail.outbox


def test_sending_refuses_a_get_and_the_wrong_role(client, actors, issue_token):
    issued = issue_token()
    client.force_login(actors.admin)
    assert client.get(_url(issued.enrollment_token, "send/")).status_code == 405
    client.force_login(actors.auditor)
    assert client.post(_url(issued.enrollment_token, "send/"), {"email": "a@example.com"}).status_code == 403
    assert not mail.outbox


def test_the_list_links_a_usable_token_to_its_page_only(client, actors, issue_token):
    usable = issue_token()
    revoked = issue_token()
    enrollment_token_revoke(enrollment_token=revoked.enrollment_token, actor=SYSTEM)
    client.force_login(actors.admin)
    html = client.get("/console/enrollment/").content.decode()
    assert f'href="{_url(usable.enrollment_token)}"' in html
    assert f'href="{_url(revoked.enrollment_token)}"' not in html


def test_an_android_token_is_shared_alike_with_its_link(client, actors):
    connect(actors.org)
    record = android_token(actors.org)
    client.force_login(actors.admin)
    html = client.get(_url(record)).content.decode()
    assert 'data-copy="#link"' in html and "enterprise.google.com/android/enroll?et=GOOGLE" in html
    assert client.get(_url(record, "qr.png")).content.startswith(b"\x89PNG")
    assert "tap six times" in client.get(_url(record, "print/")).content.decode()
    client.post(_url(record, "send/"), {"email": "a@example.com"})
    assert "enterprise.google.com/android/enroll?et=GOOGLE" in mail.outbox[0].body
    enrollment_token_revoke(enrollment_token=record, actor=SYSTEM)
    assert client.get(_url(record, "qr.svg")).status_code == 410
