"""Fan a policy change out to N devices, against doing the bare minimum of the same I/O.

    python bench/fanout.py [N]     (N = 10,000 by default)

Measured: the time of a real push (persona change -> one Celery task body walking the devices in
batches: compile, sign, PolicyVersion, apply_policy command, wake-ups), divided by the time to do
the same writes raw: bulk-insert N rows the size of a signed policy and N command-sized rows, in
batches of 500 with plain SQL, and pipeline N Redis messages. Printed as `ratio: X` (goal: at
most 5), with SQL statements and Celery tasks per device.
"""

from __future__ import annotations

import sys
import time

from common import REDIS_URL, enroll_fleet, fresh_organization, setup_django


def main(n: int) -> None:
    setup_django()
    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from devices.models import Command, PolicyVersion, Push
    from devices.push import push_run, push_start_for_persona
    from personas.services import default_persona, persona_update, spec_of

    org = fresh_organization("Bench fan-out")
    print(f"enrolling {n} devices...", flush=True)
    enroll_fleet(org, n)
    persona = default_persona(org.pk)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] = 12
    persona, _ = persona_update(persona=persona, spec=spec)

    # The push, as the worker runs it (the task is published on commit; its body runs here).
    push = push_start_for_persona(persona=persona)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        done = push_run(push.pk)
        fanout = time.perf_counter() - started
    if done.state != "done" or done.processed != n or Command.objects.filter(push=push).count() != n:
        raise SystemExit(f"the push did not reach every device: {done.state}, {done.processed} of {n}")
    sample = PolicyVersion.objects.filter(device__organization=org).first()
    doc_size = len(sample.jws)

    # The baseline: the same number of rows of the same size, bulk-inserted raw, and N Redis
    # messages pipelined raw.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_docs (id bigserial primary key, device uuid, body text)")
        cursor.execute("CREATE TEMP TABLE bench_cmds (id uuid primary key, device uuid, body jsonb)")
    import uuid

    rows = [(str(uuid.uuid4()), "x" * doc_size) for _ in range(n)]
    client = redis.Redis.from_url(REDIS_URL)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for offset in range(0, n, 500):
            chunk = rows[offset : offset + 500]
            docs = ",".join(["(%s, %s)"] * len(chunk))
            cursor.execute(f"INSERT INTO bench_docs (device, body) VALUES {docs}", [v for row in chunk for v in row])  # noqa: S608
            cmds = ",".join(["(%s, %s, %s)"] * len(chunk))
            values = [v for device, _ in chunk for v in (str(uuid.uuid4()), device, '{"version": 2}')]
            cursor.execute(f"INSERT INTO bench_cmds (id, device, body) VALUES {cmds}", values)  # noqa: S608
    pipe = client.pipeline(transaction=False)
    for device, _ in rows:
        pipe.publish(f"bench:{device}", b"1")
    pipe.execute()
    baseline = time.perf_counter() - started

    batches = Push.objects.get(pk=push.pk).batches
    print(f"devices: {n}  batches: {batches}  policy JWS: {doc_size} bytes")
    print(f"fan-out: {fanout:.2f} s ({n / fanout:,.0f} devices/s)   baseline: {baseline:.2f} s")
    # COPY runs on the raw psycopg cursor, which Django's query log does not see: 2 per batch.
    statements = len(queries) + (2 * batches if connection.vendor == "postgresql" else 0)
    print(f"SQL statements: {statements} ({statements / n:.4f} per device, {statements / batches:.1f} per batch)")
    print(f"Celery tasks: 1 ({1 / n:.6f} per device)")
    print(f"ratio: {fanout / baseline:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
