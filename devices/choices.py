from django.db import models


class Ownership(models.TextChoices):
    PERSONAL = "personal", "Personal (BYOD)"
    CORPORATE = "corporate", "Corporate-owned"


class Platform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WINDOWS = "windows", "Windows"
    MACOS = "macos", "macOS"
    LINUX = "linux", "Linux"


class DeviceState(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ContainerState(models.TextChoices):
    PENDING = "pending", "Pending (not reported yet)"
    ACTIVE = "active", "Active"
    LOCKED = "locked", "Locked"
    WIPE_PENDING = "wipe_pending", "Wipe pending"
    WIPED = "wiped", "Wiped"


# What an agent may report in a check-in (the server alone decides wipe_pending).
REPORTED_CONTAINER_STATES = [ContainerState.ACTIVE, ContainerState.LOCKED, ContainerState.WIPED]


class ManagementChannel(models.TextChoices):
    """How the server reaches a device: exactly one channel per device."""

    AGENT = "agent", "MDM agent (agent protocol: outbox and long poll)"
    ANDROID = "android", "Android Enterprise (Google's Android Management API)"


class CommandState(models.TextChoices):
    QUEUED = "queued", "Queued"
    DELIVERED = "delivered", "Delivered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ERROR = "error", "Error"
    EXPIRED = "expired", "Expired"


PENDING_COMMAND_STATES = [CommandState.QUEUED, CommandState.DELIVERED]


class CommandResult(models.TextChoices):
    """What a device reports about a command (agent protocol, section 6)."""

    ACKNOWLEDGED = "acknowledged", "Done"
    ERROR = "error", "Could not be done"
    NOT_NOW = "not_now", "Not now: deliver it again later"


class TokenStatus(models.TextChoices):
    USABLE = "usable", "Usable"
    USED = "used", "Used up"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ContainerKeyState(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    DESTROYED = "destroyed", "Destroyed"


class WipeState(models.TextChoices):
    HELD = "held", "Held for a second admin's approval"
    PENDING = "pending", "Pending (sent to the device)"
    DONE = "done", "Done (acknowledged by the device)"
    FAILED = "failed", "Failed (the device reported an error)"
    CANCELLED = "cancelled", "Cancelled"


# A wipe still to be done: at most one per device.
WIPE_OPEN_STATES = (WipeState.HELD, WipeState.PENDING)
