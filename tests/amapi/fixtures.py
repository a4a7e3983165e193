"""The stand-in of Google's Android Management API as pytest fixtures (shared by tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.amapi.standin import AmapiStandIn


@pytest.fixture
def amapi():
    """A fresh stand-in of Google's Android Management API, started for the test."""
    standin = AmapiStandIn()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def google(amapi, settings):
    """The server's own client (devices.android.client) pointed at the stand-in."""
    settings.MDM_ANDROID_SERVICE_ACCOUNT = amapi.service_account_info()
    settings.MDM_ANDROID_PROJECT_ID = amapi.project_id
    settings.MDM_ANDROID_PUBSUB_TOPIC = f"projects/{amapi.project_id}/topics/mdm"
    settings.MDM_ANDROID_PUBSUB_SERVICE_ACCOUNT = amapi.push_email
    settings.MDM_ANDROID_PUBSUB_AUDIENCE = "http://127.0.0.1:1/android/pubsub/"
    settings.MDM_ANDROID_API_ROOT_URL = amapi.url
    settings.MDM_ANDROID_CERTS_URL = amapi.url + "oauth2/v1/certs"
    return amapi
