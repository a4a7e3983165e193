"""Signing-key rollover for enrolled devices (agent protocol v1.1, docs/agent-protocol-v1.1.md),
end to end with the reference agent: rotation, check-in, statement, pin moved, next policy."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.management import CommandError, call_command

from agent.device import Device as AgentDevice
from agent.device import key_pin
from agent.policy import PolicyRejected
from agent.rollover import RolloverRejected
from agent.transport import AgentError, Unreachable
from devices.models import Device, PolicyVersion
from devices.policy import policy_issue
from devices.signing_keys import rollover_offer
from mdm.models import AuditEvent, SigningKey
from mdm.signing import (
    ROLLOVER_TYP,
    b64url,
    jwk,
    jwks,
    okp_thumbprint,
    private_key,
    rollover_statement,
    sign_jwt,
    signing_key_current,
    verify_jwt,
)
from tests.agents import ClientTransport


def rotate() -> tuple[str, str]:
    old = signing_key_current().kid
    call_command("rotate_signing_key")
    return old, signing_key_current().kid


def server_pin(agent) -> str:
    return Device.objects.get(pk=agent.identity["device_id"]).signing_kid


def reloaded(agent) -> AgentDevice:
    """The same device after a restart: everything it knows comes from its state folder."""
    return AgentDevice(agent.state.root, transport=agent.transport)


class Rewriting(ClientTransport):
    """A man in the middle: rewrites the check-in answer the agent receives."""

    def __init__(self, rewrite):
        super().__init__()
        self.rewrite = rewrite

    def request(self, method, url, **kwargs):
        reply = super().request(method, url, **kwargs)
        if url.endswith("/checkin"):
            self.rewrite(reply.body)
        return reply


def test_it_rolls_an_enrolled_agent_over_and_the_next_policy_verifies_under_the_new_key(enrolled):
    assert enrolled.sync_policy() == 1
    old_kid, new_kid = rotate()
    assert enrolled.pinned_key["kid"] == old_kid and server_pin(enrolled) == old_kid

    answer = enrolled.checkin()

    offer = answer["signing_key_rollover"]
    assert offer["new_kid"] == new_kid
    header = jwt.get_unverified_header(offer["statement"])
    assert header == {"alg": "EdDSA", "kid": old_kid, "typ": ROLLOVER_TYP}
    # The pin moved, on disk (a restarted agent trusts the new key only), and the server knows.
    restarted = reloaded(enrolled)
    assert restarted.pinned_key["kid"] == new_kid
    assert [k["kid"] for k in restarted.identity["signing_keys"]] == [new_kid]
    assert restarted.identity["pin"] == key_pin(jwk(SigningKey.objects.get(kid=new_kid)))
    assert server_pin(enrolled) == new_kid
    event = AuditEvent.objects.get(action="device.signing_key_rolled_over", target_id=enrolled.identity["device_id"])
    assert event.details == {"old_kid": old_kid, "new_kid": new_kid} and event.actor_type == "device"

    # The acknowledgement issued a policy signed with the new key; the agent applies it.
    latest = PolicyVersion.objects.filter(device_id=enrolled.identity["device_id"]).latest("version")
    assert latest.version == 2 and jwt.get_unverified_header(latest.jws)["kid"] == new_kid
    assert restarted.sync_policy() == 2
    assert "signing_key_rollover" not in restarted.checkin()
    # And the old key is no longer trusted: a policy it signs is refused.
    forged = jwt.encode(
        {"iss": settings.MDM_ISSUER, "aud": enrolled.identity["device_id"], "iat": int(time.time()),
         "policy": {**restarted.policy, "version": 3}},
        private_key(SigningKey.objects.get(kid=old_kid)), algorithm="EdDSA",
        headers={"kid": old_kid, "typ": "mdm-policy+jwt"},
    )  # fmt: skip
    with pytest.raises(PolicyRejected, match="not pinned"):
        from agent.policy import verify_policy

        verify_policy(
            forged,
            pinned_keys=restarted.identity["signing_keys"],
            device_id=restarted.identity["device_id"],
            issuer=restarted.identity["issuer"],
            applied=2,
        )


def test_it_rolls_over_the_run_loop_of_a_long_running_agent(enrolled):
    enrolled.sync_policy()
    _, new_kid = rotate()
    assert enrolled.run(wait=0, max_seconds=0.5, sleep=lambda s: None) == "time is up"
    assert enrolled.pinned_key["kid"] == new_kid and server_pin(enrolled) == new_kid
    assert enrolled.identity["applied_policy_version"] == 2  # the run loop fetched the re-signed policy


def test_it_offers_the_rollover_to_an_agent_that_was_offline_during_the_whole_rotation(agent_factory):
    online, offline = agent_factory(), agent_factory()
    first_kid = signing_key_current().kid
    rotate()
    online.checkin()
    _, last_kid = rotate()  # a second rotation, still without the offline device
    online.checkin()
    assert online.pinned_key["kid"] == last_kid
    assert server_pin(offline) == first_kid
    # The statement is minted when the device comes back, so it is fresh, and goes straight from
    # the key it pinned to the active one.
    offline.checkin()
    assert offline.pinned_key["kid"] == last_kid and server_pin(offline) == last_kid
    assert [r["old_kid"] for r in offline.identity["key_rollovers"]] == [first_kid]
    assert offline.sync_policy() == 2


def test_a_lost_acknowledgement_is_sent_again_at_the_next_offer(enrolled):
    _, new_kid = rotate()
    real_request = ClientTransport.request
    calls = []

    def flaky(self, method, url, **kwargs):
        if url.endswith("/signing-key") and not calls:
            calls.append(url)
            raise Unreachable("connection reset")
        return real_request(self, method, url, **kwargs)

    enrolled.transport.request = flaky.__get__(enrolled.transport)
    with pytest.raises(Unreachable):
        enrolled.checkin()
    # Moved on the device, not yet on the server: the server offers again, the agent re-acks.
    assert enrolled.pinned_key["kid"] == new_kid and server_pin(enrolled) != new_kid
    enrolled.checkin()
    assert server_pin(enrolled) == new_kid
    assert enrolled.sync_policy() == 2


def _forge(device_id: str, *, signer: Ed25519PrivateKey, kid: str) -> str:
    """A well-formed statement for a brand-new key, signed by `signer` under the name `kid`."""
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    new_jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(raw),
        "kid": okp_thumbprint(raw),
        "use": "sig",
        "alg": "EdDSA",
    }
    now = int(time.time())
    claims = {
        "iss": settings.MDM_ISSUER, "aud": device_id, "iat": now, "exp": now + 3600, "jti": "x" * 16,
        "old_kid": kid, "new_kid": new_jwk["kid"], "new_key": new_jwk,
    }  # fmt: skip
    return jwt.encode(claims, signer, algorithm="EdDSA", headers={"kid": kid, "typ": ROLLOVER_TYP})


def test_it_refuses_a_rollover_statement_signed_by_a_foreign_key(agent_factory):
    def mitm(body):
        device_id = agent.identity["device_id"]
        pinned = agent.pinned_key["kid"]
        # An impostor key that claims to be the pinned one.
        statement = _forge(device_id, signer=Ed25519PrivateKey.generate(), kid=pinned)
        new_kid = jwt.decode(statement, options={"verify_signature": False})["new_kid"]
        body["signing_key_rollover"] = {"new_kid": new_kid, "statement": statement}

    agent = agent_factory()
    agent.transport = Rewriting(mitm)
    before = dict(agent.identity)
    agent.checkin()
    assert agent.identity["pin"] == before["pin"] and agent.identity["signing_keys"] == before["signing_keys"]
    assert "do not verify" in agent.identity["rollover_refused"]["reason"]
    assert server_pin(agent) == signing_key_current().kid
    assert not AuditEvent.objects.filter(action="device.signing_key_rolled_over").exists()
    assert agent.sync_policy() == 1  # still served, still verifying under its pin


@pytest.mark.parametrize(
    "case",
    ["foreign_kid", "other_device", "expired", "wrong_typ", "wrong_issuer", "thumbprint_mismatch", "malformed"],
)
def test_it_refuses_a_bad_rollover_statement_and_keeps_its_pin(agent_factory, case):
    agent = agent_factory()
    old_kid, new_kid = rotate()
    old, new = SigningKey.objects.get(kid=old_kid), SigningKey.objects.get(kid=new_kid)
    device_id = agent.identity["device_id"]
    now = int(time.time())
    real = jwt.decode(rollover_statement(old=old, new=new, device_id=device_id), options={"verify_signature": False})

    def signed(claims, *, typ=ROLLOVER_TYP, key=old):
        return jwt.encode(claims, private_key(key), algorithm="EdDSA", headers={"kid": key.kid, "typ": typ})

    statement = {
        "foreign_kid": lambda: signed(real, key=new),  # signed by a real server key, but not the pinned one
        "other_device": lambda: rollover_statement(
            old=old, new=new, device_id=str(Device.objects.exclude(pk=device_id).first().pk)
        ),
        "expired": lambda: signed({**real, "iat": now - 7200, "exp": now - 3600}),
        "wrong_typ": lambda: signed(real, typ="mdm-policy+jwt"),
        "wrong_issuer": lambda: signed({**real, "iss": "https://evil.example"}),
        "thumbprint_mismatch": lambda: signed({**real, "new_key": {**real["new_key"], "x": b64url(bytes(32))}}),
        "malformed": lambda: "not.a.jws",
    }
    agent_factory()  # another device, for "other_device"
    with pytest.raises(RolloverRejected):
        agent.accept_rollover({"new_kid": new_kid, "statement": statement[case]()})
    assert agent.pinned_key["kid"] == old_kid and reloaded(agent).pinned_key["kid"] == old_kid
    assert server_pin(agent) == old_kid


def test_an_old_v1_agent_ignores_rollovers_and_keeps_working_until_the_key_is_retired(issue_token, tmp_path):
    v1 = AgentDevice(tmp_path / "v1", transport=ClientTransport(), protocol="1.0")
    qr = issue_token().qr_payload
    v1.enroll(server=qr["server"], token=qr["token"], pin=qr["pin"])
    assert v1.sync_policy() == 1
    old_kid, _ = rotate()

    answer = v1.checkin()
    assert "signing_key_rollover" not in answer  # the v1 answer, exactly: nothing new to ignore
    assert set(answer) == {"policy_version", "commands_pending", "poll_interval_seconds", "server_time"}
    assert v1.pinned_key["kid"] == old_kid and server_pin(v1) == old_kid
    # Its policies keep being signed with its pinned key, and its access tokens keep working.
    policy_issue(device=Device.objects.get(pk=v1.identity["device_id"]))
    assert v1.sync_policy() == 2

    call_command("retire_signing_key", f"--kid={old_kid}", "--force")
    # Now it can no longer be reached: nothing the server signs verifies under its pin.
    policy_issue(device=Device.objects.get(pk=v1.identity["device_id"]))
    with pytest.raises(PolicyRejected, match="not pinned"):
        v1.sync_policy()
    assert v1.identity["applied_policy_version"] == 2


def test_the_server_offers_nothing_once_the_pinned_key_is_retired(enrolled):
    old_kid, _ = rotate()
    device = Device.objects.get(pk=enrolled.identity["device_id"])
    assert rollover_offer(device=device) is not None
    call_command("retire_signing_key", f"--kid={old_kid}", "--force")
    assert rollover_offer(device=device) is None
    assert "signing_key_rollover" not in enrolled.checkin()
    assert enrolled.pinned_key["kid"] == old_kid
    policy_issue(device=device)
    with pytest.raises(PolicyRejected, match="not pinned"):
        enrolled.sync_policy()


def test_a_rotation_racing_the_acknowledgement_still_ends_on_the_active_key(enrolled):
    rotate()
    offer = rollover_offer(device=Device.objects.get(pk=enrolled.identity["device_id"]))
    _, last_kid = rotate()  # between the offer and the agent's answer
    enrolled.accept_rollover(offer)  # moves to the key now `previous`, which the server accepts
    assert server_pin(enrolled) == offer["new_kid"] != last_kid
    enrolled.checkin()  # offered the next step, signed by the key it pins now
    assert enrolled.pinned_key["kid"] == last_kid and server_pin(enrolled) == last_kid
    assert enrolled.sync_policy() == 3


def test_retiring_a_key_devices_still_pin_without_confirmation_is_refused(agent_factory, actors):
    agents = [agent_factory(), agent_factory()]
    old_kid, _ = rotate()
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match=r"2 enrolled device.*no longer be reached.*--force"):
        call_command("retire_signing_key", f"--kid={old_kid}")
    key = SigningKey.objects.get(kid=old_kid)
    assert key.state == "previous" and key.wrapped_private_key is not None
    assert AuditEvent.objects.count() == events
    assert old_kid in {k["kid"] for k in jwks()["keys"]}

    # Once every device has rolled over, no confirmation is needed.
    token = sign_jwt({"sub": "x", "exp": int(time.time()) + 60})  # signed by the new key
    old_token = jwt.encode(
        {"sub": "y", "exp": int(time.time()) + 60}, private_key(key), algorithm="EdDSA", headers={"kid": old_kid}
    )
    for agent in agents:
        agent.checkin()
    call_command("retire_signing_key", f"--kid={old_kid}")
    key.refresh_from_db()
    assert key.state == "retired" and key.wrapped_private_key is None and key.retired_at is not None
    assert old_kid not in {k["kid"] for k in jwks()["keys"]}
    assert verify_jwt(token)["sub"] == "x"
    with pytest.raises(jwt.InvalidTokenError):
        verify_jwt(old_token)  # what a retired (perhaps compromised) key signs is refused
    for org in (actors.org, actors.other_org):
        event = AuditEvent.objects.get(organization=org, action="signing_key.retired")
        assert event.details == {"kid": old_kid, "devices_pinning": 0, "forced": False}
    for agent in agents:
        assert agent.sync_policy() == 2


def test_the_active_key_and_a_retired_key_cannot_be_retired(enrolled):
    active = signing_key_current().kid
    with pytest.raises(CommandError, match="active key cannot be retired"):
        call_command("retire_signing_key", f"--kid={active}")
    old_kid, _ = rotate()
    enrolled.checkin()
    call_command("retire_signing_key", f"--kid={old_kid}")
    with pytest.raises(CommandError, match="already retired"):
        call_command("retire_signing_key", f"--kid={old_kid}")
    with pytest.raises(CommandError, match="No such signing key"):
        call_command("retire_signing_key", "A" * 43)


def test_the_acknowledgement_accepts_only_a_key_the_server_signs_with(enrolled):
    retired_kid, _ = rotate()
    enrolled.checkin()  # rolls over, so the first key can be retired
    call_command("retire_signing_key", f"--kid={retired_kid}")
    old_kid, new_kid = rotate()
    moves = AuditEvent.objects.filter(action="device.signing_key_rolled_over")
    assert moves.count() == 1
    for kid, status, code in [
        (old_kid, 200, None),  # already pinned: a no-op
        ("A" * 43, 409, "rollover_not_offered"),
        (retired_kid, 409, "rollover_not_offered"),
        ("not a kid", 400, "invalid"),
        (43, 400, "invalid"),
    ]:
        try:
            reply = enrolled.call("POST", "signing-key", {"kid": kid})
        except AgentError as exc:
            assert (exc.status, exc.code) == (status, code), kid
            assert exc.problem["status"] == status
        else:
            assert status == 200 and reply.body["kid"] == old_kid
    assert server_pin(enrolled) == old_kid
    assert moves.count() == 1
    reply = enrolled.call("POST", "signing-key", {"kid": new_kid})
    again = enrolled.call("POST", "signing-key", {"kid": new_kid})
    assert reply.body == again.body == {"kid": new_kid, "policy_version": 3}
    assert moves.count() == 2


def test_the_checkin_of_an_agent_pinning_the_active_key_costs_no_extra_query(enrolled, django_assert_max_num_queries):
    enrolled.checkin()
    enrolled.access_token()
    with django_assert_max_num_queries(2):
        answer = enrolled.checkin()
    assert "signing_key_rollover" not in answer


def test_the_rollover_migration_renames_rotated_out_keys_to_previous(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before = [("mdm", "0003_accounts")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldKey = old_apps.get_model("mdm", "SigningKey")
    from django.utils import timezone

    rotated = timezone.now()
    OldKey.objects.create(
        kid="old", public_key=b"1" * 32, wrapped_private_key=b"w", state="retired", retired_at=rotated
    )
    OldKey.objects.create(kid="new", public_key=b"2" * 32, wrapped_private_key=b"w", state="active")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    old = SigningKey.objects.get(kid="old")
    assert (old.state, old.rotated_at, old.retired_at) == ("previous", rotated, None)
    assert SigningKey.objects.get(kid="new").state == "active"


def test_the_reference_agent_plays_only_the_protocol_versions_it_knows(tmp_path):
    with pytest.raises(ValueError, match="not one of"):
        AgentDevice(tmp_path / "x", protocol="2.0")


@pytest.mark.parametrize("capabilities", ["signing_key_rollover", ["Signing Key"], [1], ["x"] * 33])
def test_a_malformed_capabilities_list_is_a_400_naming_the_field(enrolled, capabilities):
    body = {"container_state": "active", "os_version": "14", "agent_version": "1.0.0", "capabilities": capabilities}
    with pytest.raises(AgentError) as refused:
        enrolled.call("POST", "checkin", body)
    assert refused.value.status == 400
    assert any(field.startswith("capabilities") for field in refused.value.problem["errors"])
    assert Device.objects.get(pk=enrolled.identity["device_id"]).last_seen_at is None


def test_unknown_capabilities_are_ignored(enrolled):
    body = {"container_state": "active", "os_version": "14", "agent_version": "1.0.0", "capabilities": ["teleport"]}
    rotate()
    assert "signing_key_rollover" not in enrolled.call("POST", "checkin", body).body


def test_retire_signing_key_takes_a_kid_that_starts_with_a_dash(db, capsys):
    # A kid is base64url: about one in 32 starts with "-", which argparse would read as an option.
    signing_key_current()
    kid = "-" + "B" * 42
    SigningKey.objects.create(kid=kid, public_key=b"\x01" * 32, wrapped_private_key=b"x", state="previous")
    call_command("retire_signing_key", f"--kid={kid}")
    assert SigningKey.objects.get(kid=kid).state == "retired"
    assert f"retired key: {kid}" in capsys.readouterr().out
