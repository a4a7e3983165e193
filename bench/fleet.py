"""N simulated agents speaking the real protocol, and how long a persona change takes to reach them.

    python bench/fleet.py [N]     (N = 1,000 by default; --concurrency, --deadline)

The web server and a Celery worker (the `make run` commands) on the bench database; N agents in
one asyncio process, one keep-alive connection each. Each enrolls over HTTP with one enrollment
token (uses=N, a fresh Ed25519 signing key and X25519 encryption key, the QR pin checked first),
gets an access token (the RFC 7523 assertion), checks in, applies its first policy, then holds a
long poll. Then a persona change commits in-process (the service the console and the admin API
call), which starts a push; each agent's poll returns its apply_policy command, it fetches the
policy, verifies the JWS (EdDSA, against the key pinned at enrollment, `aud` its own device id,
the version newer and the one announced) and posts its result.

Printed: the time from the change's commit until 99% of the agents have acknowledged, the
fan-out's own time (the push task's run time from the worker's log, else the Push row's
started/finished span), the errors by step and kind, and `ratio: X`, the first over the second
(goal: at most 1.5). Every step has a deadline: a server that fails is reported, not waited for.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import math
import os
import re
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from aio import (
    Backoff,
    Connection,
    Reply,
    cancel_all,
    error_name,
    log_summary,
    loop_name,
    percentile,
    raise_open_files,
    run,
    start_server,
    start_worker,
    stop,
)
from common import REDIS_URL, ROOT, fresh_organization, setup_django
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, str(ROOT))
from agent import __version__ as AGENT_VERSION
from agent.policy import PolicyRejected, verify_policy

WAIT = 60
POLL_TIMEOUT = WAIT + 15
SETTLE_SECONDS = 3.0  # after the last agent started waiting, before the change
SLOW_STEP = 30.0  # timeout of every request but the long poll


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_pin(jwk: dict[str, Any]) -> str:
    """The QR code's pin of a JWK (agent/device.py's): SHA-256 of the raw key, base64url."""
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return b64url(hashlib.sha256(raw).digest())


class StepFailed(Exception):
    """A step of an agent's protocol went wrong; `kind` is how it is counted."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Fleet:
    """What happened to the agents: errors by step and kind, and who acknowledged the push when."""

    def __init__(self) -> None:
        self.errors: dict[str, int] = {}
        self.waiting: set[str] = set()
        self.acknowledged: dict[str, float] = {}  # device -> when its result for the push was taken
        self.change_at: float | None = None  # time.monotonic() just after the change's commit

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class SimAgent:
    """One agent: agent/device.py's protocol steps, its state in memory, on one connection."""

    def __init__(self, fleet: Fleet, port: int):
        self.fleet = fleet
        self.conn = Connection("127.0.0.1", port)
        self.signing = Ed25519PrivateKey.generate()
        self.encryption = X25519PrivateKey.generate()
        self.device_id = ""
        self.issuer = ""
        self.pinned: list[dict[str, Any]] = []
        self.token = ""
        self.applied: int | None = None
        self.etag: str | None = None
        self.baseline: int | None = None  # the version applied before the change

    async def call(self, step: str, method: str, path: str, *, body: Any = None, auth: bool = True,
                   headers: dict[str, str] | None = None, timeout: float = SLOW_STEP, ok=(200,)) -> Reply:  # fmt: skip
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self.token}"
        try:
            reply = await self.conn.request(method, path, body=body, headers=sent, timeout=timeout)
        except Exception as exc:
            raise StepFailed(f"{step}: {error_name(exc)}") from exc
        if reply.status not in ok:
            raise StepFailed(f"{step}: status {reply.status}")
        return reply

    async def enroll(self, token: str, pin: str) -> None:
        published = (await self.call("jwks", "GET", "/.well-known/jwks.json", auth=False)).json() or {}
        if not any(key_pin(key) == pin for key in published.get("keys", [])):
            raise StepFailed("jwks: no key matches the QR pin")
        signing = self.signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        encryption = self.encryption.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        body = {
            "token": token,
            "device": {
                "platform": "android",
                "os_version": "14",
                "model": "bench fleet",
                "agent_version": AGENT_VERSION,
            },
            "keys": {"signing": b64url(signing), "encryption": b64url(encryption)},
        }
        enrolled = (await self.call("enroll", "POST", "/api/v1/agent/enroll", body=body, auth=False, ok=(201,))).json()
        self.device_id, self.issuer = enrolled["device_id"], enrolled["issuer"]
        self.pinned = [key for key in enrolled["signing_keys"]["keys"] if key_pin(key) == pin]
        if not self.pinned:
            raise StepFailed("enroll: the answer does not list the pinned key")

    async def authenticate(self) -> None:
        now = int(time.time())
        claims = {"iss": self.device_id, "sub": self.device_id, "aud": f"{self.issuer}/api/v1/agent/token",
                  "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}  # fmt: skip
        assertion = jwt.encode(claims, self.signing, algorithm="EdDSA", headers={"typ": "JWT"})
        reply = await self.call("token", "POST", "/api/v1/agent/token", body={"assertion": assertion}, auth=False)
        self.token = reply.json()["access_token"]

    async def checkin(self) -> int:
        body = {"applied_policy_version": self.applied, "container_state": "active", "os_version": "14",
                "agent_version": AGENT_VERSION, "compliance": {"passcode_compliant": True, "compromised": False},
                "work_apps": []}  # fmt: skip
        return (await self.call("checkin", "POST", "/api/v1/agent/checkin", body=body)).json()["policy_version"]

    async def sync_policy(self, announced: int | None) -> int:
        """Fetch and verify the current policy (as agent/device.py's sync_policy); the version."""
        headers = {"If-None-Match": self.etag} if self.etag else None
        reply = await self.call("policy", "GET", "/api/v1/agent/policy", headers=headers, ok=(200, 304))
        if reply.status == 304:
            if self.applied is None:
                raise StepFailed("policy: 304 before any policy")
            return self.applied
        document = reply.json()
        try:
            policy = verify_policy(
                document["jws"], pinned_keys=self.pinned, device_id=self.device_id, issuer=self.issuer,
                applied=self.applied,
            )  # fmt: skip
        except PolicyRejected as exc:
            raise StepFailed(f"policy rejected: {str(exc)[:60]}") from exc
        if policy["version"] != document["version"] or (announced is not None and policy["version"] != announced):
            raise StepFailed("policy: not the version announced")
        self.applied, self.etag = policy["version"], reply.headers.get("etag")
        return policy["version"]

    async def poll(self, wait: int) -> list[dict[str, Any]]:
        """One poll, each command run and its result posted; the commands."""
        if wait:
            self.fleet.waiting.add(self.device_id)
        try:
            timeout = POLL_TIMEOUT if wait else SLOW_STEP
            reply = await self.call("poll", "GET", f"/api/v1/agent/commands?wait={wait}", timeout=timeout)
        finally:
            self.fleet.waiting.discard(self.device_id)
        commands = (reply.json() or {}).get("commands", [])
        for command in commands:
            status, detail = "acknowledged", "done"
            if command["type"] == "apply_policy":
                try:
                    version = await self.sync_policy(command["payload"].get("version"))
                    detail = f"policy {version} applied"
                except StepFailed as exc:
                    if not exc.kind.startswith("policy rejected"):
                        raise
                    self.fleet.error(exc.kind)
                    status, detail = "error", exc.kind
            body = {"status": status, "detail": detail}
            await self.call("result", "POST", f"/api/v1/agent/commands/{command['id']}/result", body=body)
            changed = self.fleet.change_at is not None and self.baseline is not None
            if (
                changed
                and command["type"] == "apply_policy"
                and status == "acknowledged"
                and self.applied > self.baseline
            ):
                self.fleet.acknowledged.setdefault(self.device_id, time.monotonic())
        return commands

    async def setup(self, token: str, pin: str) -> None:
        """Enrollment to the first policy applied and the outbox empty, retrying what a failing
        server refused (a 5xx, a dropped connection) a few times; the errors are counted."""
        backoff = Backoff()
        for attempt in range(4):
            try:
                if not self.device_id:
                    await self.enroll(token, pin)
                if not self.token:
                    await self.authenticate()
                announced = await self.checkin()
                if announced is not None and announced != self.applied:
                    await self.sync_policy(announced)
                for _ in range(5):
                    if not await self.poll(0):
                        return
                raise StepFailed("poll: commands keep coming")
            except StepFailed as exc:
                self.fleet.error(f"setup {exc.kind}")
                if re.search(r"status 4\d\d|rejected|pin|not the version", exc.kind) or attempt == 3:
                    raise
                await backoff.pause()

    async def hold(self) -> None:
        """Long-poll until cancelled, as the agent does: every command run, a failure backs off."""
        backoff = Backoff()
        try:
            while True:
                try:
                    await self.poll(WAIT)
                    backoff.reset()
                except StepFailed as exc:
                    self.fleet.error(exc.kind)
                    await backoff.pause()
        finally:
            self.conn.close()


def change_persona(org_id, stamp: dict[str, float]):
    """A persona change through the console's and the admin API's service (which starts its push),
    stamped just after its commit. Returns the push's id."""
    from django.db import transaction

    from devices.persona_changes import persona_change
    from mdm.actors import Actor
    from personas.services import default_persona, spec_of

    persona = default_persona(org_id)
    spec = spec_of(persona)
    spec["access"]["max_offline_days"] = spec["access"]["max_offline_days"] % 300 + 1
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.update(monotonic=time.monotonic(), wall=time.time()))
        change = persona_change(persona=persona, spec=spec, actor=Actor.system("bench"))
    assert change.push is not None
    return change.push.pk


