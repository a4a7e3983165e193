"""Where a destination may send: the SSRF guard of every transport (webhooks and syslog).

Unless MDM_EVENTS_ALLOW_PRIVATE_URLS is on, every address a destination's host resolves to must
be public (no loopback, private, link-local, reserved or multicast address), checked at each
delivery, and the connection goes to the very address that was checked: a DNS answer that
changes in between cannot point it inside. An organization's admin configures destinations; the
server's own network is not theirs to reach.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from django.conf import settings

from events.transports import TransportError


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if settings.MDM_EVENTS_ALLOW_PRIVATE_URLS:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_refused(host: str) -> bool:
    """Whether `host` is an IP address that may not be reached (names are checked at delivery)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address_allowed(literal)


def delivery_deadline_seconds() -> float:
    """How long one transport call may take in all: half a delivery lease, so that a run renewing
    its lease between calls never outlives it (and no second run starts beside it)."""
    return settings.MDM_EVENTS_LEASE_SECONDS / 2


def resolve_checked(host: str, port: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> tuple:
    """(family, type, proto, sockaddr) of `host`'s first address; TransportError if it does not
    resolve, or if any of its addresses may not be reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=kind)
    except OSError as exc:
        raise TransportError(f"Cannot resolve {host}: {exc}") from exc
    if not infos:
        raise TransportError(f"Cannot resolve {host}.")
    for info in infos:
        address = str(info[4][0])
        if not address_allowed(ipaddress.ip_address(address.split("%")[0])):
            raise TransportError(f"{host} resolves to a private or local address ({address}): refused.")
    family, socktype, proto, _, sockaddr = infos[0]
    return family, socktype, proto, sockaddr


@contextmanager
def deadline(seconds: float, sock_of: Callable[[], socket.socket | None]) -> Iterator[float]:
    """A bound on a whole delivery, not on each socket operation (a receiver answering a byte at
    a time would otherwise hold it for ever): at the deadline the socket `sock_of()` returns is
    shut down, which ends any read or write blocked on it. Yields the deadline (monotonic)."""
    until = time.monotonic() + seconds

    def expire() -> None:
        sock = sock_of()
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield until
    finally:
        timer.cancel()
