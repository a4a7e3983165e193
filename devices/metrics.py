"""The devices app's families of /metrics (mdm.metrics): devices by state and compliance, pushes
in flight, and pending commands by state and age. A few aggregate queries per scrape, each
answered from an index or a GROUP BY over the device table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Case, CharField, Count, Min, Value, When
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from devices.choices import PENDING_COMMAND_STATES
from devices.models import Command, Device, Push
from mdm.models import Organization

# Pending commands by how long they have waited: the buckets an operator alerts on.
AGE_BUCKETS = (("under_1m", timedelta(minutes=1)), ("1m_to_1h", timedelta(hours=1)), ("1h_to_1d", timedelta(days=1)))
OLDEST_BUCKET = "over_1d"


def _slugs() -> dict[object, str]:
    return dict(Organization.objects.values_list("id", "slug"))


def device_families() -> Iterator[Metric]:
    slugs = _slugs()
    now = timezone.now()

    devices = GaugeMetricFamily(
        "mdm_devices",
        "Enrolled devices by state, compliance (compliant, noncompliant, unknown) and management channel.",
        labels=["organization", "state", "compliance", "channel"],
    )
    compliance = Case(
        When(compliant=True, then=Value("compliant")),
        When(compliant=False, then=Value("noncompliant")),
        default=Value("unknown"),
        output_field=CharField(),
    )
    rows = (
        Device.objects.annotate(compliance_label=compliance)
        .values_list("organization_id", "state", "compliance_label", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    for org, state, label, channel, n in rows:
        devices.add_metric([slugs.get(org, str(org)), state, label, channel], n)
    yield devices

    pushes = GaugeMetricFamily(
        "mdm_pushes_in_flight", "Policy pushes pending or running.", labels=["organization", "state"]
    )
    in_flight = (
        Push.objects.filter(state__in=[Push.State.PENDING, Push.State.RUNNING])
        .values_list("organization_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for org, state, n in in_flight:
        pushes.add_metric([slugs.get(org, str(org)), state], n)
    yield pushes

    commands = GaugeMetricFamily(
        "mdm_commands_pending",
        "Commands not answered yet, by state (queued, delivered) and how long they have waited.",
        labels=["organization", "type", "state", "age"],
    )
    oldest = GaugeMetricFamily(
        "mdm_commands_pending_oldest_age_seconds",
        "Age of the oldest command not answered yet, by state.",
        labels=["organization", "state"],
    )
    age = Case(
        *[When(created_at__gt=now - limit, then=Value(name)) for name, limit in AGE_BUCKETS],
        default=Value(OLDEST_BUCKET),
        output_field=CharField(),
    )
    pending = Command.objects.filter(state__in=PENDING_COMMAND_STATES)
    for org, kind, state, bucket, n in (
        pending.annotate(age=age)
        .values_list("organization_id", "type", "state", "age")
        .annotate(n=Count("id"))
        .order_by()
    ):
        commands.add_metric([slugs.get(org, str(org)), kind, state, bucket], n)
    for org, state, first in (
        pending.values_list("organization_id", "state").annotate(first=Min("created_at")).order_by()
    ):
        oldest.add_metric([slugs.get(org, str(org)), state], max((now - first).total_seconds(), 0.0))
    yield commands
    yield oldest
