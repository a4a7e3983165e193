"""The console's enrollment page: issue a token shown once with its QR code; list and revoke."""

import json
import re

from devices.models import EnrollmentToken
from personas.models import Persona


def test_an_admin_issues_a_token_with_its_qr_code_and_the_agent_enrolls_with_it(client, actors, agent_factory):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    response = client.post(
        "/console/enrollment/",
        {"persona": str(persona.pk), "ownership": "personal", "uses": 1, "expires": "1d", "note": "Erin's phone"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "The token is stored hashed" in html
    assert "<svg" in html and "<script>" not in html
    payload = json.loads(re.search(r'id="payload" readonly value="([^"]+)"', html).group(1).replace("&quot;", '"'))
    assert payload["token"].startswith("mdmet_")
    # The token is not in the list afterwards.
    listing = client.get("/console/enrollment/").content.decode()
    assert payload["token"] not in listing and "Erin&#x27;s phone" in listing
    # It works: a device enrolls with the QR payload.
    agent = agent_factory(enroll=False)
    agent.enroll(server=payload["server"], token=payload["token"], pin=payload["pin"])
    assert EnrollmentToken.objects.get().status == "used"


def test_bad_input_is_shown_in_place(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    response = client.post(
        "/console/enrollment/",
        {"persona": str(persona.pk), "ownership": "personal", "uses": 0, "expires": "1d"},
    )
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not EnrollmentToken.objects.exists()


def test_helpdesk_issues_and_revokes_auditors_only_read(client, actors):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    form = {"persona": str(persona.pk), "ownership": "personal", "uses": 1, "expires": "1h"}
    client.force_login(actors.auditor)
    assert "Issue token" not in client.get("/console/enrollment/").content.decode()
    assert client.post("/console/enrollment/", form).status_code == 403
    client.force_login(actors.helpdesk)
    assert client.post("/console/enrollment/", form).status_code == 200
    token = EnrollmentToken.objects.get()
    client.force_login(actors.auditor)
    assert client.post(f"/console/enrollment/{token.pk}/revoke/").status_code == 403
    client.force_login(actors.helpdesk)
    assert client.post(f"/console/enrollment/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.status == "revoked"


def test_another_organizations_token_cannot_be_revoked(client, actors, issue_token):
    issued = issue_token()
    client.force_login(actors.outsider)
    assert client.post(f"/console/enrollment/{issued.enrollment_token.pk}/revoke/").status_code == 404
    assert issued.enrollment_token.prefix not in client.get("/console/enrollment/").content.decode()
