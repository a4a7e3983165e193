"""`make run` on the embedded default: SQLite and a filesystem broker, no external service.

`make run` installs the virtual environment, then runs `manage.py serve`; this starts the
latter exactly so, in a fresh var/ folder, signs in with the printed credentials, runs a task
through the embedded broker, and stops everything with SIGTERM.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRIP = {"DATABASE_URL", "REDIS_URL", "MDM_MODE", "MDM_VAR_DIR", "SECRET_KEY", "MDM_KEK", "ALLOWED_HOSTS", "MDM_ISSUER"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries `marker` (our var/ folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_server(tmp_path: Path, log_name: str, *extra: str) -> dict:
    """`manage.py serve` with its own var/ folder (kept across starts) and a free port."""
    port = _free_port()
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in STRIP}
    env.update({"MDM_VAR_DIR": str(var_dir), "PORT": str(port), "WEB_CONCURRENCY": "1"})
    log_path = tmp_path / log_name
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", *extra], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 (our own http:// URL)
            if " ready." in log_path.read_text():  # the worker's "celery@... ready."
                return {"base": base, "process": process, "log": log_path, "env": env, "var": var_dir}
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail("make run did not come up:\n" + log_path.read_text())


def stop_server(server) -> None:
    """SIGTERM, as Ctrl-C or an init system would: everything must stop, cleanly."""
    server["process"].send_signal(signal.SIGTERM)
    assert server["process"].wait(timeout=40) == 0, server["log"].read_text()
    assert _processes_with(str(server["var"])) == []
    assert "Stopped." in server["log"].read_text()


@pytest.fixture
def servers(tmp_path):
    started = []

    def start(log_name, *extra):
        started.append(start_server(tmp_path, log_name, *extra))
        return started[-1]

    yield start
    for server in started:
        if server["process"].poll() is None:
            server["process"].kill()
            server["process"].wait()


def _manage(server, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=server["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_make_run_serves_the_console_runs_tasks_and_stops_cleanly(servers):
    server = servers("first.log")
    base, log = server["base"], server["log"]
    text = log.read_text()
    assert "sqlite3" in text and "filesystem" in text
    match = re.search(r"sign in:\s+(\S+) / (\S+)", text)
    assert match, text
    email, password = match.groups()

    ready = urllib.request.urlopen(base + "/readyz", timeout=5)  # noqa: S310
    assert ready.status == 200

    # Sign in with the printed credentials, as a new user would, and see the (empty) console.
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(base + "/console/login/", timeout=10).read()
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = urllib.parse.urlencode({"username": email, "password": password, "csrfmiddlewaretoken": csrf}).encode()
    login = base + "/console/login/"
    request = urllib.request.Request(login, data=form, headers={"Referer": login})  # noqa: S310
    page = browser.open(request, timeout=10)
    html = page.read().decode()
    assert page.geturl().endswith("/console/"), html
    assert "Demo" in html and email in html and "No device is enrolled yet" in html
    # Every console page works on the embedded default (SQLite, no Redis).
    for path in ("devices/", "personas/", "enrollment/", "wipes/", "wipes/employee/", "audit/", "members/",
                 "api-tokens/"):  # fmt: skip
        page = browser.open(f"{base}/console/{path}", timeout=10)
        assert page.status == 200, path

    # A task goes through the embedded filesystem broker to the embedded worker.
    _manage(server, "from mdm.models import Organization; from mdm.tasks import audit_chain_verify_task; "
            "audit_chain_verify_task.delay(str(Organization.objects.get(name='Demo').pk))")  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _manage(server, "from mdm.models import AuditEvent; "
                        "print(AuditEvent.objects.filter(action='audit.chain_verified').count())")  # fmt: skip
        if found == "1":
            break
        time.sleep(0.5)
    else:
        pytest.fail("The embedded worker did not run the task:\n" + log.read_text())

    # SIGTERM stops web, worker and beat, and the supervisor exits cleanly.
    assert len(_processes_with(str(server["var"]))) >= 4
    stop_server(server)

    # The next start keeps the data and the demo account, and prints the same credentials.
    again = servers("second.log")
    assert re.search(r"sign in:\s+(\S+) / (\S+)", again["log"].read_text()).groups() == (email, password)
    assert _manage(again, "from mdm.models import Organization; print(Organization.objects.count())") == "1"
    stop_server(again)


def test_make_demo_enrolls_live_simulated_devices(servers):
    server = servers("demo.log", "--demo-agents", "2")
    deadline = time.monotonic() + 60
    count = "0"
    live = "from devices.models import Device; print(Device.objects.filter(applied_policy_version=1).count())"
    while time.monotonic() < deadline and count != "2":
        count = _manage(server, live)
        time.sleep(1)
    assert count == "2", server["log"].read_text()
    stop_server(server)
