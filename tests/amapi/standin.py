"""A stand-in of Google's Android Management API for the tests: a real HTTP server (127.0.0.1,
a free port) that speaks AMAPI's REST protocol as the discovery document shipped in
google-api-python-client describes it, so that the server under test uses Google's real client
library over real HTTP against it.

- Routing comes from the discovery document: each method's HTTP verb and `flatPath`.
- Every request is validated against the document: its path and query parameters, and its body
  against the method's request schema. A fault is a 400 in Google's error format naming the field,
  as Google answers an unknown field or enum value.
- Authentication is Google's: `POST /token` is the OAuth 2.0 token endpoint of the service
  account's JWT grant (the assertion's RS256 signature checked with the test service account's
  public key, its issuer, audience, scope and lifetime); every API call needs a token it issued.
- It keeps state (signup URLs, enterprises, policies with their versions, enrollment tokens,
  devices, long-running operations) and plays phones: `enroll_phone`, `report_status` and
  `run_commands` change the state as Android Device Policy would, and send Pub/Sub pushes to
  `push_endpoint`, each with an OIDC ID token signed by the stand-in's own "Google" key, whose
  certificates it serves at `/oauth2/v1/certs` in the format Google serves them there.
- `factory_resets` records every call that would factory reset a phone or erase a company-owned
  phone's personal profile (WIPE of a company-owned phone, deleting a company-owned device or an
  enterprise that still has devices): the tests assert that it stays empty.

What it does not do: anything Google's servers do beyond the published description (quotas,
timings, the checks they make on a policy's meaning), and everything a real phone does.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mdm.lib import discovery

SCOPE = "https://www.googleapis.com/auth/androidmanagement"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
COMMAND_TYPE = "type.googleapis.com/google.android.devicemanagement.v1.Command"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
          503: "UNAVAILABLE"}  # fmt: skip


class ApiError(Exception):
    def __init__(self, code: int, message: str, violations: list[str] | None = None):
        super().__init__(message)
        self.code, self.message, self.violations = code, message, violations or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": STATUS.get(self.code, "UNKNOWN")}
        if self.violations:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": v.split(":", 1)[0], "description": v} for v in self.violations],
                }
            ]
        return {"error": error}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _certificate(key: rsa.RSAPrivateKey, common_name: str) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


class AmapiStandIn:
    def __init__(self, project_id: str = "mdm-test-project"):
        self.project_id = project_id
        self.doc = discovery.document()
        self.routes = self._routes()
        self.lock = threading.RLock()
        self.requests: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self.factory_resets: list[dict[str, Any]] = []
        self.push_endpoint: str | None = None
        self.push_audience: str | None = None
        self.push_email = f"pubsub-push@{project_id}.iam.gserviceaccount.com"
        self.client_email = f"mdm-server@{project_id}.iam.gserviceaccount.com"
        self._service_key = _rsa_key()
        self._service_key_id = secrets.token_hex(20)
        self._google_key = _rsa_key()
        self._google_kid = secrets.token_hex(20)
        self._google_cert = _certificate(self._google_key, "stand-in Google")
        self._access_tokens: set[str] = set()
        self._failures: dict[str, list[int]] = {}
        self.signups: dict[str, dict[str, str]] = {}
        self.enterprises: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- Life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: the tests read `requests`
                pass

            def _serve(self) -> None:
                status, headers, body = standin._dispatch(self.command, self.path, self.headers, self._body())
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- What the tests use ---------------------------------------------------------------------

    def service_account_info(self) -> dict[str, str]:
        """The JSON key of the test service account, as Google's console downloads it."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self._service_key_id,
            "private_key": _pem(self._service_key),
            "client_email": self.client_email,
            "client_id": "1" * 21,
            "auth_uri": self.url + "o/oauth2/auth",
            "token_uri": self.url + "token",
            "auth_provider_x509_cert_url": self.url + "oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def fail_next(self, method_id: str, *, status: int = 503, times: int = 1) -> None:
        """Answer the next `times` calls of a method with `status`, in Google's error format."""
        discovery.method(self.doc, method_id)
        with self.lock:
            self._failures.setdefault(method_id, []).extend([status] * times)

    def calls(self, method_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["method"] == method_id]

    def id_token(self, *, audience: str | None = None, email: str | None = None, key: Any = None) -> str:
        """An OIDC ID token as Pub/Sub signs it for a push subscription's service account."""
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience or self.push_audience,
            "azp": "1" * 21,
            "email": email or self.push_email,
            "email_verified": True,
            "sub": "1" * 21,
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(claims, key or self._google_key, algorithm="RS256", headers={"kid": self._google_kid})

    def enroll_phone(
        self,
        token_value: str,
        *,
        ownership: str = "PERSONALLY_OWNED",
        management_mode: str = "PROFILE_OWNER",
        api_level: int = 34,
        hardware: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A phone enrolls with an enrollment token's value; returns the new Device resource."""
        with self.lock:
            token = next((t for t in self.tokens.values() if t["value"] == token_value), None)
            if token is None:
                raise ValueError("No such enrollment token.")
            if dt.datetime.fromisoformat(token["expirationTimestamp"].replace("000Z", "+00:00")) <= _now():
                raise ValueError("The enrollment token has expired.")
            if token.get("oneTimeOnly") and token.get("_used"):
                raise ValueError("The one-time enrollment token was used already.")
            token["_used"] = True
            enterprise = token["name"].split("/enrollmentTokens/")[0]
            policy = self.policies[token["policyName"]]
            name = f"{enterprise}/devices/{secrets.token_hex(8)}"
            now = _rfc3339(_now())
            device = {
                "name": name,
                "managementMode": management_mode,
                "ownership": ownership,
                "state": "ACTIVE",
                "appliedState": "ACTIVE",
                "policyName": token["policyName"],
                "appliedPolicyName": token["policyName"],
                "appliedPolicyVersion": policy["version"],
                "policyCompliant": True,
                "enrollmentTokenName": token["name"],
                "enrollmentTokenData": token.get("additionalData", ""),
                "enrollmentTime": now,
                "lastStatusReportTime": now,
                "lastPolicySyncTime": now,
                "apiLevel": api_level,
                "userName": f"{enterprise}/users/{secrets.token_hex(6)}",
                "softwareInfo": {"androidVersion": str(api_level - 20), "androidBuildNumber": "AP1A.240305.019"},
                "hardwareInfo": hardware
                or {
                    "brand": "google",
                    "model": "Pixel 8",
                    "serialNumber": secrets.token_hex(6).upper(),
                    "hardware": "shiba",
                },
                "networkInfo": {"imei": "490154203237518", "wifiMacAddress": "02:00:00:44:55:66"},
                "securityPosture": {"devicePosture": "SECURE"},
            }
            self.devices[name] = device
        self._notify("ENROLLMENT", device)
        return copy.deepcopy(device)

    def report_status(
        self,
        device_name: str,
        *,
        applied_version: str | None = None,
        compliant: bool = True,
        non_compliance: list[dict[str, Any]] | None = None,
        posture: str = "SECURE",
    ) -> int | None:
        """The phone reports its status (by default: the current version of its policy applied)."""
        with self.lock:
            device = self.devices[device_name]
            time.sleep(0.002)  # a report is always later than the one before
            device["appliedPolicyVersion"] = applied_version or self.policies[device["policyName"]]["version"]
            device["appliedPolicyName"] = device["policyName"]
            device["policyCompliant"] = compliant
            device["nonComplianceDetails"] = non_compliance or []
            device["securityPosture"] = {"devicePosture": posture}
            device["lastStatusReportTime"] = _rfc3339(_now())
            snapshot = copy.deepcopy(device)
        return self._notify("STATUS_REPORT", snapshot)

    def run_commands(self, device_name: str) -> list[dict[str, Any]]:
        """The phone runs its pending operations; each done one is published (COMMAND)."""
        finished = []
        with self.lock:
            device = self.devices[device_name]
            for operation in self.operations.values():
                if not operation["name"].startswith(device_name + "/operations/") or operation["done"]:
                    continue
                kind = operation["metadata"]["type"]
                if kind == "WIPE" and device["ownership"] != "PERSONALLY_OWNED":
                    self.factory_resets.append({"device": device_name, "why": "WIPE of a company-owned phone"})
                if kind in ("WIPE", "RELINQUISH_OWNERSHIP"):
                    device["state"] = "DELETED"
                    device["appliedState"] = "DELETED"
                operation["done"] = True
                operation["response"] = {}
                finished.append(copy.deepcopy(operation))
        for operation in finished:
            self._notify("COMMAND", operation)
        return finished

    def redeliver(self, index: int) -> int | None:
        """Pub/Sub delivers at least once: send the index-th push again, byte for byte."""
        push = self.pushes[index]
        return self._post(push["body"], push["headers"])

    # --- Pub/Sub ----------------------------------------------------------------------------------

    def _notify(self, kind: str, data: dict[str, Any]) -> int | None:
        message_id = str(secrets.randbelow(10**16))
        published = _rfc3339(_now())
        envelope = {
            "message": {
                "attributes": {"notificationType": kind},
                "data": base64.b64encode(json.dumps(data).encode()).decode(),
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": published,
                "publish_time": published,
            },
            "subscription": f"projects/{self.project_id}/subscriptions/mdm-android-push",
        }
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.id_token()}"}
        if self.push_endpoint is None:
            self.pushes.append({"kind": kind, "body": body, "headers": headers, "status": None})
            return None
        status = self._post(body, headers)
        self.pushes.append({"kind": kind, "body": body, "headers": headers, "status": status})
        return status

    def _post(self, body: bytes, headers: dict[str, str]) -> int | None:
        if self.push_endpoint is None:
            return None
        request = urllib.request.Request(self.push_endpoint, data=body, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the test server)
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # --- HTTP -------------------------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
        routes = []
        for method_id, description in discovery.methods(self.doc).items():
            flat = description["flatPath"]
            pattern = re.escape("/" + flat)
            pattern = re.sub(r"\\\{[A-Za-z]+\\\}", r"[^/:]+", pattern)
            # The method's `path` names its path parameters: `v1/{+parent}/devices`.
            template = re.escape("/" + description["path"])
            template = re.sub(r"\\\{\\\+([A-Za-z]+)\\\}", r"(?P<\1>.+?)", template)
            template = re.sub(r"\\\{([A-Za-z]+)\\\}", r"(?P<\1>[^/]+)", template)
            extra = {"id": method_id, "_template": re.compile(f"^{template}$")}
            routes.append((description["httpMethod"], re.compile(f"^{pattern}$"), description | extra))
        return routes

    def _dispatch(self, verb: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        if verb == "POST" and path == "/token":
            return self._token(body)
        if verb == "GET" and path == "/oauth2/v1/certs":
            return 200, {"Content-Type": "application/json"}, json.dumps({self._google_kid: self._google_cert}).encode()
        if verb == "GET" and path.startswith("/signup/"):
            return self._signup_page(path.removeprefix("/signup/"))
        route = next((r for r in self.routes if r[0] == verb and r[1].match(path)), None)
        try:
            if route is None:
                raise ApiError(404, f"No method answers {verb} {path}.")
            description = route[2]
            if headers.get("Authorization", "").removeprefix("Bearer ") not in self._access_tokens:
                raise ApiError(401, "Request had invalid authentication credentials.")
            params = dict(query)
            matched = description["_template"].match(path)
            if matched is None:
                raise ApiError(404, f"No method answers {verb} {path}.")
            params.update({name: [value] for name, value in matched.groupdict().items()})
            payload = json.loads(body) if body else None
            with self.lock:
                self.requests.append({"method": description["id"], "params": params, "body": payload})
                failures = self._failures.get(description["id"])
                if failures:
                    status = failures.pop(0)
                    raise ApiError(status, f"The stand-in was told to answer {status}.")
            faults = discovery.validate_parameters(self.doc, description["id"], params)
            schema = discovery.request_schema(self.doc, description["id"])
            if schema and payload is not None:
                faults += discovery.validate(self.doc, schema, payload)
            elif payload not in (None, {}) and not schema:
                faults.append("(body): this method takes no body.")
            if faults:
                raise ApiError(400, f"Invalid JSON payload received. {faults[0]}", faults)
            handler = getattr(self, "_" + description["id"].removeprefix("androidmanagement.").replace(".", "_"), None)
            if handler is None:
                raise ApiError(501, f"The stand-in does not implement {description['id']}.")
            with self.lock:
                answer = handler({k: v[0] for k, v in params.items()}, payload or {})
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        except ApiError as exc:
            return exc.code, {"Content-Type": "application/json"}, json.dumps(exc.body()).encode()

    def _token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}

        def refuse(reason: str) -> tuple[int, dict[str, str], bytes]:
            error = {"error": "invalid_grant", "error_description": reason}
            return 400, {"Content-Type": "application/json"}, json.dumps(error).encode()

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return refuse("Unsupported grant type.")
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self._service_key.public_key(),
                algorithms=["RS256"],
                # google-auth addresses the grant to Google's token endpoint whatever the key's token_uri.
                audience=[GOOGLE_TOKEN_AUDIENCE, self.url + "token"],
                issuer=self.client_email,
                options={"require": ["iat", "exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return refuse(f"Invalid JWT Signature or claims: {exc}")
        if SCOPE not in str(claims.get("scope", "")).split():
            return refuse("The assertion does not ask for the Android Management scope.")
        if claims["exp"] - claims["iat"] > 3600:
            return refuse("The assertion lives longer than an hour.")
        token = "ya29.stand-in-" + secrets.token_urlsafe(24)
        with self.lock:
            self._access_tokens.add(token)
        answer = {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _signup_page(self, signup_id: str) -> tuple[int, dict[str, str], bytes]:
        """The admin has signed up at Google: back to the callback, with the enterprise token."""
        signup = self.signups.get(f"signupUrls/{signup_id}")
        if signup is None:
            return 404, {"Content-Type": "text/plain"}, b"No such signup."
        callback = signup["callbackUrl"]
        separator = "&" if "?" in callback else "?"
        location = callback + separator + urlencode({"enterpriseToken": signup["enterpriseToken"]})
        return 302, {"Location": location}, b""

    # --- Resources (one method each, named after its id) -------------------------------------------

    def _owned(self, store: dict[str, Any], name: str, what: str) -> dict[str, Any]:
        if name not in store:
            raise ApiError(404, f"Requested entity was not found: {what} {name}.")
        return store[name]

    def _signupUrls_create(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if params.get("projectId") != self.project_id:
            raise ApiError(403, "The caller does not have permission on this project.")
        if not params.get("callbackUrl", "").startswith(("http://", "https://")):
            raise ApiError(400, "callbackUrl must be an http(s) URL.", ["callbackUrl: not a URL"])
        signup_id = "C" + secrets.token_hex(8)
        name = f"signupUrls/{signup_id}"
        self.signups[name] = {
            "callbackUrl": params["callbackUrl"],
            "enterpriseToken": "EAH" + secrets.token_urlsafe(16),
        }
        return {"name": name, "url": f"{self.url}signup/{signup_id}"}

    def _enterprises_create(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        signup = self.signups.get(params.get("signupUrlName", ""))
        if params.get("projectId") != self.project_id:
            raise ApiError(403, "The caller does not have permission on this project.")
        if signup is None or signup.get("used") or signup["enterpriseToken"] != params.get("enterpriseToken"):
            raise ApiError(400, "Invalid signupUrlName or enterpriseToken.", ["enterpriseToken: invalid"])
        signup["used"] = "yes"
        name = "enterprises/LC" + secrets.token_hex(5)
        enterprise = {**body, "name": name}
        self.enterprises[name] = enterprise
        return enterprise

    def _enterprises_get(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self.enterprises, params["name"], "enterprise")

    def _enterprises_delete(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        self._owned(self.enterprises, name, "enterprise")
        for device_name, device in list(self.devices.items()):
            if device_name.startswith(name + "/"):
                if device["state"] != "DELETED":
                    self.factory_resets.append({"device": device_name, "why": "enterprise deleted with its devices"})
                del self.devices[device_name]
        for store in (self.policies, self.tokens, self.operations):
            for key in [k for k in store if k.startswith(name + "/")]:
                del store[key]
        del self.enterprises[name]
        return {}

    def _enterprise_of(self, name: str) -> str:
        enterprise = "/".join(name.split("/")[:2])
        self._owned(self.enterprises, enterprise, "enterprise")
        return enterprise

    def _enterprises_policies_patch(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        self._enterprise_of(name)
        previous = self.policies.get(name, {})
        if params.get("updateMask"):
            policy = copy.deepcopy(previous)
            for field in params["updateMask"].split(","):
                if field in body:
                    policy[field] = body[field]
                else:
                    policy.pop(field, None)
        else:
            policy = {k: v for k, v in body.items() if k not in ("name", "version")}
        policy["name"] = name
        policy["version"] = str(int(previous.get("version", "0")) + 1)
        self.policies[name] = policy
        return policy

    def _enterprises_policies_get(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self.policies, params["name"], "policy")

    def _enterprises_policies_delete(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._owned(self.policies, params["name"], "policy")
        if any(d["policyName"] == params["name"] and d["state"] != "DELETED" for d in self.devices.values()):
            raise ApiError(400, "The policy is applied to devices.", ["name: in use"])
        del self.policies[params["name"]]
        return {}

    def _enterprises_policies_list(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._page(
            [p for n, p in self.policies.items() if n.startswith(params["parent"] + "/")], params, "policies"
        )

    def _enterprises_enrollmentTokens_create(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        enterprise = self._enterprise_of(params["parent"])
        policy = body.get("policyName", "")
        policy = policy if policy.startswith("enterprises/") else f"{enterprise}/policies/{policy}"
        if policy not in self.policies:
            raise ApiError(400, f"Policy {policy} does not exist.", ["policyName: no such policy"])
        duration = float(str(body.get("duration", "3600s")).rstrip("s"))
        if not duration >= 60:
            raise ApiError(400, "duration must be at least 1 minute.", ["duration: too short"])
        value = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(20))
        name = f"{enterprise}/enrollmentTokens/{secrets.token_urlsafe(12)}"
        extras = {"com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN": value}
        qr = {
            "android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME": (
                "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver"
            ),
            "android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM": (
                "I5YvS0O5hXY46mb01BlRjq4oJJGs2kuUcHvVkAPEXlg"
            ),
            "android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION": (
                "https://play.google.com/managed/downloadManagingApp?identifier=setup"
            ),
            "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE": extras,
        }
        token = {
            **{k: v for k, v in body.items() if k not in ("name", "value", "qrCode", "expirationTimestamp")},
            "name": name,
            "value": value,
            "policyName": policy,
            "qrCode": json.dumps(qr),
            "expirationTimestamp": _rfc3339(_now() + dt.timedelta(seconds=duration)),
        }
        self.tokens[name] = token
        return token

    def _enterprises_enrollmentTokens_get(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self.tokens, params["name"], "enrollment token")

    def _enterprises_enrollmentTokens_delete(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._owned(self.tokens, params["name"], "enrollment token")
        del self.tokens[params["name"]]
        return {}

    def _enterprises_enrollmentTokens_list(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        tokens = [t for n, t in self.tokens.items() if n.startswith(params["parent"] + "/")]
        return self._page(tokens, params, "enrollmentTokens")

    def _page(self, items: list[dict[str, Any]], params: dict[str, str], key: str) -> dict[str, Any]:
        size = int(params.get("pageSize") or 100)
        start = int(params.get("pageToken") or 0)
        page: dict[str, Any] = {key: [copy.deepcopy(i) for i in items[start : start + size]]}
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        return page

    def _enterprises_devices_list(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._enterprise_of(params["parent"])
        devices = [d for n, d in sorted(self.devices.items()) if n.startswith(params["parent"] + "/")]
        return self._page(devices, params, "devices")

    def _enterprises_devices_get(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self.devices, params["name"], "device")

    def _enterprises_devices_patch(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        device = self._owned(self.devices, params["name"], "device")
        for field in (params.get("updateMask") or ",".join(body)).split(","):
            if field == "policyName":
                policy = body.get("policyName", "")
                if policy not in self.policies:
                    raise ApiError(400, f"Policy {policy} does not exist.", ["policyName: no such policy"])
            if field in body:
                device[field] = body[field]
        return device

    def _enterprises_devices_delete(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        device = self._owned(self.devices, params["name"], "device")
        if device["ownership"] != "PERSONALLY_OWNED":
            self.factory_resets.append({"device": params["name"], "why": "devices.delete of a company-owned phone"})
        device["state"] = "DELETED"
        return {}

    def _enterprises_devices_issueCommand(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        device = self._owned(self.devices, params["name"], "device")
        if device["state"] == "DELETED":
            raise ApiError(404, f"Requested entity was not found: device {params['name']}.")
        if body.get("type") == "RELINQUISH_OWNERSHIP" and device["ownership"] != "COMPANY_OWNED":
            raise ApiError(400, "RELINQUISH_OWNERSHIP is only for company-owned devices.", ["type: not allowed"])
        name = f"{params['name']}/operations/{secrets.randbelow(10**12)}"
        metadata = {"@type": COMMAND_TYPE, **body, "createTime": _rfc3339(_now())}
        operation = {"name": name, "done": False, "metadata": metadata}
        self.operations[name] = operation
        return operation

    def _enterprises_devices_operations_get(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return self._owned(self.operations, params["name"], "operation")

    def _enterprises_devices_operations_list(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        prefix = params["name"].removesuffix("/operations") + "/operations/"
        return self._page([o for n, o in self.operations.items() if n.startswith(prefix)], params, "operations")

    def _enterprises_devices_operations_cancel(self, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        operation = self._owned(self.operations, params["name"], "operation")
        if not operation["done"]:
            operation.update(done=True, error={"code": 1, "message": "Cancelled."})
        return {}
