"""N idle long polls on one server, and what they cost the other requests.

    python bench/longpoll.py [N]     (N = 5,000 by default; --hold, --sample, --settle)

The real web server (the `make run` command: gunicorn + 2 uvicorn workers) on the bench database
with N enrolled devices, each holding `GET /api/v1/agent/commands?wait=60` on a connection of its
own, all from one asyncio process (a poll that returns empty is sent again, so all N keep
waiting). Printed:

- errors among the waiters, by status or exception (a timeout is an error, never a hang);
- the bare DRF view's throughput (POST /bench/hello, wrk -t1 -c16 -d5s) without the waiters and
  with all N waiting, and `ratio: X`, the second over the first (goal: at least 0.9);
- the server's RSS and threads (gunicorn master + workers, from /proc), per waiter;
- the PostgreSQL connections the server holds while all wait;
- wake-up latency: a lock of the corporate container to a sample of the waiting devices, a few
  at a time, from just after its commit to the moment that device's poll returns it (p50, p99).

Every step has a deadline: a server that fails or stops answering is reported, not waited for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from aio import (
    SERVER_DATABASE_URL,
    Backoff,
    Connection,
    cancel_all,
    error_name,
    hammer,
    listen_overflows,
    log_summary,
    loop_name,
    memory_and_threads,
    percentile,
    raise_open_files,
    run,
    start_server,
    stop,
)
from common import DATABASE_URL, REDIS_URL, enroll_fleet, fresh_organization, setup_django

WAIT = 60
# A poll may take its 60 s and a little more; past this it is counted as a timeout.
POLL_TIMEOUT = WAIT + 15
RAMP_PER_SECOND = 1000  # new waiters per second, so the start is a ramp and not one SYN flood
WAKE_GROUP = 5  # commands issued together
WAKE_SPACING = 0.25  # seconds between groups
WAKE_DEADLINE = 30.0  # after the last command: a poll that has not returned it by then missed it
WRK_SCRIPT = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


class Waiters:
    """N devices, each holding a long poll on a connection of its own, and what happened to them."""

    def __init__(self, port: int):
        self.port = port
        self.waiting: set[str] = set()  # a poll sent and not answered yet
        self.errors: dict[str, list[float]] = {}  # kind -> seconds from sending to the failure
        self.empty: list[float] = []  # polls answered empty: how long each was held
        self.delivered: dict[str, float] = {}  # device -> when its poll returned the lock command

    def error(self, kind: str, after: float) -> None:
        self.errors.setdefault(kind, []).append(after)

    async def hold(self, device_id: str, token: str) -> None:
        conn = Connection("127.0.0.1", self.port)
        headers = {"Authorization": f"Bearer {token}"}
        backoff = Backoff()
        try:
            while True:  # until cancelled at the end of the bench
                sent = time.monotonic()
                self.waiting.add(device_id)
                try:
                    reply = await conn.request(
                        "GET", f"/api/v1/agent/commands?wait={WAIT}", headers=headers, timeout=POLL_TIMEOUT
                    )
                except Exception as exc:
                    self.waiting.discard(device_id)
                    self.error(error_name(exc), time.monotonic() - sent)
                    await backoff.pause()  # then wait again, as an agent would
                    continue
                self.waiting.discard(device_id)
                if reply.status != 200:
                    self.error(f"status {reply.status}", reply.at - sent)
                    await backoff.pause(reply)
                    continue
                backoff.reset()
                commands = (reply.json() or {}).get("commands", [])
                if not commands:
                    self.empty.append(reply.at - sent)
                    continue
                for command in commands:
                    if command["type"] == "lock_corporate":
                        self.delivered.setdefault(device_id, reply.at)
                    # Acknowledged, or every following poll would answer it again at once.
                    result = await self._acknowledge(conn, command["id"], headers)
                    if result is not None:
                        self.error(f"result: {result}", 0.0)
        finally:
            self.waiting.discard(device_id)
            conn.close()

    async def _acknowledge(self, conn: Connection, command_id: str, headers: dict[str, str]) -> str | None:
        try:
            reply = await conn.request(
                "POST",
                f"/api/v1/agent/commands/{command_id}/result",
                body={"status": "acknowledged", "detail": "bench"},
                headers=headers,
                timeout=30,
            )
        except Exception as exc:
            return error_name(exc)
        return None if reply.status == 200 else f"status {reply.status}"


CATCH_UP_DEADLINE = 90.0


async def catch_up(port: int, token: str, *, deadline: float) -> float | None:
    """Seconds until the server answers a poll of nothing within 100 ms, three times running."""
    started, quick = time.monotonic(), 0
    probe = Connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                headers = {"Authorization": f"Bearer {token}"}
                await probe.request("GET", "/api/v1/agent/commands?wait=0", headers=headers, timeout=10)
            except Exception:
                probe.close()
                probe = Connection("127.0.0.1", port)
                quick = 0
                continue
            quick = quick + 1 if time.monotonic() - sent < 0.1 else 0
            if quick == 3:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        return None
    finally:
        probe.close()


async def wrk_hello(port: int, connections: int = 16, seconds: int = 5) -> tuple[float, str, str]:
    """POST /bench/hello per second, from wrk when installed (an external load generator), else
    from this process's own client. Returns the rate, the tool and its failures."""
    url = f"http://127.0.0.1:{port}/bench/hello"
    wrk = shutil.which("wrk")
    if wrk is None:
        rate, failures = await hammer(port, "/bench/hello", body={}, connections=connections, seconds=seconds)
        return rate, f"asyncio client, {connections} connections, {seconds} s (wrk is missing)", str(failures or "none")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url]
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), seconds + 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            return 0.0, "wrk (killed: it did not finish)", "wrk timed out"
    finally:
        os.unlink(script.name)
    text = output.decode(errors="replace")
    found = re.search(r"Requests/sec:\s*([0-9.]+)", text)
    # wrk's own count, and its failures (lines it prints only when there were some).
    counted = [
        line.strip()
        for line in text.splitlines()
        if " requests in " in line or line.strip().startswith(("Non-2xx", "Socket errors"))
    ]
    rate = float(found.group(1)) if found else 0.0
    return rate, f"wrk -t1 -c{connections} -d{seconds}s", "; ".join(counted) or f"wrk said: {text.strip()[-200:]!r}"


