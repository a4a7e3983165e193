from devices.commands.base import CommandType, registry


@registry.register
class RotateContainerKey(CommandType):
    """Fetch the new container key (`{"key_id", "version"}`) and re-encrypt the container."""

    name = "rotate_container_key"
    priority = 20
