"""Configuration comes from the environment; production refuses to start on unsafe defaults.

Each case starts `manage.py` in a fresh process, as a deployment would."""

import base64
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG_VARS = {
    "MDM_MODE", "SECRET_KEY", "SECRET_KEY_FILE", "MDM_KEK", "MDM_KEK_FILE", "MDM_KEK_PREVIOUS", "ALLOWED_HOSTS",
    "MDM_ISSUER", "DATABASE_URL", "REDIS_URL", "DEBUG", "MDM_VAR_DIR",
}  # fmt: skip


def manage(*args, env: dict[str, str], tmp_path: Path):
    base = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    base["MDM_VAR_DIR"] = str(tmp_path / "var")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "MDM_MODE": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "MDM_KEK": base64.b64encode(os.urandom(32)).decode(),
    "ALLOWED_HOSTS": "mdm.example.com",
    "MDM_ISSUER": "https://mdm.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/mdm",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


def test_production_refuses_to_start_without_real_values(tmp_path):
    result = manage("check", env={"MDM_MODE": "production"}, tmp_path=tmp_path)
    assert result.returncode != 0
    for name in ("SECRET_KEY", "MDM_KEK", "ALLOWED_HOSTS", "MDM_ISSUER", "DATABASE_URL", "REDIS_URL"):
        assert name in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()


def test_check_deploy_passes_in_production_mode(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": "short"}, "at least 50"),
        ({"MDM_KEK": "bm90IDMyIGJ5dGVz"}, "exactly 32 bytes"),
        ({"MDM_KEK": "%%%"}, "not valid base64"),
        ({"MDM_ISSUER": "http://mdm.example.com"}, "https://"),
        ({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "PostgreSQL"),
        ({"DEBUG": "1"}, "DEBUG"),
    ],
)
def test_production_refuses_unsafe_values(tmp_path, override, message):
    result = manage("check", env={**PRODUCTION, **override}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_secrets_can_come_from_files_and_a_missing_file_stops_the_server(tmp_path):
    (tmp_path / "kek").write_text(PRODUCTION["MDM_KEK"] + "\n")
    env = {**PRODUCTION, "MDM_KEK": "", "MDM_KEK_FILE": str(tmp_path / "kek")}
    assert manage("check", env=env, tmp_path=tmp_path).returncode == 0
    env["MDM_KEK_FILE"] = str(tmp_path / "missing")
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "MDM_KEK_FILE" in result.stderr and "cannot be read" in result.stderr


def test_development_generates_a_secret_key_and_a_kek_once_and_keeps_them(tmp_path):
    assert manage("check", env={}, tmp_path=tmp_path).returncode == 0
    var = tmp_path / "var"
    key, kek = (var / "secret_key").read_text(), (var / "kek").read_text()
    assert len(base64.b64decode(kek)) == 32
    for path in (var / "secret_key", var / "kek"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert manage("check", env={}, tmp_path=tmp_path).returncode == 0
    assert (var / "secret_key").read_text() == key and (var / "kek").read_text() == kek
