"""Agent check-ins per second on the no-pending-work path, against a bare DRF view.

    python bench/checkin.py [--seconds 5] [--clients 16] [--fleets 1000,100000]

1. Throughput, with an external load generator: Debian's wrk (scripts/bench-tools.sh installs it;
   C, one thread, keep-alive connections), against the real web server (the `make run` command:
   gunicorn + 2 uvicorn workers) on the bench database. Enrolled agents check in with nothing
   pending, their tokens in turn; then the same connections POST to a bare DRF "hello" view on
   the agent API's own path (bench/urls.py) on the same server. Printed as `ratio: X`
   (check-ins per second / hellos per second; goal at least 0.6). Today's Python-thread client
   runs the same two loads next to it, for comparison (it measures itself as much as the server).
2. What PostgreSQL sees per check-in: the server restarted behind a counting proxy on the wire
   (bench/pgcount.py), a wrk run of check-ins, and the statements, transactions and connections
   the proxy saw, divided by the check-ins wrk completed; PostgreSQL's own transaction counter
   (pg_stat_database.xact_commit) next to it.
3. SQL queries per check-in at each fleet size (goal: the same at every size), counted in-process
   on the same code path.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import DATABASE_URL, ROOT, enroll_fleet, fresh_organization, setup_django, start_server, stop
from pgcount import PgCounter

BODY = {"applied_policy_version": 1, "container_state": "active", "os_version": "14", "agent_version": "1.0.0",
        "compliance": {"passcode_compliant": True, "compromised": False}, "work_apps": []}  # fmt: skip
CHECKIN = "/api/v1/agent/checkin"
HELLO = "/api/v1/agent/bench-hello"  # the agent API's path, so it takes the same lean path
CONSOLE_HELLO = "/bench/hello"  # the full middleware chain, as any console page
POLL = "/api/v1/agent/commands?wait=0"  # what a long poll costs the server to start (and to end)


def hammer(port: int, path: str, tokens: list[str], seconds: float) -> float:
    """Requests per second from one Python thread per token, each on a keep-alive connection."""
    counts = [0] * len(tokens)
    deadline = time.perf_counter() + seconds
    body = json.dumps(BODY)

    def run(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index]}"}
        while time.perf_counter() < deadline:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{path} answered {response.status}")
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tokens))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


WRK_SCRIPT = """
local tokens = {%s}
local body = [[%s]]
local n = 0
request = function()
  n = n + 1
  return wrk.format("%s", "%s", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1]}, %s)
end
"""


def wrk(
    port: int, path: str, tokens: list[str], seconds: float, connections: int, method: str = "POST"
) -> tuple[float, int, str]:
    """(requests per second, requests completed, errors) from wrk: one thread, keep-alive."""
    body = "body" if method == "POST" else "nil"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (",".join(f'"{t}"' for t in tokens), json.dumps(BODY), method, path, body))
    try:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout  # noqa: S603
    finally:
        os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return rate, done, "; ".join(errors) or "none"


def xact_commits(name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [name])
        return cursor.fetchone()[0]


def queries_per_checkin(agent) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent.checkin()  # warm: the device state cache, the last-seen write of the minute
    agent.access_token()
    with CaptureQueriesContext(connection) as queries:
        agent.checkin()
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=16, help="agents, and wrk's connections")
    parser.add_argument("--fleets", default="1000,100000")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run scripts/bench-tools.sh (Debian's package)")
    setup_django()
    from agent.device import Device as Agent
    from devices.services import enrollment_token_create

    sys.path.insert(0, str(ROOT))
    from tests.agents import ClientTransport

    org = fresh_organization("Bench check-in")
    port = int(os.environ.get("BENCH_PORT", "8391"))
    seconds = max(1, int(args.seconds))
    server = start_server(port)
    try:
        issued = enrollment_token_create(organization=org, uses=args.clients)
        tokens = []
        with tempfile.TemporaryDirectory() as folder:
            for i in range(args.clients):
                agent = Agent(Path(folder) / f"agent-{i}")
                agent.enroll(server=f"http://127.0.0.1:{port}", token=issued.token, pin=issued.qr_payload["pin"])
                agent.checkin()
                tokens.append(agent.access_token())
        wrk(port, CHECKIN, tokens, 1, args.clients)  # warm both workers
        checkins, _, checkin_errors = wrk(port, CHECKIN, tokens, seconds, args.clients)
        hellos, _, hello_errors = wrk(port, HELLO, tokens, seconds, args.clients)
        console_hellos, _, _ = wrk(port, CONSOLE_HELLO, tokens, seconds, args.clients)
        polls, _, poll_errors = wrk(port, POLL, tokens, seconds, args.clients, method="GET")
        threads_checkins = hammer(port, CHECKIN, tokens[:8], args.seconds)
        threads_hellos = hammer(port, HELLO, tokens[:8], args.seconds)
    finally:
        stop(server)

    # What PostgreSQL sees, with the server behind the counting proxy.
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    with PgCounter(parts.hostname or "127.0.0.1", parts.port or 5432) as counter:
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{counter.port}"))
        server = start_server(port, database_url=proxied + "?sslmode=disable")
        try:
            wrk(port, CHECKIN, tokens, 1, args.clients)  # the pool is open, the caches are warm
            before, commits_before = counter.snapshot(), xact_commits(name)
            _, done, _ = wrk(port, CHECKIN, tokens, 2, args.clients)
            seen, commits = counter.snapshot() - before, xact_commits(name) - commits_before
        finally:
            stop(server)

    print(f"wrk (1 thread, {args.clients} connections, {seconds} s each; 2 web workers):")
    print(f"  check-ins: {checkins:,.0f}/s (errors: {checkin_errors})")
    print(f"  bare DRF view on the agent path: {hellos:,.0f}/s (errors: {hello_errors})")
    print(f"  bare DRF view through the console's middleware: {console_hellos:,.0f}/s")
    print(f"  polls that find nothing (GET {POLL}): {polls:,.0f}/s (errors: {poll_errors})")
    print(f"Python threads (8 clients): check-ins {threads_checkins:,.0f}/s, bare view {threads_hellos:,.0f}/s, "
          f"ratio {threads_checkins / threads_hellos:.2f}")  # fmt: skip
    print(f"PostgreSQL saw, per check-in ({done:,} check-ins): {seen.statements / done:.2f} statements, "
          f"{seen.transactions / done:.3f} explicit transactions, {seen.connections / done:.4f} new connections "
          f"({seen.connections} in all); xact_commit: {commits / done:.2f}")  # fmt: skip

    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets Django's test client (the in-process agent) in as "testserver"
    counts = []
    with tempfile.TemporaryDirectory() as folder:
        fleet_org = fresh_organization("Bench check-in fleet")
        have = 0
        for size in (int(x) for x in args.fleets.split(",")):
            enroll_fleet(fleet_org, size - have)
            have = size
            issued = enrollment_token_create(organization=fleet_org)
            agent = Agent(Path(folder) / f"fleet-{size}", transport=ClientTransport())
            agent.enroll(server="http://testserver", token=issued.token, pin=issued.qr_payload["pin"])
            counts.append((size, queries_per_checkin(agent)))
    for size, count in counts:
        print(f"SQL queries per check-in with {size:,} devices (in-process): {count}")
    print(f"ratio: {checkins / hellos:.2f}")


if __name__ == "__main__":
    main()
