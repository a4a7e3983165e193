"""How events reach a destination: one transport per destination kind (webhook, syslog).

A transport delivers a batch of envelopes in order, or raises `TransportError`; the caller
(events.delivery) records the attempt and retries with backoff when `retryable`.

Each kind is registered below by the module that implements it, imported only when first used:
`<prefix>_config_clean(raw) -> dict` (raises ServiceError with `config.<field>` paths) and a
transport class. A kind whose module is not there (yet) is simply not offered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from events.envelope import Envelope


class TransportError(Exception):
    """A delivery that did not happen. `retryable` is False only when sending again cannot help
    until the destination's configuration changes (a certificate that does not verify is still
    retryable: the receiver's operator may fix it). `delivered` counts the envelopes of the batch
    that were delivered before the failure (in order), when the transport knows (a webhook does)."""

    def __init__(self, message: str, *, retryable: bool = True, delivered: int = 0):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.delivered = delivered


class Transport(Protocol):
    def deliver(self, envelopes: Sequence[Envelope]) -> None: ...


@dataclass(frozen=True)
class TransportKind:
    """A destination kind: the module implementing it, its config check, its transport class, and
    whether it signs with a per-destination secret (the transport then takes it second)."""

    module: str
    clean: str
    transport: str
    has_secret: bool

    def _load(self, name: str) -> Any:
        return getattr(importlib.import_module(self.module), name)

    def available(self) -> bool:
        try:
            importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name != self.module:
                raise  # the module is there but broken: say so, do not hide the kind
            return False
        return True

    def config_clean(self, raw: dict) -> dict:
        clean: Callable[[dict], dict] = self._load(self.clean)
        return clean(raw)

    def build(self, config: dict, secret: str | None) -> Transport:
        cls = self._load(self.transport)
        return cls(config, secret) if self.has_secret else cls(config)


KINDS: dict[str, TransportKind] = {}


def register_kind(kind: str, *, module: str, clean: str, transport: str, has_secret: bool = False) -> None:
    KINDS[kind] = TransportKind(module, clean, transport, has_secret)


def kind_get(kind: str) -> TransportKind | None:
    """The kind if it is registered and its module importable, else None."""
    found = KINDS.get(kind)
    return found if found is not None and found.available() else None


def kinds_available() -> list[str]:
    return [kind for kind in KINDS if kind_get(kind) is not None]


register_kind(
    "webhook",
    module="events.transports.webhook",
    clean="webhook_config_clean",
    transport="WebhookTransport",
    has_secret=True,
)
register_kind("syslog", module="events.transports.syslog", clean="syslog_config_clean", transport="SyslogTransport")
