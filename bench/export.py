"""CSV exports at fleet size: a million audit events and 100,000 devices through the real server,
against PostgreSQL's own COPY of the same rows, and the web workers' memory while they stream.

    python bench/export.py [--devices 100000] [--events 1000000]

1. Set-up: bench/console.py's organization (`--devices` devices, `--events` audit events, built
   in SQL and reused between runs) and an owner's API token.
2. Each export (`GET /api/v1/audit-events/export.csv`, `GET /api/v1/devices/export.csv`) from the
   real web server (the `make run` command: gunicorn + uvicorn workers, ASGI), read by one client
   connection; a sampler reads the workers' resident memory (/proc/PID/status) every 50 ms.
   Printed: rows, MB, seconds, time to the first byte, rows/s, and the workers' peak RSS.
3. Baselines measured in the same run: the same rows and columns by `COPY (SELECT ...) TO STDOUT
   WITH CSV` (what PostgreSQL itself takes to hand them over), and the workers' RSS when idle.
   `ratio: X` = export time / COPY time; `memory ratio: Y` = peak RSS while exporting / idle RSS
   (close to 1: the rows are never all in memory).
"""

from __future__ import annotations

import argparse
import http.client
import os
import threading
import time
from pathlib import Path

from common import setup_django, start_server
from console import FLEET_ORG, door, organization


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """The largest resident size of any web worker while it runs."""

    def __init__(self, workers: list[int]):
        self.workers = workers
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max([self.peak_kb, *(_rss_kb(pid) for pid in self.workers)])
            self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def export(port: int, path: str, token: str, workers: list[int]) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    with Sampler(workers) as sampler:
        started = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}: {response.read()[:300]!r}")
        first = response.read(1)
        first_byte = time.perf_counter() - started
        size, lines = len(first), first.count(b"\n")
        while chunk := response.read(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    conn.close()
    return {
        "rows": lines - 1,
        "mb": size / 1e6,
        "seconds": seconds,
        "first_byte": first_byte,
        "peak_kb": sampler.peak_kb,
    }


def copy_seconds(sql: str, params: list) -> tuple[float, int]:
    """PostgreSQL's COPY of the same rows to this process, as CSV: the floor of any export."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    started = time.perf_counter()
    size = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH CSV HEADER", params) as copy:
        for block in copy:
            size += len(block)
    return time.perf_counter() - started, size


AUDIT_SQL = """SELECT seq, created_at, actor_type, actor_id, actor_label, action, target_type, target_id,
                      target_label, details, client_ip, hash
               FROM mdm_auditevent WHERE organization_id = %s ORDER BY seq DESC"""
DEVICE_SQL = """SELECT d.id, d.name, u.email, d.ownership, d.platform, d.channel, d.model, d.os_version,
                       d.agent_version, p.name, d.persona_id, d.state, d.container_state, d.policy_version,
                       d.applied_policy_version, d.compliant, d.compliance, d.noncompliant_since, d.enrolled_at,
                       d.last_seen_at, d.silent, d.retired_at
                FROM devices_device d LEFT JOIN mdm_user u ON u.id = d.owner_id
                LEFT JOIN personas_persona p ON p.id = d.persona_id
                WHERE d.organization_id = %s ORDER BY d.enrolled_at DESC, d.id"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()
    entry = door(organization(FLEET_ORG, args.devices, args.events))
    org_id = str(entry.org.pk)
    exports = [
        ("audit log", "/api/v1/audit-events/export.csv", AUDIT_SQL),
        ("devices", "/api/v1/devices/export.csv", DEVICE_SQL),
    ]

    port = int(os.environ.get("BENCH_PORT", "8394"))
    server = start_server(port)
    try:
        time.sleep(1)
        workers = _children(server.pid)
        # Warm each worker (imports, connections) before measuring what it holds when idle.
        for _ in range(4):
            export(port, "/api/v1/devices/export.csv?platform=linux&state=retired", entry.token, workers)
        idle_kb = max(_rss_kb(pid) for pid in workers)
        results = [(label, export(port, path, entry.token, workers)) for label, path, _ in exports]
    finally:
        server.terminate()
        server.wait()
    baselines = [copy_seconds(sql, [org_id]) for _, _, sql in exports]

    print(f"{args.devices:,} devices, {args.events:,} audit events; 2 web workers (gunicorn + uvicorn, ASGI)")
    print(
        f"{'export':10} {'rows':>10} {'MB':>7} {'s':>7} {'1st byte s':>10} {'rows/s':>9} "
        f"{'COPY s':>7} {'x COPY':>7} {'peak RSS MB':>11}"
    )
    worst = 0.0
    peak = 0
    for (label, got), (copy_s, _) in zip(results, baselines, strict=True):
        ratio = got["seconds"] / copy_s
        worst = max(worst, ratio)
        peak = max(peak, int(got["peak_kb"]))
        print(
            f"{label:10} {int(got['rows']):>10,} {got['mb']:7.1f} {got['seconds']:7.2f} {got['first_byte']:10.3f} "
            f"{got['rows'] / got['seconds']:9,.0f} {copy_s:7.2f} {ratio:7.1f} {got['peak_kb'] / 1024:11.1f}"
        )
    print(f"idle worker RSS: {idle_kb / 1024:.1f} MB")
    print(f"ratio: {worst:.1f}")
    print(f"memory ratio: {peak / idle_kb:.2f}")


if __name__ == "__main__":
    main()
