from __future__ import annotations

import pytest

from events.models import EventDestination
from events.services import event_destination_create
from mdm.actors import SYSTEM
from tests.events.webhook_receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def _events_settings(settings):
    # The receivers run on 127.0.0.1; the SSRF tests turn this off again.
    settings.MDM_EVENTS_ALLOW_PRIVATE_URLS = True
    # No Celery messages from unit tests: they call the delivery functions themselves.
    settings.MDM_EVENTS_KICK = False
    settings.MDM_EVENTS_BACKOFF_BASE_SECONDS = 1.0


@pytest.fixture
def receiver():
    started = WebhookReceiver().start()
    yield started
    started.stop()


@pytest.fixture
def webhook(actors, receiver) -> EventDestination:
    """A webhook destination of the actors' organization, pointed at the receiver."""
    created = event_destination_create(
        organization=actors.org, name="SIEM", kind="webhook", config={"url": receiver.url}, actor=SYSTEM
    )
    assert created.secret and created.secret.startswith("whsec_")
    receiver.secret = created.secret
    return created.destination
