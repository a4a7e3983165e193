"""GET /api/v1/agent/commands?wait=N: the long poll, on the event loop.

A waiting poll costs a socket and a coroutine, nothing more: no thread and no database
connection. It is checked on the loop (the access token is CPU only; the device's state and its
rate limit are one Redis round trip), delivers what is pending with one short database call on a
pool thread, and then waits for its device's wake-up:

- Each web process keeps ONE Redis connection subscribed to every device's wake-up channel (a
  pattern subscription, so wake-ups reach every process on every machine), and wakes the
  coroutines waiting for that device. A woken poll delivers with one more database call.
- Wake-ups are hints. The process itself, not each waiter, looks for commands that a lost wake-up
  left queued: ONE query for all of its waiting devices, every RECHECK_SECONDS (with jitter) while
  the subscription is healthy, every RECHECK_WITHOUT_REDIS_SECONDS while it is not (or in the
  embedded default, without Redis). The database cost is bounded by the number of processes, not
  of waiters; a poll that times out answers `[]` without a query, and the agent's next poll or
  check-in finds anything that arrived meanwhile.
- A process holds at most MDM_LONGPOLL_MAX_WAITERS polls; past that, and whenever the database
  or Redis runs out of connections, the answer is 503 with Retry-After, never 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import re
import weakref

import redis.asyncio as aioredis
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from devices.agent_api.authentication import (
    DevicePrincipal,
    DeviceRetired,
    authenticate_access_token,
    enforce_rate,
)
from devices.channels.agent import commands_deliver, devices_with_queued_commands
from devices.choices import DeviceState
from devices.wakeups import CHANNEL_PREFIX
from mdm.api.errors import is_exhaustion, problem_exception_handler, problem_response, unavailable
from mdm.leanpath import in_thread

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
RECHECK_SECONDS = 30.0  # with a live Redis subscription: only for wake-ups lost in a reconnect
RECHECK_WITHOUT_REDIS_SECONDS = 1.0
RECHECK_BATCH = 5_000  # device ids per query
WAIT_JITTER = 0.1


class WakeupHub:
    """One pattern subscription per event loop, fanning wake-ups out to waiting coroutines, and
    the loop's one database recheck for all of them."""

    def __init__(self):
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.count = 0
        self.healthy = False
        self._listener: asyncio.Task | None = None
        self._rechecker: asyncio.Task | None = None

    def ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        # In contexts of their own: not the context of the request that happened to start them.
        if settings.REDIS_URL and (self._listener is None or self._listener.done()):
            self._listener = loop.create_task(self._listen(), context=contextvars.Context())
        if self._rechecker is None or self._rechecker.done():
            self._rechecker = loop.create_task(self._recheck_forever(), context=contextvars.Context())

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
                    if message is not None:
                        self.wake(message["channel"].decode()[len(CHANNEL_PREFIX) :])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.healthy:
                    logger.warning("Wake-up subscription lost (%s); waiters fall back to polling.", exc)
                self.healthy = False
                # What was published while the subscription was down is found by the next recheck.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.healthy = False
                try:
                    await client.aclose()
                except Exception:  # closing a broken connection may fail too
                    logger.debug("closing the wake-up connection failed", exc_info=True)

    async def _recheck_forever(self) -> None:
        find = in_thread(devices_with_queued_commands)
        due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            # A tick a second; a recheck at every tick while wake-ups may be lost (no subscription),
            # else once every RECHECK_SECONDS, jittered so that processes do not query together.
            await asyncio.sleep(RECHECK_WITHOUT_REDIS_SECONDS)
            if self.healthy and loop.time() < due:
                continue
            due = loop.time() + RECHECK_SECONDS * random.uniform(0.5, 1.5)  # noqa: S311 (jitter)
            waiting = list(self.waiters)
            for start in range(0, len(waiting), RECHECK_BATCH):
                try:
                    found = await find(waiting[start : start + RECHECK_BATCH])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is busy or down: the next round tries again
                    logger.warning("Long-poll recheck failed (%s).", exc)
                    break
                for device_id in found:
                    self.wake(str(device_id))

    def wake(self, device_id: str) -> None:
        for event in self.waiters.get(device_id, ()):
            event.set()

    def register(self, device_id: str) -> asyncio.Event | None:
        """An event set when the device may have commands; None when the process is full."""
        if self.count >= settings.MDM_LONGPOLL_MAX_WAITERS:
            return None
        event = asyncio.Event()
        self.waiters.setdefault(device_id, set()).add(event)
        self.count += 1
        return event

    def unregister(self, device_id: str, event: asyncio.Event) -> None:
        events = self.waiters.get(device_id)
        if events is not None and event in events:
            events.discard(event)
            self.count -= 1
            if not events:
                self.waiters.pop(device_id, None)


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub() -> WakeupHub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = WakeupHub()
    return found


