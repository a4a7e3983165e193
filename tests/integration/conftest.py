"""A real Celery worker, in its own process, on the real Redis broker and the test database.

Tests that use it must commit their data (`django_db(transaction=True)`): the worker reads the
database through its own connection.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from mdm.celery import app as celery_app
from mdm.stack import PROCESSES

ROOT = Path(__file__).resolve().parents[2]


def worker_database_url() -> str:
    """DATABASE_URL, pointed at the database pytest-django created for this run."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Worker:
    def __init__(self, log_path: Path):
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [sys.executable, *PROCESSES["worker"][1:], "--hostname", self.hostname, "--concurrency", "2"]
        env = {**os.environ, "DATABASE_URL": worker_database_url()}
        self.log = open(self.log_path, "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited at start: see {self.log_path}")
            if celery_app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise RuntimeError(f"The Celery worker did not answer a ping within 60 s: see {self.log_path}")

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
