"""The agent's run loop and its offline timer, with an injected clock (no real waiting)."""

from agent.device import Device as Agent
from agent.transport import Unreachable
from devices.models import Device
from tests.agents import ClientTransport


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FlakyTransport(ClientTransport):
    """The server is unreachable for the first `failures` requests (restarting, network down)."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures
        self.refused = 0

    def request(self, *args, **kwargs):
        if self.refused < self.failures:
            self.refused += 1
            raise Unreachable("connection refused")
        return super().request(*args, **kwargs)


def test_the_loop_rides_out_an_unreachable_server_with_backoff(enrolled, tmp_path):
    clock = Clock()
    flaky = FlakyTransport(failures=4)
    agent = Agent(enrolled.state.root, transport=flaky, clock=clock)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock.sleep(seconds)

    why = agent.run(wait=0, max_seconds=120, sleep=sleep, should_stop=lambda: clock.now > 1_800_000_000 + 100)
    assert why in ("stopped", "time is up")
    assert flaky.refused == 4
    assert len(slept) >= 4 and slept[1] > slept[0] and slept[2] > slept[1]  # exponential backoff
    # It reached the server in the end, and its state survived: same identity, a check-in recorded.
    assert agent.identity["device_id"] == enrolled.identity["device_id"]
    assert Device.objects.get(pk=agent.identity["device_id"]).last_seen_at is not None


def test_the_loop_stops_when_the_device_is_retired(enrolled):
    from devices.services import device_retire

    device_retire(device=enrolled.server_device, reason="test")
    assert enrolled.run(wait=0, max_seconds=5) == "retired"


def test_the_offline_timer_wipes_the_work_side_by_itself(enrolled, tmp_path):
    clock = Clock()
    agent = Agent(enrolled.state.root, transport=enrolled.transport, clock=clock)
    agent.sync_policy()
    agent.checkin()
    agent.put_file("work", "plans.txt", b"plans")
    agent.put_file("personal", "photo.txt", b"cat")
    max_days = agent.policy["access"]["max_offline_days"]
    clock.sleep(max_days * 86400 - 60)
    assert not agent.enforce_offline_timer()
    assert agent.container.get("work", "plans.txt") == b"plans"
    clock.sleep(120)
    assert agent.enforce_offline_timer()
    assert agent.container.status == "wiped" and not agent.container.corporate.exists()
    assert agent.container.get("personal", "photo.txt") == b"cat"
    # When it reaches the server again, it reports the wiped container.
    agent.checkin()
    assert Device.objects.get(pk=agent.identity["device_id"]).container_state == "wiped"
    from mdm.models import AuditEvent

    assert AuditEvent.objects.filter(action="device.wiped_by_agent", target_id=agent.identity["device_id"]).exists()
