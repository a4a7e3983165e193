"""The audit actions of the directory app (SCIM provisioning) and the detail keys each may record."""

from mdm.audit import register_actions

_OFFBOARD = {"user_name", "offboarding", "devices", "wipes", "wipes_held", "locks", "refused", "tokens_revoked",
             "sessions_ended", "enrollment_tokens_revoked"}  # fmt: skip

register_actions(
    {
        "scim_token.created": {"name", "prefix"},
        "scim_token.revoked": {"name", "prefix"},
        "directory.settings_changed": {"offboarding", "old_offboarding"},
        "directory.user_provisioned": {
            "user_name",
            "external_id",
            "active",
            "linked_existing",
            "membership_created",
            "wipes_cancelled",
            "unlocks",
        },
        "directory.user_updated": {"user_name", "changed"},
        "directory.user_deactivated": _OFFBOARD,
        "directory.user_deleted": _OFFBOARD | {"was_active"},
        "directory.user_reactivated": {"user_name", "wipes_cancelled", "unlocks"},
        "directory.group_created": {"display_name", "external_id", "members"},
        "directory.group_updated": {"display_name", "old_display_name", "added", "removed"},
        "directory.group_deleted": {"display_name", "members"},
        "directory.group_mapped": {"display_name", "persona", "old_persona", "priority", "old_priority"},
    }
)
