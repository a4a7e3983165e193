"""HTTP with JSON bodies and problem+json errors, on the standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


class AgentError(Exception):
    """A refusal or failure, with the server's problem details when it sent them."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, problem: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.problem = problem or {}


class Unreachable(AgentError):
    """The server could not be reached (network down, server restarting)."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any = field(default=None)


def _lowered(headers: Message) -> dict[str, str]:
    """Header names are case-insensitive (RFC 9110): keyed in lower case, whatever the server sent."""
    return {name.lower(): value for name, value in headers.items()}


class Transport:
    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (the server's own URL)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                return Reply(response.status, _lowered(response.headers), _json(response.read()))
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return Reply(304, _lowered(exc.headers), None)
            problem = _json(exc.read()) or {}
            if not isinstance(problem, dict):
                problem = {}
            detail = problem.get("detail") or exc.reason
            raise AgentError(
                f"{method} {url}: {exc.code} {detail}", status=exc.code, code=problem.get("code"), problem=problem
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise Unreachable(f"{method} {url}: the server is unreachable ({exc})") from None


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
