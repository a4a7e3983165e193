"""The compiler: (persona revision, a device's version and key) -> policy document.

The document is the `policy` claim of agent protocol section 4, and always validates against
personas/schemas/policy-v1.json (served to agents at /api/v1/agent/schema/policy-v1.json). A
persona knows nothing of devices: the caller passes the per-device values in.
"""

from __future__ import annotations

import copy
import json
import uuid
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


def _fill(template: dict, version: int, key_id: str, key_version: int) -> dict:
    document = {**template, "version": version}
    document["encryption"] = {**template["encryption"], "key_id": key_id, "key_version": key_version}
    return document


def compile_policy(template: dict, *, version: int, key_id: str, key_version: int) -> dict:
    """One device's policy document, validated against the schema."""
    document = _fill(template, version, key_id, key_version)
    validate_policy(document)
    return document


class Compiler:
    """Compiles many devices' documents from one template, validating the schema once.

    A device's document is the template plus three values (version, key id, key version). The
    template is validated against the full schema with sample values once; each device's values
    are then checked for exactly what the schema says of them. Same guarantee, without running
    the whole schema 100,000 times in a push.
    """

    def __init__(self, template: dict):
        validate_policy(_fill(template, 1, str(uuid.UUID(int=0)), 1))
        self.template = template

    def compile(self, *, version: int, key_id: str, key_version: int) -> dict:
        self.check(version=version, key_id=key_id, key_version=key_version)
        return _fill(self.template, version, key_id, key_version)

    @staticmethod
    def check(*, version: int, key_id: str | uuid.UUID, key_version: int) -> None:
        """What the schema says of a device's values (PolicyInvalid when they break it). A UUID
        object as `key_id` stands for its string, which is canonical by construction."""
        if type(version) is not int or version < 1 or type(key_version) is not int or key_version < 1:
            raise PolicyInvalid("version and key_version must be integers of at least 1.")
        if isinstance(key_id, uuid.UUID):
            return
        try:
            canonical = isinstance(key_id, str) and str(uuid.UUID(key_id)) == key_id
        except ValueError:
            canonical = False
        if not canonical:
            raise PolicyInvalid("key_id must be a lower-case hyphenated UUID.")

    def skeleton(self, *, version: object, key_id: object, key_version: object) -> dict:
        """The document with stand-ins where a device's values go, for a caller that serialises it
        once and splices each device's values in (devices.policy), after checking them."""
        return _fill(self.template, version, key_id, key_version)  # type: ignore[arg-type]
