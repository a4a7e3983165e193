"""POST /api/v1/agent/unenroll (agent protocol, section 7)."""

import pytest

from agent.transport import AgentError
from devices.models import Device
from mdm.models import AuditEvent


def test_unenroll_retires_the_device_and_its_credentials_stop_working(enrolled):
    token = enrolled.access_token()
    answer = enrolled.unenroll()
    assert answer == {"device_id": str(enrolled.server_device.pk), "state": "retired"}
    device = Device.objects.get(pk=enrolled.server_device.pk)
    assert device.state == "retired" and device.retired_at is not None
    event = AuditEvent.objects.get(action="device.unenrolled", target_id=str(device.pk))
    assert event.actor_type == "device"
    with pytest.raises(AgentError) as caught:
        enrolled.transport.request("POST", enrolled.url("checkin"), body={}, token=token)
    assert caught.value.status == 403 and caught.value.code == "device_retired"
    with pytest.raises(AgentError) as caught:
        enrolled.access_token(refresh=True)
    assert caught.value.code == "device_retired"
