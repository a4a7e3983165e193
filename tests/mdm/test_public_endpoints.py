from mdm.celery import app as celery_app


def test_healthz_answers_without_touching_anything(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_is_503_when_the_broker_is_unreachable(client, db):
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    try:
        response = client.get("/readyz")
    finally:
        celery_app.conf.broker_url = saved
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unreachable"


def test_the_openapi_schema_and_docs_are_served_without_a_cdn(client, db):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/audit-events/" in paths and "/api/v1/api-tokens/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html


def test_the_schema_documents_every_agent_and_admin_endpoint_without_warnings(client, db, tmp_path):
    from django.core.management import call_command

    # --fail-on-warn: an endpoint the generator cannot describe fails the build.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in (
        "/api/v1/agent/enroll",
        "/api/v1/agent/token",
        "/api/v1/agent/checkin",
        "/api/v1/agent/unenroll",
        "/api/v1/enrollment-tokens/",
        "/api/v1/enrollment-tokens/{id}/qr.svg",
        "/api/v1/devices/",
        "/api/v1/devices/{id}/",
    ):
        assert path in paths, path
    assert paths["/api/v1/agent/checkin"]["post"]["security"] == [{"deviceAccessToken": []}]
    assert "security" not in paths["/api/v1/agent/enroll"]["post"]  # enrollment takes no credentials
