"""The console and the admin API at fleet size: each page's time against a bare page, and its queries.

    python bench/console.py [--devices 100000] [--events 1000000] [--repeat 15] [--explain]

1. Set-up: an organization of `--devices` devices (5 personas, owners, a realistic mix of states,
   platforms and compliance) and `--events` audit events, written by INSERT ... SELECT
   generate_series in PostgreSQL (a minute or two; reused on the next run when the sizes match),
   and a small organization of 200 devices and 200 events built the same way (each filter
   matches some of them).
2. Time: the real web server (the `make run` command: gunicorn + uvicorn workers) on the bench
   database; an owner signed in (session cookie) and an API token; each page (the dashboard, the
   device list with each filter, a search, the last page, the audit log's first and last page and
   filters, and the admin API's equivalents) is asked `--repeat` times over one keep-alive
   connection, then the bare `GET /bench/hello` on the same server. Printed: the median time per
   page and `ratio: X` = the slowest page's median / the bare page's median.
3. Queries: each page again in-process (Django's test client and CaptureQueriesContext) in the
   small and the large organization; the two counts must be equal (no N+1). `--explain` prints
   EXPLAIN (ANALYZE, BUFFERS) of each page's slowest query at fleet size.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import time
from dataclasses import dataclass

from common import fresh_organization, setup_django, start_server

FLEET_ORG = "Bench console fleet"
SMALL_ORG = "Bench console small"
PERSONAS = ("Sales", "Field staff", "Contractors", "Executives")  # and the default one
ACTIONS = (
    "device.enrolled", "device.lock_requested", "device.unlock_requested", "enrollment_token.created",
    "wipe.requested", "wipe.completed", "device.retired", "device.reported_lost",
)  # fmt: skip


# --- Set-up ---------------------------------------------------------------------------------------


def _build(org, devices: int, events: int) -> None:
    """`devices` devices, `devices // 2` owners and `events` audit events, in SQL."""
    from django.db import connection, transaction

    from personas.models import Persona
    from personas.services import persona_create

    for name in PERSONAS:
        persona_create(organization=org, name=name)
    personas = [str(pk) for pk in Persona.objects.filter(organization=org).values_list("pk", flat=True)]
    owners = max(devices // 2, 1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO mdm_user (id, password, is_superuser, first_name, last_name, is_staff, is_active,
                                     date_joined, email)
               SELECT gen_random_uuid(), '!', false, '', '', false, true, now(),
                      'employee' || g || '@' || %(slug)s || '.example'
               FROM generate_series(1, %(owners)s) g""",
            {"slug": org.slug, "owners": owners},
        )
        cursor.execute(
            """CREATE TEMP TABLE bench_owner ON COMMIT DROP AS
               SELECT row_number() OVER (ORDER BY email) AS n, id FROM mdm_user
               WHERE email LIKE %(pattern)s""",
            {"pattern": f"employee%@{org.slug}.example"},
        )
        # Shares: 5% retired; of the active, 3% pending, 2% locked, 0.5% wipe pending; 90% compliant,
        # 7% not, 3% unknown; 60% Android, 35% iOS, 1% Linux; a quarter corporate; 2% silent.
        cursor.execute(
            """INSERT INTO devices_device (id, name, ownership, platform, model, os_version, agent_version,
                   signing_public_key, encryption_public_key, signing_kid, state, container_state, policy_version,
                   applied_policy_version, compliance, compliant, noncompliant_since, work_apps, enrolled_at,
                   last_seen_at, silent, retired_at, organization_id, owner_id, persona_id, enrollment_token_id,
                   channel)
               SELECT gen_random_uuid(), 'device-' || g,
                      CASE WHEN g %% 4 = 0 THEN 'corporate' ELSE 'personal' END,
                      CASE WHEN g %% 100 < 60 THEN 'android' WHEN g %% 100 < 95 THEN 'ios'
                           WHEN g %% 100 < 97 THEN 'windows' WHEN g %% 100 < 99 THEN 'macos' ELSE 'linux' END,
                      (ARRAY['Pixel 8', 'Galaxy S24', 'iPhone 15', 'iPhone 14', 'ThinkPad X1'])[1 + g %% 5],
                      '14', '1.0.0', uuid_send(gen_random_uuid()), uuid_send(gen_random_uuid()), '',
                      CASE WHEN g %% 20 = 7 THEN 'retired' ELSE 'active' END,
                      CASE WHEN g %% 20 = 7 THEN 'wiped' WHEN g %% 1000 < 30 THEN 'pending'
                           WHEN g %% 1000 < 50 THEN 'locked' WHEN g %% 1000 < 55 THEN 'wipe_pending' ELSE 'active' END,
                      1, 1, '{}'::jsonb,
                      CASE WHEN g %% 100 < 90 THEN true WHEN g %% 100 < 97 THEN false END,
                      NULL, '[]'::jsonb,
                      now() - g * interval '3 minutes' - (g %% 7) * interval '1 second',
                      now() - (g %% 1440) * interval '1 minute', g %% 50 = 3,
                      CASE WHEN g %% 20 = 7 THEN now() END,
                      %(org)s, o.id, (%(personas)s::uuid[])[1 + (g * 7 %% 11) %% 5], NULL, 'agent'
               FROM generate_series(1, %(devices)s) g JOIN bench_owner o ON o.n = 1 + g %% %(owners)s""",
            {"org": str(org.pk), "personas": personas, "devices": devices, "owners": owners},
        )
        # The chain's hashes are not computed (verification would fail): only the reads are measured.
        cursor.execute(
            """INSERT INTO mdm_auditevent (seq, created_at, actor_type, actor_id, actor_label, action, target_type,
                   target_id, target_label, details, client_ip, prev_hash, hash, organization_id)
               SELECT o.audit_seq + g, now() - (%(events)s - g) * interval '2 seconds', 'user', 'admin-' || g %% 12,
                      'admin' || g %% 12 || '@' || o.slug || '.example', (%(actions)s::text[])[1 + g %% 8],
                      'devices.device', 'target-' || g %% 100000, 'device-' || g %% 100000, '{}'::jsonb,
                      '10.0.' || g %% 250 || '.' || g %% 200, repeat('0', 64), repeat('0', 64), o.id
               FROM generate_series(1, %(events)s) g, mdm_organization o WHERE o.id = %(org)s""",
            {"org": str(org.pk), "events": events, "actions": list(ACTIONS)},
        )
        cursor.execute(
            "UPDATE mdm_organization SET audit_seq = audit_seq + %(events)s WHERE id = %(org)s",
            {"org": str(org.pk), "events": events},
        )
    with connection.cursor() as cursor:  # the visibility map, for index-only scans, and fresh statistics
        for table in ("mdm_user", "devices_device", "mdm_auditevent"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def organization(name: str, devices: int, events: int):
    """The bench organization of this size, built unless the last run left it."""
    from devices.models import Device
    from mdm.models import AuditEvent, Organization

    org = Organization.objects.filter(name=name).first()
    if (
        org is not None
        and Device.objects.filter(organization=org).count() == devices
        and AuditEvent.objects.filter(organization=org).count() >= events
    ):
        return org
    started = time.perf_counter()
    org = fresh_organization(name)
    _build(org, devices, events)
    print(f"built {name}: {devices:,} devices, {events:,} events in {time.perf_counter() - started:.0f} s")
    return org


@dataclass
class Door:
    """How a page is asked for in an organization: the owner's session, and an API token."""

    org: object
    user: object
    session: str
    token: str


def door(org) -> Door:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from mdm.actors import SYSTEM
    from mdm.models import Membership, User
    from mdm.services import api_token_create, membership_add

    email = f"owner@{org.slug}.bench"
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email)
    membership = Membership.objects.filter(organization=org, user=user).first() or membership_add(
        organization=org, user=user, role="owner", actor=SYSTEM
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    token = api_token_create(membership=membership, name="bench console", actor=SYSTEM).token
    return Door(org, user, session.session_key or "", token)


# --- The pages ------------------------------------------------------------------------------------


def pages(org) -> list[tuple[str, str, str]]:
    """(label, path, api|console) of every page measured, with values that exist in `org`."""
    from django.core.paginator import Paginator

    from devices.models import Device
    from personas.models import Persona

    persona = Persona.objects.filter(organization=org, name=PERSONAS[-1]).values_list("pk", flat=True).first()
    owner = Device.objects.filter(organization=org).values_list("owner__email", flat=True).order_by("name").first()
    n_devices = Device.objects.filter(organization=org).count()
    from mdm.models import AuditEvent

    n_events = AuditEvent.objects.filter(organization=org).count()
    last_devices = Paginator(range(n_devices), 50).num_pages
    last_events = Paginator(range(n_events), 100).num_pages
    rare_target = min(n_events, 100_000) // 2 + 1
    device_filters = [
        ("state=retired", "state=retired"),
        ("container_state=locked", "container_state=locked"),
        ("compliant=false", "compliant=false"),
        ("persona", f"persona={persona}"),
        ("owner", f"owner={owner}"),
        ("platform=linux", "platform=linux"),
        ("ownership=corporate", "ownership=corporate"),
        ("search, rare", f"q=device-{n_devices * 3 // 4 + 1}"),
        ("search, common", "q=pixel"),
        ("silent=true", "silent=true"),
        ("sort=name", "sort=name"),
        ("sort=owner", "sort=owner"),
        ("sort=-last_seen", "sort=-last_seen"),
        ("sort=compliant", "sort=compliant"),
    ]
    out = [("dashboard", "/console/", "console"), ("devices", "/console/devices/", "console")]
    out += [(f"devices {label}", f"/console/devices/?{query}", "console") for label, query in device_filters]
    out += [
        ("devices, last page", f"/console/devices/?page={last_devices}", "console"),
        ("audit log", "/console/audit/", "console"),
        ("audit log, last page", f"/console/audit/?page={last_events}", "console"),
        ("audit log action=", f"/console/audit/?action={ACTIONS[4]}", "console"),
        ("audit log actor", "/console/audit/?actor=admin7@", "console"),
        ("audit log target", f"/console/audit/?target=device-{rare_target}", "console"),
        ("audit log since/until", "/console/audit/?since=2020-01-01&until=2100-01-01", "console"),
        ("API devices", "/api/v1/devices/", "api"),
    ]
    out += [(f"API devices {label}", f"/api/v1/devices/?{query}", "api") for label, query in device_filters]
    out += [
        ("API devices, last page", f"/api/v1/devices/?page_size=200&page={(n_devices + 199) // 200}", "api"),
        ("API audit events", "/api/v1/audit-events/", "api"),
        ("API audit events, last page", f"/api/v1/audit-events/?page_size=200&page={(n_events + 199) // 200}", "api"),
        ("API audit action=", f"/api/v1/audit-events/?action={ACTIONS[4]}", "api"),
        ("API audit actor", "/api/v1/audit-events/?actor=admin7@", "api"),
        ("API audit target", f"/api/v1/audit-events/?target=target-{rare_target}", "api"),
        ("API audit since", "/api/v1/audit-events/?since=2000-01-01T00:00:00Z", "api"),
    ]
    return out


def _headers(entry: Door, kind: str) -> dict[str, str]:
    if kind == "api":
        return {"Authorization": f"Bearer {entry.token}"}
    return {"Cookie": f"sessionid={entry.session}"}


def time_page(port: int, path: str, headers: dict[str, str], repeat: int) -> float:
    """Median seconds of `repeat` requests (after two to warm up) on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    for i in range(repeat + 2):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}")
        if i >= 2:
            times.append(time.perf_counter() - started)
    conn.close()
    return statistics.median(times)


def count_queries(entry: Door, path: str, kind: str) -> tuple[int, list[dict]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {entry.token}"} if kind == "api" else {}
    if kind == "console":
        client.cookies["sessionid"] = entry.session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code} in-process")
    return len(queries), list(queries.captured_queries)


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join("      " + row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest query")
    parser.add_argument("--only", default="", help="only the pages whose label contains this")
    args = parser.parse_args()
    setup_django()
    from django.test.utils import setup_test_environment

    big = door(organization(FLEET_ORG, args.devices, args.events))
    small = door(organization(SMALL_ORG, 200, 200))
    listed = [p for p in pages(big.org) if args.only in p[0]]
    small_pages = {label: (path, kind) for label, path, kind in pages(small.org)}

    port = int(os.environ.get("BENCH_PORT", "8393"))
    server = start_server(port)
    try:
        bare = time_page(port, "/bench/hello", {}, args.repeat)
        timed = [(label, time_page(port, path, _headers(big, kind), args.repeat)) for label, path, kind in listed]
        bare = min(bare, time_page(port, "/bench/hello", {}, args.repeat))  # the same server, after the pages
    finally:
        server.terminate()
        server.wait()

    setup_test_environment()  # lets Django's test client in as "testserver"
    for entry in (big, small):  # a token's first use records it: not a query of the pages
        count_queries(entry, "/api/v1/organization/", "api")
    print(f"{args.devices:,} devices, {args.events:,} audit events; median of {args.repeat} requests, 2 web workers")
    print(f"{'page':34} {'ms':>8} {'x bare':>7} {'queries (200 rows / fleet)':>26}")
    print(f"{'bare GET /bench/hello':34} {bare * 1000:8.1f} {1:7.1f}")
    worst = 0.0
    unequal = []
    for (label, path, kind), (_, seconds) in zip(listed, timed, strict=True):
        n_big, captured = count_queries(big, path, kind)
        small_path, small_kind = small_pages[label]
        n_small, _ = count_queries(small, small_path, small_kind)
        if n_small != n_big:
            unequal.append(label)
        worst = max(worst, seconds)
        print(f"{label:34} {seconds * 1000:8.1f} {seconds / bare:7.1f} {n_small:>13} / {n_big}")
        if args.explain:
            slowest = max(captured, key=lambda q: float(q["time"]))
            print(f"    slowest query ({float(slowest['time']) * 1000:.1f} ms):\n      {slowest['sql'][:400]}")
            print(explain(slowest["sql"]))
    if unequal:
        print(f"query counts differ between the sizes: {', '.join(unequal)}")
    print(f"ratio: {worst / bare:.1f}")


if __name__ == "__main__":
    main()
