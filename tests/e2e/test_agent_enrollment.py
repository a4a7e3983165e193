"""End to end: a token made by the management command, the reference agent's command line
enrolling and checking in over HTTP against the real web server, and the device in the admin
API's list."""

import json
import urllib.request

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def admin_get(live_mdm, token: str, path: str):
    request = urllib.request.Request(live_mdm.url + path, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_the_reference_agent_enrolls_checks_in_and_shows_up(live_mdm, actors, tmp_path):
    made = json.loads(live_mdm.manage("create_enrollment_token", "--org", "Acme", "--json"))
    payload = made["qr_payload"]
    assert payload["server"] == live_mdm.url

    state = tmp_path / "phone"
    enrolled = live_mdm.agent(state, "enroll", "--qr-payload", json.dumps(payload), "--model", "Pixel 8")
    assert "enrolled: device" in enrolled.stdout and "Acme" in enrolled.stdout
    # The private keys stayed on the device, readable by its owner only.
    assert (state / "keys" / "signing.key").stat().st_mode & 0o077 == 0

    checked = live_mdm.agent(state, "checkin")
    assert "checked in: policy version 1, 0 command(s) pending" in checked.stdout
    status = json.loads(live_mdm.agent(state, "status").stdout)
    assert status["pinned_from_qr"] is True and status["organization"] == "Acme"

    devices = admin_get(live_mdm, actors.token(actors.admin), "/api/v1/devices/")["results"]
    (device,) = devices
    assert device["id"] == status["device_id"]
    assert device["model"] == "Pixel 8" and device["container_state"] == "active"
    assert device["last_seen_at"] is not None
    # Another organization sees nothing of it.
    assert admin_get(live_mdm, actors.token(actors.outsider), "/api/v1/devices/")["results"] == []

    # The same token cannot enroll a second device; a retired device cannot come back.
    second = live_mdm.agent(tmp_path / "tablet", "enroll", "--qr-payload", json.dumps(payload), check=False)
    assert second.returncode == 1 and "enrollment_token_used" in second.stderr
    assert "is retired" in live_mdm.agent(state, "unenroll").stdout
    again = live_mdm.agent(state, "checkin", check=False)
    assert again.returncode == 1 and "device_retired" in again.stderr


def test_the_agent_refuses_a_server_that_does_not_match_the_qr_pin(live_mdm, actors, tmp_path):
    made = json.loads(live_mdm.manage("create_enrollment_token", "--org", "Acme", "--json"))
    forged = {**made["qr_payload"], "pin": "A" * 43}
    result = live_mdm.agent(tmp_path / "phone", "enroll", "--qr-payload", json.dumps(forged), check=False)
    assert result.returncode == 1 and "does not match the pin" in result.stderr
    # The token was never sent, so it is still usable.
    from devices.models import EnrollmentToken

    assert EnrollmentToken.objects.get(pk=made["id"]).status == "usable"


def test_the_agents_command_line_enforces_the_policy(live_mdm, actors, tmp_path):
    from personas.models import Persona
    from personas.services import persona_update, spec_of

    persona = Persona.objects.get(organization=actors.org, is_default=True)
    spec = spec_of(persona)
    spec["apps"] = [{"id": "com.acme.mail", "install": "required", "min_version": "3.0", "signing_cert_sha256": []}]
    persona_update(persona=persona, spec=spec)
    made = json.loads(live_mdm.manage("create_enrollment_token", "--org", "Acme", "--json"))
    state = tmp_path / "phone"
    live_mdm.agent(state, "enroll", "--qr-payload", json.dumps(made["qr_payload"]))
    assert "policy 1 applied; container active" in live_mdm.agent(state, "sync").stdout
    assert (
        "allowed"
        in live_mdm.agent(state, "install-app", "com.acme.mail", "--version", "3.1", "--cert", "a" * 64).stdout
    )
    refused = live_mdm.agent(state, "install-app", "com.other.app", "--version", "1", "--cert", "a" * 64, check=False)
    assert refused.returncode == 3 and "not on the work allowlist" in refused.stderr
    refused = live_mdm.agent(state, "share", "--channel", "clipboard", "--from", "work", "--to", "personal",
                             "--text", "secret", check=False)  # fmt: skip
    assert refused.returncode == 3 and "does not allow clipboard from work to personal" in refused.stderr
    allowed = live_mdm.agent(state, "share", "--channel", "clipboard", "--from", "personal", "--to", "work",
                             "--text", "an address")  # fmt: skip
    assert "allowed" in allowed.stdout
    live_mdm.agent(state, "put-file", "--side", "work", "memo.txt", "--text", "confidential")
    assert b"confidential" not in (state / "corporate" / "memo.txt").read_bytes()
    assert live_mdm.agent(state, "get-file", "--side", "work", "memo.txt").stdout == "confidential"
