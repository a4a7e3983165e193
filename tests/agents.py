"""Devices for tests: the reference agent's own code, talking to the server in-process through
Django's test client, plus helpers to hand-craft what a hostile agent would send. The fixtures
are made available to every test by tests/conftest.py."""

from __future__ import annotations

import base64
import json
import time
import uuid
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.test import Client

from agent.device import Device as AgentDevice
from agent.transport import AgentError, Reply, Transport
from devices.services import enrollment_token_create
from mdm.actors import SYSTEM
from mdm.models import Membership
from mdm.services import membership_add


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ClientTransport(Transport):
    """The agent's transport, routed to Django's test client instead of the network."""

    def __init__(self, client: Client | None = None, remote_addr: str = "127.0.0.1"):
        self.client = client or Client()
        self.remote_addr = remote_addr

    def request(self, method, url, *, body=None, token=None, headers=None, timeout=None):
        extra = {"REMOTE_ADDR": self.remote_addr}
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data = "" if body is None else json.dumps(body)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.generic(method, path, data, content_type="application/json", **extra)
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = None
        if response.status_code >= 400:
            problem = parsed if isinstance(parsed, dict) else {}
            raise AgentError(
                f"{method} {url}: {response.status_code} {problem.get('detail')}",
                status=response.status_code,
                code=problem.get("code"),
                problem=problem,
            )
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, parsed)


class Keys:
    """A device's two key pairs, as a (possibly hostile) agent would hold them."""

    def __init__(self):
        self.signing = Ed25519PrivateKey.generate()
        self.encryption = X25519PrivateKey.generate()

    @property
    def public(self) -> dict[str, str]:
        return {
            "signing": b64url(self.signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
            "encryption": b64url(self.encryption.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        }

    def assertion(self, device_id, *, lifetime=120, iat=None, aud=None, jti=None, key=None, **overrides) -> str:
        now = int(time.time()) if iat is None else iat
        claims = {
            "iss": str(device_id),
            "sub": str(device_id),
            "aud": aud or f"{settings.MDM_ISSUER}/api/v1/agent/token",
            "iat": now,
            "exp": now + lifetime,
            "jti": jti or uuid.uuid4().hex,
            **overrides,
        }
        return jwt.encode(claims, key or self.signing, algorithm="EdDSA", headers={"typ": "JWT"})


def enroll_body(token: str, keys: Keys, **device) -> dict:
    return {
        "token": token,
        "device": {"platform": "android", "os_version": "14", "model": "Pixel 8", "agent_version": "1.0.0", **device},
        "keys": keys.public,
    }


@pytest.fixture
def issue_token(actors):
    """Make an enrollment token in the actors' organization through the real service."""

    def issue(**kwargs):
        kwargs.setdefault("organization", actors.org)
        kwargs.setdefault("actor", SYSTEM)
        employee = kwargs.get("employee")
        if employee is not None and not Membership.objects.filter(user=employee, organization=kwargs["organization"]):
            # A token is bound only to a member: make the employee one, as the console would.
            membership_add(organization=kwargs["organization"], user=employee, role="employee", actor=SYSTEM)
        return enrollment_token_create(**kwargs)

    return issue


@pytest.fixture
def agent_factory(tmp_path, issue_token):
    """Reference agents, each with its own state folder, enrolled with a fresh token."""
    counter = iter(range(1000))

    def make(*, enroll=True, remote_addr="127.0.0.1", **token_kwargs) -> AgentDevice:
        device = AgentDevice(tmp_path / f"device-{next(counter)}", transport=ClientTransport(remote_addr=remote_addr))
        if enroll:
            issued = issue_token(**token_kwargs)
            payload = issued.qr_payload
            device.enroll(server=payload["server"], token=payload["token"], pin=payload["pin"])
        return device

    return make


@pytest.fixture
def enrolled(agent_factory):
    """One enrolled reference agent, with its server-side Device row."""
    from devices.models import Device

    agent = agent_factory()
    agent.server_device = Device.objects.get(pk=agent.identity["device_id"])
    return agent
