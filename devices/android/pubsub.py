"""Google's door: the Pub/Sub push endpoint that brings Android Management API notifications.

Pub/Sub pushes each message with an OIDC ID token that Google signs for the push subscription's
service account. It is verified with google-auth against Google's published certificates
(MDM_ANDROID_CERTS_URL, cached for ten minutes and fetched again for an unknown key): the issuer
must be Google's, the audience MDM_ANDROID_PUBSUB_AUDIENCE, and the e-mail the configured service
account's, verified. Anything else is refused before the body is read.

Pub/Sub delivers at least once: a message is handled in one transaction with the record of its
id (PubSubMessage), so the same message twice changes nothing. A 2xx answer acknowledges it; a
5xx makes Google deliver it again later.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from typing import Any

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from google.auth import exceptions as google_exceptions
from google.auth import jwt as google_jwt

from devices.android import client
from devices.android.commands import operation_notified
from devices.android.devices import device_report
from devices.models import AndroidEnterprise, PubSubMessage

logger = logging.getLogger(__name__)

ISSUERS = {"https://accounts.google.com", "accounts.google.com"}
CERTS_TTL = 600.0
# A status report carries every work app's report: far more than the agent API's 64 KiB. The body
# is read from the stream (request.body would stop at DATA_UPLOAD_MAX_MEMORY_SIZE), up to this.
MAX_BODY = 4 * 1024 * 1024
HANDLED = {"ENROLLMENT", "STATUS_REPORT", "COMMAND"}

_certs_lock = threading.Lock()
_certs: dict[str, Any] = {"url": "", "at": 0.0, "keys": {}}


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _problem(status: int, message: str) -> JsonResponse:
    return JsonResponse({"title": message, "status": status}, status=status, content_type="application/problem+json")


def _google_certs(*, refresh: bool = False) -> dict[str, str]:
    url = settings.MDM_ANDROID_CERTS_URL
    with _certs_lock:
        fresh = _certs["url"] == url and time.monotonic() - _certs["at"] < CERTS_TTL
        if fresh and not refresh:
            return dict(_certs["keys"])
    try:
        answer = requests.get(url, timeout=10)
        answer.raise_for_status()
        keys = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise Refused(503, f"Google's certificates could not be fetched: {exc}") from exc
    if not isinstance(keys, dict):
        raise Refused(503, "Google's certificates are not a JSON object.")
    with _certs_lock:
        _certs.update(url=url, at=time.monotonic(), keys=keys)
    return dict(keys)


def verify_push_token(header: str) -> dict[str, Any]:
    """The verified claims of a push's `Authorization: Bearer <ID token>`, or Refused."""
    if not settings.MDM_ANDROID_PUBSUB_AUDIENCE or not settings.MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT:
        raise Refused(
            503, "Pub/Sub pushes are not configured (MDM_ANDROID_PUBSUB_AUDIENCE, MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT)."
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "A Pub/Sub push must carry Google's ID token as a bearer token.")
    token = token.strip()
    try:
        kid = google_jwt.decode_header(token).get("kid")
    except (ValueError, google_exceptions.GoogleAuthError) as exc:
        raise Refused(401, f"Not an ID token: {exc}") from exc
    certs = _google_certs()
    if kid not in certs:
        certs = _google_certs(refresh=True)  # Google rotates its keys
    try:
        claims = google_jwt.decode(
            token, certs=certs, audience=settings.MDM_ANDROID_PUBSUB_AUDIENCE, clock_skew_in_seconds=30
        )
    except (ValueError, google_exceptions.GoogleAuthError) as exc:
        raise Refused(401, f"The ID token is not valid: {exc}") from exc
    if claims.get("iss") not in ISSUERS:
        raise Refused(401, "The ID token is not Google's.")
    if claims.get("email") != settings.MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT or claims.get("email_verified") is not True:
        raise Refused(403, "The ID token is not of the configured Pub/Sub service account.")
    return dict(claims)


def _message(body: bytes) -> tuple[str, str, dict[str, Any]]:
    """(message id, notification type, decoded data) of a push body, or Refused (400)."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "The body is not JSON.") from exc
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise Refused(400, "The body has no Pub/Sub message.")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 128:
        raise Refused(400, "The message has no messageId.")
    attributes = message.get("attributes") or {}
    kind = attributes.get("notificationType", "") if isinstance(attributes, dict) else ""
    data: dict[str, Any] = {}
    if message.get("data"):
        try:
            decoded = json.loads(base64.b64decode(message["data"], validate=True))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise Refused(400, "The message's data is not base64 of JSON.") from exc
        if not isinstance(decoded, dict):
            raise Refused(400, "The message's data is not a JSON object.")
        data = decoded
    return message_id, str(kind)[:32], data


def _enterprise_of(name: Any) -> AndroidEnterprise | None:
    """The connected enterprise that a resource name (enterprises/E/...) belongs to."""
    if not isinstance(name, str) or not name.startswith("enterprises/"):
        return None
    enterprise = "/".join(name.split("/")[:2])
    return AndroidEnterprise.objects.select_related("organization").filter(name=enterprise).first()


def handle(message_id: str, kind: str, data: dict[str, Any]) -> bool:
    """Handle one message once; False when it was handled before."""
    try:
        with transaction.atomic():
            PubSubMessage.objects.create(message_id=message_id, notification_type=kind or "-")
            if kind not in HANDLED:
                return True  # Google's test message, usage logs: nothing to do
            enterprise = _enterprise_of(data.get("name"))
            if enterprise is None:
                logger.info("Pub/Sub %s for an enterprise not connected here: %r", kind, data.get("name"))
                return True
            if kind == "COMMAND":
                operation_notified(organization_id=enterprise.organization_id, operation=data)
            else:
                device_report(enterprise=enterprise, data=data)
    except IntegrityError:
        if PubSubMessage.objects.filter(message_id=message_id).exists():
            return False
        raise
    return True


@csrf_exempt
@require_POST
def pubsub_push(request: HttpRequest) -> HttpResponse:
    if not client.configured():
        return _problem(404, "The Android Enterprise bridge is off.")
    try:
        verify_push_token(request.headers.get("Authorization", ""))
        body = request.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise Refused(413, "The message is too large.")
        message_id, kind, data = _message(body)
    except Refused as exc:
        return _problem(exc.status, exc.message)
    handle(message_id, kind, data)
    return HttpResponse(status=204)
