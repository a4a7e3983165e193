"""Shared test actors (Healthchecks-style): an owner, an admin, a helpdesk member, an auditor,
an employee without a console role, and an outsider who owns another organization and must see
nothing of the first. All are made through the real services."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from rest_framework.test import APIClient

from mdm.actors import SYSTEM
from mdm.choices import Role
from mdm.models import Membership, Organization, User
from mdm.services import api_token_create, bootstrap, membership_add
from tests.agents import agent_factory, enrolled, issue_token  # noqa: F401  (shared fixtures)
from tests.amapi.fixtures import amapi, google  # noqa: F401  (shared fixtures)
from tests.live import celery_worker, live_mdm  # noqa: F401  (shared fixtures)

PASSWORD = "correct horse battery staple"


@dataclass
class Actors:
    org: Organization
    other_org: Organization
    owner: User
    admin: User
    helpdesk: User
    auditor: User
    employee: User
    outsider: User

    def membership(self, user: User, org: Organization | None = None) -> Membership:
        """The user's membership in `org`, or in their first organization."""
        memberships = Membership.objects.filter(user=user).order_by("organization__name")
        return memberships.get(organization=org) if org else memberships[0]

    def token(self, user: User, org: Organization | None = None) -> str:
        return api_token_create(membership=self.membership(user, org), name="test", actor=SYSTEM).token

    def api(self, user: User | None, org: Organization | None = None) -> APIClient:
        """An API client acting as `user` through an API token (anonymous when None)."""
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token(user, org)}")
        return client


def make_user(email: str) -> User:
    return User.objects.create_user(email=email, password=PASSWORD)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters, cached device states and JWKS must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Production's PBKDF2 costs ~0.3 s a password by design; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def actors(db) -> Actors:
    acme = bootstrap(org_name="Acme", email="alice@acme.test", password=PASSWORD)
    other = bootstrap(org_name="Globex", email="oscar@globex.test", password=PASSWORD)
    members = {}
    for role, email in [
        (Role.ADMIN, "bob@acme.test"),
        (Role.HELPDESK, "charlie@acme.test"),
        (Role.AUDITOR, "dana@acme.test"),
    ]:
        members[role] = make_user(email)
        membership_add(organization=acme.organization, user=members[role], role=role, actor=SYSTEM)
    return Actors(
        org=acme.organization,
        other_org=other.organization,
        owner=acme.user,
        admin=members[Role.ADMIN],
        helpdesk=members[Role.HELPDESK],
        auditor=members[Role.AUDITOR],
        employee=make_user("erin@acme.test"),
        outsider=other.user,
    )


@pytest.fixture
def raw_sql():
    """Run SQL straight on the database, as an attacker with database access would."""

    def run(sql: str, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    return run
