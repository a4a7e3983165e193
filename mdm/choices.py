from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    HELPDESK = "helpdesk", "Helpdesk"
    AUDITOR = "auditor", "Auditor"


class SigningKeyState(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
