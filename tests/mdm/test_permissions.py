"""The role table of the admin API spec, as one helper enforces it everywhere."""

import pytest

from mdm.choices import Role
from mdm.permissions import Perm, role_can

SPEC = {
    # owner: everything, members, the Android Enterprise connection and the identity provider included
    Role.OWNER: set(Perm),
    # admin: personas, tokens, devices, wipe, event destinations
    Role.ADMIN: set(Perm) - {Perm.MEMBERS_MANAGE, Perm.ANDROID_ENTERPRISE_MANAGE, Perm.DIRECTORY_MANAGE},
    # helpdesk: read devices, lock/unlock, issue enrollment tokens; no wipe, no persona edits
    Role.HELPDESK: {
        Perm.ORG_VIEW,
        Perm.PERSONAS_VIEW,
        Perm.ENROLLMENT_TOKENS_VIEW,
        Perm.ENROLLMENT_TOKENS_MANAGE,
        Perm.DEVICES_VIEW,
        Perm.DEVICES_LOCK,
        Perm.PUSHES_VIEW,
    },
    # auditor: read-only, audit log included
    Role.AUDITOR: {
        Perm.ORG_VIEW,
        Perm.PERSONAS_VIEW,
        Perm.ENROLLMENT_TOKENS_VIEW,
        Perm.DEVICES_VIEW,
        Perm.PUSHES_VIEW,
        Perm.AUDIT_VIEW,
    },
    # employee: the self-service portal only; nothing in the console or the admin API
    Role.EMPLOYEE: set(),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("perm", list(Perm))
def test_each_role_holds_exactly_the_rights_the_spec_gives_it(role, perm):
    assert role_can(role, perm) == (perm in SPEC[role])


def test_an_unknown_role_holds_nothing():
    assert not any(role_can("employee", perm) for perm in Perm)


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("admin", 200), ("auditor", 200), ("helpdesk", 403)])
def test_the_audit_log_api_follows_the_roles(actors, who, status):
    assert actors.api(getattr(actors, who)).get("/api/v1/audit-events/").status_code == status


def test_an_employee_without_a_console_role_gets_no_admin_api(client, actors):
    client.force_login(actors.employee)
    response = client.get("/api/v1/audit-events/")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
