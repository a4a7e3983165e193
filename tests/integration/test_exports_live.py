"""CSV exports through the real web process (gunicorn + uvicorn, ASGI): the answer is streamed
as the chunks are read (chunked transfer, first bytes before the last row is fetched), and every
row arrives once."""

from __future__ import annotations

import csv
import http.client
import io
from urllib.parse import urlsplit

import pytest

from devices.choices import Ownership, Platform
from devices.models import Device
from mdm.lib.csvstream import CHUNK_ROWS

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_device_export_of_several_chunks_streams_over_asgi(live_mdm, actors):
    count = CHUNK_ROWS * 2 + 17
    Device.objects.bulk_create(
        Device(
            organization=actors.org, name=f"phone {n}", ownership=Ownership.PERSONAL, platform=Platform.ANDROID,
            signing_public_key=n.to_bytes(32, "big"), encryption_public_key=b"e" * 32,
        )
        for n in range(count)
    )  # fmt: skip
    parts = urlsplit(live_mdm.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(
        "GET", "/api/v1/devices/export.csv", headers={"Authorization": f"Bearer {actors.token(actors.auditor)}"}
    )
    response = connection.getresponse()
    assert response.status == 200
    # Streamed: no length known in advance, sent in chunks.
    assert response.getheader("Transfer-Encoding") == "chunked" and response.getheader("Content-Length") is None
    body = response.read().decode()
    connection.close()
    got = list(csv.DictReader(io.StringIO(body)))
    assert len(got) == count
    assert {row["name"] for row in got} == {f"phone {n}" for n in range(count)}
