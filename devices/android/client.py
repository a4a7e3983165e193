"""Google's Android Management API, through Google's own client (google-api-python-client).

The client is built from the discovery document shipped in the package (no network needed to
build it), authenticated as the configured service account (google-auth), and pointed at
MDM_ANDROID_API_ROOT_URL when set (the tests' stand-in). Every call goes through `_execute`, which
turns Google's answers into `GoogleError`: `retryable` for 429 and 5xx (and a network failure),
so that tasks retry those with backoff and show the others as they are.

Only the calls this server makes exist here. In particular there is no call that deletes a device
at Google (on a company-owned device that is a factory reset) and no WIPE with data flags: the one
way to issue a wipe is `issue_command`, which sends WIPE only to a personally owned work profile
(where Android removes the work profile and nothing else), and RELINQUISH_OWNERSHIP to a
company-owned one (which keeps personal data).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httplib2
from django.conf import settings
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from mdm.lib import discovery

SCOPE = "https://www.googleapis.com/auth/androidmanagement"
NOTIFICATION_TYPES = ["ENROLLMENT", "STATUS_REPORT", "COMMAND"]
PERSONALLY_OWNED = "PERSONALLY_OWNED"
COMPANY_OWNED = "COMPANY_OWNED"
# A synchronous call (an admin waiting in the console) tries again this many times on 429/5xx.
QUICK_RETRIES = 2


class GoogleError(Exception):
    """Google refused a call, or could not be reached. `retryable`: try again later."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.retryable = retryable

    def __str__(self) -> str:
        code = f"{self.status} {self.reason}".strip()
        return f"Google answered {code}: {self.message}" if code else self.message


class NotConfigured(GoogleError):
    """The bridge is off: no service account or project configured."""


def missing_settings() -> list[str]:
    """The settings the bridge still needs (empty: it is on)."""
    missing = []
    if not settings.MDM_ANDROID_SERVICE_ACCOUNT:
        missing.append("MDM_ANDROID_SERVICE_ACCOUNT_FILE")
    if not settings.MDM_ANDROID_PROJECT_ID:
        missing.append("MDM_ANDROID_PROJECT_ID")
    if not settings.MDM_ANDROID_PUBSUB_TOPIC:
        missing.append("MDM_ANDROID_PUBSUB_TOPIC")
    if not settings.MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT:
        missing.append("MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT")
    if not settings.MDM_ANDROID_PUBSUB_AUDIENCE:
        missing.append("MDM_ANDROID_PUBSUB_AUDIENCE")
    return missing


def configured() -> bool:
    return not missing_settings()


_local = threading.local()


def _service() -> Any:
    """The API client for this thread (httplib2 connections are not thread-safe), rebuilt when the
    settings it was built from change (the tests point it at a new stand-in)."""
    missing = missing_settings()
    if missing:
        raise NotConfigured(f"The Android Enterprise bridge is off: set {', '.join(missing)}.")
    info = settings.MDM_ANDROID_SERVICE_ACCOUNT
    key = (json.dumps(info, sort_keys=True), settings.MDM_ANDROID_API_ROOT_URL, settings.MDM_ANDROID_TIMEOUT_SECONDS)
    cached = getattr(_local, "service", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=settings.MDM_ANDROID_TIMEOUT_SECONDS))
    options = {"api_endpoint": settings.MDM_ANDROID_API_ROOT_URL} if settings.MDM_ANDROID_API_ROOT_URL else None
    service = build_from_document(discovery.document(), http=http, client_options=options)
    _local.service = (key, service)
    return service


def _execute(request: Any) -> dict[str, Any]:
    try:
        answer = request.execute(num_retries=0)
    except HttpError as exc:
        status = int(exc.resp.status)
        reason, message = "", exc.reason or ""
        try:
            error = json.loads(exc.content.decode("utf-8")).get("error", {})
            reason, message = error.get("status", ""), error.get("message", message)
        except (ValueError, AttributeError, UnicodeDecodeError):
            pass
        raise GoogleError(
            message[:1000], status=status, reason=reason, retryable=status == 429 or status >= 500
        ) from exc
    except (OSError, httplib2.HttpLib2Error) as exc:
        raise GoogleError(f"Google could not be reached: {exc}", retryable=True) from exc
    except Exception as exc:  # google-auth's refresh errors (the service account refused)
        if exc.__class__.__module__.startswith("google.auth"):
            raise GoogleError(
                f"Google refused the service account: {exc}", status=401, reason="UNAUTHENTICATED"
            ) from exc
        raise
    return answer if isinstance(answer, dict) else {}


def call(build: Any, *, quick_retries: int = 0) -> dict[str, Any]:
    """Run `build(service)` (a request of the client), retrying a retryable failure `quick_retries`
    times with a short backoff (for an admin waiting on the answer; tasks retry themselves)."""
    for attempt in range(quick_retries + 1):
        try:
            return _execute(build(_service()))
        except GoogleError as exc:
            if not exc.retryable or attempt == quick_retries:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


# --- The calls ------------------------------------------------------------------------------------


