"""The delivery path at scale, on the real web server (the `make run` command): waiting long polls
hold no thread and no database connection, a server out of database connections answers 503
with Retry-After and recovers by itself, a full process refuses more waiters the same way, and
the agent API's lean path keeps the headers and checks of the full middleware chain."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from devices.agent_api.authentication import issue_access_token
from devices.models import Device
from tests.integration.test_push_delivery import enroll_agent, enroll_many
from tests.live import LiveServer, wait_for, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def request(live: LiveServer, method: str, path: str, token: str | None = None, body=None, timeout: float = 30):
    parts = urlsplit(live.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, None if body is None else json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def web_pids(live: LiveServer) -> list[int]:
    """The gunicorn master and its workers."""
    master = live.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def threads(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                total += int(line.split()[1])
    return total


def connections_named(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return cursor.fetchone()[0]


def test_waiting_long_polls_hold_no_thread_and_no_database_connection(actors, tmp_path, settings):
    name = f"mdm-web-{uuid.uuid4().hex[:8]}"
    database_url = worker_database_url() + f"?application_name={name}"
    live = LiveServer(tmp_path / "web.log", DATABASE_URL=database_url, DB_POOL_MIN_SIZE="1")
    live.start()
    try:
        settings.MDM_ISSUER = live.url  # the tokens are the server's
        devices = enroll_many(actors.org, 40)
        tokens = [issue_access_token(device) for device in devices]
        pids = web_pids(live)
        before = threads(pids)
        answers: list[int] = []

        def poll(token: str) -> None:
            response, _ = request(live, "GET", "/api/v1/agent/commands?wait=6", token)
            answers.append(response.status)

        pollers = [threading.Thread(target=poll, args=(token,)) for token in tokens]
        for poller in pollers:
            poller.start()
        time.sleep(3)  # all 40 are waiting now
        held_threads, held_connections = threads(pids), connections_named(name)
        for poller in pollers:
            poller.join(timeout=20)
        assert answers == [200] * 40
        # 40 waiting polls: no thread and no connection each (the pool keeps a few, whatever waits).
        assert held_threads - before < 10, (before, held_threads)
        assert held_connections <= 8, held_connections
    finally:
        live.stop()


def test_a_poll_answers_empty_in_the_last_tenth_of_its_wait(enrolled_live_agent):
    live, token = enrolled_live_agent
    started = time.monotonic()
    response, body = request(live, "GET", "/api/v1/agent/commands?wait=4", token)
    held = time.monotonic() - started
    assert response.status == 200 and json.loads(body) == {"commands": []}
    assert 3.5 <= held < 5.5, held


@pytest.fixture
def enrolled_live_agent(actors, tmp_path):
    live = LiveServer(tmp_path / "web.log", MDM_LONGPOLL_MAX_WAITERS="1")
    live.start()
    try:
        agent = enroll_agent(live, actors.org, tmp_path)
        yield live, agent.access_token()
    finally:
        live.stop()


def test_a_process_full_of_waiters_answers_503_with_retry_after(enrolled_live_agent, actors, settings):
    live, token = enrolled_live_agent
    settings.MDM_ISSUER = live.url  # the tokens are the server's
    (other,) = enroll_many(actors.org, 1)
    first = threading.Thread(target=request, args=(live, "GET", "/api/v1/agent/commands?wait=5", token))
    first.start()
    time.sleep(1)
    response, body = request(live, "GET", "/api/v1/agent/commands?wait=5", issue_access_token(other))
    first.join(timeout=15)
    assert response.status == 503 and int(response.getheader("Retry-After")) > 0
    assert json.loads(body)["code"] == "unavailable"
    # Not waiting costs no place: a poll that does not wait is answered at once.
    response, _ = request(live, "GET", "/api/v1/agent/commands?wait=0", issue_access_token(other))
    assert response.status == 200


def test_out_of_database_connections_is_503_with_retry_after_and_recovers_by_itself(actors, tmp_path):
    role = f"mdm_limited_{uuid.uuid4().hex[:8]}"
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 20')
        cursor.execute(f'GRANT ALL ON DATABASE "{database}" TO "{role}"')
        cursor.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        cursor.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    parts = urlsplit(worker_database_url())
    url = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
    live = LiveServer(tmp_path / "web.log", DATABASE_URL=url, DB_POOL_TIMEOUT="1")
    live.start()
    try:
        agent = enroll_agent(live, actors.org, tmp_path)
        token = agent.access_token()
        body = {"container_state": "active", "os_version": "14", "agent_version": "1.0.0"}
        assert request(live, "POST", "/api/v1/agent/checkin", token, body)[0].status == 200
        with connection.cursor() as cursor:  # PostgreSQL takes every connection of the server away
            cursor.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
        response, data = request(live, "POST", "/api/v1/agent/checkin", token, body)
        assert response.status == 503, data
        assert int(response.getheader("Retry-After")) > 0 and json.loads(data)["code"] == "unavailable"
        assert request(live, "GET", "/api/v1/agent/commands?wait=0", token)[0].status == 503
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 20')
        wait_for(lambda: request(live, "POST", "/api/v1/agent/checkin", token, body)[0].status == 200, timeout=30)
        assert "Traceback" not in live.log_path.read_text()
    finally:
        live.stop()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


def test_the_lean_path_keeps_the_checks_and_headers_of_the_full_chain(enrolled_live_agent):
    live, token = enrolled_live_agent
    response, _ = request(live, "GET", "/api/v1/agent/policy", token)
    assert response.status == 200
    names = dict(response.getheaders())
    # As Django spelled them: agents that read `ETag` case-sensitively keep working.
    assert names["ETag"] == '"1"' or names["ETag"].startswith('"')
    for header in ("X-Frame-Options", "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"):
        assert header in names, header
    assert "Set-Cookie" not in names
    # A NUL in the query and a forged Host are refused as on every other path.
    assert request(live, "GET", "/api/v1/agent/policy?x=%00", token)[0].status == 400
    parts = urlsplit(live.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", "/api/v1/agent/policy", headers={"Host": "evil.example", "Authorization": f"Bearer {token}"})
    assert conn.getresponse().status == 400
    conn.close()
    # An unknown agent path is a problem+json 404, not HTML.
    response, data = request(live, "GET", "/api/v1/agent/nothing-here", token)
    assert response.status == 404 and json.loads(data)["code"] == "not_found"


def test_the_check_in_read_is_the_orm_query_it_was_compiled_from(enrolled):
    from devices.selectors import _checkin_queryset, checkin_device

    expected = _checkin_queryset(enrolled.server_device.pk).select_related("persona").get()
    found = checkin_device(enrolled.server_device.pk)
    for field in ("organization_id", "platform", "container_state", "policy_version", "compliance", "work_apps"):
        assert getattr(found, field) == getattr(expected, field), field
    assert found.pending == expected.pending
    assert (found.persona.min_os_version, found.persona.block_compromised) == (
        expected.persona.min_os_version,
        expected.persona.block_compromised,
    )
    assert checkin_device(uuid.uuid4()) is None
    assert Device.objects.filter(pk=found.pk).exists()
