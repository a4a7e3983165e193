"""Tasks run through a real worker on the real broker, and only after their transaction commits."""

import pytest
import redis
from django.conf import settings
from django.db import transaction

from mdm.celery import MdmTask, enqueue_on_commit
from mdm.celery import app as celery_app
from mdm.models import AuditEvent
from mdm.services import organization_create
from mdm.tasks import audit_chain_verify_task
from tests.live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _verified(org):
    def verified():
        return AuditEvent.objects.filter(organization=org, action="audit.chain_verified").first()

    return verified


def test_a_task_published_on_commit_runs_in_the_real_worker(celery_worker):
    with transaction.atomic():
        org = organization_create(name="Initech")
        enqueue_on_commit(audit_chain_verify_task, str(org.pk))
    event = wait_for(_verified(org))
    assert event.details["ok"] is True
    assert event.details["events"] == 2  # the organization and its default persona
    assert event.actor_type == "system"


def test_a_rolled_back_transaction_publishes_nothing(celery_worker):
    rolled_back = organization_create(name="Rolled back")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        enqueue_on_commit(audit_chain_verify_task, str(rolled_back.pk))
        raise Abort
    # A task published after it runs; by then the first would have run too, had it been sent.
    committed = organization_create(name="Committed")
    enqueue_on_commit(audit_chain_verify_task, str(committed.pk))
    wait_for(_verified(committed))
    assert not _verified(rolled_back)()
    assert redis.Redis.from_url(settings.REDIS_URL).llen("celery") == 0


def test_the_fan_out_task_queues_one_verification_per_organization(celery_worker):
    orgs = [organization_create(name=f"Org {i}") for i in range(3)]
    from mdm.tasks import audit_chains_verify_task

    audit_chains_verify_task.delay()
    for org in orgs:
        wait_for(_verified(org))


def test_tasks_are_acknowledged_late_and_retry_transient_errors_with_backoff():
    conf = celery_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    # The broker's visibility timeout outlasts the longest task, so no task is handed out twice.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit > conf.task_soft_time_limit
    assert isinstance(audit_chain_verify_task, MdmTask)
    from django.db import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    assert OperationalError in audit_chain_verify_task.autoretry_for
    assert RedisConnectionError in audit_chain_verify_task.autoretry_for
    assert audit_chain_verify_task.retry_backoff and audit_chain_verify_task.retry_jitter


def test_the_same_tasks_run_on_rabbitmq(tmp_path):
    """CELERY_BROKER_URL=amqp://...: a worker on RabbitMQ (this machine runs one) runs what a
    process publishing to RabbitMQ queued, with the same code and the same worker command."""
    import os
    import socket
    import subprocess
    import sys

    from mdm.stack import PROCESSES
    from tests.live import ROOT, worker_database_url

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        pytest.fail("RabbitMQ is not answering on 127.0.0.1:5672.")
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    }
    org = organization_create(name="Rabbit")
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [sys.executable, *PROCESSES["worker"][1:], "--concurrency", "1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            publish = f"from mdm.tasks import audit_chain_verify_task; audit_chain_verify_task.delay({str(org.pk)!r})"
            subprocess.run([sys.executable, "manage.py", "shell", "-c", publish], cwd=ROOT, env=env, check=True,
                           timeout=60)  # fmt: skip
            event = wait_for(_verified(org), timeout=60)
            assert event.details["ok"] is True
        finally:
            worker.terminate()
            worker.wait(timeout=30)
