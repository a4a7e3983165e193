"""Policy pushes through the real Celery worker, delivered over HTTP to running agents, with
the faults the design must survive: a worker SIGKILLed mid-fan-out (resumed by the real beat), a
task message delivered twice, two pushes racing, and Redis going down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from agent.device import Device as Agent
from devices.models import Command, Device, PolicyVersion, Push
from devices.push import push_start_for_persona
from devices.services import EnrollmentRequest, device_enroll, enrollment_token_create
from devices.tasks import push_fanout_task
from devices.wipe import corporate_wipe_request
from mdm.stack import PROCESSES
from personas.models import Persona
from personas.services import persona_update, spec_of
from tests.agents import Keys
from tests.live import ROOT, LiveServer, Worker, free_port, wait_for, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def api(live, token: str, method: str, path: str, body=None):
    request = urllib.request.Request(  # noqa: S310 (the live test server)
        live.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def enroll_agent(live, org, tmp_path, name="phone") -> Agent:
    issued = enrollment_token_create(organization=org)
    agent = Agent(tmp_path / name)
    payload = issued.qr_payload
    agent.enroll(server=live.url, token=payload["token"], pin=payload["pin"])
    return agent


def enroll_many(org, count: int) -> list[Device]:
    """Devices enrolled through the real service (no agent behind them), for fan-out tests."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    issued = enrollment_token_create(organization=org, uses=count)
    devices = []
    for _ in range(count):
        keys = Keys()
        request = EnrollmentRequest(
            token=issued.token, platform="android", os_version="14", model="Pixel", agent_version="1.0.0",
            signing_key=keys.signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            encryption_key=keys.encryption.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        )  # fmt: skip
        devices.append(device_enroll(request=request))
    return devices


def change(persona: Persona, **access) -> Persona:
    spec = spec_of(persona)
    spec["access"].update(access)
    persona, _ = persona_update(persona=persona, spec=spec)
    return persona


def default_persona(org) -> Persona:
    return Persona.objects.get(organization=org, is_default=True)


def assert_each_device_has_one_command_for_its_newest_version(persona: Persona):
    for device in Device.objects.filter(persona=persona, state="active"):
        latest = PolicyVersion.objects.filter(device=device).order_by("-version").first()
        assert latest.version == device.policy_version
        assert latest.persona_revision == persona.revision
        assert PolicyVersion.objects.filter(device=device, persona_revision=persona.revision).count() == 1
        live = Command.objects.filter(device=device, type="apply_policy", state__in=["queued", "delivered"])
        assert [c.payload["version"] for c in live] == [device.policy_version]


def test_a_persona_change_reaches_a_running_agent_within_seconds(live_mdm, celery_worker, actors, tmp_path):
    agent = enroll_agent(live_mdm, actors.org, tmp_path)
    agent.sync_policy()
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, kwargs={"wait": 20, "max_seconds": 40, "should_stop": stop.is_set})
    runner.start()
    try:
        time.sleep(1)  # the agent is now waiting in its long poll
        persona = default_persona(actors.org)
        started = time.monotonic()
        answer = api(live_mdm, actors.token(actors.admin), "PATCH", f"/api/v1/personas/{persona.pk}/",
                     {"data_sharing": {"clipboard": {"work_to_personal": "allow"}}})  # fmt: skip
        wait_for(lambda: agent.identity.get("applied_policy_version") == 2, timeout=15)
        elapsed = time.monotonic() - started
        assert agent.policy["data_sharing"]["clipboard"]["work_to_personal"] == "allow"
        push = wait_for(
            lambda: (
                (p := api(live_mdm, actors.token(actors.auditor), "GET", answer["push"]["url"]))["acknowledged"] and p
            )
        )
        assert (push["targeted"], push["acknowledged"], push["failed"]) == (1, 1, 0)
        assert elapsed < 10, f"the policy took {elapsed:.1f} s to arrive"
    finally:
        stop.set()
        runner.join(timeout=60)


@pytest.fixture
def exclusive_worker(celery_worker, tmp_path):
    """Workers of the test's own, with small slow batches, alone on the queue."""
    celery_worker.stop()
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(tmp_path / f"worker-{len(started)}.log", MDM_PUSH_BATCH_SIZE="5",
                        MDM_PUSH_BATCH_PAUSE_SECONDS="0.25")  # fmt: skip
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    celery_worker.start()


