"""Container keys: wrapped under the KEK, sealed to the device with HPKE, rotated, destroyed."""

import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from django.core.management import call_command

from agent.device import b64url_decode
from agent.transport import AgentError
from devices.commands.rotate_container_key import container_key_rotate, container_keys_rotate_due
from devices.keys import container_key_active
from devices.models import Command, ContainerKey, Device
from devices.services import device_retire
from mdm.keyring import Keyring

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def test_enrollment_creates_one_active_key_stored_only_wrapped(enrolled):
    key = container_key_active(enrolled.server_device.pk)
    assert key.version == 1 and key.state == "active"
    blob = bytes(key.wrapped_key)
    assert len(blob) == 1 + 8 + 12 + 32 + 16
    # It opens only with its own id and version as associated data.
    from mdm.keyring import keyring

    with pytest.raises(Exception, match="does not open"):
        keyring().unwrap(blob, context=f"container-key|{key.pk}|2")


def test_the_agent_unseals_its_key_with_hpke(enrolled):
    fetched = enrolled.fetch_container_key()
    key = container_key_active(enrolled.server_device.pk)
    assert fetched == {"key_id": str(key.pk), "version": 1}
    assert len(enrolled.container.key_path.read_bytes()) == 32


def test_the_sealed_key_does_not_open_with_another_info_or_device_key(enrolled):
    body = enrolled.call("GET", "container-key").body
    assert body["suite"] == "HPKE-Base/DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM"
    sealed = b64url_decode(body["sealed"])
    device_id = enrolled.identity["device_id"]
    good = f"mdm/container-key/v1|{device_id}|{body['key_id']}|{body['version']}".encode()
    assert len(SUITE.decrypt(sealed, enrolled.state.encryption_key(), info=good)) == 32
    for wrong in (good.replace(b"|1", b"|2"), good.replace(device_id.encode(), b"another-device")):
        with pytest.raises(InvalidTag):
            SUITE.decrypt(sealed, enrolled.state.encryption_key(), info=wrong)
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    with pytest.raises(InvalidTag):
        SUITE.decrypt(sealed, X25519PrivateKey.generate(), info=good)


def test_a_destroyed_key_is_410_and_its_bytes_are_gone(enrolled):
    device = enrolled.server_device
    enrolled.call("GET", "container-key")
    from devices.keys import container_keys_destroy

    container_keys_destroy(device=device)
    key = ContainerKey.objects.get(device=device)
    assert key.state == "destroyed" and key.wrapped_key is None and key.destroyed_at is not None
    with pytest.raises(AgentError) as caught:
        enrolled.call("GET", "container-key")
    assert caught.value.status == 410 and caught.value.code == "container_key_destroyed"


def test_retiring_a_device_destroys_its_keys(enrolled):
    device_retire(device=enrolled.server_device, reason="test")
    assert set(ContainerKey.objects.filter(device=enrolled.server_device).values_list("state", flat=True)) == {
        "destroyed"
    }


def test_rotation_retires_the_old_key_and_tells_the_device(enrolled):
    device = enrolled.server_device
    enrolled.sync_policy()
    enrolled.put_file("work", "notes.txt", b"quarterly numbers")
    new = container_key_rotate(device=device)
    old = ContainerKey.objects.get(device=device, version=1)
    assert (old.state, new.state, new.version) == ("retired", "active", 2)
    assert old.retired_at is not None and old.wrapped_key is not None
    command = Command.objects.get(device=device, type="rotate_container_key")
    assert command.payload == {"key_id": str(new.pk), "version": 2} and command.state == "queued"
    # The agent runs it: re-encrypts the container under the new key; nothing is lost.
    before = (enrolled.container.corporate / "notes.txt").read_bytes()
    ran = enrolled.poll()
    # The key first (it runs before), then the new policy version that names the new key.
    assert [(c["type"], c["result"]) for c in ran] == [
        ("rotate_container_key", "acknowledged"),
        ("apply_policy", "acknowledged"),
    ]
    assert enrolled.policy["encryption"]["key_version"] == 2
    assert (enrolled.container.corporate / "notes.txt").read_bytes() != before
    assert enrolled.container.get("work", "notes.txt") == b"quarterly numbers"
    assert enrolled.container.meta["key_version"] == 2


def test_only_keys_older_than_the_personas_interval_rotate(agent_factory, settings):
    from datetime import timedelta

    from django.utils import timezone

    fresh, due = agent_factory(), agent_factory()
    ContainerKey.objects.filter(device_id=due.identity["device_id"]).update(
        created_at=timezone.now() - timedelta(days=91)
    )
    ContainerKey.objects.filter(device_id=fresh.identity["device_id"]).update(
        created_at=timezone.now() - timedelta(days=89)
    )
    call_command("rotate_container_keys")
    assert container_key_active(due.identity["device_id"]).version == 2
    assert container_key_active(fresh.identity["device_id"]).version == 1
    assert container_keys_rotate_due() == 0


def test_a_device_being_wiped_or_rotated_meanwhile_is_left_alone(enrolled):
    from devices.wipe import corporate_wipe_request

    first = container_key_active(enrolled.server_device.pk)
    assert container_key_rotate(device=enrolled.server_device, expected_key_id=first.pk).version == 2
    assert container_key_rotate(device=enrolled.server_device, expected_key_id=first.pk) is None  # stale
    corporate_wipe_request(device=enrolled.server_device, reason="lost")
    assert container_key_rotate(device=enrolled.server_device) is None
    assert container_key_active(enrolled.server_device.pk) is None


def test_kek_rotation_interrupted_half_way_and_run_again(agent_factory, settings, capsys):
    for _ in range(3):
        agent_factory()
    old, new = settings.MDM_KEK, os.urandom(32)
    settings.MDM_KEK, settings.MDM_KEK_PREVIOUS = new, [old]
    call_command("rotate_kek", "--limit", "2", "--batch-size", "1")
    out = capsys.readouterr().out
    assert "still under an older KEK" in out
    call_command("rotate_kek")
    assert "Every secret is wrapped under the current KEK" in capsys.readouterr().out
    # Without the old KEK at all, every secret still opens: the devices were never needed.
    settings.MDM_KEK_PREVIOUS = []
    ring = Keyring(current=new)
    from devices.keys import container_key_context

    for key in ContainerKey.objects.all():
        assert len(ring.unwrap(key.wrapped_key, context=container_key_context(key.pk, key.version))) == 32
    from mdm.signing import sign_jwt

    assert sign_jwt({"sub": "x"})
    agent = agent_factory()
    assert agent.fetch_container_key()["version"] == 1


def test_kek_rotation_without_the_old_kek_says_what_to_do(agent_factory, settings):
    from django.core.management.base import CommandError

    agent_factory()
    settings.MDM_KEK = os.urandom(32)
    with pytest.raises(CommandError, match="MDM_KEK_PREVIOUS"):
        call_command("rotate_kek")


def test_the_container_key_endpoint_is_per_device(agent_factory):
    first, second = agent_factory(), agent_factory()
    mine = first.call("GET", "container-key").body
    theirs = second.call("GET", "container-key").body
    assert mine["key_id"] != theirs["key_id"]
    assert Device.objects.count() == 2
