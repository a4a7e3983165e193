"""CSV exports of the devices app, the same for the console and the admin API: the device list
(with the list's filters) and a push's per-device results. Streamed (mdm.lib.csvstream)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse

from devices import selectors
from devices.choices import AndroidPolicySync, DeviceState, ManagementChannel
from devices.models import Command, Device, Push
from devices.selectors import DeviceFilter
from mdm.exports import export_response
from mdm.lib.csvstream import keyset_chunks
from mdm.permissions import OrgContext

DEVICE_COLUMNS = (
    "id", "name", "owner", "ownership", "platform", "channel", "model", "os_version", "agent_version",
    "persona", "persona_id", "state", "container_state", "policy_version", "applied_policy_version",
    "compliant", "failing_checks", "noncompliant_since", "enrolled_at", "last_seen_at", "silent", "retired_at",
)  # fmt: skip


def _failing(compliance: Any) -> str:
    """The checks a device fails, by name (`passcode_compliant;encrypted`): what its report says."""
    if not isinstance(compliance, dict):
        return ""
    return ";".join(sorted(str(name) for name, ok in compliance.items() if ok is False))


# The values read for each device, in DEVICE_COLUMNS' order (compliance: its checks, from which
# `failing_checks` is made).
_DEVICE_VALUES = (
    "id", "name", "owner__email", "ownership", "platform", "channel", "model", "os_version", "agent_version",
    "persona__name", "persona_id", "state", "container_state", "policy_version", "applied_policy_version",
    "compliant", "compliance", "noncompliant_since", "enrolled_at", "last_seen_at", "silent", "retired_at",
)  # fmt: skip
_COMPLIANCE = _DEVICE_VALUES.index("compliance")


def _device_row(values: tuple[Any, ...]) -> Sequence[Any]:
    cells = list(values)
    cells[_COMPLIANCE] = _failing(cells[_COMPLIANCE])
    return cells


def device_export(
    *, organization_id: Any, filters: DeviceFilter, sort: str = selectors.DEFAULT_DEVICE_SORT
) -> Iterator[list[Sequence[Any]]]:
    """The device list as the console and the API show it (same filters, same order)."""
    devices = selectors.device_list(organization_id=organization_id, filters=filters, sort=sort)
    annotations, order = selectors.device_order(sort)
    if not annotations:
        return keyset_chunks(devices, columns=_DEVICE_VALUES, order=order, row=_device_row)
    # The sort's value is read too (the keyset walk compares it), and left out of the rows.
    columns = (*_DEVICE_VALUES, selectors.SORT_ANNOTATION)
    return keyset_chunks(devices, columns=columns, order=order, row=lambda values: _device_row(values[:-1]))


PUSH_RESULT_COLUMNS = (
    "device_id", "device_name", "owner", "channel", "command_id", "state", "attempts", "detail",
    "queued_at", "delivered_at", "completed_at",
)  # fmt: skip


_COMMAND_VALUES = (
    "device_id", "device__name", "device__owner__email", "device__channel", "id", "state", "attempts", "detail",
    "created_at", "delivered_at", "completed_at",
)  # fmt: skip
_ANDROID_VALUES = ("id", "name", "owner__email", "channel", "applied_policy_version")


def _android_row(push: Push) -> Callable[[tuple[Any, ...]], Sequence[Any]]:
    """An Android device has no command of its own: Google applies the persona's policy, and the
    device's reported policy version says whether this push's version reached it."""
    version = push.android_policy_version

    def row(values: tuple[Any, ...]) -> Sequence[Any]:
        device_id, name, owner, channel, applied_version = values
        applied = version is not None and (applied_version or 0) >= version
        state = "applied" if applied else (push.android_sync or "pending")
        detail = push.android_detail if not applied else ""
        return (device_id, name, owner, channel, None, state, None, detail, None, None, None)

    return row


def push_result_export(*, push: Push) -> Iterator[list[Sequence[Any]]]:
    """One row per device the push reached: its command's state (agent devices), or whether Google
    applied the policy version (Android devices)."""
    commands = Command.objects.filter(push=push)
    yield from keyset_chunks(commands, columns=_COMMAND_VALUES, order=("id",))
    if push.android_sync == AndroidPolicySync.NOT_NEEDED:
        return
    android = Device.objects.filter(
        persona_id=push.persona_id, state=DeviceState.ACTIVE, channel=ManagementChannel.ANDROID
    )
    if push.device_ids is not None:
        android = android.filter(pk__in=push.device_ids)
    yield from keyset_chunks(android, columns=_ANDROID_VALUES, order=("id",), row=_android_row(push))


def device_export_response(
    request: HttpRequest, *, context: OrgContext, filters: DeviceFilter, sort: str = selectors.DEFAULT_DEVICE_SORT
) -> StreamingHttpResponse:
    given: dict[str, Any] = {name: value for name, value in asdict(filters).items() if value is not None}
    if sort != selectors.DEFAULT_DEVICE_SORT:
        given["sort"] = sort
    chunks = device_export(organization_id=context.organization.pk, filters=filters, sort=sort)
    return export_response(
        request, context=context, what="devices", filters=given, header=DEVICE_COLUMNS, chunks=chunks
    )


def push_result_export_response(request: HttpRequest, *, context: OrgContext, push: Push) -> StreamingHttpResponse:
    return export_response(
        request,
        context=context,
        what="push_results",
        filters={"push": push.pk},
        header=PUSH_RESULT_COLUMNS,
        chunks=push_result_export(push=push),
    )
