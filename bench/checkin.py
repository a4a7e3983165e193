"""Agent check-ins per second on the no-pending-work path, against a bare DRF view.

    python bench/checkin.py [--seconds 5] [--clients 8] [--fleets 1000,100000]

1. Throughput: the real web server (the `make run` command: gunicorn + uvicorn workers) on the
   bench database; enrolled agents check in as fast as `--clients` threads can, over keep-alive
   connections, with nothing pending; then the same clients POST to a bare DRF "hello" view on the
   same server and settings. Printed as `ratio: X` (check-ins per second / hellos per second).
2. SQL queries per check-in at each fleet size (goal: at most 2, the same at every size),
   counted in-process on the same code path.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from common import DATABASE_URL, REDIS_URL, ROOT, enroll_fleet, fresh_organization, setup_django

BODY = {"applied_policy_version": 1, "container_state": "active", "os_version": "14", "agent_version": "1.0.0",
        "compliance": {"passcode_compliant": True, "compromised": False}, "work_apps": []}  # fmt: skip


def start_server(port: int) -> subprocess.Popen:
    from mdm.stack import PROCESSES

    env = {
        **os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "PORT": str(port),
        "MDM_ISSUER": f"http://127.0.0.1:{port}", "MDM_ROOT_URLCONF": "bench.urls", "WEB_CONCURRENCY": "2",
        "MDM_RATE_AGENT_PER_DEVICE": "1000000000", "MDM_RATE_ENROLL_PER_IP": "1000000", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    argv = [sys.executable, *PROCESSES["web"][1:], "--access-logfile", "/dev/null"]
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the web server did not start")


def hammer(port: int, path: str, tokens: list[str], seconds: float) -> float:
    """Requests per second from one thread per token, each on a keep-alive connection."""
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
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fleets", default="1000,100000")
    args = parser.parse_args()
    setup_django()
    from agent.device import Device as Agent
    from devices.services import enrollment_token_create

    sys.path.insert(0, str(ROOT))
    from tests.agents import ClientTransport

    org = fresh_organization("Bench check-in")
    port = int(os.environ.get("BENCH_PORT", "8391"))
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
        checkins = hammer(port, "/api/v1/agent/checkin", tokens, args.seconds)
        hellos = hammer(port, "/bench/hello", tokens, args.seconds)
    finally:
        server.terminate()
        server.wait()
    print(f"check-ins: {checkins:,.0f}/s   bare DRF view: {hellos:,.0f}/s   ({args.clients} clients, 2 web workers)")

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
        print(f"SQL queries per check-in with {size:,} devices: {count}")
    print(f"ratio: {checkins / hellos:.2f}")


if __name__ == "__main__":
    main()
