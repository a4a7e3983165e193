"""Secrets from the environment, with `NAME_FILE` variants (Docker/Kubernetes secrets).

A `*_FILE` variable that points at a missing or unreadable file is an error, never a silent
fallback to a default: a typo in a deployment must stop the server, not weaken it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_secret(name: str, environ: os._Environ | dict | None = None) -> str | None:
    """The value of `name`, or the stripped contents of the file named by `name_FILE`."""
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    file_name = environ.get(f"{name}_FILE")
    if value and file_name:
        raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name} cannot be read: {exc.strerror}") from exc
    return value or None


def decode_kek(value: str, *, source: str) -> bytes:
    """Decode a base64 (standard or url-safe, padding optional) key-encryption key of 32 bytes."""
    cleaned = value.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{source} is not valid base64.") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{source} must be base64 of exactly 32 bytes (got {len(raw)}).")
    return raw


def generated_secret_file(path: Path, make_value: Callable[[], str]) -> str:
    """Read a development secret kept in `path`, creating it (mode 0600) on first use.

    Several processes (web, worker, beat) may start at once on a fresh checkout: the file is
    created with O_EXCL, and a loser of that race reads what the winner wrote.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            text = path.read_text(encoding="utf-8").strip()
            if text:
                return text
            time.sleep(0.02)
        raise ImproperlyConfigured(f"{path} exists but is empty; delete it to generate a new one.") from None
    value = make_value()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def new_secret_key() -> str:
    return secrets.token_urlsafe(64)


def new_kek() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")
