"""Device commands: one module per type, a small base class, and a registry.

Every type is registered when this package is imported."""

from devices.commands import apply_policy, lock, rotate_container_key, wipe  # noqa: F401  (registration)
from devices.commands.base import registry

__all__ = ["registry"]
