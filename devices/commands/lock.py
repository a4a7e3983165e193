from devices.commands.base import CommandType, registry


@registry.register
class LockCorporate(CommandType):
    """Seal the corporate container: nothing in it opens until it is unlocked."""

    name = "lock_corporate"
    priority = 5

    def on_acknowledged(self, command, device) -> None:
        from devices.wipe import lock_result

        lock_result(device=device, locked=True)


@registry.register
class UnlockCorporate(CommandType):
    """Open the corporate container again."""

    name = "unlock_corporate"
    priority = 5

    def on_acknowledged(self, command, device) -> None:
        from devices.wipe import lock_result

        lock_result(device=device, locked=False)
