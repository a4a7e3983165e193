"""The Android end-to-end stack: the stand-in of Google's Android Management API (tests/amapi),
and a web server and a Celery worker of ours configured to talk to it, on a broker of their own
(so that the session's worker, which has no Android settings, never takes their tasks)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings as django_settings

from tests.live import LiveServer, Worker, free_port

PROJECT = "mdm-test-project"
TOPIC = f"projects/{PROJECT}/topics/mdm-android"


@dataclass
class AndroidStack:
    google: Any  # tests.amapi.standin.AmapiStandIn
    web: LiveServer
    worker: Worker
    env: dict[str, str]

    def settings(self) -> dict[str, object]:
        """The same configuration, as the test process's own settings."""
        return {
            "MDM_ANDROID_SERVICE_ACCOUNT": self.google.service_account_info(),
            "MDM_ANDROID_PROJECT_ID": PROJECT,
            "MDM_ANDROID_PUBSUB_TOPIC": TOPIC,
            "MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT": self.env["MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT"],
            "MDM_ANDROID_PUBSUB_AUDIENCE": self.env["MDM_ANDROID_PUBSUB_AUDIENCE"],
            "MDM_ANDROID_API_ROOT_URL": self.env["MDM_ANDROID_API_ROOT_URL"],
            "MDM_ANDROID_CERTS_URL": self.env["MDM_ANDROID_CERTS_URL"],
        }


def _broker_url() -> str:
    """A Redis database of the run's own, next to the test one (15 -> 11, 13 -> 9)."""
    parts = urlsplit(django_settings.REDIS_URL)
    number = int((parts.path or "/0").strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number - 4) % 16}"))


@pytest.fixture(scope="module")
def android_stack(django_db_setup, tmp_path_factory):
    if not django_settings.REDIS_URL:
        pytest.fail("The Android end-to-end tests need REDIS_URL (make test sets it).")
    from tests.amapi.standin import AmapiStandIn

    folder: Path = tmp_path_factory.mktemp("android")
    google = AmapiStandIn()
    google.start()
    key_file = folder / "service-account.json"
    key_file.write_text(json.dumps(google.service_account_info()))
    os.chmod(key_file, 0o600)
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    broker = _broker_url()
    redis.Redis.from_url(broker).flushdb()
    env = {
        "MDM_ANDROID_SERVICE_ACCOUNT_FILE": str(key_file),
        "MDM_ANDROID_PROJECT_ID": PROJECT,
        "MDM_ANDROID_PUBSUB_TOPIC": TOPIC,
        "MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT": google.push_email,
        "MDM_ANDROID_PUBSUB_AUDIENCE": f"{web_url}/android/pubsub/",
        "MDM_ANDROID_API_ROOT_URL": google.url,
        "MDM_ANDROID_CERTS_URL": google.url + "oauth2/v1/certs",
        "CELERY_BROKER_URL": broker,
    }
    web = LiveServer(folder / "web.log", port=port, **env)
    worker = Worker(folder / "worker.log", **env, MDM_ISSUER=web_url)
    web.start()
    worker.start()
    google.push_endpoint = env["MDM_ANDROID_PUBSUB_AUDIENCE"]
    google.push_audience = env["MDM_ANDROID_PUBSUB_AUDIENCE"]
    yield AndroidStack(google, web, worker, env)
    worker.stop()
    web.stop()
    google.stop()
    redis.Redis.from_url(broker).flushdb()


@pytest.fixture
def android_settings(android_stack, settings):
    """The test process configured like the stack (for calls it makes itself, e.g. a beat task)."""
    for name, value in android_stack.settings().items():
        setattr(settings, name, value)
    return android_stack
