import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from mdm.models import AuditEvent, SigningKey
from mdm.signing import b64url, b64url_decode, okp_thumbprint, sign_jwt, signing_key_current, verify_jwt


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


def test_the_access_token_decoder_keeps_every_rule_of_the_general_one(db, settings):
    """decode_short_jwt (the agent API's hot path) refuses what jwt.decode refused."""
    import time as clock

    import jwt as pyjwt
    import pytest as _pytest

    from mdm.signing import decode_short_jwt

    now = int(clock.time())
    good = {"iss": settings.MDM_ISSUER, "sub": "d", "aud": "A", "iat": now, "exp": now + 60}
    kid, claims = decode_short_jwt(sign_jwt(good, typ="at+jwt"), typ="at+jwt", audience="A", issuer=settings.MDM_ISSUER)
    assert claims == good and kid == signing_key_current().kid
    bad = [
        (sign_jwt(good, typ="JWT"), pyjwt.InvalidTokenError),  # another type
        (sign_jwt({**good, "aud": "B"}, typ="at+jwt"), pyjwt.InvalidAudienceError),
        (sign_jwt({**good, "iss": "x"}, typ="at+jwt"), pyjwt.InvalidIssuerError),
        (sign_jwt({**good, "exp": now - 1}, typ="at+jwt"), pyjwt.ExpiredSignatureError),
        (sign_jwt({**good, "iat": now + 120}, typ="at+jwt"), pyjwt.ImmatureSignatureError),
        (sign_jwt({**good, "exp": "9999999999"}, typ="at+jwt"), pyjwt.InvalidTokenError),
        (sign_jwt({k: v for k, v in good.items() if k != "sub"}, typ="at+jwt"), pyjwt.MissingRequiredClaimError),
    ]
    token = sign_jwt(good, typ="at+jwt")
    head, body, signature = token.split(".")

    def header(**fields):
        return b64url(json.dumps({"alg": "EdDSA", "typ": "at+jwt", **fields}).encode())

    forged_body = b64url(b'{"iss":"%s","sub":"other","aud":"A","iat":%d,"exp":%d}' % (
        settings.MDM_ISSUER.encode(), now, now + 60))  # fmt: skip
    bad += [
        (f"{head}.{forged_body}.{signature}", pyjwt.InvalidSignatureError),
        (f"{head}.{body}.{signature}=", pyjwt.DecodeError),  # padding, junk
        (f"{head}.{body}!.{signature}", pyjwt.DecodeError),
        (f"{head}.{body}", pyjwt.DecodeError),
        (f"{header(alg='none')}.{body}.", pyjwt.DecodeError),
        (f"{header(alg='HS256')}.{body}.{signature}", pyjwt.InvalidAlgorithmError),
        (f"{header(kid='nope')}.{body}.{signature}", pyjwt.InvalidTokenError),
    ]
    for candidate, error in bad:
        with _pytest.raises(error):
            decode_short_jwt(candidate, typ="at+jwt", audience="A", issuer=settings.MDM_ISSUER)