def signup_url_create(*, callback_url: str, admin_email: str = "") -> dict[str, Any]:
    params = {"projectId": settings.MDM_ANDROID_PROJECT_ID, "callbackUrl": callback_url}
    if admin_email:
        params["adminEmail"] = admin_email
    return call(lambda s: s.signupUrls().create(**params), quick_retries=QUICK_RETRIES)


def enterprise_create(*, signup_url_name: str, enterprise_token: str, display_name: str) -> dict[str, Any]:
    body = {
        "enterpriseDisplayName": display_name[:100],
        "pubsubTopic": settings.MDM_ANDROID_PUBSUB_TOPIC,
        "enabledNotificationTypes": NOTIFICATION_TYPES,
    }
    return call(
        lambda s: s.enterprises().create(
            projectId=settings.MDM_ANDROID_PROJECT_ID,
            signupUrlName=signup_url_name,
            enterpriseToken=enterprise_token,
            body=body,
        ),
        quick_retries=QUICK_RETRIES,
    )


def enterprise_delete(*, name: str) -> None:
    call(lambda s: s.enterprises().delete(name=name), quick_retries=QUICK_RETRIES)


def policy_name(enterprise: str, persona_id: uuid.UUID | str) -> str:
    return f"{enterprise}/policies/{persona_id}"


def policy_patch(*, enterprise: str, persona_id: uuid.UUID | str, policy: dict[str, Any]) -> dict[str, Any]:
    """Create or replace the persona's policy (no update mask: every field is the persona's)."""
    name = policy_name(enterprise, persona_id)
    return call(lambda s: s.enterprises().policies().patch(name=name, body=policy))


def enrollment_token_create(*, enterprise: str, body: dict[str, Any]) -> dict[str, Any]:
    return call(
        lambda s: s.enterprises().enrollmentTokens().create(parent=enterprise, body=body), quick_retries=QUICK_RETRIES
    )


def enrollment_token_delete(*, name: str) -> None:
    call(lambda s: s.enterprises().enrollmentTokens().delete(name=name), quick_retries=QUICK_RETRIES)


def devices_list(*, enterprise: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every device of the enterprise, page by page."""
    token = None
    while True:
        params: dict[str, Any] = {"parent": enterprise, "pageSize": page_size}
        if token:
            params["pageToken"] = token
        page = call(lambda s, p=params: s.enterprises().devices().list(**p))
        yield from page.get("devices", [])
        token = page.get("nextPageToken")
        if not token:
            return


def device_get(*, name: str) -> dict[str, Any]:
    return call(lambda s: s.enterprises().devices().get(name=name))


def device_set_policy(*, name: str, policy: str) -> dict[str, Any]:
    return call(
        lambda s: s.enterprises().devices().patch(name=name, updateMask="policyName", body={"policyName": policy})
    )


@dataclass(frozen=True)
class DeviceCommand:
    """A command for Google to run on a device: its type and parameters."""

    type: str
    body: dict[str, Any]


LOCK = DeviceCommand("LOCK", {"type": "LOCK"})


def corporate_wipe_command(*, ownership: str, reason: str) -> DeviceCommand:
    """What removes the work side, and only the work side, of a device of this ownership (as
    Google reports it): WIPE on a personally owned device removes its work profile; on a
    company-owned device WIPE would be a factory reset, so it is relinquished instead (the work
    profile goes, the personal profile and its data stay)."""
    if ownership == PERSONALLY_OWNED:
        return DeviceCommand("WIPE", {"type": "WIPE", "wipeParams": {"wipeReason": _message(reason)}})
    if ownership == COMPANY_OWNED:
        return DeviceCommand("RELINQUISH_OWNERSHIP", {"type": "RELINQUISH_OWNERSHIP"})
    raise GoogleError(f"Google reports no known ownership for this device ({ownership!r}): nothing is wiped.")


def _message(text: str) -> dict[str, str]:
    return {"defaultMessage": (text or "Your organization removed your work profile.")[:200]}


def issue_command(*, name: str, ownership: str, command: DeviceCommand) -> dict[str, Any]:
    """Send a command to a device; the answer is the long-running operation that follows it.

    The last guard against erasing personal data: a WIPE goes only to a device that Google reports
    as personally owned, never with data flags; RELINQUISH_OWNERSHIP only to a company-owned one."""
    if command.type == "WIPE" and (
        ownership != PERSONALLY_OWNED or "wipeDataFlags" in command.body.get("wipeParams", {})
    ):
        raise GoogleError("Refused: a WIPE would erase more than the work profile of this device.")
    if command.type == "RELINQUISH_OWNERSHIP" and ownership != COMPANY_OWNED:
        raise GoogleError("Refused: only a company-owned device can be relinquished.")
    if command.type not in ("LOCK", "WIPE", "RELINQUISH_OWNERSHIP"):
        raise GoogleError(f"Refused: this server does not send {command.type}.")
    return call(lambda s: s.enterprises().devices().issueCommand(name=name, body=command.body))


def operation_get(*, name: str) -> dict[str, Any]:
    return call(lambda s: s.enterprises().devices().operations().get(name=name))
