"""A personally owned phone is never factory reset, and a company-owned phone's personal profile is
never erased: by construction (no code path can send it), checked on the code itself and on what
each ownership gets. The end-to-end tests check the requests the stand-in of Google received."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from devices.android import client
from devices.android.devices import _ownership, google_ownership
from devices.choices import Ownership
from devices.models import Device, EnrollmentToken

ROOT = Path(__file__).resolve().parents[2]
SERVER_CODE = [
    p for d in ("mdm", "devices", "personas") for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts
]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def test_no_server_code_deletes_a_device_at_google():
    """`enterprises.devices.delete` is a factory reset of a company-owned phone: nothing calls it."""
    for path in SERVER_CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            if call.func.attr == "delete" and isinstance(call.func.value, ast.Call):
                inner = call.func.value.func
                assert not (isinstance(inner, ast.Attribute) and inner.attr == "devices"), (
                    f"{path.relative_to(ROOT)}:{call.lineno} deletes a device at Google"
                )


def test_only_the_client_issues_commands_and_only_it_names_wipe():
    """issueCommand is called in one place (client.issue_command, with its guard), and the WIPE
    command and its data flags are spelled out nowhere else in the server."""
    issuers, wipes = [], []
    for path in SERVER_CODE:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        issuers += [f"{path.name}:{c.lineno}" for c in _calls(tree) if c.func.attr == "issueCommand"]
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in ("WIPE", "wipeDataFlags"):
                wipes.append(f"{path.relative_to(ROOT)}")
    assert issuers == [f"client.py:{_line_of('issueCommand')}"]
    assert set(wipes) == {"devices/android/client.py"}


def _line_of(needle: str) -> int:
    lines = (ROOT / "devices/android/client.py").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if f".{needle}(" in line)


@pytest.mark.parametrize("ownership", [client.COMPANY_OWNED, "OWNERSHIP_UNSPECIFIED", "", "personally_owned"])
def test_issue_command_refuses_a_wipe_of_anything_but_a_personal_work_profile(ownership, settings):
    settings.MDM_ANDROID_SERVICE_ACCOUNT = None  # refused before anything is sent: no Google needed
    wipe = client.DeviceCommand("WIPE", {"type": "WIPE"})
    with pytest.raises(client.GoogleError, match="Refused"):
        client.issue_command(name="enterprises/E/devices/D", ownership=ownership, command=wipe)


def test_issue_command_refuses_wipe_data_flags_and_commands_we_never_send(settings):
    settings.MDM_ANDROID_SERVICE_ACCOUNT = None
    flags = {"wipeDataFlags": ["WIPE_EXTERNAL_STORAGE"]}
    flagged = client.DeviceCommand("WIPE", {"type": "WIPE", "wipeParams": flags})
    with pytest.raises(client.GoogleError, match="Refused"):
        client.issue_command(name="enterprises/E/devices/D", ownership=client.PERSONALLY_OWNED, command=flagged)
    for kind in ("REBOOT", "RESET_PASSWORD", "CLEAR_APP_DATA", "START_LOST_MODE"):
        with pytest.raises(client.GoogleError, match="Refused"):
            client.issue_command(
                name="enterprises/E/devices/D",
                ownership=client.PERSONALLY_OWNED,
                command=client.DeviceCommand(kind, {"type": kind}),
            )
    with pytest.raises(client.GoogleError, match="Refused"):
        client.issue_command(
            name="enterprises/E/devices/D",
            ownership=client.PERSONALLY_OWNED,
            command=client.DeviceCommand("RELINQUISH_OWNERSHIP", {"type": "RELINQUISH_OWNERSHIP"}),
        )


@pytest.mark.parametrize(
    ("google", "token"),
    list(
        itertools.product(
            [client.PERSONALLY_OWNED, client.COMPANY_OWNED, None, "OWNERSHIP_UNSPECIFIED"], Ownership.values
        )
    ),
)
def test_every_ownership_gets_a_wipe_that_keeps_personal_data(google, token):
    """Whatever Google and the token say, the corporate wipe sent is WIPE only for a phone Google
    reports personally owned (or says nothing of, with a personal token), and RELINQUISH_OWNERSHIP
    for a company-owned one: never a WIPE of a company-owned phone (a factory reset)."""
    data = {"ownership": google} if google else {}
    device = Device(ownership=_ownership(data, EnrollmentToken(ownership=token)))
    command = client.corporate_wipe_command(ownership=google_ownership(device), reason="left")
    if google == client.COMPANY_OWNED:
        assert command.type == "RELINQUISH_OWNERSHIP"
    elif google == client.PERSONALLY_OWNED:
        assert command.type == "WIPE"
    else:
        assert command.type == ("WIPE" if token == Ownership.PERSONAL else "RELINQUISH_OWNERSHIP")
    assert "wipeDataFlags" not in command.body.get("wipeParams", {})
