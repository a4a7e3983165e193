"""GET /api/v1/agent/commands and POST .../commands/{id}/result (agent protocol, section 6)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agent.transport import AgentError
from devices.channels.agent import commands_deliver
from devices.commands import registry
from devices.commands.results import commands_expire
from devices.models import Command


def queue(agent_or_device, kind="lock_corporate", payload=None, **fields):
    device = getattr(agent_or_device, "server_device", agent_or_device)
    command = registry[kind].build(device, payload or {})
    for name, value in fields.items():
        setattr(command, name, value)
    command.save()
    return command


def test_pending_commands_come_wipe_first_then_oldest_first(enrolled):
    lock = queue(enrolled, "lock_corporate")
    policy = queue(enrolled, "apply_policy", {"version": 1})
    wipe = queue(enrolled, "wipe_corporate", {"wipe_id": "w", "reason": "lost"})
    body = enrolled.call("GET", "commands").body
    assert [c["id"] for c in body["commands"]] == [str(wipe.pk), str(lock.pk), str(policy.pk)]
    first = body["commands"][0]
    assert set(first) == {"id", "type", "issued_at", "expires_at", "payload"}
    assert first["expires_at"] is None and first["issued_at"].endswith("Z")


def test_a_command_is_delivered_once_and_stays_until_its_result(enrolled):
    command = queue(enrolled)
    enrolled.call("GET", "commands")
    command.refresh_from_db()
    delivered_at = command.delivered_at
    assert command.state == "delivered" and command.attempts == 1
    again = enrolled.call("GET", "commands").body["commands"]
    assert [c["id"] for c in again] == [str(command.pk)]
    command.refresh_from_db()
    assert command.delivered_at == delivered_at and command.attempts == 1


def test_results_are_idempotent_and_a_different_final_result_is_409(enrolled):
    command = queue(enrolled)
    url = f"commands/{command.pk}/result"
    assert enrolled.call("POST", url, {"status": "acknowledged", "detail": "done"}).body["state"] == "acknowledged"
    assert enrolled.call("POST", url, {"status": "acknowledged"}).status == 200
    with pytest.raises(AgentError) as caught:
        enrolled.call("POST", url, {"status": "error"})
    assert caught.value.status == 409 and caught.value.code == "conflict"
    command.refresh_from_db()
    assert command.state == "acknowledged" and command.detail == "done" and command.completed_at
    assert enrolled.call("GET", "commands").body["commands"] == []


def test_not_now_puts_it_back_in_the_queue(enrolled):
    command = queue(enrolled)
    enrolled.call("GET", "commands")
    enrolled.call("POST", f"commands/{command.pk}/result", {"status": "not_now", "detail": "user busy"})
    command.refresh_from_db()
    assert command.state == "queued"
    enrolled.call("GET", "commands")
    command.refresh_from_db()
    assert command.state == "delivered" and command.attempts == 2


def test_another_devices_command_is_404_and_unchanged(agent_factory):
    mine, theirs = agent_factory(), agent_factory()
    from devices.models import Device

    command = queue(Device.objects.get(pk=theirs.identity["device_id"]))
    for call in (
        lambda: mine.call("POST", f"commands/{command.pk}/result", {"status": "acknowledged"}),
        lambda: mine.call("POST", "commands/00000000-0000-0000-0000-000000000000/result", {"status": "error"}),
    ):
        with pytest.raises(AgentError) as caught:
            call()
        assert caught.value.status == 404
    assert mine.call("GET", "commands").body["commands"] == []
    command.refresh_from_db()
    assert command.state == "queued"


@pytest.mark.parametrize("body", [{}, {"status": "done"}, {"status": "error", "detail": 5}, {"status": None}])
def test_a_bad_result_is_400(enrolled, body):
    command = queue(enrolled)
    with pytest.raises(AgentError) as caught:
        enrolled.call("POST", f"commands/{command.pk}/result", body)
    assert caught.value.status == 400


@pytest.mark.parametrize("wait", ["-1", "61", "soon", "1.5"])
def test_a_bad_wait_is_400(enrolled, wait):
    with pytest.raises(AgentError) as caught:
        enrolled.call("GET", f"commands?wait={wait}")
    assert caught.value.status == 400 and caught.value.problem["errors"]["wait"]


def test_the_long_poll_needs_credentials_and_refuses_other_methods(client, enrolled):
    response = client.get("/api/v1/agent/commands")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    response = client.post("/api/v1/agent/commands", {}, content_type="application/json")
    assert response.status_code == 405


def test_an_empty_long_poll_waits_then_answers_nothing(enrolled):
    started = time.monotonic()
    assert enrolled.call("GET", "commands?wait=1").body == {"commands": []}
    assert 0.9 <= time.monotonic() - started < 5


def test_expired_commands_are_not_handed_out_and_are_marked(enrolled):
    command = queue(enrolled, expires_at=timezone.now() - timedelta(seconds=1))
    assert enrolled.call("GET", "commands").body["commands"] == []
    assert commands_expire() == 1
    command.refresh_from_db()
    assert command.state == "expired"


@pytest.mark.django_db(transaction=True)
def test_two_polls_racing_record_one_delivery(agent_factory):
    agent = agent_factory()
    from devices.models import Device

    device = Device.objects.get(pk=agent.identity["device_id"])
    commands = [queue(device) for _ in range(5)]
    barrier = threading.Barrier(2)
    answers = []

    def poll():
        barrier.wait()
        answers.append(commands_deliver(device_id=device.pk))
        connection.close()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(answer) == 5 for answer in answers)
    for command in Command.objects.filter(pk__in=[c.pk for c in commands]):
        assert command.state == "delivered" and command.attempts == 1
