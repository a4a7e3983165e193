"""Admin API: the organization's event destinations (owners and admins)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.serializers import (
    DeliveryAttemptSerializer,
    EventDestinationCreatedSerializer,
    EventDestinationCreateSerializer,
    EventDestinationSerializer,
    EventDestinationUpdateSerializer,
    ReplayRequestSerializer,
    ReplaySerializer,
    SecretSerializer,
)
from events.models import DeliveryAttempt, EventDestination
from events.selectors import destination_lag, destination_lag_one
from events.services import (
    event_destination_create,
    event_destination_delete,
    event_destination_replay,
    event_destination_rotate_secret,
    event_destination_update,
)
from mdm.api.pagination import PagePagination
from mdm.api.permissions import OrgScopedMixin
from mdm.lib import jsonsafe
from mdm.lib.http import client_ip
from mdm.permissions import Perm

MANAGE = Perm.EVENT_DESTINATIONS_MANAGE
CREATE_FIELDS = {"name", "kind", "config", "event_types", "enabled"}
UPDATE_FIELDS = {"name", "config", "event_types", "enabled"}


def _body(data: Any, allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object; a field the endpoint does not take is refused, never ignored."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["A JSON object is expected."]})
    try:
        # PostgreSQL's text and jsonb can store neither a NUL nor a lone surrogate.
        jsonsafe.check(data, max_depth=jsonsafe.MAX_BODY_DEPTH, text_safe=True)
    except jsonsafe.UnsafeJSON as exc:
        raise ValidationError({"non_field_errors": [str(exc)]}) from None
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({name: ["This endpoint takes no such field."] for name in unknown})
    return dict(data)


def _when(value: Any, field: str) -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except (ValueError, OverflowError):  # the 45th of the 13th month
        parsed = None
    if parsed is None:
        raise ValidationError({field: ["An ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z."]})
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _DestinationMixin(OrgScopedMixin):
    def _get(self, pk: uuid.UUID) -> EventDestination:
        return get_object_or_404(EventDestination.objects.filter(organization=self.organization), pk=pk)


class EventDestinationListApi(_DestinationMixin, generics.ListAPIView):
    """The organization's destinations (with pending events and lag), or create one."""

    required_perms = {"GET": MANAGE, "POST": MANAGE}
    serializer_class = EventDestinationSerializer
    pagination_class = PagePagination

    def get_queryset(self) -> QuerySet[EventDestination]:
        return EventDestination.objects.filter(organization=self.organization).order_by("name", "id")

    def get_serializer_context(self) -> dict[str, Any]:
        lags = {lag.destination_id: lag for lag in destination_lag(self.organization.pk)}
        return {**super().get_serializer_context(), "lags": lags}

    @extend_schema(request=EventDestinationCreateSerializer, responses={201: EventDestinationCreatedSerializer})
    def post(self, request: Request) -> Response:
        body = _body(request.data, CREATE_FIELDS)
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ValidationError({"enabled": ["Must be true or false."]})
        created = event_destination_create(
            organization=self.organization,
            name=body.get("name"),
            kind=body.get("kind"),
            config=body.get("config"),
            event_types=body.get("event_types"),
            enabled=enabled,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        lag = destination_lag_one(created.destination)
        data = EventDestinationCreatedSerializer(created.destination, context={"lags": {lag.destination_id: lag}}).data
        data["secret"] = created.secret
        return Response(data, status=status.HTTP_201_CREATED)


class EventDestinationDetailApi(_DestinationMixin, APIView):
    required_perms = {"GET": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    def _answer(self, destination: EventDestination) -> Response:
        lag = destination_lag_one(destination)
        return Response(EventDestinationSerializer(destination, context={"lags": {lag.destination_id: lag}}).data)

    @extend_schema(responses=EventDestinationSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return self._answer(self._get(pk))

    @extend_schema(request=EventDestinationUpdateSerializer, responses=EventDestinationSerializer)
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        destination = self._get(pk)
        body = _body(request.data, UPDATE_FIELDS)
        destination = event_destination_update(
            destination=destination, changes=body, actor=self.org_context.actor, client_ip=client_ip(request)
        )
        return self._answer(destination)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        event_destination_delete(destination=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventDestinationReplayApi(_DestinationMixin, APIView):
    """Send the events of a time range again (`202`, with the replay's progress)."""

    required_perms = {"POST": MANAGE}

    @extend_schema(request=ReplayRequestSerializer, responses={202: ReplaySerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        destination = self._get(pk)
        body = _body(request.data, {"from", "to"})
        errors = {name: ["This field is required."] for name in ("from", "to") if name not in body}
        if errors:
            raise ValidationError(errors)
        replay = event_destination_replay(
            destination=destination,
            from_at=_when(body["from"], "from"),
            to_at=_when(body["to"], "to"),
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        return Response(ReplaySerializer(replay).data, status=status.HTTP_202_ACCEPTED)


class EventDestinationDeliveriesApi(_DestinationMixin, generics.ListAPIView):
    """The destination's delivery log, newest first."""

    required_perms = {"GET": MANAGE}
    serializer_class = DeliveryAttemptSerializer
    pagination_class = PagePagination

    def get_queryset(self) -> QuerySet[DeliveryAttempt]:
        destination = self._get(self.kwargs["pk"])
        return DeliveryAttempt.objects.filter(destination=destination).order_by("-at", "-id")


class EventDestinationRotateSecretApi(_DestinationMixin, APIView):
    """A new signing secret for a webhook, shown in this answer only; the old one stops at once."""

    required_perms = {"POST": MANAGE}

    @extend_schema(request=None, responses={200: SecretSerializer})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        destination = self._get(pk)
        _body(request.data or {}, set())
        secret = event_destination_rotate_secret(
            destination=destination, actor=self.org_context.actor, client_ip=client_ip(request)
        )
        return Response({"secret": secret})
