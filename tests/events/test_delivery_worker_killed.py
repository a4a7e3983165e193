"""The worker killed in the middle of a delivery (SIGKILL: no warm shutdown, no acknowledgement):
nothing is lost. A real worker and beat deliver to the verifying receiver; the receiver holds
the first request so the kill lands while the event is on the wire; a new worker and the beat
take over once the dead worker's lease runs out, and every event arrives, in order by first
arrival, the held one possibly twice (receivers dedupe by id)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings

from events.models import EventDestination
from events.services import event_destination_create
from mdm.actors import SYSTEM
from mdm.outbox import outbox_emit
from mdm.stack import PROCESSES
from tests.live import ROOT, Worker, wait_for, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {
    "MDM_EVENTS_LEASE_SECONDS": "6",
    "MDM_EVENTS_RUN_SECONDS": "5",
    "MDM_EVENTS_DISPATCH_SECONDS": "1",
    "MDM_EVENTS_BACKOFF_BASE_SECONDS": "0.5",
    "MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS": "30",
    "MDM_EVENTS_ALLOW_PRIVATE_URLS": "1",
}


@pytest.fixture
def own_workers(celery_worker, tmp_path):
    """Workers of the test's own, alone on the queue (the session's worker is stopped meanwhile)."""
    celery_worker.stop()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(tmp_path / f"worker-{len(started)}.log", **FAST)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    celery_worker.start()


@pytest.fixture
def beat(tmp_path):
    env = {**os.environ, **FAST, "DATABASE_URL": worker_database_url(),
           "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule")}  # fmt: skip
    with open(tmp_path / "beat.log", "w") as log:
        process = subprocess.Popen([sys.executable, *PROCESSES["beat"][1:]], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        yield process
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def first_arrivals(ids: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in ids:
        seen.setdefault(i, None)
    return list(seen)


def test_nothing_is_lost_when_the_worker_is_killed_mid_delivery(actors, receiver, own_workers, beat):
    created = event_destination_create(
        organization=actors.org, name="SIEM", kind="webhook", config={"url": receiver.url}, actor=SYSTEM
    )
    receiver.secret = created.secret
    receiver.hold = True
    ids = [
        str(outbox_emit(organization_id=actors.org.pk, type="device.command_result", data={"i": i}).event_id)
        for i in range(25)
    ]
    first = own_workers()
    assert receiver.holding.wait(timeout=30), "no delivery started"
    cursor_before = EventDestination.objects.get(pk=created.destination.pk).cursor
    first.kill()
    # The held request now completes at the receiver, but its worker is gone: the cursor never moved.
    receiver.hold = False
    receiver.release.set()
    time.sleep(0.5)
    held = EventDestination.objects.get(pk=created.destination.pk)
    assert held.cursor == cursor_before and held.lease_token is not None
    own_workers()
    wait_for(lambda: set(ids) <= set(receiver.ids()), timeout=60)
    arrived = first_arrivals(receiver.ids())
    # The destination's own creation event comes first, then every event in order, each once by id.
    assert arrived[1:] == ids
    assert receiver.rejected == []
    duplicates = len(receiver.ids()) - len(arrived)
    assert duplicates <= 1  # the event on the wire at the kill, sent again
