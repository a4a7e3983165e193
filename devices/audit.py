"""The audit actions of the devices app and the detail keys each may record; and the device
events that are not audit actions but go to the organization's SIEM destinations too."""

from typing import Any

from mdm.audit import register_actions
from mdm.outbox import outbox_emit

register_actions(
    {
        "enrollment_token.created": {
            "prefix",
            "persona",
            "ownership",
            "uses_allowed",
            "expires_at",
            "employee",
            "note",
            "channel",
        },
        "enrollment_token.revoked": {"prefix"},
        "enrollment_token.instructions_sent": {"prefix", "email"},
        "device.enrolled": {"platform", "model", "os_version", "ownership", "persona", "token_prefix", "owner"},
        "device.unenrolled": {"reason"},
        "device.retired": {"reason"},
        "device.wiped_by_agent": {"previous_state"},
        "device.signing_key_rolled_over": {"old_kid", "new_kid"},
        "device.reported_lost": {"reason"},
        "device.renamed": {"old_name", "new_name"},
        "device.lock_requested": {"command_id", "reason"},
        "device.unlock_requested": {"command_id", "reason"},
        "devices.bulk_action": {"action", "selected", "done", "held", "skipped", "persona", "device_ids"},
        "wipe.requested": {"wipe_id", "reason"},
        "wipe.held": {"wipe_id", "reason"},
        "wipe.approved": {"wipe_id", "reason", "requested_by"},
        "wipe.cancelled": {"wipe_id", "reason", "requested_by"},
        "wipe.completed": {"wipe_id", "detail"},
        "wipe.failed": {"wipe_id", "detail"},
        "android.signup_started": {"signup_url_name"},
        "android.connected": {"enterprise"},
        "android.disconnected": {"enterprise", "devices"},
        "saved_device_view.created": {"name", "query"},
        "saved_device_view.deleted": {"name"},
    }
)

# Device events that are not audit actions (the others, enrolled, wipe completed, signing key
# rolled over, wiped by its agent's offline timer, reach destinations as `audit.<action>`).
DEVICE_EVENTS = frozenset({"compliance_changed", "command_result", "offline_timer_fired", "container_key_rotated"})


def device_event_emit(*, device: Any, what: str, **data: Any) -> None:
    """Write the SIEM event `device.<what>` in the caller's transaction (one INSERT)."""
    if what not in DEVICE_EVENTS:
        raise ValueError(f"Unknown device event {what!r}.")
    outbox_emit(
        organization_id=device.organization_id,
        type=f"device.{what}",
        data={"device": {"id": str(device.pk), "name": device.name}, **data},
    )
