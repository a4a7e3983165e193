"""One device, speaking agent protocol v1.1: enrollment, authentication, check-in, leaving,
and moving its pinned server key when the pinned key vouches for a new one (key rollover).

Later parts of the protocol (policy, the corporate container, commands) hang off `Device`
the same way: a method per protocol step, all state in the `StateFolder`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import hpke

from agent import PROTOCOL_VERSION, PROTOCOL_VERSIONS, __version__
from agent.container import Container, ContainerError
from agent.policy import PolicyRejected, may_install, may_share, verify_policy
from agent.rollover import RolloverRejected, verify_rollover
from agent.state import StateFolder
from agent.transport import AgentError, Reply, Transport, Unreachable

ASSERTION_LIFETIME = 120
TOKEN_REFRESH_MARGIN = 60


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_pin(jwk: dict[str, Any]) -> str:
    """The enrollment QR code's pin of a JWK: SHA-256 of the raw public key, base64url."""
    return b64url(hashlib.sha256(b64url_decode(jwk["x"])).digest())


class NotEnrolled(AgentError):
    pass


class Device:
    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        protocol: str = PROTOCOL_VERSION,
    ):
        if protocol not in PROTOCOL_VERSIONS:
            raise ValueError(f"Protocol {protocol!r} is not one of {PROTOCOL_VERSIONS}.")
        # "1.0" plays an agent written before v1.1: it never asks for, nor looks at, a rollover.
        self.protocol = protocol
        self.state = StateFolder(state_dir)
        self.transport = transport or Transport()
        self.clock = clock
        self.container = Container(self.state)

    # --- identity ------------------------------------------------------------------------------

    @property
    def identity(self) -> dict[str, Any]:
        identity = self.state.identity
        if not identity or "device_id" not in identity:
            raise NotEnrolled(f"Not enrolled (no identity in {self.state.root}).")
        return identity

    @property
    def server(self) -> str:
        return self.identity["server"]

    def url(self, path: str, server: str | None = None) -> str:
        return f"{(server or self.server).rstrip('/')}/api/v1/agent/{path}"

    # --- 1. enrollment -------------------------------------------------------------------------

    def enroll(
        self,
        *,
        server: str,
        token: str,
        pin: str | None = None,
        platform: str = "android",
        os_version: str = "14",
        model: str = "Reference agent",
    ) -> dict[str, Any]:
        """Enroll with an enrollment token. With a `pin` (from the QR code), refuse a server
        whose signing key does not match it, before the token is ever sent."""
        if self.state.identity and self.state.identity.get("device_id"):
            raise AgentError(f"Already enrolled as {self.state.identity['device_id']}; use a new state folder.")
        server = server.rstrip("/")
        published = self.transport.request("GET", f"{server}/.well-known/jwks.json").body or {}
        keys = published.get("keys") or []
        if pin is not None and not any(key_pin(k) == pin for k in keys):
            raise AgentError("The server's signing key does not match the pin of the QR code: refusing to enroll.")
        if not (self.state.keys_dir / "signing.key").exists():
            self.state.create_keys()
        signing_public, encryption_public = self.state.public_keys()
        reply = self.transport.request(
            "POST",
            self.url("enroll", server),
            body={
                "token": token,
                "device": {
                    "platform": platform,
                    "os_version": os_version,
                    "model": model,
                    "agent_version": __version__,
                },
                "keys": {"signing": b64url(signing_public), "encryption": b64url(encryption_public)},
            },
        )
        enrolled = reply.body
        published_keys = enrolled["signing_keys"]["keys"]
        # Without a QR pin, trust the key the server uses now (and say so). Either way, trust
        # that one key only: listing a key proves nothing, anyone can list a public key.
        pinned = pin or key_pin(published_keys[0])
        signing_keys = [k for k in published_keys if key_pin(k) == pinned]
        if not signing_keys:
            raise AgentError("The enrollment answer does not list the pinned server key.")
        self.state.update_identity(
            server=server,
            device_id=enrolled["device_id"],
            issuer=enrolled["issuer"],
            organization=enrolled["organization"],
            ownership=enrolled["ownership"],
            pin=pinned,
            pinned_from_qr=pin is not None,
            signing_keys=signing_keys,
            poll_interval_seconds=enrolled["poll_interval_seconds"],
            platform=platform,
            os_version=os_version,
            model=model,
            enrolled_at=self.clock(),
            applied_policy_version=None,
            compliance={"passcode_compliant": True, "compromised": False},
        )
        return enrolled

    # --- 2. authentication -----------------------------------------------------------------

    def assertion(self) -> str:
        identity = self.identity
        # The wall clock, always: the server checks iat and exp against its own time. (The
        # injectable `clock` drives the agent's timers, so tests can move days ahead.)
        now = int(time.time())
        claims = {
            "iss": identity["device_id"],
            "sub": identity["device_id"],
            "aud": f"{identity['issuer']}/api/v1/agent/token",
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.state.signing_key(), algorithm="EdDSA", headers={"typ": "JWT"})

    def access_token(self, *, refresh: bool = False) -> str:
        cached = self.state.read("token.json")
        if not refresh and cached and cached["expires_at"] - TOKEN_REFRESH_MARGIN > self.clock():
            return cached["access_token"]
        reply = self.transport.request("POST", self.url("token"), body={"assertion": self.assertion()})
        token = reply.body["access_token"]
        self.state.write("token.json", {"access_token": token, "expires_at": self.clock() + reply.body["expires_in"]})
        return token

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        """An authenticated request; a rejected access token is renewed once."""
        try:
            return self.transport.request(method, self.url(path), body=body, token=self.access_token(), **kwargs)
        except AgentError as exc:
            if exc.status != 401:
                raise
            return self.transport.request(
                method, self.url(path), body=body, token=self.access_token(refresh=True), **kwargs
            )

    # --- 3. check-in ---------------------------------------------------------------------------

    def work_apps(self) -> list[dict[str, str]]:
        return [
            {"id": app["id"], "version": app["version"], "signing_cert_sha256": app["signing_cert_sha256"]}
            for app in self.container.apps()
        ]

    def container_state(self) -> str:
        status = self.container.status
        return status if status in ("active", "locked", "wiped") else "active"

    def checkin(self) -> dict[str, Any]:
        identity = self.identity
        report = {
            "applied_policy_version": identity.get("applied_policy_version"),
            "container_state": self.container_state(),
            "os_version": identity.get("os_version", ""),
            "agent_version": __version__,
            "compliance": identity.get("compliance", {}),
            "work_apps": self.work_apps(),
        }
        if self.protocol != "1.0":
            report["capabilities"] = ["signing_key_rollover"]
        reply = self.call("POST", "checkin", report)
        self.state.update_identity(
            last_checkin_at=self.clock(),
            last_contact_at=self.clock(),
            server_policy_version=reply.body["policy_version"],
            commands_pending=reply.body["commands_pending"],
            poll_interval_seconds=reply.body["poll_interval_seconds"],
        )
        offer = reply.body.get("signing_key_rollover") if self.protocol != "1.0" else None
        if offer is not None:
            try:
                self.accept_rollover(offer)
            except RolloverRejected as exc:
                # Refused: the pin stays. Recorded, and the check-in itself still succeeded.
                self.state.update_identity(rollover_refused={"at": self.clock(), "reason": str(exc)})
        return reply.body

    # --- v1.1 key rollover -----------------------------------------------------------------------

    @property
    def pinned_key(self) -> dict[str, Any]:
        """The one server key this device trusts (the JWK its pin names)."""
        identity = self.identity
        return next(k for k in identity["signing_keys"] if key_pin(k) == identity["pin"])

    def accept_rollover(self, offer: Any) -> dict[str, Any]:
        """Verify a key-rollover statement against the pinned key, move the pin, persist it, and
        acknowledge it to the server. Returns the newly pinned key; RolloverRejected (pin unchanged)
        for a statement signed by another key, for another device, expired or malformed."""
        if not isinstance(offer, dict):
            raise RolloverRejected("The rollover offer is not an object.")
        identity = self.identity
        pinned = self.pinned_key
        if offer.get("new_kid") is not None and offer.get("new_kid") == pinned.get("kid"):
            # We moved already and the server did not hear it (our acknowledgement was lost):
            # only say it again. Nothing about what we trust changes.
            self._acknowledge_rollover(pinned["kid"])
            return pinned
        new_key = verify_rollover(
            offer.get("statement"),
            pinned_key=pinned,
            device_id=identity["device_id"],
            issuer=identity["issuer"],
            now=time.time(),
        )
        if offer.get("new_kid") != new_key["kid"]:
            raise RolloverRejected("The offer and its statement name different keys.")
        history = [
            *identity.get("key_rollovers", []),
            {"old_kid": pinned["kid"], "new_kid": new_key["kid"], "at": self.clock()},
        ]
        # Persisted before the server is told: after a crash here we trust the new key and simply
        # acknowledge again at the next offer.
        self.state.update_identity(
            pin=key_pin(new_key), signing_keys=[new_key], key_rollovers=history, rollover_refused=None
        )
        self._acknowledge_rollover(new_key["kid"])
        return new_key

    def _acknowledge_rollover(self, kid: str) -> None:
        try:
            reply = self.call("POST", "signing-key", {"kid": kid})
        except AgentError as exc:
            if exc.status != 409:
                raise  # unreachable or the like: the next offer acknowledges again
            # The server no longer signs with that key (retired meanwhile): nothing reaches us now.
            self.state.update_identity(rollover_refused={"at": self.clock(), "reason": f"server: {exc}"})
            return
        self.state.update_identity(rollover_acknowledged_kid=reply.body["kid"])
        version = reply.body.get("policy_version")
        if version is not None:
            self.state.update_identity(server_policy_version=version)

    # --- 7. leaving ----------------------------------------------------------------------------

    def unenroll(self) -> dict[str, Any]:
        """Remove the work persona: the server retires the device, and the work side is erased
        here too (what it held must not stay readable on the device)."""
        reply = self.call("POST", "unenroll")
        self.container.wipe()
        self.state.remove("token.json")
        self.state.update_identity(retired=True, applied_policy_version=None, policy_etag=None)
        return reply.body

    def status(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "device_id": identity["device_id"],
            "server": identity["server"],
            "organization": identity["organization"]["name"],
            "ownership": identity["ownership"],
            "pinned_key": identity["pin"],
            "pinned_kid": next((k["kid"] for k in identity["signing_keys"] if key_pin(k) == identity["pin"]), None),
            "pinned_from_qr": identity["pinned_from_qr"],
            "key_rollovers": len(identity.get("key_rollovers", [])),
            "container_state": self.container.status,
            "applied_policy_version": identity.get("applied_policy_version"),
            "server_policy_version": identity.get("server_policy_version"),
            "commands_pending": identity.get("commands_pending"),
            "last_checkin_at": identity.get("last_checkin_at"),
            "retired": identity.get("retired", False),
        }

    # --- 4. policy -----------------------------------------------------------------------------

    @property
    def policy(self) -> dict | None:
        return self.state.read("policy.json")

    def sync_policy(self) -> int | None:
        """Fetch, verify and apply the current policy (and the container key it names).

        Returns the applied version. A policy that does not verify is refused and reported as an
        AgentError, and nothing of it is applied.
        """
        identity = self.identity
        etag = identity.get("policy_etag")
        reply = self.call("GET", "policy", headers={"If-None-Match": etag} if etag else None)
        if reply.status != 304:
            verified = verify_policy(
                reply.body["jws"],
                pinned_keys=identity["signing_keys"],
                device_id=identity["device_id"],
                issuer=identity["issuer"],
                applied=identity.get("applied_policy_version"),
            )
            if verified["version"] != reply.body["version"]:
                raise PolicyRejected("The policy's version does not match what the server announced.")
            self.state.write("policy.json", verified)
            self.state.update_identity(
                applied_policy_version=verified["version"], policy_etag=reply.headers.get("etag")
            )
        policy = self.policy
        if policy is not None:
            wanted = policy["encryption"]
            meta = self.container.meta
            if (meta.get("key_id"), meta.get("key_version")) != (wanted["key_id"], wanted["key_version"]):
                self.fetch_container_key()
        return self.identity.get("applied_policy_version")

    # --- 5. container key ------------------------------------------------------------------------

    def fetch_container_key(self) -> dict:
        """Fetch the container's data key, sealed to this device's X25519 key, and unseal it."""
        body = self.call("GET", "container-key").body
        info = f"mdm/container-key/v1|{self.identity['device_id']}|{body['key_id']}|{body['version']}".encode()
        suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
        try:
            key = suite.decrypt(b64url_decode(body["sealed"]), self.state.encryption_key(), info=info)
        except Exception as exc:
            raise AgentError(f"The container key does not unseal for this device: {exc!r}") from exc
        if len(key) != 32:
            raise AgentError("The container key is not 32 bytes.")
        self.container.install_key(key, key_id=body["key_id"], version=body["version"])
        return {"key_id": body["key_id"], "version": body["version"]}

    # --- what a user does on the device --------------------------------------------------------

    def _require_policy(self) -> dict:
        policy = self.policy
        if policy is None:
            raise ContainerError("No policy applied yet: run sync first.")
        return policy

    def install_app(self, app_id: str, *, version: str, cert_sha256: str) -> str:
        allowed, reason = may_install(self._require_policy(), app_id=app_id, version=version, cert_sha256=cert_sha256)
        if not allowed:
            raise ContainerError(reason)
        apps = [a for a in self.container.apps() if a["id"] != app_id]
        apps.append({"id": app_id, "version": version, "signing_cert_sha256": cert_sha256.lower()})
        self.container.set_apps(apps)
        return reason

    def share(self, *, channel: str, from_side: str, to_side: str, text: str, app: str | None = None) -> str:
        allowed, reason = may_share(
            self._require_policy(), channel=channel, from_side=from_side, to_side=to_side, size=len(text), app=app
        )
        if not allowed:
            raise ContainerError(reason)
        if channel == "files" or channel == "clipboard":
            self.container.put(to_side if to_side == "personal" else "work", f"shared-{channel}.txt", text.encode())
        return reason

    def put_file(self, side: str, name: str, data: bytes) -> str:
        if side == "work":
            self._require_policy()
        self.container.put(side, name, data)
        return f"{'work' if side == 'work' else 'personal'} file {name} saved"

    # --- 6. commands ---------------------------------------------------------------------------

    def run_command(self, command: dict) -> tuple[str, str]:
        """Carry out one command; returns (status, detail) for its result."""
        kind, payload = command["type"], command.get("payload") or {}
        try:
            if kind == "apply_policy":
                applied = self.sync_policy()
                if applied is None or applied < payload.get("version", 0):
                    return "error", f"applied {applied}, the command asked for {payload.get('version')}"
                return "acknowledged", f"policy {applied} applied"
            if kind == "rotate_container_key":
                fetched = self.fetch_container_key()
                return "acknowledged", f"container re-encrypted under key version {fetched['version']}"
            if kind == "lock_corporate":
                self.container.lock()
                return "acknowledged", "work profile locked"
            if kind == "unlock_corporate":
                self.container.unlock()
                return "acknowledged", "work profile unlocked"
            if kind == "wipe_corporate":
                self.container.wipe()
                self.state.update_identity(applied_policy_version=None, policy_etag=None)
                return "acknowledged", "work profile erased; personal data untouched"
        except Unreachable:
            raise
        except AgentError as exc:
            return "error", str(exc)
        return "error", f"unknown command type {kind!r}"

    def poll(self, *, wait: int = 0) -> list[dict]:
        """Fetch pending commands (holding up to `wait` seconds), run each new one, report results."""
        reply = self.call("GET", f"commands?wait={wait}", timeout=wait + 30)
        done = set(self.state.read("commands-done.json") or {})
        ran = []
        for command in reply.body["commands"]:
            if command["id"] in done:
                # Run before, its result not recorded yet (we crashed, or the server did not answer).
                status, detail = (self.state.read("commands-done.json") or {})[command["id"]]
            else:
                status, detail = self.run_command(command)
                record = self.state.read("commands-done.json") or {}
                record[command["id"]] = [status, detail]
                self.state.write("commands-done.json", record)
            try:
                self.call("POST", f"commands/{command['id']}/result", {"status": status, "detail": detail[:2000]})
            except AgentError as exc:
                if exc.status not in (404, 409):
                    raise
            ran.append({**command, "result": status, "detail": detail})
        self._forget_reported({c["id"] for c in reply.body["commands"]})
        self.state.update_identity(last_contact_at=self.clock())
        return ran

    def _forget_reported(self, still_pending: set[str]) -> None:
        record = self.state.read("commands-done.json") or {}
        kept = {k: v for k, v in record.items() if k in still_pending}
        if kept != record:
            self.state.write("commands-done.json", kept)

    # --- the device's life: the run loop and the offline timer -----------------------------------

    def offline_timer_expired(self) -> bool:
        """True when the policy's max_offline_days have passed without reaching the server."""
        policy = self.policy
        if policy is None or self.container.status not in ("active", "locked"):
            return False
        identity = self.identity
        last = identity.get("last_contact_at") or identity.get("enrolled_at") or self.clock()
        return self.clock() - last > policy["access"]["max_offline_days"] * 86400

    def enforce_offline_timer(self) -> bool:
        """Wipe the corporate container if the device has been out of reach too long."""
        if not self.offline_timer_expired():
            return False
        self.container.wipe()
        self.state.update_identity(applied_policy_version=None, policy_etag=None, offline_wiped_at=self.clock())
        return True

    def run(
        self,
        *,
        wait: int = 30,
        max_seconds: float | None = None,
        should_stop: Callable[[], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> str:
        """The long-running loop of a real device: long-poll for commands, check in on the
        server's interval (with jitter), and ride out a server that restarts or is unreachable
        (exponential backoff; all state is on disk, so nothing is lost). Returns why it stopped.
        """
        started = self.clock()
        next_checkin = 0.0
        backoff = 1.0
        while True:
            if should_stop is not None and should_stop():
                return "stopped"
            if max_seconds is not None and self.clock() - started >= max_seconds:
                return "time is up"
            self.enforce_offline_timer()
            try:
                if self.clock() >= next_checkin:
                    answer = self.checkin()
                    interval = answer["poll_interval_seconds"]
                    next_checkin = self.clock() + interval * random.uniform(0.9, 1.1)  # noqa: S311
                    if (answer["policy_version"] or 0) > (self.identity.get("applied_policy_version") or 0):
                        self.sync_policy()
                budget = wait if max_seconds is None else max(0, min(wait, max_seconds - (self.clock() - started)))
                self.poll(wait=int(budget))
                backoff = 1.0
            except Unreachable:
                sleep(backoff * random.uniform(0.8, 1.2))  # noqa: S311
                backoff = min(backoff * 2, 60.0)
            except AgentError as exc:
                if exc.code == "device_retired":
                    return "retired"
                if exc.status == 429:
                    sleep(min(60.0, backoff))
                    backoff = min(backoff * 2, 60.0)
                    continue
                raise
