"""Who acts: a member (in the console, the portal or the admin API), one of their API tokens, a
device on its own behalf, an identity provider through its SCIM token, or the system (a beat
task, a command-line operator).

An `Actor` is what every state-changing service takes and what the audit log records. Two
actors are the same when their kind and id are (their labels are only for people to read); the
person behind an actor, if any, is `user`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django.db import models

if TYPE_CHECKING:  # annotations only: this module is importable before the app registry is ready
    from mdm.models import ApiToken, User


class ActorKind(models.TextChoices):
    USER = "user", "Member"
    API_TOKEN = "api_token", "API token"
    DEVICE = "device", "Device"
    SCIM_TOKEN = "scim_token", "SCIM token"
    SYSTEM = "system", "System"


class _NamedDevice(Protocol):
    @property
    def pk(self) -> object: ...

    name: str


class _ScimToken(Protocol):
    @property
    def pk(self) -> object: ...

    prefix: str


@dataclass(frozen=True, eq=False)
class Actor:
    kind: ActorKind
    id: str
    label: str
    user: User | None = field(default=None, repr=False)

    @classmethod
    def member(cls, user: User, *, via: str = "") -> Actor:
        """A member acting in the console (or, `via="portal"`, in the self-service portal)."""
        label = f"{user.email} ({via})" if via else user.email
        return cls(ActorKind.USER, str(user.pk), label, user)

    @classmethod
    def api_token(cls, token: ApiToken) -> Actor:
        """A member acting through one of their API tokens."""
        return cls(ActorKind.API_TOKEN, str(token.pk), f"{token.user.email} (token {token.prefix})", token.user)

    @classmethod
    def device(cls, device: _NamedDevice) -> Actor:
        """A device acting on its own behalf (enrolling, reporting a result, unenrolling)."""
        return cls(ActorKind.DEVICE, str(device.pk), device.name)

    @classmethod
    def scim_token(cls, token: _ScimToken) -> Actor:
        """An identity provider provisioning the organization through one of its SCIM tokens."""
        return cls(ActorKind.SCIM_TOKEN, str(token.pk), f"SCIM token {token.prefix}")

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """The server itself: a beat task or an operator at the command line. Its id is its label."""
        return cls(ActorKind.SYSTEM, "", label)

    @property
    def _identity(self) -> tuple[str, str]:
        return (self.kind, self.id or self.label)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Actor) and self._identity == other._identity

    def __hash__(self) -> int:
        return hash(self._identity)

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.user.pk if self.user is not None else None

    def is_same_person(self, user_id: uuid.UUID | None) -> bool:
        """Whether a person (a user id, None for nobody) is the one behind this actor."""
        return user_id is not None and self.user_id == user_id


SYSTEM = Actor.system()
