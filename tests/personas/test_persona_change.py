"""devices.persona_changes.persona_change: the one service behind the console's editor and the
admin API's PUT/PATCH. The change and its push commit together, or neither does."""

from __future__ import annotations

import pytest

from devices import persona_changes
from devices.models import Push
from devices.persona_changes import persona_change
from mdm.actors import Actor
from mdm.errors import ServiceError
from mdm.models import AuditEvent
from personas.models import Persona
from personas.services import spec_of
from personas.spec import merge


@pytest.fixture
def persona(actors) -> Persona:
    return Persona.objects.get(organization=actors.org, is_default=True)


def test_a_change_saves_a_revision_and_starts_its_push(actors, persona, agent_factory):
    agent_factory()
    actor = Actor.member(actors.admin)
    done = persona_change(
        persona=persona, patch={"access": {"max_offline_days": 9}}, actor=actor, client_ip="192.0.2.1"
    )
    assert done.changes == ["access.max_offline_days: 30 -> 9"]
    assert done.persona.revision == 2
    push = Push.objects.get()
    assert done.push == push
    assert (push.persona_id, push.persona_revision, push.targeted) == (persona.pk, 2, 1)
    event = AuditEvent.objects.get(organization=actors.org, action="persona.updated")
    assert (event.actor_label, event.client_ip) == (actor.label, "192.0.2.1")


def test_a_whole_spec_replaces_the_settings(actors, persona):
    spec = merge(spec_of(persona), {"description": "Drivers"})
    done = persona_change(persona=persona, spec=spec, actor=Actor.member(actors.admin))
    assert done.changes == ['description: "Personal device, basic protection: work data stays in the work profile; '
                            'text and files may come in from personal apps. A PIN, and a wipe after 30 days offline." '
                            '-> "Drivers"']  # fmt: skip
    persona.refresh_from_db()
    assert persona.description == "Drivers" and persona.revision == 2


def test_nothing_changed_starts_no_push(actors, persona):
    done = persona_change(persona=persona, patch={"access": {"max_offline_days": 30}}, actor=Actor.member(actors.admin))
    assert (done.changes, done.push, done.persona.revision) == ([], None, 1)
    assert not Push.objects.exists()


def test_a_refused_change_starts_no_push_and_changes_nothing(actors, persona):
    with pytest.raises(ServiceError) as info:
        persona_change(persona=persona, patch={"access": {"max_offline_days": 0}}, actor=Actor.member(actors.admin))
    assert info.value.errors == {"access.max_offline_days": ["Ensure this value is greater than or equal to 1."]}
    persona.refresh_from_db()
    assert persona.revision == 1 and not Push.objects.exists()
    assert not AuditEvent.objects.filter(action="persona.updated").exists()


def test_a_push_that_cannot_start_undoes_the_change(actors, persona, monkeypatch):
    def refuse(**kwargs):
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr(persona_changes, "push_start_for_persona", refuse)
    with pytest.raises(RuntimeError):
        persona_change(persona=persona, patch={"access": {"max_offline_days": 9}}, actor=Actor.member(actors.admin))
    persona.refresh_from_db()
    assert (persona.revision, persona.max_offline_days) == (1, 30)
    assert not AuditEvent.objects.filter(action="persona.updated").exists()
