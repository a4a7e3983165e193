"""The audit actions of the devices app and the detail keys each may record."""

from mdm.audit import register_actions

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
        "device.enrolled": {"platform", "model", "os_version", "ownership", "persona", "token_prefix", "owner"},
        "device.unenrolled": {"reason"},
        "device.retired": {"reason"},
        "device.wiped_by_agent": {"previous_state"},
        "device.signing_key_rolled_over": {"old_kid", "new_kid"},
        "device.reported_lost": {"reason"},
        "device.lock_requested": {"command_id", "reason"},
        "device.unlock_requested": {"command_id", "reason"},
        "wipe.requested": {"wipe_id", "reason"},
        "wipe.held": {"wipe_id", "reason"},
        "wipe.approved": {"wipe_id", "reason", "requested_by"},
        "wipe.cancelled": {"wipe_id", "reason", "requested_by"},
        "wipe.completed": {"wipe_id", "detail"},
        "wipe.failed": {"wipe_id", "detail"},
        "android.signup_started": {"signup_url_name"},
        "android.connected": {"enterprise"},
        "android.disconnected": {"enterprise", "devices"},
    }
)
