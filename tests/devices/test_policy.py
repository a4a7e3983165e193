"""Signed policy versions: GET /api/v1/agent/policy, and the agent's verification of them."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.policy import PolicyRejected, verify_policy
from devices.models import PolicyVersion
from devices.policy import policy_issue
from mdm.signing import jwks
from personas.compiler import validate_policy


def test_enrollment_issues_version_1_of_the_default_persona(enrolled):
    record = PolicyVersion.objects.get(device=enrolled.server_device)
    assert record.version == 1 and record.persona.name == "BYOD basic"
    validate_policy(record.document)
    header = jwt.get_unverified_header(record.jws)
    assert header == {"alg": "EdDSA", "kid": jwks()["keys"][0]["kid"], "typ": "mdm-policy+jwt"}
    assert record.document["encryption"]["key_version"] == 1


def test_the_policy_comes_with_an_etag_and_304_costs_no_signing(enrolled, django_assert_max_num_queries):
    reply = enrolled.call("GET", "policy")
    assert reply.body["version"] == 1 and reply.headers["etag"] == '"1"'
    enrolled.access_token()
    with django_assert_max_num_queries(1):  # the device's version; no policy row, no signing key
        again = enrolled.call("GET", "policy", headers={"If-None-Match": '"1"'})
    assert again.status == 304
    policy_issue(device=enrolled.server_device)
    assert enrolled.call("GET", "policy", headers={"If-None-Match": '"1"'}).body["version"] == 2


def test_the_agent_applies_a_verified_policy(enrolled):
    assert enrolled.sync_policy() == 1
    assert enrolled.policy["persona"]["name"] == "BYOD basic"
    assert enrolled.container.status == "active"


def _verify(agent, jws, applied=None):
    identity = agent.identity
    return verify_policy(
        jws,
        pinned_keys=identity["signing_keys"],
        device_id=identity["device_id"],
        issuer=identity["issuer"],
        applied=applied,
    )


def test_the_agent_refuses_a_policy_signed_by_another_key(enrolled):
    record = PolicyVersion.objects.get(device=enrolled.server_device)
    claims = jwt.decode(record.jws, options={"verify_signature": False})
    kid = jwt.get_unverified_header(record.jws)["kid"]
    forged = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid, "typ": "mdm-policy+jwt"}
    )
    with pytest.raises(PolicyRejected, match="do not verify"):
        _verify(enrolled, forged)
    unknown = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "x", "typ": "mdm-policy+jwt"}
    )
    with pytest.raises(PolicyRejected, match="not pinned"):
        _verify(enrolled, unknown)


def test_the_agent_refuses_a_tampered_payload(enrolled):
    record = PolicyVersion.objects.get(device=enrolled.server_device)
    head, _, signature = record.jws.split(".")
    claims = jwt.decode(record.jws, options={"verify_signature": False})
    claims["policy"]["data_sharing"]["clipboard"]["work_to_personal"] = "allow"
    import json

    from mdm.signing import b64url

    tampered = ".".join([head, b64url(json.dumps(claims).encode()), signature])
    with pytest.raises(PolicyRejected):
        _verify(enrolled, tampered)


def test_the_agent_refuses_another_devices_policy(agent_factory):
    mine, theirs = agent_factory(), agent_factory()
    their_jws = PolicyVersion.objects.get(device_id=theirs.identity["device_id"]).jws
    with pytest.raises(PolicyRejected, match="another device"):
        _verify(mine, their_jws)


def test_the_agent_refuses_an_older_or_replayed_version(enrolled):
    first = PolicyVersion.objects.get(device=enrolled.server_device).jws
    enrolled.sync_policy()
    policy_issue(device=enrolled.server_device)
    assert enrolled.sync_policy() == 2
    with pytest.raises(PolicyRejected, match="not newer"):
        _verify(enrolled, first, applied=2)


def test_the_agent_refuses_alg_none_and_the_wrong_type(enrolled):
    claims = {"iss": enrolled.identity["issuer"], "aud": enrolled.identity["device_id"], "iat": int(time.time()),
              "policy": {"schema": "mdm-policy/1", "version": 9}}  # fmt: skip
    with pytest.raises(PolicyRejected):
        _verify(enrolled, jwt.encode(claims, None, algorithm="none"))
    access_token = enrolled.access_token()  # a JWT the server signed, but not a policy
    with pytest.raises(PolicyRejected, match="mdm-policy"):
        _verify(enrolled, access_token)


def test_versions_strictly_increase_per_device(agent_factory):
    first, second = agent_factory(), agent_factory()
    for _ in range(3):
        policy_issue(device=_device(first))
    assert list(
        PolicyVersion.objects.filter(device_id=first.identity["device_id"])
        .order_by("version")
        .values_list("version", flat=True)
    ) == [1, 2, 3, 4]
    assert PolicyVersion.objects.filter(device_id=second.identity["device_id"]).count() == 1


def _device(agent):
    from devices.models import Device

    return Device.objects.get(pk=agent.identity["device_id"])
