from django.apps import AppConfig


class PersonasConfig(AppConfig):
    name = "personas"
    verbose_name = "Corporate personas"

    def ready(self) -> None:
        # Imported once the app registry is ready (they import models), as Django requires.
        from mdm.services import ORGANIZATION_CREATED_HOOKS
        from personas import audit  # noqa: F401  (declares the persona audit actions)
        from personas.services import create_default_persona

        if create_default_persona not in ORGANIZATION_CREATED_HOOKS:
            ORGANIZATION_CREATED_HOOKS.append(create_default_persona)
