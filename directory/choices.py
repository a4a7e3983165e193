from django.db import models


class Offboarding(models.TextChoices):
    """What happens to a person's devices in the organization when the identity provider
    deactivates or deletes them."""

    WIPE = "wipe", "Wipe the corporate persona"
    LOCK = "lock", "Lock the corporate persona"
    NOTHING = "nothing", "Leave the devices as they are"
