from django.apps import AppConfig


class MdmConfig(AppConfig):
    name = "mdm"
    verbose_name = "MDM core"

    def ready(self) -> None:
        from mdm.api import schema  # noqa: F401  (registers the OpenAPI auth extensions)
