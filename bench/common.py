"""Shared set-up of the benchmarks: a database of their own, and fleets of enrolled devices.

Benchmarks print ratios against a baseline measured in the same run on the same machine; they
never assert timings. They use PostgreSQL (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/mdm_bench, created if missing) and Redis (REDIS_URL, default
redis://127.0.0.1:6379/11).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mdm_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


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


def enroll_fleet(organization, count: int, *, batch: int = 2000) -> None:
    """`count` enrolled devices with container keys, inserted in bulk (no agents behind them)."""
    import uuid

    from django.db import transaction

    from devices.keys import container_key_context
    from devices.models import ContainerKey, Device
    from mdm.keyring import keyring
    from personas.services import default_persona

    persona = default_persona(organization.pk)
    ring = keyring()
    made = 0
    while made < count:
        size = min(batch, count - made)
        devices = [
            Device(
                id=uuid.uuid4(),
                organization=organization,
                name=f"bench {made + i}",
                ownership="personal",
                platform="android",
                os_version="14",
                signing_public_key=os.urandom(32),
                encryption_public_key=os.urandom(32),
                persona=persona,
                policy_version=0,
            )
            for i in range(size)
        ]
        keys = []
        for device in devices:
            key = ContainerKey(organization=organization, device=device, version=1)
            key.wrapped_key = ring.wrap(os.urandom(32), context=container_key_context(key.id, 1))
            keys.append(key)
        with transaction.atomic():
            Device.objects.bulk_create(devices)
            ContainerKey.objects.bulk_create(keys)
        made += size
