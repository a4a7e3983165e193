"""The stand-in of Google's Android Management API, driven by Google's real client library (and by
the server's own client module) over real HTTP: what the end-to-end tests rely on."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import google.auth.transport.requests
import pytest
from google.oauth2 import id_token, service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from devices.android import client

SCOPES = ["https://www.googleapis.com/auth/androidmanagement"]


def service(amapi, info=None):
    credentials = service_account.Credentials.from_service_account_info(
        info or amapi.service_account_info(), scopes=SCOPES
    )
    return build(
        "androidmanagement",
        "v1",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": amapi.url},
    )


def enterprise(amapi, api) -> str:
    signup = api.signupUrls().create(projectId=amapi.project_id, callbackUrl="https://mdm.test/cb").execute()
    with urllib.request.build_opener(_NoRedirect).open(signup["url"]) as answer:
        location = answer.headers["Location"]
    token = parse_qs(urlsplit(location).query)["enterpriseToken"][0]
    created = (
        api.enterprises()
        .create(
            projectId=amapi.project_id,
            signupUrlName=signup["name"],
            enterpriseToken=token,
            body={"enterpriseDisplayName": "Acme"},
        )
        .execute()
    )
    return created["name"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def http_error_302(self, req, fp, code, msg, headers):
        return fp


def test_the_signup_flow_creates_an_enterprise_once(amapi):
    api = service(amapi)
    name = enterprise(amapi, api)
    assert name.startswith("enterprises/LC")
    assert api.enterprises().get(name=name).execute()["enterpriseDisplayName"] == "Acme"
    signup = amapi.calls("androidmanagement.enterprises.create")[-1]["params"]["signupUrlName"][0]
    with pytest.raises(HttpError) as refused:  # the same signup twice
        api.enterprises().create(
            projectId=amapi.project_id, signupUrlName=signup, enterpriseToken="x", body={}
        ).execute()
    assert refused.value.resp.status == 400


def test_every_body_is_validated_against_the_discovery_document(amapi):
    api = service(amapi)
    name = enterprise(amapi, api)
    policy = f"{name}/policies/p1"
    assert (
        api.enterprises().policies().patch(name=policy, body={"screenCaptureDisabled": True}).execute()["version"]
        == "1"
    )
    assert (
        api.enterprises().policies().patch(name=policy, body={"screenCaptureDisabled": False}).execute()["version"]
        == "2"
    )
    for body, field in (
        ({"screenCaptureDisabld": True}, "screenCaptureDisabld"),
        ({"playStoreMode": "SOMETIMES"}, "playStoreMode"),
    ):
        with pytest.raises(HttpError) as refused:
            api.enterprises().policies().patch(name=policy, body=body).execute()
        assert refused.value.resp.status == 400
        assert field in json.loads(refused.value.content)["error"]["message"]
    assert api.enterprises().policies().get(name=policy).execute()["version"] == "2"


def test_a_bad_service_account_key_gets_no_token_and_no_token_gets_no_answer(amapi):
    from google.auth.exceptions import RefreshError

    info = amapi.service_account_info()
    other = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    del other
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = wrong.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(RefreshError):
        service(amapi, info).enterprises().get(name="enterprises/LCx").execute()
    request = urllib.request.Request(amapi.url + "v1/enterprises/LCx")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)  # noqa: S310
    assert refused.value.code == 401


def test_tokens_phones_pushes_commands_and_paging(amapi):
    api = service(amapi)
    name = enterprise(amapi, api)
    api.enterprises().policies().patch(name=f"{name}/policies/p1", body={}).execute()
    with pytest.raises(HttpError):
        api.enterprises().enrollmentTokens().create(parent=name, body={"policyName": f"{name}/policies/none"}).execute()
    token = (
        api.enterprises()
        .enrollmentTokens()
        .create(parent=name, body={"policyName": f"{name}/policies/p1", "oneTimeOnly": True, "additionalData": "x"})
        .execute()
    )
    assert token["value"] in token["qrCode"]

    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            claims = id_token.verify_token(
                self.headers["Authorization"].removeprefix("Bearer "),
                google.auth.transport.requests.Request(),
                audience="http://receiver.test/push",
                certs_url=amapi.url + "oauth2/v1/certs",
            )
            received.append({"claims": claims, "body": json.loads(body)})
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        amapi.push_endpoint = f"http://127.0.0.1:{receiver.server_address[1]}/push"
        amapi.push_audience = "http://receiver.test/push"
        phone = amapi.enroll_phone(token["value"])
        with pytest.raises(ValueError, match="one-time"):
            amapi.enroll_phone(token["value"])
        assert received[-1]["claims"]["email"] == amapi.push_email
        message = received[-1]["body"]["message"]
        assert message["attributes"] == {"notificationType": "ENROLLMENT"}
        assert json.loads(__import__("base64").b64decode(message["data"]))["name"] == phone["name"]
        operation = api.enterprises().devices().issueCommand(name=phone["name"], body={"type": "LOCK"}).execute()
        assert operation["done"] is False and operation["metadata"]["type"] == "LOCK"
        amapi.run_commands(phone["name"])
        assert received[-1]["body"]["message"]["attributes"]["notificationType"] == "COMMAND"
        assert api.enterprises().devices().operations().get(name=operation["name"]).execute()["done"] is True
        assert amapi.redeliver(-1) == 204 and received[-1]["body"] == received[-2]["body"]
        many = (
            api.enterprises()
            .enrollmentTokens()
            .create(parent=name, body={"policyName": f"{name}/policies/p1"})
            .execute()
        )
        for _ in range(4):
            amapi.enroll_phone(many["value"])
        first = api.enterprises().devices().list(parent=name, pageSize=2).execute()
        rest = api.enterprises().devices().list(parent=name, pageSize=2, pageToken=first["nextPageToken"]).execute()
        last = api.enterprises().devices().list(parent=name, pageSize=2, pageToken=rest["nextPageToken"]).execute()
        assert len(first["devices"]) + len(rest["devices"]) + len(last["devices"]) == 5 and "nextPageToken" not in last
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert amapi.factory_resets == []


def test_fail_next_answers_googles_errors_and_the_servers_client_classifies_them(google):
    google.fail_next("androidmanagement.signupUrls.create", status=503, times=1)
    signup = client.signup_url_create(callback_url="https://mdm.test/cb")  # retried at once, then fine
    assert signup["name"].startswith("signupUrls/")
    google.fail_next("androidmanagement.signupUrls.create", status=429, times=3)
    with pytest.raises(client.GoogleError) as busy:
        client.signup_url_create(callback_url="https://mdm.test/cb")
    assert busy.value.retryable and busy.value.status == 429 and busy.value.reason == "RESOURCE_EXHAUSTED"
    with pytest.raises(client.GoogleError) as refused:
        client.policy_patch(enterprise="enterprises/LCnone", persona_id="p", policy={})
    assert refused.value.status == 404 and not refused.value.retryable


def test_a_wipe_of_a_company_owned_phone_is_recorded_as_a_factory_reset(amapi):
    """The stand-in's own alarm works: what the server must never send is caught."""
    api = service(amapi)
    name = enterprise(amapi, api)
    api.enterprises().policies().patch(name=f"{name}/policies/p1", body={}).execute()
    token = (
        api.enterprises().enrollmentTokens().create(parent=name, body={"policyName": f"{name}/policies/p1"}).execute()
    )
    phone = amapi.enroll_phone(token["value"], ownership="COMPANY_OWNED")
    api.enterprises().devices().issueCommand(name=phone["name"], body={"type": "WIPE"}).execute()
    amapi.run_commands(phone["name"])
    assert amapi.factory_resets == [{"device": phone["name"], "why": "WIPE of a company-owned phone"}]
