"""Property-based: whatever JSON a broken or hostile agent sends, the agent API answers a 4xx
problem+json (or success), never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.agents import Keys, enroll_body

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)  # fmt: skip

enroll_shaped = st.fixed_dictionaries(
    {
        "token": json_values | st.text(max_size=200),
        "device": json_values
        | st.fixed_dictionaries(
            {"platform": json_values | st.sampled_from(["android", "ios"]), "os_version": json_values,
             "agent_version": json_values, "model": json_values}
        ),
        "keys": json_values | st.fixed_dictionaries({"signing": json_values, "encryption": json_values}),
    }
)  # fmt: skip

checkin_shaped = st.fixed_dictionaries(
    {
        "container_state": json_values | st.sampled_from(["active", "locked", "wiped"]),
        "os_version": json_values | st.text(max_size=40),
        "agent_version": json_values | st.text(max_size=40),
    },
    optional={
        "applied_policy_version": json_values,
        "compliance": json_values | st.fixed_dictionaries({"passcode_compliant": json_values}),
        "work_apps": json_values | st.lists(st.dictionaries(st.sampled_from(["id", "version"]), json_values)),
    },
)  # fmt: skip

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _assert_clean(response):
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == response.status_code and body["code"]
        assert "Traceback" not in response.content.decode()


@pytest.fixture
def no_rate_limits(settings):
    settings.MDM_RATE_LIMITS = dict.fromkeys(settings.MDM_RATE_LIMITS, (10**9, 60))


@FUZZ
@given(body=enroll_shaped | json_values)
def test_enroll_never_fails_with_a_500(client, actors, no_rate_limits, body):
    _assert_clean(client.post("/api/v1/agent/enroll", json.dumps(body), content_type="application/json"))


@FUZZ
@given(body=st.fixed_dictionaries({"assertion": json_values | st.text(max_size=300)}) | json_values)
def test_token_never_fails_with_a_500(client, db, no_rate_limits, body):
    _assert_clean(client.post("/api/v1/agent/token", json.dumps(body), content_type="application/json"))


@FUZZ
@given(body=checkin_shaped | json_values)
def test_checkin_never_fails_with_a_500(client, access_token, no_rate_limits, body):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {access_token}"}
    _assert_clean(client.post("/api/v1/agent/checkin", json.dumps(body), content_type="application/json", **auth))


@FUZZ
@given(
    raw=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/plain", "", "application/xml"])
)
def test_raw_bytes_never_fail_with_a_500(client, access_token, no_rate_limits, raw, content_type):
    for url in ("/api/v1/agent/enroll", "/api/v1/agent/token", "/api/v1/agent/checkin"):
        _assert_clean(client.post(url, raw, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {access_token}"))


@pytest.fixture
def access_token(client, actors, issue_token):
    keys = Keys()
    response = client.post(
        "/api/v1/agent/enroll", enroll_body(issue_token().token, keys), content_type="application/json"
    )
    device_id = response.json()["device_id"]
    return client.post(
        "/api/v1/agent/token", {"assertion": keys.assertion(device_id)}, content_type="application/json"
    ).json()["access_token"]
