"""Real processes for tests: a Celery worker and the web server (the same commands as `make run`
and docker-compose, from mdm/stack.py), on the test database and Redis. Tests that use them must
commit their data (`django_db(transaction=True)`): those processes read the database through their
own connections. The fixtures are made available to every test by tests/conftest.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from mdm.celery import app as celery_app
from mdm.stack import PROCESSES

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The session's web server listens here, and every server process of the session (web, worker)
# names itself by it: policies a worker signs must carry the issuer the agents enrolled with.
LIVE_PORT = free_port()
LIVE_ISSUER = f"http://127.0.0.1:{LIVE_PORT}"


def worker_database_url() -> str:
    """DATABASE_URL, pointed at the database pytest-django created for this run."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Worker:
    def __init__(self, log_path: Path, **env):
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_path
        self.extra_env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [sys.executable, *PROCESSES["worker"][1:], "--hostname", self.hostname, "--concurrency", "2"]
        env = {**os.environ, "DATABASE_URL": worker_database_url(), "MDM_ISSUER": LIVE_ISSUER, **self.extra_env}
        self.log = open(self.log_path, "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited at start: see {self.log_path}")
            if self._control().ping(destination=[self.hostname], timeout=0.5):
                return
        raise RuntimeError(f"The Celery worker did not answer a ping within 60 s: see {self.log_path}")

    def _control(self):
        """The worker's control channel: on its own broker when it has one (CELERY_BROKER_URL)."""
        broker = self.extra_env.get("CELERY_BROKER_URL")
        # Not the current app: the project's tasks must stay bound to mdm.celery's (MdmTask).
        return Celery(broker=broker, set_as_current=False).control if broker else celery_app.control

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a pulled plug would: no warm shutdown, no acknowledgement."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory):
    if not settings.REDIS_URL:
        pytest.fail("The integration tests need REDIS_URL (make test sets it).")
    # A clean broker: nothing left over from an earlier run may reach this worker.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    worker = Worker(tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll until `predicate()` is truthy; return its value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout} s waiting for {getattr(predicate, '__name__', predicate)}")


class LiveServer:
    def __init__(self, log_path: Path, port: int | None = None, **env):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "MDM_ISSUER": self.url,
            "WEB_CONCURRENCY": "1",
            **env,
        }

    def start(self) -> None:
        argv = [sys.executable, *PROCESSES["web"][1:]]
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The web server exited: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"The web server did not become ready: {self.log_path.read_text()}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def manage(self, *args: str) -> str:
        """A management command against the same database and settings as the server."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def agent(self, state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The reference agent's command line, as a device owner would run it."""
        result = subprocess.run(
            [sys.executable, "-m", "agent", "--state", str(state), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


@pytest.fixture(scope="session")
def live_mdm(django_db_setup, tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("web") / "web.log", port=LIVE_PORT)
    server.start()
    yield server
    server.stop()
