import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from mdm.models import AuditEvent, SigningKey
from mdm.signing import b64url_decode, okp_thumbprint, sign_jwt, signing_key_current, verify_jwt


@pytest.fixture(autouse=True)
def _fresh_jwks_cache():
    from django.core.cache import cache

    cache.delete("mdm:jwks:v1")


def test_the_first_use_creates_one_active_key_wrapped_under_the_kek(db):
    key = signing_key_current()
    assert signing_key_current().kid == key.kid
    assert SigningKey.objects.count() == 1
    assert key.kid == okp_thumbprint(bytes(key.public_key))
    # Only the wrapped private key is stored: 1 + 8 + 12 + 32 + 16 bytes.
    assert len(bytes(key.wrapped_private_key)) == 69


def test_jwks_publishes_the_public_keys(client, db):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    (key,) = response.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA"
    assert len(b64url_decode(key["x"])) == 32
    assert "d" not in key


def test_rotation_keeps_the_old_key_published_and_verifiable(client, actors, capsys):
    token = sign_jwt({"sub": "x", "exp": int(time.time()) + 60})
    old_kid = signing_key_current().kid
    call_command("rotate_signing_key")
    new_kid = signing_key_current().kid
    assert new_kid != old_kid
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert kids == [new_kid, old_kid]
    assert verify_jwt(token)["sub"] == "x"
    assert jwt.get_unverified_header(sign_jwt({"sub": "y"}))["kid"] == new_kid
    event = AuditEvent.objects.filter(organization=actors.org, action="signing_key.rotated").get()
    assert event.details == {"old_kid": old_kid, "new_kid": new_kid}


def test_verify_refuses_alg_none_unknown_keys_and_forgeries(db):
    signing_key_current()
    unsigned = jwt.encode({"sub": "x"}, None, algorithm="none")
    with pytest.raises(jwt.InvalidTokenError):
        verify_jwt(unsigned)
    forged = jwt.encode({"sub": "x"}, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "nope"})
    with pytest.raises(jwt.InvalidTokenError):
        verify_jwt(forged)
    real_kid = signing_key_current().kid
    impostor = jwt.encode({"sub": "x"}, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": real_kid})
    with pytest.raises(jwt.InvalidSignatureError):
        verify_jwt(impostor)
