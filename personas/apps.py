from django.apps import AppConfig


class PersonasConfig(AppConfig):
    name = "personas"
    verbose_name = "Corporate personas"

    def ready(self) -> None:
        from mdm.audit import register_actions
        from mdm.services import ORGANIZATION_CREATED_HOOKS
        from personas.services import create_default_persona

        register_actions(
            {
                "persona.created": {"name", "preset", "revision"},
                "persona.updated": {"name", "revision", "diff"},
                "persona.deleted": {"name"},
                "persona.devices_assigned": {"devices", "device_ids"},
            }
        )
        if create_default_persona not in ORGANIZATION_CREATED_HOOKS:
            ORGANIZATION_CREATED_HOOKS.append(create_default_persona)
