"""Every API error is problem+json (RFC 9457), never an HTML page or a stack trace."""

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:mdm:problem:{code}"
    assert body["title"] and body["detail"]
    return body


def test_an_unknown_api_url_is_a_404_problem(client, db):
    assert_problem(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_an_unauthenticated_call_is_a_401_with_a_bearer_challenge(client, db):
    response = client.get("/api/v1/audit-events/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_bad_token_is_a_401(client, db):
    response = client.get("/api/v1/audit-events/", HTTP_AUTHORIZATION="Bearer mdmat_nope")
    assert_problem(response, 401, "invalid_token")


def test_a_wrong_method_is_a_405(actors):
    response = actors.api(actors.owner).put("/api/v1/audit-events/", {}, format="json")
    assert_problem(response, 405, "method_not_allowed")


def test_a_body_that_is_not_json_is_a_415(actors):
    response = actors.api(actors.owner).post("/api/v1/api-tokens/", "name=x", content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")


def test_malformed_json_is_a_400(actors):
    response = actors.api(actors.owner).post("/api/v1/api-tokens/", "{not json", content_type="application/json")
    assert_problem(response, 400, "invalid")


def test_an_invalid_field_is_a_400_with_field_errors(actors):
    response = actors.api(actors.owner).post("/api/v1/api-tokens/", {"name": ""}, format="json")
    body = assert_problem(response, 400, "invalid")
    assert "name" in body["errors"]


def test_a_body_over_64_kib_is_a_413(actors):
    response = actors.api(actors.owner).post(
        "/api/v1/api-tokens/", '{"name": "' + "x" * 70_000 + '"}', content_type="application/json"
    )
    assert_problem(response, 413, "too_large")


def test_a_bad_query_parameter_is_a_400(actors):
    response = actors.api(actors.owner).get("/api/v1/audit-events/?since=yesterday")
    body = assert_problem(response, 400, "invalid")
    assert "since" in body["errors"]


@pytest.mark.urls("tests.mdm.crash_urls")
@pytest.mark.parametrize("url", ["/api/v1/test-crash/", "/api/v1/test-crash-plain/"])
def test_a_crash_is_a_bare_500_problem(client, db, url, caplog):
    response = client.get(url)
    body = assert_problem(response, 500, "server_error")
    assert "secret" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["detail"] == "The server could not complete the request."
    # ...while the log has what an operator needs.
    assert "secret internal detail" in caplog.text
