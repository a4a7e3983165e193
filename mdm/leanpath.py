"""The lean path: how the agent API is served.

Device agents send most of the server's requests, and each is a bearer-token API call that needs
none of the console's middleware (sessions, CSRF, messages, user authentication). Under ASGI,
Django's middleware chain hops between the event loop and a thread at every middleware that is
not async-native, and it starts a thread per request: that was most of a check-in's CPU. So the
paths in settings.LEAN_PATH_PREFIXES skip the chain. LeanPathMiddleware, first in MIDDLEWARE,
runs for them only settings.LEAN_PATH_MIDDLEWARE, middleware that do no I/O (security headers,
host and input checks, problem+json), in-line, then the view:

- an async view (the long poll) on the event loop, with no thread at all;
- a sync view in ONE hop to a shared thread pool, after which the thread's database connection
  goes back to the pool (it is not kept by an idle thread).

Every check those middleware make still runs, in the same order. Under WSGI and in Django's test
client (sync) the same code runs the same middleware and view synchronously, so the tests see
exactly the chain production serves. mdm/asgi.py lets these paths skip the per-request thread of
Django's ASGI handler too.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import response_for_exception
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, get_resolver
from django.utils.module_loading import import_string

# Set while a sync caller (WSGI, Django's test client) runs a lean async view through async_to_sync.
_sync_caller: ContextVar[bool] = ContextVar("lean_path_sync_caller", default=False)


def _giving_back_connections(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            # A pool thread serves anyone's next call: its database connection goes back now,
            # so no idle thread holds one.
            close_old_connections()

    return run


def in_thread(func):
    """`func` (sync, database work), for a lean async view to await.

    Under the ASGI server it runs on the loop's shared thread pool and gives its database
    connection back when done. Under a sync caller (WSGI, the test client) it runs in the
    caller's own thread, which waits anyway, with the caller's connection and transaction.
    """
    pooled = sync_to_async(_giving_back_connections(func), thread_sensitive=False)
    in_caller = sync_to_async(func)

    async def run(*args, **kwargs):
        return await (in_caller if _sync_caller.get() else pooled)(*args, **kwargs)

    return run


def is_lean_path(path: str) -> bool:
    return path.startswith(tuple(settings.LEAN_PATH_PREFIXES))


def _never_called(request):  # the in-line middleware are driven by their hooks, never as a chain
    raise RuntimeError("a lean-path middleware called get_response")


class LeanPath:
    """The lean path's middleware and view, served sync (`serve`) or on the event loop (`aserve`)."""

    def __init__(self):
        self.middleware = []
        for path in settings.LEAN_PATH_MIDDLEWARE:
            middleware = import_string(path)(_never_called)
            if any(hasattr(middleware, hook) for hook in ("process_view", "process_template_response")):
                raise ImproperlyConfigured(f"{path} has a hook the lean path does not run (process_view ...).")
            self.middleware.append(middleware)

    def serve(self, request: HttpRequest) -> HttpResponseBase:
        entered, response = self._before(request)
        if response is None:
            match, response = self._resolve(request)
            if match is not None:
                response = self._call(request, match)
        return self._after(request, response, entered)

    async def aserve(self, request: HttpRequest) -> HttpResponseBase:
        entered, response = self._before(request)
        if response is None:
            match, response = self._resolve(request)
            if match is not None and iscoroutinefunction(match.func):
                try:
                    response = self._rendered(await match.func(request, *match.args, **match.kwargs))
                except Exception as exc:
                    response = self._failed(request, exc)
            elif match is not None:
                response = await in_thread(self._call)(request, match)
        return self._after(request, response, entered)

    # --- the steps, as Django's handler takes them -----------------------------------------------

    def _before(self, request: HttpRequest) -> tuple[int, Any]:
        """process_request of each middleware in order; a response from one skips the rest."""
        for index, middleware in enumerate(self.middleware):
            hook = getattr(middleware, "process_request", None)
            if hook is None:
                continue
            try:
                response = hook(request)
            except Exception as exc:
                return index + 1, response_for_exception(request, exc)
            if response is not None:
                return index + 1, response
        return len(self.middleware), None

    @staticmethod
    def _resolve(request: HttpRequest) -> tuple[ResolverMatch | None, HttpResponseBase | None]:
        try:
            match = get_resolver().resolve(request.path_info)
        except Exception as exc:  # Resolver404 and the like: not the view's, so no process_exception
            return None, response_for_exception(request, exc)
        request.resolver_match = match
        return match, None

    def _call(self, request: HttpRequest, match: ResolverMatch) -> HttpResponseBase:
        func = match.func
        token = None
        if iscoroutinefunction(func):  # a sync caller: its database work comes back to this thread
            func, token = async_to_sync(func), _sync_caller.set(True)
        try:
            return self._rendered(func(request, *match.args, **match.kwargs))
        except Exception as exc:
            return self._failed(request, exc)
        finally:
            if token is not None:
                _sync_caller.reset(token)

    @staticmethod
    def _rendered(response: Any) -> HttpResponseBase:
        if not isinstance(response, HttpResponseBase):
            raise TypeError(f"The view returned {type(response).__name__}, not an HttpResponse.")
        render = getattr(response, "render", None)  # DRF's Response is a template response
        if callable(render):
            response = render()
        return response

    def _failed(self, request: HttpRequest, exc: Exception) -> HttpResponseBase:
        for middleware in reversed(self.middleware):
            hook = getattr(middleware, "process_exception", None)
            if hook is not None:
                response = hook(request, exc)
                if response is not None:
                    return response
        return response_for_exception(request, exc)

    def _after(self, request: HttpRequest, response: HttpResponseBase, entered: int) -> HttpResponseBase:
        for middleware in reversed(self.middleware[:entered]):
            hook = getattr(middleware, "process_response", None)
            if hook is not None:
                try:
                    response = hook(request, response)
                except Exception as exc:
                    response = response_for_exception(request, exc)
        return response


class LeanPathMiddleware:
    """First in MIDDLEWARE: under a sync handler (WSGI, Django's test client) the lean paths are
    served here, the rest of MIDDLEWARE skipped. Under ASGI, mdm/asgi.py serves them before
    Django's chain starts, and this passes everything on."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.LEAN_PATH_PREFIXES)
        self.lean = LeanPath()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(self.prefixes):
            return self.lean.serve(request)
        return self.get_response(request)
