"""The reference agent enforces what the signed policy says: the work allowlist and the
data-sharing rules, both ways, and keeps work files encrypted at rest."""

import hashlib

import pytest

from agent.container import ContainerError
from personas.services import persona_create

CERT = "ab" * 32
OTHER_CERT = "cd" * 32


@pytest.fixture
def device(actors, agent_factory):
    persona = persona_create(
        organization=actors.org,
        name="Field staff",
        preset="byod-basic",
        changes={
            "apps": [
                {"id": "com.acme.mail", "install": "required", "min_version": "3.2", "signing_cert_sha256": [CERT]},
                {"id": "com.acme.chat", "install": "available"},
                {"id": "com.games.poker", "install": "blocked"},
            ],
            "data_sharing": {
                "clipboard": {"max_chars": 20},
                "contacts": {"exemptions": {"work_to_personal": ["com.acme.chat"]}},
            },
        },
    )
    agent = agent_factory(persona=persona)
    agent.sync_policy()
    return agent


def refused(call, reason):
    with pytest.raises(ContainerError, match=reason):
        call()


def test_the_allowlist(device):
    assert "allowed" in device.install_app("com.acme.mail", version="3.2.1", cert_sha256=CERT)
    assert "allowed" in device.install_app("com.acme.chat", version="1", cert_sha256=OTHER_CERT)  # any signer
    refused(lambda: device.install_app("com.acme.mail", version="3.1.9", cert_sha256=CERT), "older than")
    refused(lambda: device.install_app("com.acme.mail", version="4", cert_sha256=OTHER_CERT), "certificate")
    refused(lambda: device.install_app("com.games.poker", version="1", cert_sha256=CERT), "blocked")
    refused(lambda: device.install_app("com.unknown.app", version="1", cert_sha256=CERT), "not on the work allowlist")
    assert [app["id"] for app in device.container.apps()] == ["com.acme.mail", "com.acme.chat"]
    # ...and the server learns what is installed at the next check-in.
    device.checkin()
    from devices.models import Device

    assert [a["id"] for a in Device.objects.get(pk=device.identity["device_id"]).work_apps] == [
        "com.acme.mail",
        "com.acme.chat",
    ]


def test_sharing_both_ways(device):
    refused(lambda: device.share(channel="clipboard", from_side="work", to_side="personal", text="secret"),
            "does not allow clipboard from work to personal")  # fmt: skip
    assert "allowed" in device.share(channel="clipboard", from_side="personal", to_side="work", text="an address")
    refused(lambda: device.share(channel="clipboard", from_side="personal", to_side="work", text="x" * 21),
            "At most 20 characters")  # fmt: skip
    assert "allowed" in device.share(channel="files", from_side="personal", to_side="work", text="a pdf")
    refused(lambda: device.share(channel="files", from_side="work", to_side="personal", text="a pdf"), "files")
    refused(lambda: device.share(channel="contacts", from_side="personal", to_side="work", text="bob"), "contacts")
    refused(lambda: device.share(channel="contacts", from_side="work", to_side="personal", text="bob"), "contacts")
    assert "exempt" in device.share(
        channel="contacts", from_side="work", to_side="personal", text="bob", app="com.acme.chat"
    )


def test_work_files_are_encrypted_at_rest_and_personal_files_are_not(device):
    device.put_file("work", "board-minutes.txt", b"merger with Initech")
    device.put_file("personal", "holiday.txt", b"beach photos")
    on_disk = (device.container.corporate / "board-minutes.txt").read_bytes()
    assert b"merger" not in on_disk
    assert device.container.get("work", "board-minutes.txt") == b"merger with Initech"
    assert (device.container.personal / "holiday.txt").read_bytes() == b"beach photos"
    # The app records are encrypted too.
    device.install_app("com.acme.chat", version="1", cert_sha256=CERT)
    assert b"com.acme.chat" not in (device.container.corporate / ".apps").read_bytes()


def test_nothing_works_on_the_work_side_before_a_policy(agent_factory):
    agent = agent_factory()
    refused(lambda: agent.put_file("work", "x.txt", b"x"), "No policy")
    refused(lambda: agent.install_app("com.acme.mail", version="1", cert_sha256=CERT), "No policy")
    assert agent.put_file("personal", "x.txt", b"x")


def test_a_locked_container_refuses_access_until_unlocked(device):
    device.put_file("work", "notes.txt", b"n")
    device.container.lock()
    refused(lambda: device.container.get("work", "notes.txt"), "locked")
    device.container.unlock()
    assert device.container.get("work", "notes.txt") == b"n"


def test_a_wipe_erases_the_work_side_and_not_one_personal_byte(device):
    device.put_file("work", "notes.txt", b"n")
    device.put_file("personal", "diary.txt", b"dear diary")
    device.install_app("com.acme.chat", version="1", cert_sha256=CERT)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in device.container.personal.iterdir()}
    device.container.wipe()
    assert not device.container.corporate.exists() and not device.container.key_path.exists()
    assert device.container.status == "wiped" and device.policy is None
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in device.container.personal.iterdir()}
    assert after == before
