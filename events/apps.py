from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Event destinations"

    def ready(self) -> None:
        from events import audit, services  # noqa: F401  (audit actions, the wrapped secret for KEK rotation)
        from events.metrics import destination_families
        from mdm.metrics import register_collector

        register_collector(destination_families)
