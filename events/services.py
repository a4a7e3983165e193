"""The operations on an organization's event destinations, each in a transaction and audited.

The webhook signing secret is made here, wrapped under the KEK (bound to the destination's id),
and returned once, in the create (or rotate) answer; it is never shown again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from events.choices import DestinationKind, ReplayState
from events.models import EventDestination, Replay
from events.transports import kind_get, kinds_available
from events.transports.webhook import webhook_secret_new
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError
from mdm.keyring import keyring, register_wrapped
from mdm.models import Organization, OutboxEvent
from mdm.outbox import outbox_head, outbox_sequence

MAX_DESTINATIONS = 20
MAX_EVENT_TYPES = 50
MAX_EVENT_TYPE_LENGTH = 100
# Configuration keys never shown or audited (a client key, a password, a token), whatever the kind.
_SECRET_WORDS = ("key", "secret", "password", "token", "private", "credential")


def destination_secret_context(destination_id: Any) -> str:
    return f"events.EventDestination:{destination_id}:secret"


register_wrapped("events.EventDestination", "wrapped_secret", lambda row: destination_secret_context(row.pk))


def destination_secret(destination: EventDestination) -> str | None:
    if destination.wrapped_secret is None:
        return None
    blob = bytes(destination.wrapped_secret)
    return keyring().unwrap(blob, context=destination_secret_context(destination.pk)).decode()


def config_public(kind: str, config: dict) -> dict:
    """The part of a configuration the audit log and lists may show: a webhook URL without its
    query (which may carry a receiver's token); of the others, every key but those that name a
    secret (`*key*`, `*password*`, `*token*`...)."""
    if kind == DestinationKind.WEBHOOK:
        parts = urlsplit(config.get("url", ""))
        return {"url": urlunsplit(parts._replace(query="", fragment=""))}
    return {key: value for key, value in config.items() if not any(w in key.lower() for w in _SECRET_WORDS)}


@dataclass(frozen=True)
class CreatedDestination:
    destination: EventDestination
    secret: str | None  # the webhook secret, shown once


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ServiceError("A destination needs a name.", field="name")
    name = name.strip()
    if len(name) > 100:
        raise ServiceError("The name is longer than 100 characters.", field="name")
    return name


def _clean_event_types(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ServiceError("event_types must be a list of type prefixes.", field="event_types")
    if len(raw) > MAX_EVENT_TYPES:
        raise ServiceError(f"At most {MAX_EVENT_TYPES} event type prefixes.", field="event_types")
    cleaned: list[str] = []
    for i, prefix in enumerate(raw):
        if (
            not isinstance(prefix, str)
            or not prefix.strip()
            or len(prefix) > MAX_EVENT_TYPE_LENGTH
            or not prefix.startswith(("audit.", "device.", "audit", "device"))
            or any(c.isspace() for c in prefix)
        ):
            raise ServiceError(
                "Each entry is a prefix of an event type, e.g. `audit.` or `device.compliance_changed`.",
                field=f"event_types[{i}]",
            )
        if prefix not in cleaned:
            cleaned.append(prefix)
    return cleaned


def _clean_config(kind: str, raw: Any) -> dict:
    transport = kind_get(kind)
    if transport is None:
        raise ServiceError(f"kind must be one of: {', '.join(kinds_available())}.", field="kind")
    if not isinstance(raw, dict):
        raise ServiceError("config must be a JSON object.", field="config")
    return transport.config_clean(raw)


def _name_taken(organization: Organization, name: str, exclude: Any = None) -> bool:
    rows = EventDestination.objects.filter(organization=organization, name__iexact=name)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def event_destination_create(
    *,
    organization: Organization,
    name: Any,
    kind: Any,
    config: Any,
    event_types: Any = None,
    enabled: bool = True,
    actor: Actor,
    client_ip: str | None = None,
) -> CreatedDestination:
    """A new destination. It receives the events written from now on (earlier ones: a replay)."""
    name = _clean_name(name)
    if not isinstance(kind, str):
        raise ServiceError(f"kind must be one of: {', '.join(kinds_available())}.", field="kind")
    config = _clean_config(kind, config)
    event_types = _clean_event_types(event_types)
    with transaction.atomic():
        Organization.objects.select_for_update().only("id").get(pk=organization.pk)
        if EventDestination.objects.filter(organization=organization).count() >= MAX_DESTINATIONS:
            raise ServiceError(f"An organization has at most {MAX_DESTINATIONS} destinations.", code="conflict")
        if _name_taken(organization, name):
            raise ServiceError("Another destination has this name.", code="conflict", field="name")
        # Events already visible are not this destination's; those still unnumbered will be.
        outbox_sequence()
        destination = EventDestination(
            id=uuid.uuid4(),
            organization=organization,
            name=name,
            kind=kind,
            config=config,
            event_types=event_types,
            enabled=bool(enabled),
            cursor=outbox_head(),
        )
        secret = None
        transport = kind_get(kind)
        if transport is not None and transport.has_secret:
            secret = webhook_secret_new()
            destination.wrapped_secret = keyring().wrap(
                secret.encode(), context=destination_secret_context(destination.id)
            )
        try:
            with transaction.atomic():
                destination.save(force_insert=True)
        except IntegrityError:
            raise ServiceError("Another destination has this name.", code="conflict", field="name") from None
        audit_event_record(
            organization=organization,
            action="event_destination.created",
            actor=actor,
            target=destination,
            details={
                "name": name,
                "kind": kind,
                "config": config_public(kind, config),
                "event_types": event_types,
                "enabled": destination.enabled,
            },
            client_ip=client_ip,
        )
    return CreatedDestination(destination=destination, secret=secret)


def event_destination_update(
    *,
    destination: EventDestination,
    changes: dict[str, Any],
    actor: Actor,
    client_ip: str | None = None,
) -> EventDestination:
    """Change name, config, event_types or enabled. A changed configuration is tried at once
    (the backoff starts over): the operator has probably just fixed it."""
    allowed = {"name", "config", "event_types", "enabled"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ServiceError("No such field.", errors={k: ["This field cannot be changed."] for k in unknown})
    with transaction.atomic():
        destination = EventDestination.objects.select_for_update().get(pk=destination.pk)
        fields: list[str] = []
        if "name" in changes:
            name = _clean_name(changes["name"])
            if name != destination.name:
                if _name_taken(destination.organization, name, exclude=destination.pk):
                    raise ServiceError("Another destination has this name.", code="conflict", field="name")
                destination.name = name
                fields.append("name")
        if "config" in changes:
            config = _clean_config(destination.kind, changes["config"])
            if config != destination.config:
                destination.config = config
                fields.append("config")
        if "event_types" in changes:
            event_types = _clean_event_types(changes["event_types"])
            if event_types != destination.event_types:
                destination.event_types = event_types
                fields.append("event_types")
        if "enabled" in changes:
            if not isinstance(changes["enabled"], bool):
                raise ServiceError("enabled must be true or false.", field="enabled")
            if changes["enabled"] != destination.enabled:
                destination.enabled = changes["enabled"]
                fields.append("enabled")
        if not fields:
            return destination
        if {"config", "enabled"} & set(fields):
            destination.next_attempt_at = None
            destination.attempts = 0
            fields += ["next_attempt_at", "attempts"]
        destination.updated_at = timezone.now()
        destination.save(update_fields=[*fields, "updated_at"])
        audit_event_record(
            organization=destination.organization,
            action="event_destination.updated",
            actor=actor,
            target=destination,
            details={
                "name": destination.name,
                "changed": sorted(f for f in fields if f in allowed),
                "config": config_public(destination.kind, destination.config),
                "event_types": destination.event_types,
                "enabled": destination.enabled,
            },
            client_ip=client_ip,
        )
    return destination


def event_destination_delete(*, destination: EventDestination, actor: Actor, client_ip: str | None = None) -> None:
    with transaction.atomic():
        audit_event_record(
            organization=destination.organization,
            action="event_destination.deleted",
            actor=actor,
            target=destination,
            details={"name": destination.name, "kind": destination.kind},
            client_ip=client_ip,
        )
        EventDestination.objects.filter(pk=destination.pk).delete()


def event_destination_rotate_secret(
    *, destination: EventDestination, actor: Actor, client_ip: str | None = None
) -> str:
    """A new webhook secret (the old one stops at once); returned once."""
    transport = kind_get(destination.kind)
    if transport is None or not transport.has_secret:
        raise ServiceError("Only a webhook has a signing secret.", code="conflict")
    secret = webhook_secret_new()
    with transaction.atomic():
        destination.wrapped_secret = keyring().wrap(secret.encode(), context=destination_secret_context(destination.pk))
        destination.updated_at = timezone.now()
        destination.save(update_fields=["wrapped_secret", "updated_at"])
        audit_event_record(
            organization=destination.organization,
            action="event_destination.secret_rotated",
            actor=actor,
            target=destination,
            details={"name": destination.name},
            client_ip=client_ip,
        )
    return secret


def event_destination_replay(
    *,
    destination: EventDestination,
    from_at: datetime,
    to_at: datetime,
    actor: Actor,
    client_ip: str | None = None,
) -> Replay:
    """Send the events of [from_at, to_at) again, after what the destination still has to get."""
    if from_at >= to_at:
        raise ServiceError("`from` must be before `to`.", field="from")
    if from_at >= timezone.now():
        raise ServiceError("`from` must be in the past.", field="from")
    with transaction.atomic():
        destination = EventDestination.objects.select_for_update().get(pk=destination.pk)
        if Replay.objects.filter(destination=destination, state=ReplayState.RUNNING).count() >= 5:
            raise ServiceError("Five replays are already running for this destination.", code="conflict")
        events = replay_events(destination, from_at, to_at, after=0, upto=destination.cursor)
        replay = Replay.objects.create(
            organization=destination.organization,
            destination=destination,
            from_at=from_at,
            to_at=to_at,
            upto_seq=destination.cursor,
            total=events.count(),
            requested_by=actor.label[:254],
        )
        audit_event_record(
            organization=destination.organization,
            action="event_destination.replay_requested",
            actor=actor,
            target=destination,
            details={
                "name": destination.name,
                "replay_id": str(replay.pk),
                "from": from_at.isoformat(),
                "to": to_at.isoformat(),
                "events": replay.total,
            },
            client_ip=client_ip,
        )
    return replay


def replay_events(destination: EventDestination, from_at: datetime, to_at: datetime, *, after: int, upto: int):
    rows = OutboxEvent.objects.filter(
        organization_id=destination.organization_id,
        created_at__gte=from_at,
        created_at__lt=to_at,
        seq__gt=after,
        seq__lte=upto,
    )
    return rows.filter(type_filter_q(destination.event_types))


def type_filter_q(prefixes: list[str]) -> Q:
    q = Q()
    for prefix in prefixes:
        q |= Q(type__startswith=prefix)
    return q
