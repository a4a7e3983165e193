from django.apps import AppConfig


class MdmConfig(AppConfig):
    name = "mdm"
    verbose_name = "MDM core"

    def ready(self) -> None:
        # Here, not at the top: this module is imported while the app registry is being filled,
        # before any model can be (these modules import mdm.models).
        from mdm import audit  # noqa: F401  (mdm's audit actions)
        from mdm.api import schema  # noqa: F401  (registers the OpenAPI auth extensions)
        from mdm.keyring import register_wrapped
        from mdm.signing import signing_key_context

        register_wrapped("mdm.SigningKey", "wrapped_private_key", lambda row: signing_key_context(row.kid))
