"""Google API discovery documents, as shipped in google-api-python-client, and validation against them.

A discovery document describes each resource's JSON schema (`schemas`) and each method's
parameters and request body (`resources`). `validate` checks a JSON value against one schema the
way Google's servers refuse a request: an unknown field, a value of the wrong type, an enum value
that is not listed, an int32 out of range, a malformed int64, duration or timestamp. The Android
bridge validates every policy it compiles with it before sending, and the tests' stand-in of the
Android Management API validates every request it receives with it.

`strict=True` also refuses what a server accepts but a careful client never writes: read-only
fields (ignored by Google), and deprecated fields and enum values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from googleapiclient.discovery_cache import get_static_doc

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = re.compile(r"^-?[0-9]{1,19}$")
UINT64 = re.compile(r"^[0-9]{1,20}$")
# google-datetime: RFC 3339 with a Z or an offset, fractions of a second optional.
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
# google-duration: seconds with up to nine decimals and an "s" ("3.5s").
DURATION = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,9})?s$")
FIELD_MASK = re.compile(r"^[A-Za-z0-9_.]*(,[A-Za-z0-9_.]+)*$")
BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


class DiscoveryError(Exception):
    """A name that the discovery document does not have (a bug in the caller, not bad input)."""


@cache
def document(service: str = "androidmanagement", version: str = "v1") -> dict[str, Any]:
    """The discovery document shipped in the client package (never fetched from the network)."""
    text = get_static_doc(service, version)
    if text is None:
        raise DiscoveryError(f"google-api-python-client ships no discovery document for {service} {version}.")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def method(doc: Mapping[str, Any], method_id: str) -> dict[str, Any]:
    """A method's description by its id (`androidmanagement.enterprises.policies.patch`)."""
    found = methods(doc).get(method_id)
    if found is None:
        raise DiscoveryError(f"No method {method_id!r} in {doc.get('id')}.")
    return found


# The last document indexed, with its index: the stand-in and the validator ask of one document.
_indexed: tuple[Mapping[str, Any], dict[str, dict[str, Any]]] | None = None


