"""The DRF side of mdm.permissions: the same roles decide in the API and the console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from mdm.models import Organization
from mdm.permissions import OrgContext, Perm, context_for_request

if TYPE_CHECKING:  # the mixin is only ever mixed into DRF views: type it as one
    from rest_framework.views import APIView as _ViewBase
else:
    _ViewBase = object

_SAFE = {"GET", "HEAD", "OPTIONS"}


class OrgPermission(BasePermission):
    """The caller must be a member of an organization and hold the view's permission for the method.

    Views name it in `required_perms`: {"GET": Perm.X, "POST": Perm.Y, ...}; HEAD and OPTIONS
    follow GET. A method missing from the map is refused.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user:
            raise exceptions.NotAuthenticated()
        if not hasattr(view, (request.method or "").lower()):
            return True  # DRF answers 405 for a method the view does not have
        context = context_for_request(request)
        if context is None:
            raise exceptions.PermissionDenied("You are not a member of any organization.")
        method = "GET" if request.method in _SAFE else request.method
        perm = view.required_perms.get(method)
        if perm is None or not context.can(perm):
            raise exceptions.PermissionDenied(f"Your role ({context.role}) does not allow this.")
        return True


class OrgScopedMixin(_ViewBase):
    """For admin API views: every query starts from the caller's organization."""

    permission_classes = [OrgPermission]
    required_perms: dict[str, Perm] = {}

    @property
    def org_context(self) -> OrgContext:
        context = context_for_request(self.request)
        if context is None:  # OrgPermission refused the request before the view could ask
            raise exceptions.PermissionDenied("You are not a member of any organization.")
        return context

    @property
    def organization(self) -> Organization:
        return self.org_context.organization
