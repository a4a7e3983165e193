"""No Docker engine runs here: docker-compose.yml is validated instead, and held to the very
commands that `make run` and the tests start (mdm/stack.py)."""

from pathlib import Path

import yaml

from mdm.stack import PROCESSES

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_stack_has_every_service_with_a_health_check():
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name


def test_web_worker_and_beat_run_the_same_commands_as_make_run():
    services = _compose()["services"]
    for name, argv in PROCESSES.items():
        assert services[name]["command"] == argv, name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["' + '", "'.join(PROCESSES["web"]) + '"]' in dockerfile


def test_the_server_processes_run_in_production_mode_after_migrations():
    compose = _compose()
    for name in ("web", "worker", "beat", "migrate"):
        service = compose["services"][name]
        assert service["environment"]["MDM_MODE"] == "production"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"].startswith("redis://")
        assert "mdm-var:/var/lib/mdm" in service["volumes"]
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert {"pgdata", "redisdata", "mdm-var"} <= set(compose["volumes"])


def test_secrets_must_be_given_not_defaulted():
    environment = _compose()["services"]["web"]["environment"]
    for name in ("SECRET_KEY", "MDM_KEK", "MDM_ISSUER", "ALLOWED_HOSTS"):
        assert environment[name].startswith("${" + name + ":?"), name