def processes_of(worker: Worker) -> list[int]:
    """The live processes of a worker, its pool's included (they carry its command line)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if worker.hostname.encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


@pytest.fixture
def beat(tmp_path):
    """The beat process (the same command as `make run`), on the settings' own schedule."""
    env = {**os.environ, "DATABASE_URL": worker_database_url(),
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


def test_a_push_whose_worker_was_killed_completes_within_60_s_with_one_command_per_device(
    actors, exclusive_worker, beat, settings
):
    # With the default lease and beat interval (not shortened for the test): the lease runs out
    # within MDM_PUSH_LEASE_SECONDS of the kill, the beat hands the push on within
    # MDM_PUSH_RESUME_SECONDS more, and the new worker finishes it.
    assert settings.MDM_PUSH_LEASE_SECONDS + settings.MDM_PUSH_RESUME_SECONDS <= 45  # 15 s left to finish
    enroll_many(actors.org, 60)
    first = exclusive_worker()
    persona = change(default_persona(actors.org), max_offline_days=11)
    push = push_start_for_persona(persona=persona)
    wait_for(lambda: Push.objects.get(pk=push.pk).batches >= 2, timeout=30)
    assert len(processes_of(first)) >= 3  # the worker and its pool of two
    first.kill()
    killed = time.monotonic()
    wait_for(lambda: not processes_of(first), timeout=5)  # its pool too: prefork children die with it
    held = Push.objects.get(pk=push.pk)
    assert held.state == "running" and held.batches < 12 and held.lease_owner is not None
    exclusive_worker()  # nothing else resumes the push: no test code calls pushes_resume
    remaining = 60 - (time.monotonic() - killed)  # 60 s from the kill, the new worker's start included
    done = wait_for(lambda: (p := Push.objects.get(pk=push.pk)).state == "done" and p, timeout=max(remaining, 0.1))
    resumed_in = time.monotonic() - killed
    assert resumed_in < 60, f"the push took {resumed_in:.0f} s to finish after its worker was killed"
    # 60 devices in batches of 5: 12 batches, each committed exactly once.
    assert (done.processed, done.batches, done.lease_owner) == (60, 12, None)
    assert_each_device_has_one_command_for_its_newest_version(persona)
    assert Command.objects.filter(push=push).count() == 60


def test_the_same_task_message_delivered_twice_creates_no_duplicates(actors, celery_worker):
    enroll_many(actors.org, 30)
    persona = change(default_persona(actors.org), max_offline_days=12)
    push = push_start_for_persona(persona=persona)
    push_fanout_task.delay(str(push.pk))
    push_fanout_task.delay(str(push.pk))
    wait_for(lambda: Push.objects.get(pk=push.pk).state == "done", timeout=60)
    time.sleep(1)  # let the other copies finish too
    assert Command.objects.filter(push=push).count() == 30
    assert_each_device_has_one_command_for_its_newest_version(persona)


def test_two_pushes_racing_leave_every_device_on_the_newest_version(actors, celery_worker):
    enroll_many(actors.org, 40)
    persona = change(default_persona(actors.org), max_offline_days=13)
    first = push_start_for_persona(persona=persona)
    persona = change(persona, max_offline_days=14)
    second = push_start_for_persona(persona=persona)
    wait_for(lambda: Push.objects.get(pk=second.pk).state == "done", timeout=60)
    assert Push.objects.get(pk=first.pk).state == "superseded"
    assert_each_device_has_one_command_for_its_newest_version(persona)
    for device in Device.objects.filter(persona=persona):
        latest = PolicyVersion.objects.get(device=device, version=device.policy_version)
        assert latest.document["access"]["max_offline_days"] == 14


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the test's own, so that it can be stopped and started again."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path)]  # fmt: skip

    class Server:
        url = f"redis://127.0.0.1:{port}/0"

        def start(self):
            self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            wait_for(
                lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0
            )

        def stop(self):
            self.process.terminate()
            self.process.wait(timeout=10)

    server = Server()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_with_redis_down_commands_are_still_delivered(actors, private_redis, tmp_path):
    live = LiveServer(tmp_path / "web.log", REDIS_URL=private_redis.url, REDIS_CACHE_URL=private_redis.url)
    live.start()
    try:
        agent = enroll_agent(live, actors.org, tmp_path)
        device = Device.objects.get(pk=agent.identity["device_id"])
        agent.poll()  # nothing yet; the access token is cached on the device
        results: list = []
        waiting = threading.Thread(target=lambda: results.append(agent.poll(wait=30)))
        waiting.start()
        time.sleep(1.5)
        private_redis.stop()
        from devices.commands import registry

        registry["lock_corporate"].build(device, {}).save()
        started = time.monotonic()
        waiting.join(timeout=20)
        assert results and [c["type"] for c in results[0]] == ["lock_corporate"]
        assert time.monotonic() - started < 8
        assert agent.container.status in ("locked", "none")
        # Everything else keeps working without Redis: check-in, a new access token.
        agent.checkin()
        agent.access_token(refresh=True)
        # Redis comes back: delivery goes on as before.
        private_redis.start()
        registry["unlock_corporate"].build(device, {}).save()
        assert [c["type"] for c in agent.poll(wait=10)] == ["unlock_corporate"]
        assert set(Command.objects.filter(device=device).values_list("state", flat=True)) == {"acknowledged"}
        # A wipe issued while Redis is down is delivered at the next poll.
        private_redis.stop()
        corporate_wipe_request(device=device, reason="lost while Redis was down")
        (ran,) = agent.poll(wait=5)
        assert ran["type"] == "wipe_corporate" and ran["result"] == "acknowledged"
        assert Device.objects.get(pk=device.pk).state == "retired"
    finally:
        live.stop()


def test_a_wipe_from_the_admin_api_reaches_a_running_agent(live_mdm, celery_worker, actors, tmp_path):
    import hashlib

    agent = enroll_agent(live_mdm, actors.org, tmp_path)
    agent.sync_policy()
    agent.put_file("work", "deal.txt", b"term sheet")
    agent.put_file("personal", "kids.jpg", b"\xff\xd8 family")
    before = hashlib.sha256((agent.container.personal / "kids.jpg").read_bytes()).hexdigest()
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(agent.run(wait=20, max_seconds=40)))
    runner.start()
    time.sleep(1)
    answer = api(live_mdm, actors.token(actors.admin), "POST",
                 f"/api/v1/devices/{agent.identity['device_id']}/wipe-corporate/", {"reason": "stolen"})  # fmt: skip
    runner.join(timeout=45)
    assert outcome == ["retired"]
    assert not agent.container.corporate.exists()
    assert hashlib.sha256((agent.container.personal / "kids.jpg").read_bytes()).hexdigest() == before
    wipe = api(live_mdm, actors.token(actors.auditor), "GET", f"/api/v1/devices/{agent.identity['device_id']}/wipes/")
    assert wipe["results"][0]["id"] == answer["wipe"]["id"] and wipe["results"][0]["state"] == "done"
