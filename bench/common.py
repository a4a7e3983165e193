"""Shared set-up of the benchmarks: a database of their own, and fleets of enrolled devices.

Benchmarks print ratios against a baseline measured in the same run on the same machine; they
never assert timings. They use PostgreSQL (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/mdm_bench, created if missing) and Redis (REDIS_URL, default
redis://127.0.0.1:6379/11).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mdm_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
# The web server's own connection string: the bench database by default. On a PostgreSQL shared
# with others, point it at a role with a CONNECTION LIMIT, so a server that opens a connection per
# waiter runs out of its own connections instead of everyone's (the in-process set-up and the
# Celery worker, a few connections at most, keep BENCH_DATABASE_URL).
SERVER_DATABASE_URL = os.environ.get("BENCH_SERVER_DATABASE_URL", DATABASE_URL)


def server_env(port: int, database_url: str = SERVER_DATABASE_URL) -> dict[str, str]:
    """The benchmarks' server environment: the bench database and Redis, every rate limit out of
    the way, bench/urls.py's bare views."""
    return {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_CACHE_URL": REDIS_URL,
        "PORT": str(port), "MDM_ISSUER": f"http://127.0.0.1:{port}", "MDM_ROOT_URLCONF": "bench.urls",
        "WEB_CONCURRENCY": "2", "MDM_RATE_AGENT_PER_DEVICE": "1000000000", "MDM_RATE_ENROLL_PER_IP": "1000000000",
        "MDM_RATE_TOKEN_PER_IP": "1000000000", "MDM_RATE_TOKEN_PER_DEVICE": "1000000000", "LOG_LEVEL": "WARNING",
    }  # fmt: skip


def start_server(port: int, log: Path | None = None, database_url: str = SERVER_DATABASE_URL) -> subprocess.Popen:
    """The web server exactly as `make run` starts it (mdm.stack), on the bench database, once it
    answers; its output goes to `log`, where a bench looks for the cause of the errors it counted.
    Refuses a port another server already answers on (its answers would be timed)."""
    from mdm.stack import PROCESSES

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except OSError:
        pass
    else:
        raise SystemExit(f"port {port} is taken: set BENCH_PORT")
    argv = [sys.executable, *PROCESSES["web"][1:], "--access-logfile", "/dev/null"]
    with log.open("ab") if log else open(os.devnull, "wb") as out:
        env = server_env(port, database_url)
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the web server exited with {process.returncode}; see {log or 'its output'}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise SystemExit(f"the web server did not start within 30 s; see {log or 'its output'}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def setup_django() -> None:
    """Point Django at the bench database (created if needed) and migrate it."""
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_organization(name: str):
    from mdm.models import Organization
    from mdm.services import organization_create

    Organization.objects.filter(name=name).update(name=f"{name} (old {time.time():.0f})")
    return organization_create(name=name)


def enroll_fleet(organization, count: int, *, batch: int = 5000) -> None:
    """`count` enrolled devices with container keys, written in bulk as rows (no agents behind
    them, and no model instances: 100,000 devices take seconds, not minutes), then ANALYZEd, as
    autovacuum would soon do, so that the plans measured are those of a settled table."""
    import uuid

    from django.db import connection, transaction

    from devices.bulk import insert_tuples
    from devices.keys import container_key_context
    from devices.models import ContainerKey, Device
    from mdm.keyring import keyring
    from personas.services import default_persona

    persona = default_persona(organization.pk)
    ring = keyring()
    device_fields, device_row = _row_template(
        Device,
        organization_id=organization.pk,
        ownership="personal",
        platform="android",
        os_version="14",
        persona_id=persona.pk,
        policy_version=0,
    )
    key_fields, key_row = _row_template(ContainerKey, organization_id=organization.pk, version=1)
    at = {name: device_fields.index(name) for name in ("id", "name", "signing_public_key", "encryption_public_key")}
    key_at = {name: key_fields.index(name) for name in ("id", "device_id", "wrapped_key")}
    made = 0
    while made < count:
        size = min(batch, count - made)
        devices, keys = [], []
        for i in range(size):
            device, key = list(device_row), list(key_row)
            device[at["id"]] = device_id = uuid.uuid4()
            device[at["name"]] = f"bench {made + i}"
            device[at["signing_public_key"]] = os.urandom(32)
            device[at["encryption_public_key"]] = os.urandom(32)
            key[key_at["id"]] = key_id = uuid.uuid4()
            key[key_at["device_id"]] = device_id
            key[key_at["wrapped_key"]] = ring.wrap(os.urandom(32), context=container_key_context(key_id, 1))
            devices.append(device)
            keys.append(key)
        with transaction.atomic():
            insert_tuples(Device, device_fields, devices)
            insert_tuples(ContainerKey, key_fields, keys)
        made += size
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The tables a push reads and writes (earlier runs' rows stay in the bench database).
            cursor.execute("ANALYZE devices_device, devices_containerkey, devices_command, devices_policyversion")


def _row_template(model, **values) -> tuple[list[str], tuple]:
    """Every concrete field of `model` (by attname) and a row of their defaults, with `values`."""
    fields = [f.attname for f in model._meta.concrete_fields]
    defaults = {f.attname: f.get_default() for f in model._meta.concrete_fields}
    unknown = set(values) - set(defaults)
    if unknown:
        raise ValueError(f"{model.__name__} has no field {sorted(unknown)}")
    defaults.update(values)
    return fields, tuple(defaults[name] for name in fields)


def cpu_seconds() -> tuple[float, float | None]:
    """CPU used so far by this process, and by its PostgreSQL backend when that runs on this
    machine (from /proc; None otherwise). On a busy machine wall times swing with the neighbours'
    load; the CPU a piece of work costs swings much less."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return time.process_time(), None
    # utime and stime, the 14th and 15th fields of stat(5) (the 12th and 13th after the name).
    return time.process_time(), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
