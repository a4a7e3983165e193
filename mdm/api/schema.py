"""How the OpenAPI schema describes our authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "mdm.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An admin API token, `mdmat_...` (python manage.py create_api_token, or the console).",
        }


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = "mdm.api.authentication.ConsoleSessionAuthentication"
    name = "consoleSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


# Every operation can answer these as application/problem+json (mdm.api.errors): the schema says so,
# so that a client (or schemathesis) reading it is not told that only the success codes exist.
_PROBLEM_STATUSES = {
    "400": "Invalid input: `errors` names each field at fault.",
    "401": "No valid credentials.",
    "403": "Not allowed for this caller.",
    "404": "Nothing is here, or it belongs to another organization.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflicts with the current state.",
    "413": "The body is over the size limit.",
    "415": "Unsupported media type: send application/json.",
    "429": "Rate limited: see Retry-After.",
    "503": "Temporarily unavailable: see Retry-After.",
}
_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["type", "title", "status", "detail", "code"],
}


def add_problem_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the Problem component, and the problem answers every
    operation may give (a 4xx a view names itself keeps its own description)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
    content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status_code, description in _PROBLEM_STATUSES.items():
                responses.setdefault(status_code, {"description": description})
            for status_code, answer in responses.items():
                if str(status_code)[0] in "45":
                    answer["content"] = content
    return result
