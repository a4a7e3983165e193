"""GET /api/v1/agent/commands?wait=N: the long poll, as an async view.

Under the ASGI server (gunicorn with uvicorn workers: `make run`, CI and docker-compose alike) a
waiting agent costs a suspended coroutine, not a thread. Each web process keeps ONE Redis
connection subscribed to every device's wake-up channel (a pattern subscription) and wakes the
coroutines waiting for that device. Wake-ups are hints: a waiter also re-reads the database
every few seconds, so with Redis down (or absent, in the embedded default) commands still
arrive, within RECHECK_SECONDS instead of at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from devices.agent_api.authentication import DeviceTokenAuthentication, IsActiveDevice
from devices.channels.agent import commands_deliver
from devices.wakeups import CHANNEL_PREFIX
from mdm.api.errors import problem_exception_handler, problem_response
from mdm.lib import ratelimit

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
RECHECK_SECONDS = 5.0  # with a live Redis subscription
RECHECK_WITHOUT_REDIS_SECONDS = 1.0


class WakeupHub:
    """One pattern subscription per event loop, fanning wake-ups out to waiting coroutines."""

    def __init__(self):
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.healthy = False
        self._task: asyncio.Task | None = None

    def ensure_running(self) -> None:
        if settings.REDIS_URL and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                self.healthy, backoff = True, 0.5
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None:
                        continue
                    name = message["channel"].decode()
                    for event in self.waiters.get(name[len(CHANNEL_PREFIX) :], ()):
                        event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.healthy:
                    logger.warning("Wake-up subscription lost (%s); waiters fall back to polling.", exc)
                self.healthy = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.healthy = False
                try:
                    await client.aclose()
                except Exception:  # closing a broken connection may fail too
                    logger.debug("closing the wake-up connection failed", exc_info=True)

    def register(self, device_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self.waiters.setdefault(device_id, set()).add(event)
        return event

    def unregister(self, device_id: str, event: asyncio.Event) -> None:
        events = self.waiters.get(device_id)
        if events is not None:
            events.discard(event)
            if not events:
                self.waiters.pop(device_id, None)


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub() -> WakeupHub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = WakeupHub()
    return found


def _authenticate(request):
    """The same checks as every other agent endpoint, run off the event loop."""
    result = DeviceTokenAuthentication().authenticate(request)
    if result is None:
        raise exceptions.NotAuthenticated("An access token is required.")
    request.user = result[0]
    IsActiveDevice().has_permission(request, None)
    ratelimit.enforce("agent_device", str(result[0].device_id))
    return result[0]


def _problem_from(exc: exceptions.APIException):
    drf_response = problem_exception_handler(exc, {})
    return problem_response(
        drf_response.status_code,
        code=drf_response.data["code"],
        detail=drf_response.data["detail"],
        headers={k: v for k, v in drf_response.items() if k in ("WWW-Authenticate", "Retry-After")},
    )


# Authenticated by the device's bearer token, never by a cookie: CSRF does not apply, and without
# this exemption a POST got CSRF's 403 instead of the 405 it is.
@csrf_exempt
async def commands_view(request):
    if request.method != "GET":
        response = problem_response(405, code="method_not_allowed", detail=f'Method "{request.method}" not allowed.')
        response["Allow"] = "GET"
        return response
    try:
        principal = await sync_to_async(_authenticate)(request)
    except exceptions.APIException as exc:
        return _problem_from(exc)
    raw_wait = request.GET.get("wait", "0")
    if not re.fullmatch(r"[0-9]{1,2}", raw_wait) or int(raw_wait) > MAX_WAIT_SECONDS:
        return problem_response(
            400, code="invalid", detail="Invalid query.", errors={"wait": [f"0 to {MAX_WAIT_SECONDS} seconds."]}
        )
    wait = int(raw_wait)
    device_id = str(principal.device_id)
    deliver = sync_to_async(commands_deliver)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    wakeups = hub()
    event = None
    if wait:
        wakeups.ensure_running()
        # Registered before the first read, so a wake-up published in between is not missed.
        event = wakeups.register(device_id)
    try:
        while True:
            commands = await deliver(device_id=principal.device_id)
            remaining = deadline - loop.time()
            if commands or remaining <= 0:
                break
            recheck = RECHECK_SECONDS if wakeups.healthy else RECHECK_WITHOUT_REDIS_SECONDS
            if event is None:  # not waiting: wait=0 answers at once
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(remaining, recheck))
            event.clear()
    finally:
        if event is not None:
            wakeups.unregister(device_id, event)
    return JsonResponse({"commands": commands})
