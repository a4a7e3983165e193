"""Fan a policy change out to N devices, against doing the bare minimum of the same I/O.

    python bench/fanout.py [N ...]     (10,000 and 100,000 devices by default)

Measured, for each N: the time of a real push (persona change -> one Celery task body walking the
devices in batches: compile, sign, PolicyVersion, apply_policy command, wake-ups), divided by the
time to do the same writes raw in the same run: bulk-insert N rows the size of a signed policy and
N command-sized rows, in batches of 500 with plain SQL, and pipeline N Redis publishes. Printed
for each N with its SQL statements per device; then t(largest)/t(smallest) (linear growth would
be their ratio of sizes), and last `ratio: X`, the worst ratio over the sizes (goal: at most 3).
"""

from __future__ import annotations

import sys
import time
import uuid

from common import REDIS_URL, cpu_seconds, enroll_fleet, fresh_organization, setup_django

RAW_BATCH = 500  # the baseline's rows per INSERT: a fixed yardstick, whatever the push's batch size


def fan_out(n: int) -> dict:
    """One push to a fresh fleet of n devices: its time, statements and batches, and the JWS size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from devices.models import Command, PolicyVersion, Push
    from devices.push import push_run, push_start_for_persona
    from personas.services import default_persona, persona_update, spec_of

    org = fresh_organization("Bench fan-out")
    print(f"enrolling {n:,} devices...", flush=True)
    started = time.perf_counter()
    enroll_fleet(org, n)
    print(f"  enrolled in {time.perf_counter() - started:.1f} s (set-up, not measured)", flush=True)
    persona = default_persona(org.pk)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] = 12
    persona, _ = persona_update(persona=persona, spec=spec)

    # The push, as the worker runs it (the task is published on commit; its body runs here).
    push = push_start_for_persona(persona=persona)
    with CaptureQueriesContext(connection) as queries:
        cpu = cpu_seconds()
        started = time.perf_counter()
        done = push_run(push.pk)
        seconds = time.perf_counter() - started
        cpu = _spent(cpu)
    if done.state != "done" or done.processed != n or Command.objects.filter(push=push).count() != n:
        raise SystemExit(f"the push did not reach every device: {done.state}, {done.processed} of {n}")
    sample = PolicyVersion.objects.filter(device__organization=org).first()
    assert sample is not None
    batches = Push.objects.get(pk=push.pk).batches
    # COPY runs on the raw psycopg cursor, which Django's query log does not see: 2 per batch.
    statements = len(queries) + (2 * batches if connection.vendor == "postgresql" else 0)
    return {"seconds": seconds, "cpu": cpu, "statements": statements, "batches": batches, "doc_size": len(sample.jws)}


def _spent(since: tuple[float, float | None]) -> tuple[float, float | None]:
    now = cpu_seconds()
    return now[0] - since[0], None if now[1] is None or since[1] is None else now[1] - since[1]


def _cpu(spent: tuple[float, float | None], n: int) -> str:
    python, postgres = spent
    text = f"Python {python:.2f} s ({python / n * 1e6:.0f} us/device)"
    return text + (f", PostgreSQL backend {postgres:.2f} s" if postgres is not None else "")


def raw_writes(n: int, doc_size: int) -> tuple[float, tuple[float, float | None]]:
    """The same rows and sizes written raw (a document row and a command row per device, in
    multi-row INSERTs of RAW_BATCH, each committed), and n Redis publishes in one pipeline."""
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_docs, bench_cmds")
        cursor.execute("CREATE TEMP TABLE bench_docs (id bigserial primary key, device uuid, body text)")
        cursor.execute("CREATE TEMP TABLE bench_cmds (id uuid primary key, device uuid, body jsonb)")
    body = "x" * doc_size
    devices = [str(uuid.uuid4()) for _ in range(n)]
    client = redis.Redis.from_url(REDIS_URL)
    cpu = cpu_seconds()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for offset in range(0, n, RAW_BATCH):
            chunk = devices[offset : offset + RAW_BATCH]
            docs = ",".join(["(%s, %s)"] * len(chunk))
            values = [v for d in chunk for v in (d, body)]
            cursor.execute(f"INSERT INTO bench_docs (device, body) VALUES {docs}", values)  # noqa: S608
            cmds = ",".join(["(%s, %s, %s)"] * len(chunk))
            values = [v for d in chunk for v in (str(uuid.uuid4()), d, '{"version": 2}')]
            cursor.execute(f"INSERT INTO bench_cmds (id, device, body) VALUES {cmds}", values)  # noqa: S608
    pipe = client.pipeline(transaction=False)
    for device in devices:
        pipe.publish(f"bench:{device}", b"1")
    pipe.execute()
    seconds = time.perf_counter() - started
    return seconds, _spent(cpu)


def main(sizes: list[int]) -> None:
    setup_django()
    from django.conf import settings
    from django.db.models import Count

    from devices.models import Device

    print(f"push batch size: {settings.MDM_PUSH_BATCH_SIZE}")
    # Earlier runs' fleets stay in the bench database, and a batch reads a persona's devices out
    # of the whole fleet's: its size is part of the figures.
    fleet = Device.objects.aggregate(devices=Count("id"), personas=Count("persona", distinct=True))
    print(f"already in the bench database: {fleet['devices']:,} devices, {fleet['personas']} personas")
    results = {}
    for n in sizes:
        push = fan_out(n)
        baseline, baseline_cpu = raw_writes(n, push["doc_size"])
        ratio = push["seconds"] / baseline
        results[n] = (push["seconds"], ratio)
        print(f"devices: {n:,}  batches: {push['batches']}  policy JWS: {push['doc_size']} bytes")
        print(f"  fan-out: {push['seconds']:.2f} s ({n / push['seconds']:,.0f} devices/s)   baseline: {baseline:.2f} s")
        # CPU spent, next to the wall times: these move much less with the neighbours' load.
        print(f"  CPU: fan-out {_cpu(push['cpu'], n)};  baseline {_cpu(baseline_cpu, n)}")
        print(f"  SQL statements: {push['statements']} ({push['statements'] / n:.4f} per device)")
        print(f"  ratio: {ratio:.2f}", flush=True)
    small, large = min(sizes), max(sizes)
    if large != small:
        growth = results[large][0] / results[small][0]
        print(f"t({large:,})/t({small:,}): {growth:.2f} (linear: {large / small:g})")
    print(f"ratio: {max(ratio for _, ratio in results.values()):.2f}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000])
