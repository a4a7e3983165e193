"""Webhooks signed as the Standard Webhooks specification says (https://www.standardwebhooks.com).

One POST per event, the body `Envelope.as_json()`, with `webhook-id` (the event's id, the same
on every retry and replay), `webhook-timestamp` and `webhook-signature` (HMAC-SHA256 under the
destination's `whsec_...` secret, by the `standardwebhooks` package). Any 2xx is delivered;
anything else, a timeout or a refused connection raises TransportError.

SSRF: the URL must be http(s), without credentials. Unless MDM_EVENTS_ALLOW_PRIVATE_URLS is on,
every address the host resolves to must be public (no loopback, private, link-local, reserved or
multicast address), checked at each delivery, and the connection goes to the very address that
was checked (a DNS answer that changes in between cannot point it inside). Redirects are not
followed.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from standardwebhooks import Webhook

from events.envelope import Envelope
from events.transports import TransportError
from events.transports.addresses import deadline, delivery_deadline_seconds, literal_refused, resolve_checked
from mdm.errors import ServiceError

MAX_URL_LENGTH = 2000
CONFIG_FIELDS = {"url"}
USER_AGENT = "mdm-events/1"


def webhook_secret_new() -> str:
    """A new signing secret in the specification's form: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def webhook_config_clean(raw: dict) -> dict:
    """The webhook's configuration, checked: `{"url": "https://..."}`."""
    if not isinstance(raw, dict):
        raise ServiceError("config must be a JSON object.", field="config")
    unknown = sorted(set(raw) - CONFIG_FIELDS)
    if unknown:
        raise ServiceError(
            "This destination kind takes no such field.", errors={f"config.{k}": ["No such field."] for k in unknown}
        )
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ServiceError("A webhook needs a URL.", field="config.url")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ServiceError(f"The URL is longer than {MAX_URL_LENGTH} characters.", field="config.url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ServiceError("This is not a valid URL.", field="config.url") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ServiceError("The URL must be http:// or https:// with a host.", field="config.url")
    if parts.username or parts.password:
        raise ServiceError("The URL may not carry a user name or password.", field="config.url")
    if parts.fragment:
        raise ServiceError("The URL may not have a fragment (#...).", field="config.url")
    if port == 0 or any(c.isspace() for c in url):
        raise ServiceError("This is not a valid URL.", field="config.url")
    if literal_refused(parts.hostname):
        raise ServiceError("The URL points at a private or local address.", field="config.url")
    return {"url": url}


def url_public(url: str) -> str:
    """The URL as it may be shown and logged: without its query, which may carry the receiver's
    own token (errors, the delivery log and the audit log show this form only)."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


class WebhookTransport:
    def __init__(self, config: dict, secret: str | None):
        if not secret:
            raise TransportError("This webhook has no signing secret.", retryable=False)
        self.url = config["url"]
        self.webhook = Webhook(secret)
        self.timeout = settings.MDM_EVENTS_WEBHOOK_TIMEOUT_SECONDS
        self.shown = url_public(self.url)

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = str(resolve_checked(host, port)[3][0])
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)

        # Connect to the address that was checked; TLS still verifies the certificate for `host`.
        def connect_checked(addr: Any, timeout: Any = None, source: Any = None) -> socket.socket:
            return socket.create_connection((address, addr[1]), timeout, source)

        conn._create_connection = connect_checked  # type: ignore[attr-defined]
        return conn

    def deliver(self, envelopes: Sequence[Envelope]) -> None:
        parts = urlsplit(self.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._connection()
        # The timeout bounds each read and write; the deadline the whole call (a receiver sending
        # its answer a byte at a time would hold it for ever).
        with deadline(delivery_deadline_seconds(), lambda: conn.sock) as until:
            try:
                self._post_all(conn, path, envelopes, until)
            finally:
                conn.close()

    def _post_all(
        self, conn: http.client.HTTPConnection, path: str, envelopes: Sequence[Envelope], until: float
    ) -> None:
        for delivered, envelope in enumerate(envelopes):
            if time.monotonic() >= until:
                raise TransportError(
                    f"POST {self.shown}: the batch did not finish within {delivery_deadline_seconds():g} s.",
                    delivered=delivered,
                )
            body = json.dumps(envelope.as_json(), separators=(",", ":"), ensure_ascii=False, default=str)
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": envelope.id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self.webhook.sign(envelope.id, now, body),
            }
            try:
                conn.request("POST", path, body=body.encode(), headers=headers)
                response = conn.getresponse()
                response.read(65536)
                status = response.status
                if response.will_close:
                    conn.close()
                if time.monotonic() >= until:
                    # The deadline shut the socket: what was read is a cut-off answer, not a 2xx.
                    raise TimeoutError("the deadline ended the answer")
            except (OSError, http.client.HTTPException) as exc:
                reason = str(exc) or type(exc).__name__
                if time.monotonic() >= until:
                    reason = f"no complete answer within {delivery_deadline_seconds():g} s"
                raise TransportError(f"POST {self.shown} failed: {reason}", delivered=delivered) from exc
            if not 200 <= status < 300:
                raise TransportError(f"POST {self.shown} answered {status}.", delivered=delivered)
