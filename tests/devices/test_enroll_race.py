"""Two agents racing for the last use of a token: real concurrent requests on PostgreSQL."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from devices.models import Device, EnrollmentToken
from tests.agents import Keys, enroll_body

pytestmark = pytest.mark.django_db(transaction=True)


def _race(url: str, bodies: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = [0] * len(bodies)

    def run(index: int) -> None:
        request = urllib.request.Request(  # noqa: S310 (the live test server)
            url, data=json.dumps(bodies[index]).encode(), headers={"Content-Type": "application/json"}
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                statuses[index] = response.status
        except urllib.error.HTTPError as exc:
            statuses[index] = exc.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.parametrize(("uses", "agents"), [(1, 2), (3, 8)])
def test_exactly_as_many_agents_win_as_the_token_has_uses(live_server, actors, issue_token, uses, agents):
    issued = issue_token(uses=uses)
    statuses = _race(
        f"{live_server.url}/api/v1/agent/enroll", [enroll_body(issued.token, Keys()) for _ in range(agents)]
    )
    assert sorted(statuses) == [201] * uses + [410] * (agents - uses)
    assert EnrollmentToken.objects.get(pk=issued.enrollment_token.pk).uses_count == uses
    assert Device.objects.filter(enrollment_token=issued.enrollment_token).count() == uses
