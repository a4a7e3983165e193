"""How events reach a destination: one transport per destination kind (webhook, syslog).

A transport delivers a batch of envelopes in order, or raises `TransportError`; the caller
(events.delivery) records the attempt and retries with backoff when `retryable`.
"""

from __future__ import annotations


class TransportError(Exception):
    """A delivery that did not happen. `retryable` is False only when sending again cannot help
    until the destination's configuration changes (a certificate that does not verify is still
    retryable: the receiver's operator may fix it)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
