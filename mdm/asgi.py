"""ASGI entry point: the web server (gunicorn with uvicorn workers) serves this, so that long
polls of device agents wait on the event loop instead of pinning a thread each."""

import os
from typing import cast

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import set_urlconf  # noqa: E402
from django.utils.log import log_response  # noqa: E402

from mdm.leanpath import LeanPath, is_lean_path  # noqa: E402  (needs the settings)

# Header names the HTTP server itself reads to frame the response: left as they are.
_FRAMING = {b"content-length", b"transfer-encoding", b"connection"}


class _CasedName(bytes):
    """A header name that keeps its case: uvicorn's fast (httptools) protocol lowercases every
    response header name, and agents that read `ETag` as spelled (the reference agent before 1.1
    did) would lose their policy's ETag, refetch an unchanged policy and refuse it as not newer.
    Header names are case-insensitive in HTTP; this keeps what Django and h11 always sent."""

    def lower(self):
        return self


def _cased(send):
    async def send_cased(message):
        if message["type"] == "http.response.start":
            message["headers"] = [
                (name if name.lower() in _FRAMING else _CasedName(name), value) for name, value in message["headers"]
            ]
        await send(message)

    return send_cased


class Handler(ASGIHandler):
    """Django's handler, except for the lean paths (mdm/leanpath.py): they are served on the event
    loop without Django's middleware chain, and without a thread of their own per request (Django's
    thread-sensitive steps around them, its request signals, share the process's one thread)."""

    def __init__(self):
        super().__init__()
        self.lean = LeanPath()

    async def get_response_async(self, request):
        if not is_lean_path(request.path_info):
            return await super().get_response_async(request)
        set_urlconf(settings.ROOT_URLCONF)
        response = await self.lean.aserve(request)
        # As BaseHandler.get_response does: the request's files closed with the response, 4xx/5xx logged.
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        if response.status_code >= 400:
            logged = cast(HttpResponse, response)  # log_response reads only what every response has
            log_response("%s: %s", response.reason_phrase, request.path, response=logged, request=request)
        return response

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_lean_path(scope["path"]):
            await self.handle(scope, receive, _cased(send))
        else:
            await super().__call__(scope, receive, _cased(send))


application = Handler()
