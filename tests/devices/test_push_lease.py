"""The push lease: one task at a time holds a push, a push whose worker stopped renewing its lease
is handed to a new task, and a holder whose push was handed over stops before its next batch, so
no batch is ever processed by two tasks."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from devices import push as push_module
from devices.models import Command, Device, PolicyVersion, Push
from devices.push import PushLeaseLost, push_claim, push_run, push_run_batch, push_start_for_persona, pushes_resume
from personas.models import Persona
from personas.services import persona_update, spec_of


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(push_module, "BATCH_SIZE", 3)


@pytest.fixture
def published(monkeypatch) -> list:
    """The tasks pushes would publish, recorded instead of reaching the broker (and a worker)."""
    sent: list = []
    monkeypatch.setattr(push_module, "enqueue_on_commit", lambda task, *args: sent.append((task.name, args)))
    return sent


@pytest.fixture
def started_push(actors, agent_factory, small_batches, published):
    """A push of a persona change to seven devices, in batches of three, not yet run."""
    for _ in range(7):
        agent_factory()
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] = 9
    persona, _ = persona_update(persona=persona, spec=spec)
    return push_start_for_persona(persona=persona)


def template_of(push: Push) -> dict:
    persona = Persona.objects.get(pk=push.persona_id)
    return push_module.persona_template(persona, spec_of(persona))


def expire_lease(push: Push) -> None:
    """As if the holder had not renewed its lease for longer than MDM_PUSH_LEASE_SECONDS."""
    Push.objects.filter(pk=push.pk).update(lease_expires_at=timezone.now())


def assert_each_device_got_exactly_one_version_and_command(push: Push) -> None:
    push = Push.objects.get(pk=push.pk)
    assert (push.state, push.processed, push.batches) == ("done", 7, 3)
    for device in Device.objects.filter(persona_id=push.persona_id):
        versions = PolicyVersion.objects.filter(device=device, persona_revision=push.persona_revision)
        assert versions.count() == 1
        (command,) = Command.objects.filter(device=device, push=push)
        assert command.payload == {"version": versions.get().version}


def test_a_second_task_leaves_a_push_held_by_a_live_task_alone(started_push):
    holder = push_claim(push_id=started_push.pk)
    assert holder is not None
    assert push_claim(push_id=started_push.pk) is None
    assert push_run(started_push.pk).processed == 0  # a duplicate task message: nothing done
    assert pushes_resume() == 0  # the lease is fresh: the beat hands nothing over
    assert not Command.objects.exists()
    template = template_of(started_push)
    while push_run_batch(push_id=started_push.pk, template=template, owner=holder):
        pass
    push_run_batch(push_id=started_push.pk, template=template, owner=holder)
    assert_each_device_got_exactly_one_version_and_command(started_push)


def test_a_holder_whose_push_was_handed_over_stops_before_its_next_batch(started_push, published):
    published.clear()
    template = template_of(started_push)
    old = push_claim(push_id=started_push.pk)
    assert push_run_batch(push_id=started_push.pk, template=template, owner=old)
    expire_lease(started_push)  # the old holder stalls past its lease
    assert pushes_resume() == 1
    assert published == [("devices.tasks.push_fanout_task", (str(started_push.pk),))]
    assert pushes_resume() == 0  # handed over once: the new lease runs
    before = Push.objects.get(pk=started_push.pk)
    with pytest.raises(PushLeaseLost):
        push_run_batch(push_id=started_push.pk, template=template, owner=old)
    after = Push.objects.get(pk=started_push.pk)
    assert (after.cursor, after.batches, after.processed) == (before.cursor, before.batches, before.processed)
    assert Command.objects.filter(push=started_push).count() == 3
    push_run(started_push.pk)  # the task the beat published
    assert_each_device_got_exactly_one_version_and_command(started_push)
    assert not push_run_batch(push_id=started_push.pk, template=template, owner=old)  # done: nothing more
    assert Command.objects.filter(push=started_push).count() == 7


def test_a_task_whose_lease_ran_out_keeps_its_push_while_no_one_took_it(started_push):
    template = template_of(started_push)
    holder = push_claim(push_id=started_push.pk)
    assert push_run_batch(push_id=started_push.pk, template=template, owner=holder)
    expire_lease(started_push)
    # Nobody took it: the holder goes on, and its batch renews the lease.
    assert push_run_batch(push_id=started_push.pk, template=template, owner=holder)
    assert Push.objects.get(pk=started_push.pk).lease_expires_at > timezone.now()
    assert pushes_resume() == 0


def in_thread(target, *args):
    """Run `target` in a thread with its own database connection; its result, or its exception."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target(*args)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_a_push_whose_batch_is_running_is_not_handed_over_even_past_its_lease(started_push, monkeypatch, settings):
    settings.MDM_PUSH_LEASE_SECONDS = 0  # every lease has run out as soon as it is granted
    inside, release = threading.Event(), threading.Event()
    real = push_module.policy_version_rows

    def slow_batch(**kwargs):
        inside.set()
        assert release.wait(timeout=30)
        return real(**kwargs)

    monkeypatch.setattr(push_module, "policy_version_rows", slow_batch)
    template = template_of(started_push)
    holder = push_claim(push_id=started_push.pk)
    batch, batch_outcome = in_thread(lambda: push_run_batch(push_id=started_push.pk, template=template, owner=holder))
    assert inside.wait(timeout=30)
    # The batch holds the push's row: the beat and other tasks skip it instead of waiting or taking it.
    for attempt in (pushes_resume, lambda: push_claim(push_id=started_push.pk)):
        claimer, outcome = in_thread(attempt)
        claimer.join(timeout=10)
        assert not claimer.is_alive(), "a claimer waited for the batch's lock"
        assert outcome.get("value") in (0, None), outcome
    release.set()
    batch.join(timeout=30)
    assert batch_outcome == {"value": True}
    assert Push.objects.get(pk=started_push.pk).lease_owner == holder


