"""The real web server (the same gunicorn + uvicorn command as `make run` and docker-compose),
on the test database and Redis, for agents that talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mdm.stack import PROCESSES
from tests.integration.conftest import worker_database_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "MDM_ISSUER": self.url,
            "WEB_CONCURRENCY": "1",
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
    server = LiveServer(tmp_path_factory.mktemp("web") / "web.log")
    server.start()
    yield server
    server.stop()
