from datetime import timedelta

from devices.commands.base import CommandType, registry


@registry.register
class WipeCorporate(CommandType):
    """Erase every corporate app, file and key (`{"wipe_id", "reason"}`); nothing personal.

    It never expires: a lost device that comes back a year later must still be wiped.
    """

    name = "wipe_corporate"
    priority = 0
    lifetime: timedelta | None = None

    def on_acknowledged(self, command, device) -> None:
        from devices.wipe import wipe_result

        wipe_result(command=command, device=device, acknowledged=True)

    def on_error(self, command, device) -> None:
        from devices.wipe import wipe_result

        wipe_result(command=command, device=device, acknowledged=False)
