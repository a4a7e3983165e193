"""`python -m agent --state DIR <command>`: one device on the command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType
from typing import NoReturn

from agent import PROTOCOL_VERSION, PROTOCOL_VERSIONS, __version__
from agent.container import ContainerError
from agent.device import Device
from agent.transport import AgentError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description="The reference MDM device agent.")
    parser.add_argument("--state", required=True, help="The device's state folder (keys, identity, container).")
    parser.add_argument("--version", action="version", version=f"agent {__version__}")
    parser.add_argument(
        "--protocol",
        default=PROTOCOL_VERSION,
        choices=PROTOCOL_VERSIONS,
        help="Play an agent of this protocol version.",
    )
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
    commands.add_parser("sync", help="Fetch, verify and apply the policy and the container key.")

    install = commands.add_parser("install-app", help="Install a work app, if the policy allows it.")
    install.add_argument("app_id")
    install.add_argument("--version", required=True)
    install.add_argument("--cert", required=True, help="SHA-256 of the app's signing certificate (hex).")

    share = commands.add_parser("share", help="Move data between work and personal, if the policy allows it.")
    share.add_argument("--channel", required=True)
    share.add_argument("--from", dest="from_side", choices=["work", "personal"], required=True)
    share.add_argument("--to", dest="to_side", choices=["work", "personal"], required=True)
    share.add_argument("--text", required=True)
    share.add_argument("--app", help="The app doing it (exemptions are per app).")

    put = commands.add_parser("put-file", help="Save a file on one side.")
    put.add_argument("--side", choices=["work", "personal"], required=True)
    put.add_argument("name")
    put.add_argument("--text", required=True)

    get = commands.add_parser("get-file", help="Print a file of one side.")
    get.add_argument("--side", choices=["work", "personal"], required=True)
    get.add_argument("name")

    files = commands.add_parser("files", help="List the files of one side.")
    files.add_argument("--side", choices=["work", "personal"], required=True)

    run = commands.add_parser("run", help="Run as a device: long-poll, run commands, check in, until stopped.")
    run.add_argument("--wait", type=int, default=30, help="Long-poll wait in seconds (0-60).")
    run.add_argument("--max-seconds", type=float, default=None, help="Stop after this long.")
    return parser


def _enroll(device: Device, args: argparse.Namespace) -> str:
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


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    device = Device(args.state, protocol=args.protocol)
    try:
        if args.command == "enroll":
            print(_enroll(device, args))
        elif args.command == "checkin":
            pinned = device.pinned_key["kid"]
            answer = device.checkin()
            print(
                f"checked in: policy version {answer['policy_version']}, "
                f"{answer['commands_pending']} command(s) pending, next in {answer['poll_interval_seconds']} s"
            )
            if device.pinned_key["kid"] != pinned:
                print(f"signing key rolled over: now pinning {device.pinned_key['kid']} (was {pinned})")
            elif answer.get("signing_key_rollover") and device.identity.get("rollover_refused"):
                print(f"signing key rollover refused: {device.identity['rollover_refused']['reason']}", file=sys.stderr)
        elif args.command == "status":
            print(json.dumps(device.status(), indent=2, sort_keys=True))
        elif args.command == "unenroll":
            answer = device.unenroll()
            print(f"unenrolled: device {answer['device_id']} is {answer['state']}")
        elif args.command == "sync":
            print(f"policy {device.sync_policy()} applied; container {device.container.status}")
        elif args.command == "install-app":
            print("allowed: " + device.install_app(args.app_id, version=args.version, cert_sha256=args.cert))
        elif args.command == "share":
            reason = device.share(
                channel=args.channel, from_side=args.from_side, to_side=args.to_side, text=args.text, app=args.app
            )
            print("allowed: " + reason)
        elif args.command == "put-file":
            print(device.put_file(args.side, args.name, args.text.encode()))
        elif args.command == "get-file":
            side = "personal" if args.side == "personal" else "work"
            sys.stdout.write(device.container.get(side, args.name).decode())
        elif args.command == "files":
            print("\n".join(device.container.list("personal" if args.side == "personal" else "work")))
        elif args.command == "run":
            # SIGTERM ends the run at once, even in the middle of a long poll: every state write is
            # atomic, so nothing is lost, and a result not reported yet is reported next time.
            signal.signal(signal.SIGTERM, _interrupt)
            try:
                why = device.run(wait=args.wait, max_seconds=args.max_seconds)
            except KeyboardInterrupt:
                why = "interrupted"
            print(f"run ended: {why}")
    except ContainerError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    except AgentError as exc:
        code = f" [{exc.code}]" if exc.code else ""
        print(f"error{code}: {exc}", file=sys.stderr)
        return 1
    return 0
