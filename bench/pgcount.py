"""What PostgreSQL sees: a counting proxy on the wire between the server under test and PostgreSQL.

    with PgCounter("127.0.0.1", 5432) as counter:   # listens on counter.port
        ... point the server's DATABASE_URL at 127.0.0.1:counter.port ...
        before = counter.snapshot(); ...; after = counter.snapshot()

It counts, per message the clients send (PostgreSQL's frontend protocol, version 3): connections
(startup messages), statements executed (simple-protocol Query and extended-protocol Execute,
which include the pool's health checks and BEGIN/COMMIT), and explicit transactions (BEGIN). It
answers SSL and GSS encryption requests with "no" itself, so the stream stays readable. One
asyncio thread, for counting runs only: its own cost is not in any throughput figure.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from dataclasses import dataclass

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
CANCEL_REQUEST = 80877102


@dataclass(frozen=True)
class Counts:
    connections: int = 0
    statements: int = 0
    transactions: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(*(a - b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True)))


class PgCounter:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._counts = {"connections": 0, "statements": 0, "transactions": 0}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PgCounter:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(**self._counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        back = asyncio.ensure_future(self._pipe(upstream_reader, client_writer))
        try:
            await self._frontend(client_reader, client_writer, upstream_writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            upstream_writer.close()
            back.cancel()
            client_writer.close()

    async def _frontend(self, reader, client_writer, upstream) -> None:
        while True:  # the startup phase: untyped messages
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            if code in (SSL_REQUEST, GSS_REQUEST):
                client_writer.write(b"N")
                await client_writer.drain()
                continue
            upstream.write(head + rest)
            if code != CANCEL_REQUEST:
                self._count("connections")
            break
        last_parse = b""
        while True:
            kind = await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if kind == b"Q":
                self._statement(body)
            elif kind == b"P":
                name_end = body.index(b"\0")
                last_parse = body[name_end + 1 : body.index(b"\0", name_end + 1)]
            elif kind == b"E":
                self._statement(last_parse)
            upstream.write(kind + struct.pack("!i", length) + body)
            await upstream.drain()

    def _statement(self, text: bytes) -> None:
        self._count("statements")
        if text.lstrip()[:5].upper() == b"BEGIN":
            self._count("transactions")

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
