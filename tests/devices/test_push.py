"""Pushes: a persona change reaches each device once, in batches, newest revision last."""

import pytest
from django.utils import timezone

from devices import push as push_module
from devices.models import Command, Device, PolicyVersion, Push
from devices.push import push_progress, push_run, push_start_for_persona
from personas.models import Persona
from personas.services import persona_update, spec_of


@pytest.fixture
def fleet(actors, agent_factory):
    """Seven enrolled devices on the default persona (and one on another persona)."""
    agents = [agent_factory() for _ in range(7)]
    other = Persona.objects.create(organization=actors.org, name="Other", revision=1)
    bystander = agent_factory(persona=other)
    return agents, bystander


def _change(persona, **access):
    spec = spec_of(persona)
    spec["access"].update(access)
    persona, _ = persona_update(persona=persona, spec=spec)
    return persona


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(push_module, "BATCH_SIZE", 3)


def test_a_push_reaches_every_device_of_the_persona_once_in_batches(actors, fleet, small_batches):
    agents, bystander = fleet
    persona = _change(Persona.objects.get(organization=actors.org, is_default=True), max_offline_days=9)
    push = push_start_for_persona(persona=persona)
    done = push_run(push.pk)
    assert (done.state, done.targeted, done.processed, done.batches) == ("done", 7, 7, 3)
    for agent in agents:
        device = Device.objects.get(pk=agent.identity["device_id"])
        assert device.policy_version == 2
        (command,) = Command.objects.filter(device=device, type="apply_policy")
        assert command.payload == {"version": 2} and command.push_id == push.pk
        assert PolicyVersion.objects.get(device=device, version=2).document["access"]["max_offline_days"] == 9
    assert not Command.objects.filter(device_id=bystander.identity["device_id"]).exists()
    assert push_progress(done)["queued"] == 7


def test_running_a_push_again_creates_no_duplicates(actors, fleet, small_batches):
    persona = _change(Persona.objects.get(organization=actors.org, is_default=True), max_offline_days=9)
    push = push_start_for_persona(persona=persona)
    template = push_module.persona_template(persona, spec_of(persona))
    # A worker that died after one committed batch, then the task delivered again, twice.
    owner = push_module.push_claim(push_id=push.pk)
    assert push_module.push_run_batch(push_id=push.pk, template=template, owner=owner)
    Push.objects.filter(pk=push.pk).update(lease_expires_at=timezone.now())  # the dead worker's lease ran out
    push_run(push.pk)
    push_run(push.pk)
    assert Command.objects.filter(type="apply_policy").count() == 7
    assert PolicyVersion.objects.filter(version=2).count() == 7
    assert PolicyVersion.objects.filter(version=3).count() == 0


def test_a_newer_push_supersedes_an_older_one_and_devices_end_on_the_newest(actors, fleet, small_batches):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    persona = _change(persona, max_offline_days=9)
    first = push_start_for_persona(persona=persona)
    template = push_module.persona_template(persona, spec_of(persona))
    owner = push_module.push_claim(push_id=first.pk)
    push_module.push_run_batch(push_id=first.pk, template=template, owner=owner)  # half-way through
    persona = _change(persona, max_offline_days=5)
    second = push_start_for_persona(persona=persona)
    assert Push.objects.get(pk=first.pk).state == "superseded"
    # Its task still runs, and stops at once.
    assert not push_module.push_run_batch(push_id=first.pk, template=template, owner=owner)
    push_run(first.pk)
    push_run(second.pk)
    for device in Device.objects.filter(persona=persona):
        latest = PolicyVersion.objects.filter(device=device).order_by("-version").first()
        assert latest.version == device.policy_version
        assert latest.document["access"]["max_offline_days"] == 5
        pending = Command.objects.filter(device=device, type="apply_policy", state__in=["queued", "delivered"])
        assert [c.payload["version"] for c in pending] == [device.policy_version]


