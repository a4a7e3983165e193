from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    HELPDESK = "helpdesk", "Helpdesk"
    AUDITOR = "auditor", "Auditor"
    # An employee: no console or admin API rights; uses the self-service portal for their devices.
    EMPLOYEE = "employee", "Employee (portal only)"


class SigningKeyState(models.TextChoices):
    ACTIVE = "active", "Active"
    # Rotated out: still published, still signs for the devices that pin it (and their rollover).
    PREVIOUS = "previous", "Previous"
    # Retired for good: its private key is destroyed; devices still pinning it cannot be reached.
    RETIRED = "retired", "Retired"
