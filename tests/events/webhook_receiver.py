"""A real HTTP receiver for the tests: an http.server on 127.0.0.1 in a thread that verifies each
request as a Standard Webhooks consumer would (`standardwebhooks.Webhook(secret).verify`).

It can be stopped and started again on the same port (the destination's URL stays valid while
it is down), made to answer an error status, or made to hold requests until released (to kill a
worker in the middle of a delivery)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from tests.live import free_port


@dataclass
class Received:
    id: str
    type: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    secret: str = ""
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # Status to answer instead of 2xx (None: accept); `fail_after` accepts that many first.
    fail_status: int | None = None
    fail_after: int = 0
    # While set, each request waits for `release` (and `holding` is set when one waits).
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/mdm?via=test"

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.received]

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.hold:
                    receiver.holding.set()
                    receiver.release.wait(timeout=120)
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except Exception as exc:
                    with receiver.lock:
                        receiver.rejected.append(f"{type(exc).__name__}: {exc}")
                    self._answer(401)
                    return
                with receiver.lock:
                    accepted = len(receiver.received)
                    if receiver.fail_status is not None and accepted >= receiver.fail_after:
                        status = receiver.fail_status
                    else:
                        receiver.received.append(
                            Received(headers["webhook-id"], payload["type"], json.loads(body), headers)
                        )
                        status = 204
                self._answer(status)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: connections to the port are refused until `start()`."""
        if self.server is not None:
            self.release.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None
