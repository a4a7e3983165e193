"""The agent's state folder.

    state.json        identity and what the server told us (device id, issuer, pinned keys...)
    keys/signing.key  the Ed25519 private key (raw 32 bytes, mode 0600): the device's identity
    keys/encryption.key  the X25519 private key (raw 32 bytes, mode 0600)
    token.json        the current access token and when it expires

Private keys never leave this folder. Every write goes to a temporary file first and is then
renamed over the old one, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class StateFolder:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    # --- JSON documents ---------------------------------------------------------------------

    def read(self, name: str) -> dict[str, Any] | None:
        path = self.root / name
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def write(self, name: str, document: dict[str, Any]) -> None:
        atomic_write(self.root / name, json.dumps(document, indent=2, sort_keys=True).encode())

    def remove(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    @property
    def identity(self) -> dict[str, Any] | None:
        return self.read("state.json")

    def update_identity(self, **changes: Any) -> dict[str, Any]:
        document = self.identity or {}
        document.update(changes)
        self.write("state.json", document)
        return document

    # --- Keys ---------------------------------------------------------------------------------

    def create_keys(self) -> None:
        """Generate the device's two key pairs (never sent anywhere)."""
        signing = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encryption = X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        atomic_write(self.keys_dir / "signing.key", signing)
        atomic_write(self.keys_dir / "encryption.key", encryption)

    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes((self.keys_dir / "signing.key").read_bytes())

    def encryption_key(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes((self.keys_dir / "encryption.key").read_bytes())

    def public_keys(self) -> tuple[bytes, bytes]:
        return (
            self.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            self.encryption_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        )