def pg_connections() -> int:
    """Sessions on the bench database, this process's own (the one asking) left out."""
    from django.db import connection

    name = DATABASE_URL.rsplit("/", 1)[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        return cursor.fetchone()[0]


def lock_and_stamp(device, stamps: dict[str, float]) -> None:
    """Queue a lock of the device's corporate container and stamp the moment just after its
    commit (an on-commit hook registered before the wake-up's, so it runs first)."""
    from django.db import transaction

    from devices.wipe import corporate_lock
    from mdm.actors import Actor

    key = str(device.pk)
    with transaction.atomic():
        transaction.on_commit(lambda: stamps.__setitem__(key, time.monotonic()))
        corporate_lock(device=device, lock=True, actor=Actor.system("bench"), reason="bench/longpoll.py")


async def bench(args: argparse.Namespace, devices: list, tokens: dict[str, str], db: ThreadPoolExecutor) -> None:
    loop = asyncio.get_running_loop()
    n = len(tokens)
    port = args.port
    log = Path(tempfile.gettempdir()) / f"bench-longpoll-{port}.log"
    log.write_bytes(b"")
    files = raise_open_files(n + 1024)
    print(f"client: one process, {loop_name()} loop, one connection per device; open files allowed: {files}")
    if SERVER_DATABASE_URL != DATABASE_URL:
        print(f"the server connects as {urlsplit(SERVER_DATABASE_URL).username} (BENCH_SERVER_DATABASE_URL)")
    server = await loop.run_in_executor(None, start_server, port, log)
    tasks: list[asyncio.Task] = []
    try:
        # Warm both paths (imports, the first connections) before anything is measured.
        probe = Connection("127.0.0.1", port)
        first = next(iter(tokens.values()))
        await probe.request("GET", "/api/v1/agent/commands?wait=0", headers={"Authorization": f"Bearer {first}"})
        await probe.request("POST", "/bench/hello", body={})
        probe.close()

        hello_without, tool, failures_without = await wrk_hello(port)
        rss_without, threads_without = memory_and_threads(server.pid)
        pg_without = await loop.run_in_executor(db, pg_connections)

        overflows_before = listen_overflows()
        waiters = Waiters(port)
        started = time.monotonic()
        ids = list(tokens)
        step = max(1, RAMP_PER_SECOND // 10)
        for offset in range(0, n, step):
            for device_id in ids[offset : offset + step]:
                tasks.append(asyncio.create_task(waiters.hold(device_id, tokens[device_id])))
            await asyncio.sleep(0.1)
        ramp = time.monotonic() - started
        # The server takes the ramp's polls in turn: measure once it has caught up (a poll of its
        # own answered at once, three times in a row), not while it still works through them.
        caught_up = await catch_up(port, first, deadline=time.monotonic() + CATCH_UP_DEADLINE)
        await asyncio.sleep(args.settle)
        hold_until = max(started + args.hold, time.monotonic() + 15)
        ready = len(waiters.waiting)
        absorbed = f"caught up {caught_up:.1f} s after the ramp" if caught_up is not None else "never caught up"
        print(f"waiters: {n} started in {ramp:.1f} s; server {absorbed}; {ready} waiting {args.settle:.0f} s later")

        rss_with, threads_with = memory_and_threads(server.pid)
        pg_with = await loop.run_in_executor(db, pg_connections)
        waiting_before = len(waiters.waiting)
        hello_with, _, failures_with = await wrk_hello(port)
        waiting_after = len(waiters.waiting)

        # Wake-ups: a few at a time, spread over a few seconds, to devices that are waiting now.
        stamps: dict[str, float] = {}
        candidates = [device for device in devices if str(device.pk) in waiters.waiting] or devices
        sample = random.sample(candidates, min(args.sample, len(candidates)))
        issue_errors: dict[str, int] = {}
        for offset in range(0, len(sample), WAKE_GROUP):
            group = sample[offset : offset + WAKE_GROUP]
            for device in group:
                try:
                    await asyncio.wait_for(loop.run_in_executor(db, lock_and_stamp, device, stamps), 30)
                except Exception as exc:
                    issue_errors[error_name(exc)] = issue_errors.get(error_name(exc), 0) + 1
            await asyncio.sleep(WAKE_SPACING)
        wake_deadline = time.monotonic() + WAKE_DEADLINE
        while time.monotonic() < wake_deadline and any(key not in waiters.delivered for key in stamps):
            await asyncio.sleep(0.1)
        latencies = [waiters.delivered[key] - at for key, at in stamps.items() if key in waiters.delivered]

        # Hold on until every first poll has had its full 60 s (and been sent again).
        while time.monotonic() < hold_until:
            await asyncio.sleep(0.5)
        still_waiting = len(waiters.waiting)
        overflows_after = listen_overflows()
    finally:
        if await cancel_all(tasks):
            print("some waiters did not stop when cancelled (left behind)", flush=True)
        await loop.run_in_executor(None, stop, server)

    errors = sum(len(times) for times in waiters.errors.values())
    print(f"errors among the waiters: {errors}")
    for kind, times in sorted(waiters.errors.items(), key=lambda kv: -len(kv[1])):
        print(
            f"  {kind}: {len(times)} (after {percentile(times, 0.5):.1f} s median, {min(times):.1f}-{max(times):.1f} s)"
        )
    # The server answers an empty poll in the last tenth of its wait (jitter), never before.
    early = sum(1 for held in waiters.empty if held < WAIT * 0.9 - 1)
    print(
        f"polls answered empty: {len(waiters.empty)} ({early} before {WAIT * 0.9 - 1:.0f} s); "
        f"waiting at the end: {still_waiting}"
    )
    print(f"bare view, POST /bench/hello ({tool}):")
    print(f"  without waiters: {hello_without:,.0f}/s   ({failures_without})")
    print(f"  with {n} waiting: {hello_with:,.0f}/s   ({failures_with}; waiting {waiting_before} -> {waiting_after})")
    print(
        f"server RSS: {rss_without / 1024:.0f} MiB without, {rss_with / 1024:.0f} MiB with "
        f"({(rss_with - rss_without) / n:.1f} KiB per waiter); threads: {threads_without} without, "
        f"{threads_with} with ({(threads_with - threads_without) / n:.3f} per waiter)"
    )
    if overflows_before is not None and overflows_after is not None:
        print(f"listen queue overflows while the waiters ran (machine-wide): {overflows_after - overflows_before}")
    print(f"PostgreSQL connections held: {pg_with} while all wait ({pg_without} without waiters)")
    if sample:
        # A command not returned by the deadline counts as slower than any that was.
        missed = len(sample) - len(latencies)
        ranked = latencies + [float("inf")] * missed

        def ms(value: float) -> str:
            return f"{value * 1000:.0f} ms" if value != float("inf") else f"> {WAKE_DEADLINE:.0f} s (not returned)"

        print(
            f"wake-up, commit -> poll return ({len(sample)} locks, {WAKE_GROUP} every {WAKE_SPACING} s): "
            f"p50 {ms(percentile(ranked, 0.5))}, p99 {ms(percentile(ranked, 0.99))}; "
            f"{missed} not returned {WAKE_DEADLINE:.0f} s after the last; issue errors: {issue_errors or 0}"
        )
    summary = log_summary(log)
    if summary:
        print(f"most frequent errors in the server's log ({log}):")
        for line in summary:
            print(f"  {line}")
    print(f"ratio: {hello_with / hello_without if hello_without else 0.0:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=5000)
    parser.add_argument("--hold", type=float, default=WAIT + 15, help="seconds the waiters are held (past one wait)")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds after the server caught up, before measuring"
    )
    parser.add_argument("--sample", type=int, default=200, help="waiting devices that get a command")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8392")))
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr] (progress shows as it happens)
    # The in-process tokens must name the issuer the server checks.
    os.environ["MDM_ISSUER"] = f"http://127.0.0.1:{args.port}"
    os.environ["REDIS_CACHE_URL"] = REDIS_URL  # the cache the server uses too (aio.server_env)
    setup_django()
    from django.db import connections

    from devices.agent_api.authentication import issue_access_token
    from devices.models import Device

    org = fresh_organization("Bench long poll")
    print(f"enrolling {args.n} devices...", flush=True)
    enroll_fleet(org, args.n)
    devices = list(Device.objects.filter(organization=org).only("id", "organization_id"))
    tokens = {str(device.pk): issue_access_token(device) for device in devices}
    connections.close_all()  # from here on the bench's database work runs in one thread: `db`
    with ThreadPoolExecutor(max_workers=1) as db:
        run(bench(args, devices, tokens, db))


if __name__ == "__main__":
    sys.exit(main())
