"""The console shows what Android does not enforce: next to each setting, and on the persona's
Android policy page."""

import html
import json
import re

import pytest

from mdm.actors import SYSTEM
from personas.android import compile_android_policy
from personas.labels import field_label
from personas.models import Persona
from personas.services import persona_create, spec_of

NOTE = "not enforced on Android work profiles"


@pytest.fixture
def persona(actors):
    """A persona with something unenforced in every part of the editor."""
    changes = {
        "apps": [
            {"id": "com.acme.mail", "min_version": "3.1"},
            {"id": "com.acme-ios.chat"},
            {"id": "com.acme.docs", "min_version": "42"},
        ],
        "data_sharing": {
            "clipboard": {"max_chars": 500},
            "screen_capture": {
                "work_to_personal": "deny",
                "personal_to_work": "deny",
                "exemptions": {"work_to_personal": ["com.acme.mail"], "personal_to_work": []},
            },
        },
        "access": {"passcode": {"min_length": 8, "complexity": "medium"}, "min_os_version": {"android": "13.1"}},
        "enforcement": {"block_after_days": 3, "wipe_after_days": None},
    }
    return persona_create(organization=actors.org, name="Field", preset="byod-basic", changes=changes, actor=SYSTEM)


def notes_of(page: str) -> dict[str, str]:
    """The Android notes of the editor, by the id of the field they follow."""
    found = {}
    pattern = (
        r'id="([^"]+)"[^<]*>\s*(?:<span class="error"[^<]*</span>)*<small class="muted android-note" title="([^"]*)">'
    )
    for field, title in re.findall(pattern, page):
        found[field] = html.unescape(title)
    return found


def test_the_editor_says_next_to_each_setting_what_android_does_not_enforce(client, actors, persona):
    client.force_login(actors.admin)
    page = client.get(f"/console/personas/{persona.pk}/").content.decode()
    expected = {item.path: item.message for item in compile_android_policy(spec_of(persona)).unenforced}
    assert NOTE in page
    for path, message in expected.items():
        assert html.escape(message, quote=True) in page, path
    notes = notes_of(page)
    row = {app["id"]: index for index, app in enumerate(spec_of(persona)["apps"])}
    assert "version codes" in notes[f"app-{row['com.acme.mail']}-min"]
    assert "com.acme-ios.chat" in notes[f"app-{row['com.acme-ios.chat']}-id"]
    assert f"app-{row['com.acme.docs']}-min" not in notes  # a version code is enforced
    assert notes["data_sharing.clipboard.max_chars"] == expected["data_sharing.clipboard.max_chars"]
    assert "data_sharing.screen_capture.exemptions.work_to_personal" in notes
    assert "data_sharing.screen_capture.work_to_personal" not in notes  # Android blocks screenshots of work apps
    assert "access.passcode.min_length" in notes and "access.min_os_version.android" in notes
    # Both enforcement days are applied (the block by the device, the wipe by the server).
    assert "enforcement.block_after_days" not in notes and "encryption.rotate_after_days" in notes
    assert "access.max_offline_days" not in notes and "access.min_os_version.ios" not in notes
    assert "<script" not in page.split("</header>")[-1] and "style=" not in page


def test_an_invalid_post_shows_its_errors_and_no_stale_android_notes(client, actors, persona):
    client.force_login(actors.admin)
    url = f"/console/personas/{persona.pk}/"
    page = client.get(url).content.decode()
    data = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    data["encryption.rotate_after_days"] = "0"
    response = client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body and "android-note" not in body
    persona.refresh_from_db()
    assert persona.revision == 1


def test_the_android_policy_page_shows_the_policy_and_what_is_not_enforced(client, actors, persona):
    client.force_login(actors.auditor)  # any role that can see personas
    editor = client.get(f"/console/personas/{persona.pk}/").content.decode()
    assert f'href="/console/personas/{persona.pk}/android-policy/"' in editor
    response = client.get(f"/console/personas/{persona.pk}/android-policy/")
    assert response.status_code == 200
    page = response.content.decode()
    compiled = compile_android_policy(spec_of(persona))
    shown = json.loads(html.unescape(re.search(r"<pre>(.*?)</pre>", page, flags=re.S).group(1)))
    assert shown == compiled.policy
    for item in compiled.unenforced:
        # Each setting by its label, never by its spec path.
        assert (
            f"<strong>{html.escape(field_label(item.path, spec_of(persona)))}</strong>: {html.escape(item.message)}"
            in page
        )
        assert item.path not in page.split("<pre>")[0]


def test_the_android_policy_page_needs_a_login(client, persona):
    response = client.get(f"/console/personas/{persona.pk}/android-policy/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_another_organizations_persona_is_not_found(client, actors, persona):
    client.force_login(actors.outsider)
    assert client.get(f"/console/personas/{persona.pk}/android-policy/").status_code == 404
    theirs = Persona.objects.get(organization=actors.other_org, is_default=True)
    client.force_login(actors.admin)
    assert client.get(f"/console/personas/{theirs.pk}/android-policy/").status_code == 404


def test_an_employee_without_a_console_role_sees_nothing(client, actors, persona):
    client.force_login(actors.employee)
    response = client.get(f"/console/personas/{persona.pk}/android-policy/")
    assert response.status_code == 403 and "Android" not in response.content.decode()


def test_a_malformed_persona_id_is_not_found(client, actors):
    client.force_login(actors.admin)
    assert client.get("/console/personas/not-a-uuid/android-policy/").status_code == 404
