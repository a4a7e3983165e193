"""The events app's families of /metrics (mdm.metrics): each destination's backlog and lag."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from events.choices import DestinationState
from events.selectors import destination_lag


def destination_families() -> Iterator[Metric]:
    labels = ["organization", "destination", "name", "kind"]
    pending = GaugeMetricFamily(
        "mdm_event_destination_pending_events", "Events a destination has still to receive.", labels=labels
    )
    lag = GaugeMetricFamily(
        "mdm_event_destination_lag_seconds",
        "Age of the oldest event a destination has still to receive (0: none waits).",
        labels=labels,
    )
    failing = GaugeMetricFamily(
        "mdm_event_destination_failing", "1 when a destination has failed for a day (its events wait).", labels=labels
    )
    enabled = GaugeMetricFamily("mdm_event_destination_enabled", "1 when a destination is enabled.", labels=labels)
    for row in destination_lag():
        values = [row.organization_slug, row.destination_id, row.name, row.kind]
        pending.add_metric(values, row.pending)
        lag.add_metric(values, row.lag_seconds)
        failing.add_metric(values, 1 if row.state == DestinationState.FAILING else 0)
        enabled.add_metric(values, 1 if row.enabled else 0)
    yield from (pending, lag, failing, enabled)