def test_a_push_of_an_outdated_revision_stops(actors, fleet):
    persona = _change(Persona.objects.get(organization=actors.org, is_default=True), max_offline_days=9)
    push = push_start_for_persona(persona=persona)
    Persona.objects.filter(pk=persona.pk).update(revision=persona.revision + 1)
    assert push_run(push.pk).state == "superseded"
    assert not Command.objects.filter(type="apply_policy").exists()


def test_the_agents_apply_it_and_the_push_shows_100_percent(actors, fleet):
    agents, _ = fleet
    persona = _change(Persona.objects.get(organization=actors.org, is_default=True), max_offline_days=9)
    push = push_run(push_start_for_persona(persona=persona).pk)
    for agent in agents:
        (ran,) = agent.poll()
        assert ran["type"] == "apply_policy" and ran["result"] == "acknowledged"
        assert agent.policy["access"]["max_offline_days"] == 9
    progress = push_progress(push)
    assert (progress["targeted"], progress["acknowledged"], progress["queued"], progress["failed"]) == (7, 7, 0, 0)
    assert set(Device.objects.filter(persona=persona).values_list("applied_policy_version", flat=True)) == {2}


def test_the_push_api(actors, fleet):
    persona = _change(Persona.objects.get(organization=actors.org, is_default=True), max_offline_days=9)
    push = push_run(push_start_for_persona(persona=persona).pk)
    body = actors.api(actors.auditor).get(f"/api/v1/pushes/{push.pk}/").json()
    assert (body["targeted"], body["queued"], body["state"]) == (7, 7, "done")
    assert actors.api(actors.outsider).get(f"/api/v1/pushes/{push.pk}/").status_code == 404


def test_fan_out_statements_grow_with_batches_not_devices(
    actors, agent_factory, small_batches, django_assert_max_num_queries
):
    """A batch costs a fixed number of statements, whatever its size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    persona = Persona.objects.get(organization=actors.org, is_default=True)
    counts = []
    for devices in (3, 6):
        while Device.objects.filter(persona=persona).count() < devices:
            agent_factory()
        persona = _change(persona, max_offline_days=persona.max_offline_days + 1)
        push = push_start_for_persona(persona=persona)
        with CaptureQueriesContext(connection) as queries:
            push_run(push.pk)
        counts.append((len(queries), Push.objects.get(pk=push.pk).batches))
    (q3, b3), (q6, b6) = counts
    assert (b3, b6) == (1, 2)
    per_batch = q6 - q3
    assert per_batch <= 15, counts


def test_assigning_devices_to_a_persona_pushes_it_to_them_only(actors, fleet):
    agents, bystander = fleet
    target = Persona.objects.get(organization=actors.org, name="Other")
    chosen = [agents[0].identity["device_id"], agents[1].identity["device_id"]]
    response = actors.api(actors.admin).post(
        f"/api/v1/personas/{target.pk}/assign/", {"devices": chosen}, format="json"
    )
    assert response.status_code == 202, response.content
    push = push_run(response.json()["id"])
    assert (push.targeted, push.processed) == (2, 2)
    for device_id in chosen:
        device = Device.objects.get(pk=device_id)
        assert device.persona == target
        assert PolicyVersion.objects.get(device=device, version=device.policy_version).persona_id == target.pk
    assert Command.objects.filter(push=push).count() == 2
    assert not Command.objects.filter(device_id=bystander.identity["device_id"]).exists()
    # Another organization's device, or a retired one, cannot be assigned.
    foreign = actors.api(actors.outsider).post(
        f"/api/v1/personas/{target.pk}/assign/", {"devices": chosen}, format="json"
    )
    assert foreign.status_code == 404
    bad = actors.api(actors.admin).post(
        f"/api/v1/personas/{target.pk}/assign/", {"devices": ["00000000-0000-0000-0000-000000000001"]}, format="json"
    )
    assert bad.status_code == 400 and "devices" in bad.json()["errors"]
