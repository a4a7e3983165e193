"""End to end over HTTP: the operator rotates the server's signing key with the management command,
the reference agent's command line checks in against the real web server, verifies the rollover
statement, moves its pin, and applies the next policy under the new key; a v1 agent keeps its pin."""

import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rotation_rolls_the_reference_agent_over_and_a_v1_agent_keeps_its_key(live_mdm, actors, tmp_path):
    phone, old_phone = tmp_path / "phone", tmp_path / "old-phone"
    for state in (phone, old_phone):
        made = json.loads(live_mdm.manage("create_enrollment_token", "--org", "Acme", "--json"))
        live_mdm.agent(state, "enroll", "--qr-payload", json.dumps(made["qr_payload"]))
        live_mdm.agent(state, "sync")
    old_kid = json.loads(live_mdm.agent(phone, "status").stdout)["pinned_kid"]

    rotated = live_mdm.manage("rotate_signing_key")
    new_kid = rotated.split("active key: ")[1].split()[0]
    assert new_kid != old_kid

    checked = live_mdm.agent(phone, "checkin")
    assert f"signing key rolled over: now pinning {new_kid} (was {old_kid})" in checked.stdout
    assert json.loads(live_mdm.agent(phone, "status").stdout)["pinned_kid"] == new_kid
    assert "policy 2 applied" in live_mdm.agent(phone, "sync").stdout

    v1 = live_mdm.agent(old_phone, "--protocol", "1.0", "checkin")
    assert "rolled over" not in v1.stdout
    assert json.loads(live_mdm.agent(old_phone, "status").stdout)["pinned_kid"] == old_kid
    assert "policy 1 applied" in live_mdm.agent(old_phone, "--protocol", "1.0", "sync").stdout

    listed = live_mdm.manage("retire_signing_key")
    assert f"{old_kid}  previous  1 device(s) pin it" in listed
    assert f"{new_kid}  active    1 device(s) pin it" in listed
