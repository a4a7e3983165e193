"""Console: bulk actions on the device list (lock, unlock, assign a persona, corporate wipe): the
confirmation step, what is skipped, who may, other organizations' devices, bad input, the wipe's
typed confirmation and the mass-wipe hold, and the audit events."""

import uuid

import pytest

from devices.choices import ContainerState, DeviceState
from devices.models import Command, Device, Wipe
from mdm.actors import SYSTEM
from mdm.models import AuditEvent
from personas.services import persona_create
from tests.devices.test_device_selectors import default_persona, make_device

URL = "/console/devices/bulk/"


def post(client, action, devices, **data):
    return client.post(URL, {"action": action, "device": [str(d.pk) for d in devices], **data})


def confirm(client, action, devices, **data):
    return post(client, action, devices, confirm="1", **data)


def message_of(client) -> str:
    page = client.get("/console/devices/").content.decode()
    return page.split('<ul class="messages"', 1)[1].split("</ul>", 1)[0] if '<ul class="messages"' in page else ""


def commands(devices, type_: str) -> int:
    return Command.objects.filter(device__in=devices, type=type_).count()


def audited(action: str, devices) -> set[str]:
    return set(AuditEvent.objects.filter(action=action, target_id__in=[str(d.pk) for d in devices]).values_list(
        "target_id", flat=True
    ))  # fmt: skip


def bulk_event(org) -> AuditEvent:
    return AuditEvent.objects.get(organization=org, action="devices.bulk_action")


@pytest.fixture
def phones(actors):
    return [make_device(actors.org, name=f"Phone {i}", container_state=ContainerState.ACTIVE) for i in range(3)]


def test_the_list_offers_each_role_only_the_actions_it_may_take(client, actors, phones):
    client.force_login(actors.owner)
    page = client.get("/console/devices/").content.decode()
    assert 'id="bulk-form"' in page and 'value="wipe"' in page and 'value="persona"' in page
    assert f'name="device" value="{phones[0].pk}" form="bulk-form"' in page and "Select Phone 0" in page
    assert 'src="/static/mdm/bulk.js" defer' in page
    client.force_login(actors.helpdesk)
    page = client.get("/console/devices/").content.decode()
    assert 'value="lock"' in page and 'value="unlock"' in page
    assert 'value="wipe"' not in page and 'value="persona"' not in page
    client.force_login(actors.auditor)
    page = client.get("/console/devices/").content.decode()
    assert "bulk-form" not in page and 'name="device"' not in page


def test_a_lock_lists_the_devices_first_then_locks_and_skips_the_locked_one(client, actors, phones):
    locked = make_device(actors.org, name="Locked phone", container_state=ContainerState.LOCKED)
    selection = [*phones, locked]
    client.force_login(actors.helpdesk)
    shown = post(client, "lock", selection)
    page = shown.content.decode()
    assert shown.status_code == 200 and "4 devices selected" in page
    assert all(device.name in page for device in selection)
    assert "1 device will be skipped" in page and "The work profile is already locked." in page
    assert 'name="confirm" value="1"' in page
    assert commands(selection, "lock_corporate") == 0
    assert not AuditEvent.objects.filter(action__contains="lock").exists()

    done = confirm(client, "lock", selection)
    assert done.status_code == 302 and done["Location"] == "/console/devices/"
    assert commands(phones, "lock_corporate") == 3 and commands([locked], "lock_corporate") == 0
    assert audited("device.lock_requested", selection) == {str(d.pk) for d in phones}
    event = bulk_event(actors.org)
    assert event.actor_label == actors.helpdesk.email
    assert event.details.items() >= {"action": "lock", "selected": 4, "done": 3, "held": 0, "skipped": 1}.items()
    assert set(event.details["device_ids"]) == {str(d.pk) for d in phones}
    text = message_of(client)
    assert "Lock sent to 3 devices; 1 skipped: The work profile is already locked. (Locked phone)" in text


def test_an_unlock_skips_the_devices_that_are_not_locked(client, actors, phones):
    locked = [make_device(actors.org, name=f"Locked {i}", container_state=ContainerState.LOCKED) for i in range(2)]
    client.force_login(actors.admin)
    assert confirm(client, "unlock", [*locked, phones[0]]).status_code == 302
    assert commands(locked, "unlock_corporate") == 2 and commands([phones[0]], "unlock_corporate") == 0
    assert audited("device.unlock_requested", [*locked, phones[0]]) == {str(d.pk) for d in locked}
    assert "Unlock sent to 2 devices; 1 skipped: The work profile is not locked. (Phone 0)" in message_of(client)


