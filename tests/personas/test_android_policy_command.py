"""`manage.py android_policy PERSONA --org ORG`: the AMAPI policy a persona compiles to."""

import io
import json
import socket

import pytest
from django.core.management import CommandError, call_command

from mdm.actors import SYSTEM
from personas.android import compile_android_policy
from personas.models import Persona
from personas.services import persona_create, spec_of


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("android_policy", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def strict(actors):
    return persona_create(organization=actors.org, name="Sales", preset="byod-strict", actor=SYSTEM)


def test_it_prints_the_policy_by_persona_name_and_org_slug_and_the_unenforced_settings_on_stderr(actors, strict):
    out, err = run("sales", "--org", actors.org.slug)
    policy = json.loads(out)
    assert policy == compile_android_policy(spec_of(strict)).policy
    assert out.strip() == json.dumps(policy, indent=2, sort_keys=True)
    assert policy["minimumApiLevel"] == 33  # byod-strict: Android 13
    assert "Not enforced on Android work profiles" in err
    assert "data_sharing.clipboard.max_chars: Android cannot limit how much text" in err
    assert "{" not in err  # the JSON goes to stdout only


def test_it_finds_the_persona_by_id_and_the_org_by_name_or_id(actors, strict):
    by_name, _ = run(str(strict.pk), "--org", actors.org.name)
    by_id, _ = run("Sales", "--org", str(actors.org.pk))
    assert json.loads(by_name) == json.loads(by_id)


def test_it_works_with_no_google_setting_at_all_and_without_the_network(actors, settings, monkeypatch):
    for name in [n for n in dir(settings) if "GOOGLE" in n or "ANDROID" in n or "AMAPI" in n]:
        delattr(settings, name)

    def no_network(*args, **kwargs):
        raise AssertionError("android_policy reached for the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    default = Persona.objects.get(organization=actors.org, is_default=True)
    out, _ = run(default.name, "--org", actors.org.slug)
    assert json.loads(out)["passwordPolicies"][0]["passwordScope"] == "SCOPE_PROFILE"


def test_an_unknown_org_is_a_clear_error(actors, strict):
    with pytest.raises(CommandError, match="No organization 'nope'"):
        run("Sales", "--org", "nope")


def test_a_persona_of_another_org_is_not_found(actors, strict):
    with pytest.raises(CommandError, match="No persona 'Sales' in"):
        run("Sales", "--org", actors.other_org.slug)
    with pytest.raises(CommandError, match="No persona"):
        run(str(strict.pk), "--org", actors.other_org.slug)


def test_an_unknown_persona_is_a_clear_error(actors):
    with pytest.raises(CommandError, match="No persona 'Nobody'"):
        run("Nobody", "--org", actors.org.slug)
