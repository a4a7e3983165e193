from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "devices.agent_api.authentication.DeviceTokenAuthentication"
    name = "deviceAccessToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A device access token from POST /api/v1/agent/token (EdDSA, 15 minutes).",
        }
