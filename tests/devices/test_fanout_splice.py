"""The push's spliced policies: the template serialised once, each device's values spliced in. The
bytes must be those `jwt.encode` makes of the device's own claims, and the agent must accept them."""

from __future__ import annotations

import json
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from agent.policy import verify_policy
from devices.models import ContainerKey, Device, PolicyVersion
from devices.policy import POLICY_TYP, PolicyTarget, PolicyTemplate, new_policy_versions
from mdm.signing import ClaimsTemplate, JwsSigner, Slot, private_key, signing_key_current, signing_key_rotate
from personas.compiler import PolicyInvalid, compile_policy, persona_template
from personas.models import Persona
from personas.services import persona_update, spec_of

# Everything JSON escapes differently from plain text, and what %-formatting would take for its own.
AWKWARD = 'Büro "quoted" \\ back\nslash\t%(aud)s %s 100% </script> \u2028 \U0001f4f1 \x00'


def test_a_claims_template_splices_exactly_what_json_dumps_writes():
    claims = {"iss": AWKWARD, "aud": Slot("aud"), "n": Slot("n"), "nested": {"list": [AWKWARD, Slot("s")]}}
    template = ClaimsTemplate(claims)
    for aud, n, s in [("plain", 1, "x"), (AWKWARD, 2**70, AWKWARD), ("", 0, '"'), ("%%", -5, "%(n)s")]:
        filled = {"iss": AWKWARD, "aud": aud, "n": n, "nested": {"list": [AWKWARD, s]}}
        assert template.render({"aud": aud, "n": n, "s": s}) == json.dumps(filled, separators=(",", ":")).encode()


@pytest.mark.parametrize("value", [True, 1.5, None, b"bytes", ["list"], {"a": 1}])
def test_a_claims_template_takes_only_strings_and_integers(value):
    with pytest.raises(TypeError):
        ClaimsTemplate({"aud": Slot("aud")}).render({"aud": value})


def test_a_claims_template_wants_each_slot_once_and_no_other_values():
    template = ClaimsTemplate({"aud": Slot("aud"), "v": Slot("v")})
    for values in ({"aud": "a"}, {"aud": "a", "v": 1, "extra": 2}):
        with pytest.raises(ValueError, match="slots"):
            template.render(values)
    with pytest.raises(ValueError, match="once"):
        ClaimsTemplate({"a": Slot("x"), "b": Slot("x")})
    with pytest.raises(ValueError, match="identifier"):
        Slot("a)s")
    with pytest.raises(TypeError):
        ClaimsTemplate({"a": object()})


def test_a_spliced_jws_is_byte_for_byte_what_jwt_encode_makes():
    key = Ed25519PrivateKey.generate()
    claims = {"iss": "https://mdm.example", "aud": "device-1", "iat": 1700000000, "policy": {"name": AWKWARD}}
    payload = ClaimsTemplate({**claims, "aud": Slot("aud")}).render({"aud": "device-1"})
    spliced = JwsSigner(key, kid="kid-1", typ=POLICY_TYP).sign(payload)
    assert spliced == jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "kid-1", "typ": POLICY_TYP})


def _template(actors, name=AWKWARD) -> dict:
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    persona.name = name  # the template's own strings are serialised once: escaping must hold there too
    return persona_template(persona, spec_of(persona))


def test_each_device_gets_the_claims_the_per_device_builder_makes_signed_with_its_pinned_key(actors):
    old = signing_key_current()
    signing_key_rotate()
    new = signing_key_current()
    template = _template(actors)
    targets = [
        PolicyTarget(actors.org.pk, uuid.uuid4(), old.kid, 2, uuid.uuid4(), 1),  # still pins the old key
        PolicyTarget(actors.org.pk, uuid.uuid4(), new.kid, 17, uuid.uuid4(), 3),
        PolicyTarget(actors.org.pk, uuid.uuid4(), "", 1, uuid.uuid4(), 12345678901),  # pins none: the active key
        PolicyTarget(actors.org.pk, uuid.uuid4(), "retired-or-unknown", 2**40, uuid.uuid4(), 1),
    ]
    signed = PolicyTemplate(template).sign(targets)
    for target, jws, key in zip(targets, signed, [old, new, new, new], strict=True):
        iat = jwt.decode(jws, options={"verify_signature": False})["iat"]
        document = compile_policy(
            template, version=target.version, key_id=str(target.key_id), key_version=target.key_version
        )
        reference = jwt.encode(
            {"iss": settings.MDM_ISSUER, "aud": str(target.device_id), "iat": iat, "policy": document},
            private_key(key),
            algorithm="EdDSA",
            headers={"kid": key.kid, "typ": POLICY_TYP},
        )
        assert jws == reference


def test_a_spliced_value_the_schema_refuses_is_refused(actors):
    policy = PolicyTemplate(_template(actors))
    for version, key_version in ((0, 1), (1, 0), (True, 1), (1, 1.0)):
        with pytest.raises(PolicyInvalid):
            policy.sign([PolicyTarget(actors.org.pk, uuid.uuid4(), "", version, uuid.uuid4(), key_version)])
    with pytest.raises(PolicyInvalid):
        policy.sign([PolicyTarget(actors.org.pk, uuid.uuid4(), "", 1, "not-a-uuid", 1)])  # type: ignore[arg-type]


def test_the_reference_agent_accepts_each_spliced_policy_and_only_its_own(actors, agent_factory):
    agents = [agent_factory() for _ in range(3)]
    devices = [Device.objects.get(pk=agent.identity["device_id"]) for agent in agents]
    keys = [ContainerKey.objects.get(device=device, state="active") for device in devices]
    versions = new_policy_versions(template=_template(actors), entries=list(zip(devices, keys, strict=True)))
    for agent, version, key in zip(agents, versions, keys, strict=True):
        identity = agent.identity
        document = verify_policy(
            version.jws,
            pinned_keys=identity["signing_keys"],
            device_id=identity["device_id"],
            issuer=identity["issuer"],
            applied=1,
        )
        assert (document["version"], document["persona"]["name"]) == (2, AWKWARD)
        assert document["encryption"]["key_id"] == str(key.pk)
    with pytest.raises(Exception, match="another device"):
        identity = agents[0].identity
        verify_policy(
            versions[1].jws,
            pinned_keys=identity["signing_keys"],
            device_id=identity["device_id"],
            issuer=identity["issuer"],
            applied=None,
        )


def test_a_pushed_policy_is_what_the_single_device_path_would_have_signed(actors, agent_factory):
    from devices.push import push_run, push_start_for_persona

    agents = [agent_factory() for _ in range(4)]
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] = 11
    persona, _ = persona_update(persona=persona, spec=spec)
    push_run(push_start_for_persona(persona=persona).pk)
    template = persona_template(persona, spec_of(persona))
    for agent in agents:
        pushed = PolicyVersion.objects.get(device_id=agent.identity["device_id"], version=2)
        claims = jwt.decode(pushed.jws, options={"verify_signature": False})
        key = ContainerKey.objects.get(device_id=agent.identity["device_id"], state="active")
        assert claims == {
            "iss": settings.MDM_ISSUER,
            "aud": agent.identity["device_id"],
            "iat": claims["iat"],
            "policy": compile_policy(template, version=2, key_id=str(key.pk), key_version=key.version),
        }
        (ran,) = agent.poll()
        assert (ran["type"], ran["result"]) == ("apply_policy", "acknowledged")
        assert agent.policy["access"]["max_offline_days"] == 11
