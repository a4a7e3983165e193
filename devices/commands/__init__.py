"""Device commands: one module per type, a small base class (base.py) and a registry.

Every type is registered when this package is imported; a new type is one new module here plus
its line below.
"""

from devices.commands import apply_policy, lock, rotate_container_key, wipe  # noqa: F401  (registration)
from devices.commands.base import registry

__all__ = ["registry"]
