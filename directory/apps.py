from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Identity provider (SCIM)"

    def ready(self) -> None:
        from directory import audit  # noqa: F401  (declares the directory's audit actions)
