"""POST /api/v1/agent/token and the access tokens it issues (agent protocol, section 2)."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devices.models import UsedAssertion
from devices.services import device_retire
from mdm.signing import b64url_decode, jwks
from tests.agents import Keys, enroll_body

TOKEN_URL = "/api/v1/agent/token"
CHECKIN_URL = "/api/v1/agent/checkin"
CHECKIN = {"container_state": "active", "os_version": "14", "agent_version": "1.0.0"}


@pytest.fixture
def device(client, actors, issue_token):
    """A device enrolled with hand-held keys, so tests can sign whatever they like."""
    keys = Keys()
    response = client.post(
        "/api/v1/agent/enroll", enroll_body(issue_token().token, keys), content_type="application/json"
    )
    keys.device_id = response.json()["device_id"]
    return keys


def exchange(client, assertion):
    return client.post(TOKEN_URL, {"assertion": assertion}, content_type="application/json")


def checkin(client, token):
    return client.post(CHECKIN_URL, CHECKIN, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def refused(response, status=401, code="invalid_assertion"):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    return response


def test_a_signed_assertion_gets_a_15_minute_eddsa_access_token(client, device):
    response = exchange(client, device.assertion(device.device_id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert response["Cache-Control"] == "no-store"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
    assert header["kid"] in {k["kid"] for k in jwks()["keys"]}
    published = next(k for k in jwks()["keys"] if k["kid"] == header["kid"])
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    claims = jwt.decode(
        body["access_token"],
        Ed25519PublicKey.from_public_bytes(b64url_decode(published["x"])),
        algorithms=["EdDSA"],
        audience="http://localhost:8000/api/v1/agent",
    )
    assert claims["sub"] == device.device_id and claims["exp"] - claims["iat"] == 900
    assert checkin(client, body["access_token"]).status_code == 200


def test_alg_none_is_refused(client, device):
    now = int(time.time())
    claims = {"iss": device.device_id, "sub": device.device_id, "aud": "http://localhost:8000/api/v1/agent/token",
              "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}  # fmt: skip
    refused(exchange(client, jwt.encode(claims, None, algorithm="none")))


def test_hs256_signed_with_the_public_key_bytes_is_refused(client, device):
    """The classic algorithm-confusion attack: an HMAC keyed with the (public) verification key."""
    now = int(time.time())
    public = device.signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    claims = {"iss": device.device_id, "sub": device.device_id, "aud": "http://localhost:8000/api/v1/agent/token",
              "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}  # fmt: skip
    import hashlib
    import hmac
    import json

    from mdm.signing import b64url

    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = b64url(hmac.new(public, f"{head}.{body}".encode(), hashlib.sha256).digest())
    refused(exchange(client, f"{head}.{body}.{signature}"))


def test_a_wrong_audience_is_refused(client, device):
    refused(exchange(client, device.assertion(device.device_id, aud="https://evil.example/api/v1/agent/token")))


def test_an_expired_assertion_is_refused(client, device):
    refused(exchange(client, device.assertion(device.device_id, iat=int(time.time()) - 400, lifetime=120)),
            code="assertion_expired")  # fmt: skip


def test_an_assertion_within_the_60_second_leeway_is_accepted(client, device):
    assert (
        exchange(client, device.assertion(device.device_id, iat=int(time.time()) - 150, lifetime=100)).status_code
        == 200
    )


def test_an_assertion_living_over_300_seconds_is_refused(client, device):
    refused(exchange(client, device.assertion(device.device_id, lifetime=301)))
    assert exchange(client, device.assertion(device.device_id, lifetime=300)).status_code == 200


def test_an_assertion_from_the_future_is_refused(client, device):
    refused(exchange(client, device.assertion(device.device_id, iat=int(time.time()) + 600)))


def test_a_replayed_jti_is_refused(client, device):
    assertion = device.assertion(device.device_id)
    assert exchange(client, assertion).status_code == 200
    refused(exchange(client, assertion), code="assertion_replayed")
    assert UsedAssertion.objects.count() == 1


def test_an_assertion_signed_by_another_devices_key_is_refused(client, device, actors, issue_token):
    other = Keys()
    client.post("/api/v1/agent/enroll", enroll_body(issue_token().token, other), content_type="application/json")
    refused(exchange(client, device.assertion(device.device_id, key=other.signing)))
    refused(exchange(client, device.assertion(device.device_id, key=Ed25519PrivateKey.generate())))


@pytest.mark.parametrize(
    "overrides",
    [{"iss": "not-a-uuid", "sub": "not-a-uuid"}, {"sub": str(uuid.uuid4())}, {"jti": "short"}, {"jti": 12345678}],
)
def test_malformed_claims_are_refused(client, device, overrides):
    refused(exchange(client, device.assertion(device.device_id, **overrides)))


def test_an_unknown_device_is_refused(client, device):
    refused(exchange(client, device.assertion(uuid.uuid4())))


@pytest.mark.parametrize("body", [{}, {"assertion": 5}, {"assertion": "a.b.c"}, {"assertion": "x" * 5000}])
def test_a_malformed_request_is_4xx(client, db, body):
    response = client.post(TOKEN_URL, body, content_type="application/json")
    assert response.status_code in (400, 401)
    assert response["Content-Type"] == "application/problem+json"


def test_a_tampered_access_token_is_refused(client, device):
    token = exchange(client, device.assertion(device.device_id)).json()["access_token"]
    head, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = str(uuid.uuid4())
    import json

    from mdm.signing import b64url

    forged_body = b64url(json.dumps(claims).encode())
    refused(checkin(client, f"{head}.{forged_body}.{signature}"), code="invalid_token")
    refused(checkin(client, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")), code="invalid_token")


def test_an_access_token_of_a_retired_device_is_refused_at_once(client, device):
    from devices.models import Device

    token = exchange(client, device.assertion(device.device_id)).json()["access_token"]
    assert checkin(client, token).status_code == 200  # the device state is now cached
    device_retire(device=Device.objects.get(pk=device.device_id), reason="test")
    refused(checkin(client, token), status=403, code="device_retired")
    refused(exchange(client, device.assertion(device.device_id)), status=403, code="device_retired")


def test_no_token_or_an_admin_token_gets_a_401_on_the_agent_api(client, actors):
    refused(client.post(CHECKIN_URL, CHECKIN, content_type="application/json"), code="not_authenticated")
    response = client.post(
        CHECKIN_URL, CHECKIN, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {actors.token(actors.owner)}"
    )
    refused(response, code="invalid_token")


def test_an_access_token_is_not_an_admin_api_token(client, device):
    token = exchange(client, device.assertion(device.device_id)).json()["access_token"]
    response = client.get("/api/v1/devices/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
