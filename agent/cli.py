"""`python -m agent --state DIR <command>`: one device on the command line."""

from __future__ import annotations

import argparse
import json
import sys

from agent import __version__
from agent.device import Device
from agent.transport import AgentError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description="The reference MDM device agent.")
    parser.add_argument("--state", required=True, help="The device's state folder (keys, identity, container).")
    parser.add_argument("--version", action="version", version=f"agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    enroll = commands.add_parser("enroll", help="Enroll with an enrollment token or QR payload.")
    source = enroll.add_mutually_exclusive_group(required=True)
    source.add_argument("--qr-payload", help='The QR code\'s JSON: {"v":1,"server":...,"token":...,"pin":...}')
    source.add_argument("--server", help="The server's base URL (with --token; no key pin).")
    enroll.add_argument("--token", help="The enrollment token (with --server).")
    enroll.add_argument("--platform", default="android", choices=["android", "ios", "windows", "macos", "linux"])
    enroll.add_argument("--os-version", default="14")
    enroll.add_argument("--model", default="Reference agent")

    commands.add_parser("checkin", help="Report to the server and print its answer.")
    commands.add_parser("status", help="Print what this device knows about itself.")
    commands.add_parser("unenroll", help="Remove the work persona: the server retires this device.")
    return parser


def _enroll(device: Device, args) -> str:
    if args.qr_payload:
        try:
            payload = json.loads(args.qr_payload)
        except ValueError as exc:
            raise AgentError(f"--qr-payload is not JSON: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("v") != 1 or not {"server", "token", "pin"} <= set(payload):
            raise AgentError('--qr-payload must be {"v": 1, "server", "token", "pin"}.')
        server, token, pin = payload["server"], payload["token"], payload["pin"]
    else:
        if not args.token:
            raise AgentError("--server needs --token.")
        server, token, pin = args.server, args.token, None
    enrolled = device.enroll(
        server=server, token=token, pin=pin, platform=args.platform, os_version=args.os_version, model=args.model
    )
    lines = [
        f"enrolled: device {enrolled['device_id']} in {enrolled['organization']['name']} ({enrolled['ownership']})"
    ]
    if pin is None:
        lines.append("warning: no QR pin given; trusting the server key it presented now")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    device = Device(args.state)
    try:
        if args.command == "enroll":
            print(_enroll(device, args))
        elif args.command == "checkin":
            answer = device.checkin()
            print(
                f"checked in: policy version {answer['policy_version']}, "
                f"{answer['commands_pending']} command(s) pending, next in {answer['poll_interval_seconds']} s"
            )
        elif args.command == "status":
            print(json.dumps(device.status(), indent=2, sort_keys=True))
        elif args.command == "unenroll":
            answer = device.unenroll()
            print(f"unenrolled: device {answer['device_id']} is {answer['state']}")
    except AgentError as exc:
        code = f" [{exc.code}]" if exc.code else ""
        print(f"error{code}: {exc}", file=sys.stderr)
        return 1
    return 0
