"""A small, real OpenID Connect provider for the tests (authorization code flow, RS256 ID
tokens, userinfo, JWKS), serving on localhost. It signs in whoever `user_email` names, as a
provider would after its own login page; their `sub` is `subject` (by default the address)."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Provider:
    def __init__(self, client_id: str = "mdm-portal", client_secret: str = "s3cret"):  # noqa: S107
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key"
        self.user_email = ""
        self.subject: str | None = None  # the `sub` claim; None: the e-mail address
        self.userinfo_subject: str | None = None  # a userinfo `sub` other than the ID token's, to test that check
        self.email_verified: bool | str | None = True
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def settings_env(self) -> dict[str, str]:
        return {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
            "OIDC_OP_ISSUER": self.url,
        }

    def start(self) -> Provider:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/authorize":
                    if query.get("client_id") != provider.client_id or query.get("response_type") != "code":
                        return self._json({"error": "invalid_request"}, 400)
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {"nonce": query.get("nonce"), "redirect_uri": query["redirect_uri"]}
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                elif url.path == "/jwks":
                    numbers = provider.key.public_key().public_numbers()
                    jwk = {"kty": "RSA", "kid": provider.kid, "alg": "RS256", "use": "sig",
                           "n": _b64(numbers.n), "e": _b64(numbers.e)}  # fmt: skip
                    self._json({"keys": [jwk]})
                elif url.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    email = provider.tokens.get(token)
                    if email is None:
                        return self._json({"error": "invalid_token"}, 401)
                    sub = provider.userinfo_subject or provider.subject or email
                    self._json({"sub": sub, "email": email, "email_verified": provider.email_verified})
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                grant = provider.codes.pop(form.get("code", ""), None)
                secret_ok = form.get("client_secret") == provider.client_secret
                if urlsplit(self.path).path != "/token" or grant is None or not secret_ok:
                    return self._json({"error": "invalid_grant"}, 400)
                now = int(time.time())
                sub = provider.subject or provider.user_email
                claims = {"iss": provider.url, "sub": sub, "aud": provider.client_id, "iat": now,
                          "exp": now + 300, "nonce": grant["nonce"], "email": provider.user_email,
                          "email_verified": provider.email_verified}  # fmt: skip
                id_token = jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": provider.kid})
                access_token = secrets.token_urlsafe(16)
                provider.tokens[access_token] = provider.user_email
                self._json({"access_token": access_token, "token_type": "Bearer", "id_token": id_token,
                            "expires_in": 300})  # fmt: skip

        return Handler
