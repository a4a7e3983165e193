"""The compiler: (persona revision, a device's version and key) -> policy document.

The document is the `policy` claim of agent protocol section 4, and always validates against
personas/schemas/policy-v1.json (served to agents at /api/v1/agent/schema/policy-v1.json). A
persona knows nothing of devices: the caller passes the per-device values in.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from personas.models import Persona

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "policy-v1.json"
SCHEMA_ID = "mdm-policy/1"


@cache
def policy_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def _validator() -> Draft202012Validator:
    schema = policy_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


class PolicyInvalid(Exception):
    """The compiler produced a document its own schema refuses: a bug, never sent to a device."""


def validate_policy(document: dict) -> None:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(root)"
        raise PolicyInvalid(f"{len(errors)} schema error(s); first at {where}: {errors[0].message}")


def persona_template(persona: Persona, spec: dict) -> dict:
    """The part of the document that is the same for every device of this persona revision."""
    return {
        "schema": SCHEMA_ID,
        "persona": {"id": str(persona.pk), "name": persona.name, "revision": persona.revision},
        "apps": {
            "default": "block",
            "rules": [
                {
                    "id": rule["id"],
                    "install": rule["install"],
                    "min_version": rule["min_version"],
                    "signing_cert_sha256": rule["signing_cert_sha256"],
                    "managed_config": rule["managed_config"],
                }
                for rule in spec["apps"]
            ],
        },
        "data_sharing": copy.deepcopy(spec["data_sharing"]),
        "encryption": {
            "cipher": spec["encryption"]["cipher"],
            "rotate_after_days": spec["encryption"]["rotate_after_days"],
        },
        "access": copy.deepcopy(spec["access"]),
    }


def compile_policy(template: dict, *, version: int, key_id: str, key_version: int) -> dict:
    """One device's policy document, validated."""
    document = {**template, "version": version}
    document["encryption"] = {**template["encryption"], "key_id": key_id, "key_version": key_version}
    validate_policy(document)
    return document