def methods(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every method's description in the document, by its id."""
    global _indexed
    if _indexed is not None and _indexed[0] is doc:
        return _indexed[1]
    found: dict[str, dict[str, Any]] = {}

    def walk(resources: Mapping[str, Any]) -> None:
        for resource in resources.values():
            for description in resource.get("methods", {}).values():
                found[description["id"]] = description
            walk(resource.get("resources", {}))

    walk(doc.get("resources", {}))
    _indexed = (doc, found)
    return found


def validate(doc: Mapping[str, Any], schema: str, value: Any, *, strict: bool = False, path: str = "") -> list[str]:
    """Every way `value` breaks the schema named `schema`, one message per fault, each led by the
    path to the faulty field (`applications[0].installType`). Empty when it is valid."""
    schemas = doc["schemas"]
    if schema not in schemas:
        raise DiscoveryError(f"No schema {schema!r} in {doc.get('id')}.")
    errors: list[str] = []
    _check(schemas, {"$ref": schema}, value, path, errors, strict)
    return errors


def _check(
    schemas: Mapping[str, Any], prop: Mapping[str, Any], value: Any, path: str, errors: list[str], strict: bool
) -> None:
    where = path or "(root)"
    if "$ref" in prop:
        schema = schemas[prop["$ref"]]
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object ({prop['$ref']}), got {_kind(value)}.")
            return
        properties = schema.get("properties", {})
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key not in properties:
                errors.append(f"{child}: unknown field of {prop['$ref']}.")
                continue
            described = properties[key]
            if strict and _read_only(described):
                errors.append(f"{child}: read-only field of {prop['$ref']}: the server sets it.")
            if strict and described.get("deprecated"):
                errors.append(f"{child}: deprecated field of {prop['$ref']}.")
            _check(schemas, described, item, child, errors, strict)
        return
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "any":
        return
    if kind == "object":
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object, got {_kind(value)}.")
            return
        if "additionalProperties" in prop:
            for key, item in value.items():
                _check(schemas, prop["additionalProperties"], item, f"{path}[{json.dumps(key)}]", errors, strict)
        elif "properties" in prop:
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if key not in prop["properties"]:
                    errors.append(f"{child}: unknown field.")
                else:
                    _check(schemas, prop["properties"][key], item, child, errors, strict)
        return
    if kind == "array":
        if not isinstance(value, list):
            errors.append(f"{where}: expected an array, got {_kind(value)}.")
            return
        for index, item in enumerate(value):
            _check(schemas, prop.get("items", {"type": "any"}), item, f"{path}[{index}]", errors, strict)
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: expected a boolean, got {_kind(value)}.")
        return
    if kind == "integer":
        low, high = UINT32 if fmt == "uint32" else INT32
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{where}: expected an integer, got {_kind(value)}.")
        elif not low <= value <= high:
            errors.append(f"{where}: {value} is out of the {fmt or 'int32'} range.")
        return
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{where}: expected a number, got {_kind(value)}.")
        return
    if kind == "string":
        _check_string(prop, value, where, errors, strict)
        return
    errors.append(f"{where}: the discovery document gives no type this validator knows ({kind!r}).")


def _read_only(prop: Mapping[str, Any]) -> bool:
    """Output-only fields: marked `readOnly`, or (older parts of the document) only said to be."""
    description = prop.get("description", "")
    return (
        bool(prop.get("readOnly"))
        or description.startswith("Output only")
        or "This is a read-only field" in description
    )


def _check_string(prop: Mapping[str, Any], value: Any, where: str, errors: list[str], strict: bool) -> None:
    fmt = prop.get("format")
    if not isinstance(value, str):
        # proto3's JSON mapping accepts an int64 as a number too; a careful client sends a string.
        if fmt in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool) and not strict:
            return
        errors.append(f"{where}: expected a string, got {_kind(value)}.")
        return
    enum: Sequence[str] | None = prop.get("enum")
    if enum is not None:
        if value not in enum:
            errors.append(f"{where}: {value!r} is not one of {', '.join(enum)}.")
        elif strict and prop.get("enumDeprecated") and prop["enumDeprecated"][list(enum).index(value)]:
            errors.append(f"{where}: {value!r} is deprecated.")
        return
    pattern = {
        "int64": INT64,
        "uint64": UINT64,
        "google-datetime": DATETIME,
        "google-duration": DURATION,
        "google-fieldmask": FIELD_MASK,
        "byte": BASE64,
    }.get(fmt or "")
    if pattern is not None and not pattern.match(value):
        errors.append(f"{where}: {value!r} is not a valid {fmt}.")


def validate_parameters(doc: Mapping[str, Any], method_id: str, params: Mapping[str, Sequence[str]]) -> list[str]:
    """Every way a request's path and query parameters break a method's description: a parameter
    the method does not take (the standard ones aside), a required one missing, a value outside
    its enum or of the wrong type."""
    description = method(doc, method_id)
    declared = {**doc.get("parameters", {}), **description.get("parameters", {})}
    errors = []
    for name, values in params.items():
        if name not in declared:
            errors.append(f"{name}: unknown parameter of {method_id}.")
            continue
        spec = declared[name]
        if len(values) > 1 and not spec.get("repeated"):
            errors.append(f"{name}: given {len(values)} times.")
        for value in values:
            if spec.get("type") == "boolean" and value not in ("true", "false"):
                errors.append(f"{name}: {value!r} is not true or false.")
            elif spec.get("type") == "integer" and not re.fullmatch(r"-?[0-9]+", value):
                errors.append(f"{name}: {value!r} is not an integer.")
            elif spec.get("enum") and value not in spec["enum"]:
                errors.append(f"{name}: {value!r} is not one of {', '.join(spec['enum'])}.")
            elif spec.get("pattern") and not re.fullmatch(spec["pattern"].lstrip("^").rstrip("$"), value):
                errors.append(f"{name}: {value!r} does not match {spec['pattern']}.")
    for name, spec in description.get("parameters", {}).items():
        if spec.get("required") and name not in params:
            errors.append(f"{name}: required by {method_id}.")
    return errors


def request_schema(doc: Mapping[str, Any], method_id: str) -> str | None:
    """The schema a method's request body must follow (None: the method takes no body)."""
    request = method(doc, method_id).get("request")
    return request["$ref"] if request else None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