@pytest.mark.django_db(transaction=True)
def test_tasks_taking_a_push_from_each_other_never_process_one_batch_twice(started_push, monkeypatch, settings):
    # The worst case: every lease has run out as soon as granted, so between two batches (the
    # pause) any other task may take the push from its holder, at any moment.
    settings.MDM_PUSH_LEASE_SECONDS = 0
    settings.MDM_PUSH_BATCH_PAUSE_SECONDS = 0.05
    real_batch, real_versions = push_module.push_run_batch, push_module.policy_version_rows
    lock = threading.Lock()
    seen = {"inside": 0, "most_inside": 0, "lost": 0, "runners": set()}

    def counted_versions(**kwargs):
        with lock:
            seen["inside"] += 1
            seen["most_inside"] = max(seen["most_inside"], seen["inside"])
            seen["runners"].add(threading.current_thread().name)
        try:
            time.sleep(0.02)  # widen the window in which two batches could overlap
            return real_versions(**kwargs)
        finally:
            with lock:
                seen["inside"] -= 1

    def counted_batch(**kwargs):
        try:
            return real_batch(**kwargs)
        except PushLeaseLost:
            with lock:
                seen["lost"] += 1
            raise

    monkeypatch.setattr(push_module, "policy_version_rows", counted_versions)
    monkeypatch.setattr(push_module, "push_run_batch", counted_batch)

    def runner():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if push_run(started_push.pk).state == "done":
                return
            time.sleep(0.005)
        raise AssertionError("the push did not finish within 30 s")

    runners = [in_thread(runner) for _ in range(3)]
    for thread, _ in runners:
        thread.join(timeout=40)
    assert [outcome for _, outcome in runners] == [{"value": None}] * 3
    assert seen["most_inside"] == 1, "two batches of one push ran at the same time"
    assert seen["lost"] >= 1, "no task ever lost the push: the race this test is about did not happen"
    assert_each_device_got_exactly_one_version_and_command(started_push)
