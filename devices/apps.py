from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices"

    def ready(self) -> None:
        from devices import audit, keys, services  # noqa: F401  (audit actions, wrapped secrets for KEK rotation)
        from devices.agent_api import schema  # noqa: F401  (the agent's auth scheme in OpenAPI)
        from devices.metrics import device_families
        from mdm.metrics import register_collector

        register_collector(device_families)
