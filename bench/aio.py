"""A lean HTTP/1.1 client on asyncio streams, and the server processes the asyncio benches talk to.

Thousands of simulated agents in one process need a socket and a coroutine each, not a thread
(http.client) nor a session object: one keep-alive connection per agent, JSON bodies framed by
Content-Length (chunked replies are read too, should a server stream), and a timeout on every
step so that a server that stops answering ends as a counted error, never a hang.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import DATABASE_URL, ROOT, SERVER_DATABASE_URL, server_env, start_server, stop  # noqa: F401  (re-exported to the benches)

MAX_HEADER_BYTES = 64 * 1024


class HttpError(Exception):
    """The server broke the framing (or closed the connection mid-reply)."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    # time.monotonic() when the whole reply was read: the benches' latencies end here.
    at: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Connection:
    """One keep-alive connection to host:port, opened on first use and again after the server
    closed it (gunicorn's keep-alive timeout closes idle ones)."""

    host: str
    port: int
    reader: asyncio.StreamReader | None = field(default=None, repr=False)
    writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Reply:
        """Send one request and read its reply within `timeout` seconds (TimeoutError otherwise,
        and the connection is dropped: a late reply must not be read as the next one's)."""
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: application/json"]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data
        reused = self.writer is not None
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that
        # lands as the reply completes, and a bench's waiter would then never stop.
        try:
            async with asyncio.timeout(timeout):
                try:
                    return await self._exchange(raw, method)
                except (ConnectionError, HttpError, asyncio.IncompleteReadError) as exc:
                    self.close()
                    # A reused connection the server had closed fails before any reply: send
                    # again once on a fresh one (every request of these benches may be repeated).
                    if reused and getattr(exc, "before_reply", False):
                        return await self._exchange(raw, method)
                    raise
        except BaseException:  # the timeout, or the caller cancelled us: the stream is out of step
            self.close()
            raise

    async def _exchange(self, raw: bytes, method: str) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES)
        assert self.reader is not None
        self.writer.write(raw)
        try:
            await self.writer.drain()
            status_line = await self.reader.readline()
        except ConnectionError as exc:
            exc.before_reply = True  # type: ignore[attr-defined]
            raise
        if not status_line:
            error = HttpError("the server closed the connection before replying")
            error.before_reply = True  # type: ignore[attr-defined]
            raise error
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise HttpError("the server closed the connection inside the headers")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if method != "HEAD" and status not in (204, 304) and status >= 200:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._read_chunked()
            elif "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            else:  # framed by the end of the connection
                body = await self.reader.read()
                headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, headers, body, time.monotonic())

    async def _read_chunked(self) -> bytes:
        assert self.reader is not None
        chunks = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Backoff:
    """An agent's pause after a failure, as agent/device.py's run loop: exponential with jitter,
    from 1 s, capped lower than its 60 s so that a bench sees a recovering server recover; a
    Retry-After the server sent is honoured up to the cap."""

    CAP = 16.0

    def __init__(self) -> None:
        self.seconds = 1.0

    async def pause(self, reply: Reply | None = None) -> None:
        delay = self.seconds * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)
        retry_after = (reply.headers.get("retry-after", "") if reply is not None else "").strip()
        if retry_after.isdigit():
            delay = max(delay, float(retry_after))
        await asyncio.sleep(min(delay, self.CAP))
        self.seconds = min(self.seconds * 2, self.CAP)

    def reset(self) -> None:
        self.seconds = 1.0


async def cancel_all(tasks: list[asyncio.Task], *, grace: float = 15.0) -> int:
    """Cancel the tasks and wait for them at most `grace` seconds; how many did not end."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=grace)
    return len(pending)


def error_name(exc: BaseException) -> str:
    """How an exception is counted among a bench's errors."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{type(exc).__name__} (errno {exc.errno})"
    return type(exc).__name__


async def hammer(port: int, path: str, *, body: Any, connections: int, seconds: float) -> tuple[float, dict[str, int]]:
    """Requests per second from `connections` keep-alive connections for `seconds` (the fallback
    when wrk is missing: this client shares the server's cores, wrk less so). Returns the rate and
    the failures by kind."""
    deadline = time.monotonic() + seconds
    done = 0
    failures: dict[str, int] = {}

    async def run() -> None:
        nonlocal done
        conn = Connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            try:
                reply = await conn.request("POST", path, body=body, timeout=10)
            except Exception as exc:
                failures[error_name(exc)] = failures.get(error_name(exc), 0) + 1
                continue
            if reply.status == 200:
                done += 1
            else:
                failures[f"status {reply.status}"] = failures.get(f"status {reply.status}", 0) + 1
        conn.close()

    started = time.monotonic()
    await asyncio.gather(*(run() for _ in range(connections)))
    return done / (time.monotonic() - started), failures


# --- the processes ------------------------------------------------------------------------------


def raise_open_files(wanted: int) -> int:
    """Raise the soft limit of open files towards `wanted` (the hard limit caps it); the servers
    started afterwards inherit it. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def start_worker(port: int, log: Path) -> subprocess.Popen:
    """The Celery worker exactly as `make run` starts it, on the bench database and Redis, ready
    (answering a ping) before this returns."""
    from mdm.celery import app
    from mdm.stack import PROCESSES

    argv = [sys.executable, *PROCESSES["worker"][1:]]
    with log.open("ab") as out:
        env = server_env(port, DATABASE_URL)
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the Celery worker exited with {process.returncode}; see {log}")
        if app.control.ping(timeout=1.0):
            return process
    stop(process)
    raise SystemExit(f"the Celery worker did not answer a ping within 60 s; see {log}")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a gunicorn master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_and_threads(pid: int) -> tuple[int, int]:
    """Summed VmRSS (KiB) and Threads of `pid` and its descendants, from /proc."""
    rss = threads = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:  # exited meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
    return rss, threads


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): ?(.*)$")


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen queue was full (machine-wide,
    /proc/net/netstat): a server whose workers stop accepting shows here before anywhere else."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(fields["ListenOverflows"]) if "ListenOverflows" in fields else None
    return None


def log_summary(log: Path, *, limit: int = 5) -> list[str]:
    """The most frequent exceptions in a server log, with their counts (the chained ones too, so
    the root cause shows): the first place to look for the cause of counted errors."""
    counts: dict[str, int] = {}
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        found = EXCEPTION_LINE.match(line.strip())
        if found:
            key = line.strip()[:200]
            counts[key] = counts.get(key, 0) + 1
    return [f"{n:>6} x {line}" for line, n in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def run(main: Any) -> None:
    """Run the coroutine `main` on uvloop (pinned for the server) when present, else on asyncio's
    own loop: the simulated fleet shares the server's two cores, so its loop should cost little."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def loop_name() -> str:
    """Which event loop the client runs on (printed with the figures)."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]
