"""Chunked request bodies through the real web process (gunicorn + uvicorn workers): read and
applied with the same size limit as a body with a Content-Length, never answered 2xx while
ignored (issue 11, finding 7)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from devices.models import Device, Push
from devices.services import enrollment_token_create
from personas.models import Persona
from tests.agents import Keys, enroll_body
from tests.live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def send_chunked(live, method: str, path: str, body: bytes, token: str | None = None) -> tuple[int, dict]:
    parts = urlsplit(live.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Several chunks, as a streaming client sends them; http.client adds no Content-Length.
    chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
    connection.request(method, path, body=chunks, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response.status, (json.loads(content) if content else {})


def test_a_chunked_patch_is_applied_over_http(live_mdm, celery_worker, actors):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    apps = [{"id": "com.acme.mail", "managed_config": {"blob": "z" * 12000}}]
    body = json.dumps({"access": {"max_offline_days": 11}, "apps": apps}).encode()
    status, answer = send_chunked(
        live_mdm, "PATCH", f"/api/v1/personas/{persona.pk}/", body, token=actors.token(actors.admin)
    )
    assert status == 200, answer
    persona.refresh_from_db()
    assert persona.revision == 2 and persona.max_offline_days == 11
    assert persona.app_rules.get().managed_config == apps[0]["managed_config"]
    # The change started a push: let the worker finish it before the test's tables are emptied.
    wait_for(lambda: Push.objects.get(pk=answer["push"]["id"]).state == "done", timeout=30)


def test_a_chunked_body_over_the_limit_is_a_413_over_http(live_mdm, actors):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    body = json.dumps({"description": "x" * 72 * 1024}).encode()
    status, answer = send_chunked(
        live_mdm, "PATCH", f"/api/v1/personas/{persona.pk}/", body, token=actors.token(actors.admin)
    )
    assert status == 413 and answer["code"] == "too_large"
    persona.refresh_from_db()
    assert persona.revision == 1


def test_a_chunked_enroll_over_http_enrolls(live_mdm, actors):
    issued = enrollment_token_create(organization=actors.org)
    status, answer = send_chunked(
        live_mdm, "POST", "/api/v1/agent/enroll", json.dumps(enroll_body(issued.token, Keys())).encode()
    )
    assert status == 201, answer
    assert Device.objects.filter(pk=answer["device_id"]).exists()
