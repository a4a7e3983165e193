from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices"

    def ready(self) -> None:
        from devices import audit  # noqa: F401  (declares the app's audit actions)
        from devices.agent_api import schema  # noqa: F401  (the agent's auth scheme in OpenAPI)
