"""schemathesis against the real web process (gunicorn + uvicorn, PostgreSQL, Redis): every
operation of /api/schema/ with an owner's API token, the agent endpoints with a device's access
token. The bar: no server error, and no answer that contradicts the schema (status code,
content type, headers, body). Bounded and repeatable: a fixed number of examples per operation,
derandomized, so CI runs the same cases every time (issue 11)."""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode, checks

from agent.device import Device as Agent
from devices.services import enrollment_token_create

pytestmark = pytest.mark.django_db(transaction=True)

# Examples per operation; `FUZZ_EXAMPLES=500 make test` for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
# Retiring the fuzzing device would leave every later agent call a 403: tested on its own elsewhere.
SKIPPED = {("POST", "/api/v1/agent/unenroll")}


def served_schema() -> dict:
    """What GET /api/schema/ serves, made by the same generator (collection needs it before any
    test, or database, is up)."""
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(served_schema())
# Valid requests and invalid ones (wrong types, missing fields, out-of-range values): both kinds
# must get an answer the schema documents; invalid ones a 4xx (negative_data_rejection).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def test_the_fuzzed_schema_is_the_one_the_server_serves(client, actors):
    client.force_login(actors.owner)
    assert client.get("/api/schema/?format=json").json() == served_schema()


@pytest.fixture
def fuzz_target(live_mdm, actors, tmp_path):
    issued = enrollment_token_create(organization=actors.org)
    agent = Agent(tmp_path / "fuzzing-phone")
    agent.enroll(server=live_mdm.url, token=issued.qr_payload["token"], pin=issued.qr_payload["pin"])
    return {
        "url": live_mdm.url,
        "owner": actors.token(actors.owner),
        "device": agent.access_token(),
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_as_its_schema_says(case, fuzz_target):
    if (case.method.upper(), case.path) in SKIPPED:
        return
    token = fuzz_target["device"] if case.path.startswith("/api/v1/agent/") else fuzz_target["owner"]
    case.call_and_validate(base_url=fuzz_target["url"], headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
