"""429 with Retry-After, per client address and per device."""

import pytest

from agent.transport import AgentError
from tests.agents import Keys, enroll_body


@pytest.fixture
def tight_limits(settings):
    settings.MDM_RATE_LIMITS = {**settings.MDM_RATE_LIMITS, "enroll_ip": (3, 60), "token_device": (2, 60),
                                "token_ip": (5, 60), "agent_device": (4, 60)}  # fmt: skip


def test_enrollment_is_limited_per_client_address(client, actors, issue_token, tight_limits):
    statuses = [
        client.post(
            "/api/v1/agent/enroll", enroll_body("mdmet_nope", Keys()), content_type="application/json"
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [403, 403, 403, 429]
    response = client.post(
        "/api/v1/agent/enroll", enroll_body(issue_token().token, Keys()), content_type="application/json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another address is not affected.
    other = client.post(
        "/api/v1/agent/enroll", enroll_body(issue_token().token, Keys()), content_type="application/json",
        REMOTE_ADDR="10.9.8.7",
    )  # fmt: skip
    assert other.status_code == 201


def test_token_requests_are_limited_per_device(agent_factory, tight_limits):
    first, second = agent_factory(remote_addr="10.0.0.1"), agent_factory(remote_addr="10.0.0.2")
    first.access_token(refresh=True)
    first.access_token(refresh=True)
    with pytest.raises(AgentError) as caught:
        first.access_token(refresh=True)
    assert caught.value.status == 429
    second.access_token(refresh=True)


def test_agent_calls_are_limited_per_device(agent_factory, tight_limits):
    agent = agent_factory()
    for _ in range(4):
        agent.checkin()
    with pytest.raises(AgentError) as caught:
        agent.checkin()
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