def test_retired_and_wiped_devices_are_skipped_not_errors(client, actors, phones):
    retired = make_device(actors.org, name="Old", state=DeviceState.RETIRED)
    wiped = make_device(actors.org, name="Wiped", container_state=ContainerState.WIPED)
    client.force_login(actors.owner)
    page = post(client, "wipe", [retired, wiped, phones[0]]).content.decode()
    assert "2 devices will be skipped" in page and "This device is retired" in page and "was wiped" in page
    done = confirm(client, "wipe", [retired, wiped, phones[0]], confirmation="3", reason="stolen")
    assert done.status_code == 302
    assert list(Wipe.objects.values_list("device_id", flat=True)) == [phones[0].pk]
    text = message_of(client)
    assert "Corporate wipe requested for 1 device; 2 skipped:" in text and "(Old)" in text and "(Wiped)" in text


def test_nothing_to_do_offers_no_confirmation(client, actors):
    locked = make_device(actors.org, name="Locked phone", container_state=ContainerState.LOCKED)
    client.force_login(actors.admin)
    page = post(client, "lock", [locked]).content.decode()
    assert "nothing to do" in page and 'name="confirm"' not in page
    done = confirm(client, "lock", [locked])  # sent anyway: reported, nothing done
    assert done.status_code == 302 and commands([locked], "lock_corporate") == 0
    assert "Lock sent to 0 devices; 1 skipped" in message_of(client)
    assert bulk_event(actors.org).details["done"] == 0


def test_a_persona_is_chosen_on_the_confirmation_then_assigned(client, actors, phones):
    sales = persona_create(organization=actors.org, name="Sales", preset="byod-strict", actor=SYSTEM)
    already = make_device(actors.org, name="Sales phone", persona=sales, container_state=ContainerState.ACTIVE)
    theirs = persona_create(organization=actors.other_org, name="Theirs", preset="byod-strict", actor=SYSTEM)
    retired = make_device(actors.org, name="Old phone", state=DeviceState.RETIRED)
    selection = [*phones[:2], already, retired]
    client.force_login(actors.admin)
    page = post(client, "persona", selection).content.decode()
    assert '<select name="persona"' in page and "Sales" in page and "Theirs" not in page
    assert "1 device will be skipped" in page and "This device is retired" in page
    missing = confirm(client, "persona", selection)
    assert missing.status_code == 400 and "This field is required." in missing.content.decode()
    foreign = confirm(client, "persona", selection, persona=str(theirs.pk))
    assert foreign.status_code == 400
    assert Device.objects.filter(persona=theirs).count() == 0

    done = confirm(client, "persona", selection, persona=str(sales.pk))
    assert done.status_code == 302
    assert set(Device.objects.filter(persona=sales).values_list("name", flat=True)) == {
        "Phone 0",
        "Phone 1",
        "Sales phone",
    }
    assigned = AuditEvent.objects.get(action="persona.devices_assigned")
    assert assigned.details["devices"] == 2
    expected = {"action": "persona", "persona": "Sales", "selected": 4, "done": 2, "skipped": 2}
    assert bulk_event(actors.org).details.items() >= expected.items()
    text = message_of(client)
    assert "2 devices moved to the persona Sales; 2 skipped:" in text
    assert "This device is retired: it has no persona to change. (Old phone)" in text
    assert "Already on this persona. (Sales phone)" in text
    assert Device.objects.get(pk=retired.pk).persona_id is None
    client.force_login(actors.helpdesk)
    assert confirm(client, "persona", phones, persona=str(default_persona(actors.org).pk)).status_code == 403
    assert Device.objects.filter(persona=sales).count() == 3


def test_a_bulk_wipe_wants_the_typed_number_and_a_reason(client, actors, phones):
    client.force_login(actors.admin)
    page = post(client, "wipe", phones).content.decode()
    assert "What will be erased" in page and "What will not be touched" in page
    assert "type the number of selected devices: <strong>3</strong>" in page
    assert 'name="confirmation"' in page and 'name="reason"' in page
    wrong = confirm(client, "wipe", phones, confirmation="2", reason="stolen")
    assert wrong.status_code == 400 and "nothing was wiped" in wrong.content.decode()
    no_reason = confirm(client, "wipe", phones, confirmation="3", reason="  ")
    assert no_reason.status_code == 400 and "This field is required." in no_reason.content.decode()
    assert not Wipe.objects.exists()

    done = confirm(client, "wipe", phones, confirmation="3", reason="stolen bag")
    assert done.status_code == 302
    assert Wipe.objects.filter(state="pending", reason="stolen bag").count() == 3
    assert audited("wipe.requested", phones) == {str(d.pk) for d in phones}
    assert bulk_event(actors.org).details.items() >= {"action": "wipe", "done": 3, "held": 0, "skipped": 0}.items()
    assert "Corporate wipe requested for 3 devices." in message_of(client)