def _authenticate(request) -> DevicePrincipal:
    """The checks of every other agent endpoint (DeviceTokenAuthentication, IsActiveDevice, the
    per-device limit)."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise exceptions.NotAuthenticated("An access token is required.")
    principal, _ = authenticate_access_token(header)
    if principal.state != DeviceState.ACTIVE:
        raise DeviceRetired()
    enforce_rate(principal)
    return principal


def _problem_from(exc: exceptions.APIException):
    drf_response = problem_exception_handler(exc, {})
    return problem_response(
        drf_response.status_code,
        code=drf_response.data["code"],
        detail=drf_response.data["detail"],
        headers={k: v for k, v in drf_response.items() if k in ("WWW-Authenticate", "Retry-After")},
    )


def _busy(exc: BaseException):
    body, headers = unavailable(exc)
    return problem_response(503, code=body["code"], detail=body["detail"], headers=headers)


class _Full(Exception):
    def __str__(self) -> str:
        return f"{settings.MDM_LONGPOLL_MAX_WAITERS} long polls already wait in this process"


# Authenticated by the device's bearer token, never by a cookie: CSRF does not apply, and without
# this exemption a POST got CSRF's 403 instead of the 405 it is.
@csrf_exempt
async def commands_view(request):
    if request.method != "GET":
        response = problem_response(405, code="method_not_allowed", detail=f'Method "{request.method}" not allowed.')
        response["Allow"] = "GET"
        return response
    raw_wait = request.GET.get("wait", "0")
    wait_ok = re.fullmatch(r"[0-9]{1,2}", raw_wait) and int(raw_wait) <= MAX_WAIT_SECONDS
    loop = asyncio.get_running_loop()
    # An empty answer comes at a random point of the last tenth of the wait: agents that all
    # started polling together (a server restart, a network back) drift apart instead of
    # coming back together every minute. The protocol says "up to `wait` seconds".
    wait = int(raw_wait) if wait_ok else 0
    deadline = loop.time() + wait * random.uniform(1 - WAIT_JITTER, 1.0)  # noqa: S311 (not a secret)
    wakeups = hub()
    event = None
    device_id = ""
    try:
        # Redis only, unless the device's state is not cached.
        principal = await in_thread(_authenticate)(request)
        if not wait_ok:  # after the credentials, as everywhere: a stranger learns nothing
            return problem_response(
                400, code="invalid", detail="Invalid query.", errors={"wait": [f"0 to {MAX_WAIT_SECONDS} seconds."]}
            )
        device_id = str(principal.device_id)
        if raw_wait != "0":
            wakeups.ensure_running()
            # Registered before the first read, so a wake-up published in between is not missed.
            event = wakeups.register(device_id)
            if event is None:
                return _busy(_Full())
        deliver = in_thread(commands_deliver)
        commands = await deliver(device_id=principal.device_id)
        while not commands and event is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=remaining)
            if event.is_set():
                event.clear()
                commands = await deliver(device_id=principal.device_id)
    except exceptions.APIException as exc:
        return _problem_from(exc)
    except Exception as exc:
        if is_exhaustion(exc):
            return _busy(exc)
        raise
    finally:
        if event is not None:
            wakeups.unregister(device_id, event)
    return JsonResponse({"commands": commands})
