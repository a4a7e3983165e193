"""The audit actions of the events app and the detail keys each may record (never a secret)."""

from mdm.audit import register_actions

register_actions(
    {
        "event_destination.created": {"name", "kind", "config", "event_types", "enabled"},
        "event_destination.updated": {"name", "changed", "config", "event_types", "enabled"},
        "event_destination.deleted": {"name", "kind"},
        "event_destination.secret_rotated": {"name"},
        "event_destination.replay_requested": {"name", "replay_id", "from", "to", "events"},
        "event_destination.test_sent": {"name", "ok", "error"},
        "event_destination.failing": {"name", "failing_since", "last_error"},
        "event_destination.recovered": {"name"},
    }
)