def test_a_bulk_wipe_of_one_device_wants_its_name_as_the_single_wipe_does(client, actors, phones):
    client.force_login(actors.owner)
    page = post(client, "wipe", phones[:1]).content.decode()
    assert "type the device's name: <strong>Phone 0</strong>" in page
    assert confirm(client, "wipe", phones[:1], confirmation="1", reason="lost").status_code == 400
    assert confirm(client, "wipe", phones[:1], confirmation="Phone 0", reason="lost").status_code == 302
    assert Wipe.objects.get().device_id == phones[0].pk


def test_the_mass_wipe_hold_is_announced_then_holds_the_wipes_past_it(client, actors, phones, settings):
    settings.MDM_MASS_WIPE_THRESHOLD = 1
    client.force_login(actors.admin)
    page = post(client, "wipe", phones).content.decode()
    assert "2 of these wipes will wait for a second admin" in page
    assert confirm(client, "wipe", phones, confirmation="3", reason="stolen").status_code == 302
    assert sorted(Wipe.objects.values_list("state", flat=True)) == ["held", "held", "pending"]
    assert len(audited("wipe.held", phones)) == 2 and len(audited("wipe.requested", phones)) == 1
    assert bulk_event(actors.org).details.items() >= {"done": 3, "held": 2}.items()
    text = message_of(client)
    assert "Corporate wipe requested for 3 devices (2 wait for a second admin" in text and "warning" in text


def test_no_hold_warning_below_the_threshold(client, actors, phones):
    client.force_login(actors.admin)
    assert "second admin" not in post(client, "wipe", phones).content.decode()


@pytest.mark.parametrize(("who", "action"), [("helpdesk", "wipe"), ("auditor", "lock"), ("auditor", "unlock")])
def test_a_role_without_the_permission_is_refused_and_nothing_changes(client, actors, phones, who, action):
    client.force_login(getattr(actors, who))
    assert post(client, action, phones).status_code == 403
    assert confirm(client, action, phones, confirmation="3", reason="x").status_code == 403
    assert not Command.objects.exists() and not Wipe.objects.exists()
    assert not AuditEvent.objects.filter(action="devices.bulk_action").exists()


def test_signed_out_goes_to_the_sign_in_and_a_get_is_not_allowed(client, actors, phones):
    assert confirm(client, "lock", phones).status_code == 302 and not Command.objects.exists()
    client.force_login(actors.owner)
    assert client.get(URL).status_code == 405


def test_another_organizations_device_is_a_404_and_nothing_is_done(client, actors, phones):
    theirs = make_device(actors.other_org, name="Their phone", container_state=ContainerState.ACTIVE)
    client.force_login(actors.owner)
    assert post(client, "lock", [phones[0], theirs]).status_code == 404
    assert confirm(client, "lock", [phones[0], theirs]).status_code == 404
    assert confirm(client, "wipe", [theirs], confirmation="Their phone", reason="x").status_code == 404
    assert not Command.objects.exists() and not Wipe.objects.exists()
    client.force_login(actors.outsider)  # and the outsider, in their own organization, cannot reach ours
    assert confirm(client, "lock", phones[:1]).status_code == 404
    assert not Command.objects.exists()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"action": "lock"}, "Select at least one device first"),
        ({"action": "lock", "confirm": "1"}, "Select at least one device first"),
        ({"action": "explode", "device": ["{pk}"]}, "Choose one of the actions offered"),
        ({"device": ["{pk}"]}, "Choose one of the actions offered"),
        ({"action": "lock", "device": ["not-a-uuid"]}, "not a device"),
        ({"action": "lock", "device": ["{pk}", "12345"], "confirm": "1"}, "not a device"),
    ],
)
def test_bad_input_is_a_400_with_the_reason_on_the_page(client, actors, phones, data, says):
    client.force_login(actors.owner)
    data = {k: [v.format(pk=phones[0].pk) for v in val] if isinstance(val, list) else val for k, val in data.items()}
    answer = client.post(URL, data)
    page = answer.content.decode()
    assert answer.status_code == 400 and says in page and 'role="alert"' in page
    assert 'href="/console/devices/"' in page
    assert not Command.objects.exists()


def test_more_than_the_cap_is_refused_and_says_so(client, actors, phones):
    client.force_login(actors.owner)
    answer = client.post(URL, {"action": "lock", "device": [str(uuid.uuid4()) for _ in range(501)], "confirm": "1"})
    assert answer.status_code == 400 and "At most 500 devices at a time" in answer.content.decode()


def test_the_list_comes_back_with_its_filters(client, actors, phones):
    client.force_login(actors.owner)
    page = client.get("/console/devices/?q=Phone&state=active").content.decode()
    assert 'name="back" value="q=Phone&amp;state=active"' in page
    done = confirm(client, "lock", phones[:1], back="q=Phone&state=active")
    assert done["Location"] == "/console/devices/?q=Phone&state=active"
    evil = confirm(client, "lock", phones[1:2], back="//evil.test/")
    assert evil["Location"].startswith("/console/devices/")
