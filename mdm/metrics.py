"""`/metrics` in Prometheus' text format: what the fleet and the server are doing right now.

Every value is read from the database (or the broker) when Prometheus scrapes, so every web
process answers the same and nothing is lost when one restarts: no in-process counters. Each app
adds its families with `register_collector` from its AppConfig.ready() (devices: devices,
pushes, commands; events: destination lag); this module adds the Celery queue depth.

The endpoint is protected by its own bearer token (MDM_METRICS_TOKEN, or _FILE) or by the
networks allowed to scrape it (MDM_METRICS_ALLOWED_NETWORKS, loopback by default).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mdm.lib.http import client_ip
from mdm.lib.tokens import token_hash

logger = logging.getLogger("mdm.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Families = Callable[[], Iterable[Metric]]
COLLECTORS: list[Families] = []


def register_collector(collect: Families) -> None:
    """Add a function yielding metric families to every scrape (once, however often called)."""
    if collect not in COLLECTORS:
        COLLECTORS.append(collect)


def celery_queue_depth() -> Iterator[Metric]:
    """Messages waiting in each Celery queue (with Redis: every priority level of it)."""
    from mdm.celery import app as celery_app

    depth = GaugeMetricFamily("mdm_celery_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"])
    up = GaugeMetricFamily("mdm_celery_broker_up", "1 when the broker answered this scrape.")
    queues = sorted({celery_app.conf.task_default_queue, *(q.name for q in celery_app.amqp.queues.values())})
    try:
        with celery_app.connection_for_read(connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            for name in queues:
                try:
                    _, waiting, _ = channel.queue_declare(queue=name, passive=True)
                except connection.channel_errors:  # never declared yet: nothing waits in it
                    waiting = 0
                    channel = connection.channel()
                depth.add_metric([name], waiting)
        up.add_metric([], 1)
    except Exception as exc:
        logger.warning("Celery queue depth unavailable: %s: %s", type(exc).__name__, exc)
        up.add_metric([], 0)
    yield up
    yield depth


register_collector(celery_queue_depth)


class _Collected(Collector):
    def collect(self) -> Iterator[Metric]:
        for collect in list(COLLECTORS):
            yield from collect()


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(_Collected())


def _allowed_by_network(request: HttpRequest) -> bool:
    address = client_ip(request)
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.MDM_METRICS_ALLOWED_NETWORKS)


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token_matches(token: str) -> bool:
    expected = settings.MDM_METRICS_TOKEN_SHA256
    return bool(expected) and hmac.compare_digest(token_hash(token), expected)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = _bearer(request)
    if token is not None:
        if not _token_matches(token):
            response = HttpResponse("The metrics token is wrong.\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _allowed_by_network(request):
        return HttpResponse(
            "Scraping /metrics needs the metrics token or an allowed network (MDM_METRICS_ALLOWED_NETWORKS).\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE)
