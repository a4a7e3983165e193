"""Small helpers about HTTP requests."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request


def _normalise(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def client_ip(request: HttpRequest | Request) -> str | None:
    """The client's address: REMOTE_ADDR, or the entry that the trusted proxies appended.

    With MDM_TRUSTED_PROXY_COUNT = n, the n-th address from the right of X-Forwarded-For is the
    one the outermost trusted proxy saw; anything left of it is the client's own claim.
    """
    proxies = settings.MDM_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return _normalise(forwarded[-proxies])
    return _normalise(request.META.get("REMOTE_ADDR", ""))