def push_finished(push_id) -> dict[str, Any] | None:
    from devices.models import Push

    push = Push.objects.get(pk=push_id)
    if push.state not in (Push.State.DONE, Push.State.SUPERSEDED):
        return None
    return {"state": push.state, "processed": push.processed, "batches": push.batches,
            "created_at": push.created_at, "started_at": push.started_at, "finished_at": push.finished_at}  # fmt: skip


TASK_LINE = re.compile(r"Task devices\.tasks\.push_fanout_task\[[0-9a-f-]+\] succeeded in ([0-9.]+)s")


def task_runtime(log: Path, offset: int) -> tuple[float, int] | None:
    """The summed run time of the push tasks the worker logged past `offset`, and how many."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    runs = [float(found) for found in TASK_LINE.findall(text)]
    return (sum(runs), len(runs)) if runs else None


async def bench(args: argparse.Namespace, org_id, token: str, pin: str, db: ThreadPoolExecutor) -> None:
    loop = asyncio.get_running_loop()
    n, port = args.n, args.port
    folder = Path(tempfile.gettempdir())
    server_log, worker_log = folder / f"bench-fleet-web-{port}.log", folder / f"bench-fleet-worker-{port}.log"
    server_log.write_bytes(b"")
    worker_log.write_bytes(b"")
    files = raise_open_files(n + 1024)
    print(f"client: one process, {loop_name()} loop, one connection per agent; open files allowed: {files}")
    server = await loop.run_in_executor(None, start_server, port, server_log)
    worker = None
    fleet = Fleet()
    tasks: list[asyncio.Task] = []
    try:
        worker = await loop.run_in_executor(None, start_worker, port, worker_log)
        agents = [SimAgent(fleet, port) for _ in range(n)]
        gate = asyncio.Semaphore(args.concurrency)

        async def set_up(agent: SimAgent) -> bool:
            async with gate:
                try:
                    await agent.setup(token, pin)
                    return True
                except StepFailed:
                    return False

        started = time.monotonic()
        setups = [asyncio.create_task(set_up(agent)) for agent in agents]
        await asyncio.wait(setups, timeout=args.deadline)
        late = sum(1 for task in setups if not task.done())
        await cancel_all(setups)
        ready = [agent for agent, task in zip(agents, setups, strict=True) if not task.cancelled() and task.result()]
        setup_seconds = time.monotonic() - started
        print(
            f"set up: {len(ready)} of {n} agents enrolled, checked in, policy applied in {setup_seconds:.1f} s"
            + (f" ({late} still at it after {args.deadline:.0f} s: left out)" if late else "")
        )
        if not ready:
            raise SystemExit("no agent got through enrollment")
        for agent in ready:
            agent.baseline = agent.applied
            tasks.append(asyncio.create_task(agent.hold()))
        settle_deadline = time.monotonic() + 30
        while len(fleet.waiting) < len(ready) and time.monotonic() < settle_deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(SETTLE_SECONDS)
        print(f"waiting: {len(fleet.waiting)} of {len(ready)} agents hold a long poll")

        log_offset = worker_log.stat().st_size
        stamp: dict[str, float] = {}
        fleet.change_at = time.monotonic()  # acknowledgements count from here on
        push_id = await asyncio.wait_for(loop.run_in_executor(db, change_persona, org_id, stamp), SLOW_STEP)
        fleet.change_at = stamp["monotonic"]
        print(f"persona change committed: push {push_id}")
        target = math.ceil(len(ready) * 0.99)
        ack_deadline = time.monotonic() + args.deadline
        while len(fleet.acknowledged) < len(ready) and time.monotonic() < ack_deadline:
            if len(fleet.acknowledged) >= target and time.monotonic() > max(fleet.acknowledged.values()) + 10:
                break  # 99% are in and the rest has been silent for 10 s
            await asyncio.sleep(0.1)
        push = None
        push_deadline = time.monotonic() + args.deadline
        while push is None and time.monotonic() < push_deadline:
            push = await loop.run_in_executor(db, push_finished, push_id)
            if push is None:
                await asyncio.sleep(0.5)
        runtime = task_runtime(worker_log, log_offset)
    finally:
        if await cancel_all(tasks):
            print("some waiters did not stop when cancelled (left behind)", flush=True)
        if worker is not None:
            await loop.run_in_executor(None, stop, worker)
        await loop.run_in_executor(None, stop, server)

    times = sorted(at - fleet.change_at for at in fleet.acknowledged.values())
    print(f"errors: {sum(fleet.errors.values())}")
    for kind, count in sorted(fleet.errors.items(), key=lambda kv: -kv[1]):
        print(f"  {kind}: {count}")
    if push is None:
        print(f"the push did not finish within {args.deadline:.0f} s")
    else:
        created: datetime = push["created_at"]
        began, ended = push["started_at"], push["finished_at"]
        print(
            f"push: {push['state']}, {push['processed']} devices in {push['batches']} batches; commit -> started "
            f"{(began.timestamp() - stamp['wall']) if began else float('nan'):.2f} s, started -> finished "
            f"{(ended - began).total_seconds() if began and ended else float('nan'):.2f} s, created -> finished "
            f"{(ended - created).total_seconds() if ended else float('nan'):.2f} s"
        )
    if runtime is not None:
        print(f"push task run time (worker log): {runtime[0]:.2f} s in {runtime[1]} task run(s)")
    if len(times) >= target:
        t99 = times[target - 1]
        print(
            f"acknowledged: {len(times)} of {len(ready)}; 99% ({target}) {t99:.2f} s after the commit, "
            f"p50 {percentile(times, 0.5):.2f} s, last {times[-1]:.2f} s"
        )
    else:
        t99 = math.inf
        print(f"acknowledged: only {len(times)} of {len(ready)} within {args.deadline:.0f} s (99% is {target})")
    fanout = None
    if runtime is not None:
        fanout, source = runtime[0], "the push task's run time"
    elif push is not None and push["started_at"] and push["finished_at"]:
        fanout, source = (push["finished_at"] - push["started_at"]).total_seconds(), "the Push row's span"
    for log in (server_log, worker_log):
        summary = log_summary(log)
        if summary:
            print(f"most frequent errors in {log}:")
            for line in summary:
                print(f"  {line}")
    if fanout is None or not fanout > 0:
        print("ratio: inf (no fan-out time to divide by)")
    else:
        print(f"time to 99% acknowledged / fan-out ({source}): {t99:.2f} s / {fanout:.2f} s")
        print(f"ratio: {t99 / fanout:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50, help="agents enrolling at once")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds allowed for each phase")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8393")))
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr] (progress shows as it happens)
    os.environ["MDM_ISSUER"] = f"http://127.0.0.1:{args.port}"
    os.environ["REDIS_CACHE_URL"] = REDIS_URL  # the cache the server uses too (aio.server_env)
    setup_django()
    from django.db import connections

    from devices.services import enrollment_token_create

    org = fresh_organization("Bench fleet")
    issued = enrollment_token_create(organization=org, uses=args.n)
    connections.close_all()  # from here on the bench's database work runs in one thread: `db`
    with ThreadPoolExecutor(max_workers=1) as db:
        run(bench(args, org.pk, issued.token, issued.qr_payload["pin"], db))


if __name__ == "__main__":
    main()
