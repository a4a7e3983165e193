"""The audit actions about personas and the detail keys each may record.

`persona.devices_assigned` is written by the devices app when it moves devices to a persona (the
persona is the event's target); it is declared here with the other persona actions.
"""

from mdm.audit import register_actions

register_actions(
    {
        "persona.created": {"name", "preset", "revision"},
        "persona.updated": {"name", "revision", "diff"},
        "persona.deleted": {"name"},
        "persona.devices_assigned": {"devices", "device_ids"},
    }
)
