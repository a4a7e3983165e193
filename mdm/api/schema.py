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
