"""Admin API views of the shared parts: the caller's organization, the audit log, API tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.csv import CSV_RESPONSE, CsvExportMixin
from mdm.api.pagination import SeqPagePagination
from mdm.api.params import QueryParam, openapi_parameters, parse_query
from mdm.api.permissions import OrgScopedMixin
from mdm.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditEventSerializer,
    OrganizationSerializer,
)
from mdm.choices import Role
from mdm.exports import audit_export_response
from mdm.lib.http import client_ip
from mdm.models import ApiToken, AuditEvent, Organization
from mdm.permissions import Perm
from mdm.services import api_token_create, api_token_revoke


class OrganizationApi(OrgScopedMixin, APIView):
    """The organization the caller acts in, and the caller's role there."""

    required_perms = {"GET": Perm.ORG_VIEW}

    @extend_schema(responses=OrganizationSerializer)
    def get(self, request):
        serializer = OrganizationSerializer(self.organization, context={"role": self.org_context.role})
        return Response(serializer.data)


AUDIT_FILTERS = [
    QueryParam("action", description="Exact action, e.g. `api_token.created`."),
    QueryParam("actor", description="Actor id, or part of the actor's label."),
    QueryParam("target", description="Target id (exact)."),
    QueryParam("target_type", description="Target type, e.g. `mdm.apitoken`."),
    QueryParam("since", "datetime", description="Events at or after this time."),
    QueryParam("until", "datetime", description="Events before this time."),
]


@extend_schema(parameters=openapi_parameters(AUDIT_FILTERS))
class AuditEventListApi(OrgScopedMixin, generics.ListAPIView):
    """The audit log, newest first."""

    required_perms = {"GET": Perm.AUDIT_VIEW}
    serializer_class = AuditEventSerializer
    pagination_class = SeqPagePagination

    def get_queryset(self):
        return _audit_events(self.organization, parse_query(self.request, AUDIT_FILTERS))


def _audit_events(organization: Organization, given: dict) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(organization=organization).order_by("-seq")
    if action := given["action"]:
        qs = qs.filter(action=action)
    if actor := given["actor"]:
        qs = qs.filter(actor_id=actor) | qs.filter(actor_label__icontains=actor)
    if target := given["target"]:
        qs = qs.filter(target_id=target)
    if target_type := given["target_type"]:
        qs = qs.filter(target_type=target_type)
    if given["since"]:
        qs = qs.filter(created_at__gte=given["since"])
    if given["until"]:
        qs = qs.filter(created_at__lt=given["until"])
    return qs


@extend_schema(parameters=openapi_parameters(AUDIT_FILTERS), responses=CSV_RESPONSE)
class AuditEventExportApi(CsvExportMixin, OrgScopedMixin, APIView):
    """The audit log as CSV, with the list's filters, newest first; streamed, whatever its length."""

    required_perms = {"GET": Perm.AUDIT_VIEW}
    export_params = AUDIT_FILTERS

    def get(self, request):
        self.refuse_unknown_params(request)
        given = parse_query(request, AUDIT_FILTERS)
        events = _audit_events(self.organization, given)
        filters = {name: value for name, value in given.items() if value is not None}
        return audit_export_response(request, context=self.org_context, events=events, filters=filters)


class AuditEventDetailApi(OrgScopedMixin, generics.RetrieveAPIView):
    required_perms = {"GET": Perm.AUDIT_VIEW}
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        return AuditEvent.objects.filter(organization=self.organization)


class ApiTokenListApi(OrgScopedMixin, generics.ListAPIView):
    """List API tokens (an owner sees every member's; others their own), or create one for yourself."""

    required_perms = {"GET": Perm.API_TOKENS_MANAGE, "POST": Perm.API_TOKENS_MANAGE}
    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        qs = ApiToken.objects.filter(organization=self.organization).select_related("user")
        if self.org_context.role != Role.OWNER:
            qs = qs.filter(user=self.org_context.user)
        return qs.order_by("-created_at", "id")

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def post(self, request):
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = api_token_create(
            membership=self.org_context.membership,
            name=serializer.validated_data["name"],
            expires_at=serializer.validated_data.get("expires_at"),
            created_by=self.org_context.user,
            actor=self.org_context.actor,
            client_ip=client_ip(request),
        )
        data = ApiTokenCreatedSerializer(issued.api_token).data
        data["token"] = issued.token
        return Response(data, status=status.HTTP_201_CREATED)


class ApiTokenDetailApi(OrgScopedMixin, APIView):
    required_perms = {"GET": Perm.API_TOKENS_MANAGE, "DELETE": Perm.API_TOKENS_MANAGE}

    def _get(self, pk) -> ApiToken:
        qs = ApiToken.objects.filter(organization=self.organization).select_related("user")
        if self.org_context.role != Role.OWNER:
            qs = qs.filter(user=self.org_context.user)
        return get_object_or_404(qs, pk=pk)

    @extend_schema(responses=ApiTokenSerializer)
    def get(self, request, pk):
        return Response(ApiTokenSerializer(self._get(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        api_token_revoke(api_token=self._get(pk), actor=self.org_context.actor, client_ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
