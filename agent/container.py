"""The two sides of the device, as folders of the state folder.

personal/          the employee's own files: plain, never encrypted, never read or written by
                   anything the organization controls (no command reaches it)
corporate/         the work persona: every file encrypted at rest with the container's data
                   key (AES-256-GCM, the file's name as associated data), app records too
container.json     the container's state (active | locked | wiped) and which key it uses
keys/container.key the data key (on a real device: the OS keystore)
"""

from __future__ import annotations

import builtins
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.state import StateFolder, atomic_write
from agent.transport import AgentError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")
APPS_RECORD = ".apps"


class ContainerError(AgentError):
    pass


def _check_name(name: str) -> str:
    if not NAME.match(name) or name in (".", "..") or name.startswith(APPS_RECORD):
        raise ContainerError(f"{name!r} is not a valid file name.")
    return name


class Container:
    def __init__(self, state: StateFolder):
        self.state = state
        self.personal = state.root / "personal"
        self.corporate = state.root / "corporate"
        self.key_path = state.keys_dir / "container.key"

    # --- state ---------------------------------------------------------------------------------

    @property
    def meta(self) -> dict:
        return self.state.read("container.json") or {"state": "none"}

    def _set_meta(self, **changes: Any) -> None:
        meta = self.meta
        meta.update(changes)
        self.state.write("container.json", meta)

    @property
    def status(self) -> str:
        return self.meta["state"]

    def _key(self) -> bytes:
        if self.status == "locked":
            raise ContainerError("The work profile is locked by your organization.")
        if self.status != "active" or not self.key_path.exists():
            raise ContainerError("The work profile is not set up (no policy or key applied yet).")
        return self.key_path.read_bytes()

    # --- encryption ------------------------------------------------------------------------------

    @staticmethod
    def _seal(key: bytes, name: str, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(key).encrypt(nonce, data, f"mdm-container|{name}".encode())

    @staticmethod
    def _open(key: bytes, name: str, blob: bytes) -> bytes:
        try:
            return AESGCM(key).decrypt(blob[:12], blob[12:], f"mdm-container|{name}".encode())
        except InvalidTag as exc:
            raise ContainerError(f"{name} does not decrypt with the container key.") from exc

    def install_key(self, key: bytes, *, key_id: str, version: int) -> None:
        """Take a (new) data key: a container under an older key is re-encrypted file by file."""
        old = self.key_path.read_bytes() if self.key_path.exists() and self.status in ("active", "locked") else None
        if old is not None and old != key:
            for path in sorted(self.corporate.glob("*")):
                data = self._open(old, path.name, path.read_bytes())
                atomic_write(path, self._seal(key, path.name, data))
        atomic_write(self.key_path, key)
        state = self.status if self.status in ("active", "locked") else "active"
        self.corporate.mkdir(parents=True, exist_ok=True)
        self._set_meta(state=state, key_id=key_id, key_version=version)

    # --- files -----------------------------------------------------------------------------------

    def put(self, side: str, name: str, data: bytes) -> Path:
        name = _check_name(name)
        if side == "personal":
            self.personal.mkdir(parents=True, exist_ok=True)
            path = self.personal / name
            atomic_write(path, data, mode=0o644)
            return path
        key = self._key()
        path = self.corporate / name
        atomic_write(path, self._seal(key, name, data))
        return path

    def get(self, side: str, name: str) -> bytes:
        name = _check_name(name)
        if side == "personal":
            return (self.personal / name).read_bytes()
        path = self.corporate / name
        if not path.exists():
            raise ContainerError(f"No work file {name}.")
        return self._open(self._key(), name, path.read_bytes())

    def list(self, side: str) -> list[str]:
        folder = self.personal if side == "personal" else self.corporate
        return sorted(p.name for p in folder.glob("*") if not p.name.startswith(APPS_RECORD)) if folder.exists() else []

    # --- work apps -------------------------------------------------------------------------------

    # `builtins.list`: inside this class, `list` is the method above.
    def apps(self) -> builtins.list[dict[str, Any]]:
        path = self.corporate / APPS_RECORD
        if self.status != "active" or not path.exists():
            return []
        return json.loads(self._open(self._key(), APPS_RECORD, path.read_bytes()))

    def set_apps(self, apps: builtins.list[dict[str, Any]]) -> None:
        path = self.corporate / APPS_RECORD
        atomic_write(path, self._seal(self._key(), APPS_RECORD, json.dumps(apps).encode()))

    # --- lock, wipe ------------------------------------------------------------------------------

    def lock(self) -> None:
        if self.status == "active":
            self._set_meta(state="locked")

    def unlock(self) -> None:
        if self.status == "locked":
            self._set_meta(state="active")

    def wipe(self) -> None:
        """Erase every corporate file, app record and key. The personal folder is not touched."""
        if self.corporate.exists():
            shutil.rmtree(self.corporate)
        self.key_path.unlink(missing_ok=True)
        self.state.remove("policy.json")
        self._set_meta(state="wiped", key_id=None, key_version=None)
