"""Console pages for personas: create from a preset, edit with errors in place, push progress."""

import copy
import re
from html import escape

from devices.choices import DeviceState
from devices.models import Push
from mdm.actors import SYSTEM
from personas.models import Persona
from personas.services import persona_create, persona_update, spec_of
from tests.devices.test_device_selectors import make_device


def form_of(html: str) -> dict[str, str]:
    """The values a browser would submit for the edit form as rendered."""
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        data[name] = value.replace("&quot;", '"').replace("&#x27;", "'")
    for name in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)" checked>', html):
        data[name] = "on"
    for name, body in re.findall(r'<textarea id="[^"]+" name="([^"]+)">(.*?)</textarea>', html, flags=re.S):
        data[name] = body.replace("&quot;", '"')
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', html, flags=re.S):
        chosen = re.search(r'<option value="([^"]+)" selected>', body) or re.search(r'<option value="([^"]+)"', body)
        data[name] = chosen.group(1)
    data.pop("csrfmiddlewaretoken", None)
    return data


def test_an_admin_creates_a_persona_from_a_preset(client, actors):
    client.force_login(actors.admin)
    response = client.post("/console/personas/", {"name": "Sales", "preset": "byod-strict"})
    persona = Persona.objects.get(organization=actors.org, name="Sales")
    assert response.status_code == 302 and persona.preset == "byod-strict" and persona.max_offline_days == 7
    duplicate = client.post("/console/personas/", {"name": "sales", "preset": "byod-basic"})
    assert "already exists" in duplicate.content.decode()


def test_editing_a_sharing_rule_saves_a_revision_and_shows_the_push(client, actors, agent_factory):
    agent_factory()
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url = f"/console/personas/{persona.pk}/"
    data = form_of(client.get(url).content.decode())
    assert data["data_sharing.clipboard.work_to_personal"] == "deny"
    data["data_sharing.clipboard.work_to_personal"] = "allow"
    data["apps[0].id"] = "com.acme.mail"
    data["apps[0].min_version"] = "3.1"
    confirmation = client.post(url, data)
    assert confirmation.status_code == 200 and "Confirm: save and push" in confirmation.content.decode()
    persona.refresh_from_db()
    assert persona.revision == 1  # nothing saved before the confirmation
    response = client.post(url, {**data, "revision": "1", "confirm": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]
    persona.refresh_from_db()
    assert persona.revision == 2
    assert persona.sharing_rules.get(channel="clipboard", direction="work_to_personal").decision == "allow"
    assert persona.app_rules.get().app_id == "com.acme.mail"
    page = client.get(response["Location"]).content.decode()
    assert "<progress" in page and "Pushing revision 2" in page
    push = Push.objects.get()
    progress = client.get(f"/console/pushes/{push.pk}/progress/").content.decode()
    assert "of 1 devices answered" in progress


def test_errors_show_next_to_their_fields_and_nothing_is_saved(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url = f"/console/personas/{persona.pk}/"
    data = form_of(client.get(url).content.decode())
    data["enforcement.block_after_days"] = "10"
    data["enforcement.wipe_after_days"] = "5"
    data["access.max_offline_days"] = "soon"
    data["apps[0].id"] = "not an app"
    html = client.post(url, data).content.decode()
    assert "Nothing was saved" in html and "Enter a whole number" in html
    persona.refresh_from_db()
    assert persona.revision == 1
    data["access.max_offline_days"] = "30"
    html = client.post(url, data).content.decode()
    assert "lock first, wipe later" in html and "Not an app id" in html
    persona.refresh_from_db()
    assert persona.revision == 1


def test_helpdesk_reads_but_cannot_change_and_other_organizations_are_404(client, actors):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    client.force_login(actors.helpdesk)
    page = client.get(f"/console/personas/{persona.pk}/").content.decode()
    assert "Save and push" not in page and "disabled" in page
    assert client.post(f"/console/personas/{persona.pk}/", {"name": "x"}).status_code == 403
    assert client.post("/console/personas/", {"name": "x", "preset": "byod-basic"}).status_code == 403
    assert "schema" in client.get(f"/console/personas/{persona.pk}/preview/").content.decode()
    client.force_login(actors.outsider)
    assert client.get(f"/console/personas/{persona.pk}/").status_code == 404
    assert client.get(f"/console/personas/{persona.pk}/preview/").status_code == 404


def test_the_list_counts_each_personas_active_devices(client, actors, agent_factory):
    agent_factory()
    client.force_login(actors.auditor)
    html = client.get("/console/personas/").content.decode()
    assert re.search(r"BYOD basic</a>.*?<td>1</td></tr>", html, flags=re.S)


def test_creating_with_a_name_taken_or_an_unknown_preset_says_so_next_to_the_field(client, actors):
    client.force_login(actors.admin)
    response = client.post("/console/personas/", {"name": "BYOD Basic", "preset": "byod-strict"})
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(
        r'name="name" value="BYOD Basic"[^>]*aria-invalid="true" aria-describedby="name-error" required>\s*'
        r'<span class="error" role="alert" id="name-error">A persona named',
        html,
    )
    assert 'value="byod-strict" checked' in html and 'value="byod-basic" checked' not in html
    html = client.post("/console/personas/", {"name": "Lab", "preset": "byod-lax"}).content.decode()
    assert '<span class="error" role="alert" id="preset-error">Unknown preset &#x27;byod-lax&#x27;' in html
    assert 'value="Lab"' in html
    assert Persona.objects.filter(organization=actors.org).count() == 1


def test_renaming_to_a_name_taken_in_the_editor_shows_the_error_by_the_name(client, actors):
    client.force_login(actors.admin)
    client.post("/console/personas/", {"name": "Sales", "preset": "byod-strict"})
    sales = Persona.objects.get(organization=actors.org, name="Sales")
    url = f"/console/personas/{sales.pk}/"
    data = form_of(client.get(url).content.decode())
    data["name"] = "byod basic"
    html = client.post(url, data).content.decode()
    assert "Nothing was saved" in html
    assert re.search(
        r'name="name" value="byod basic"[^>]*aria-invalid="true"[^>]*>\s*'
        r'<span class="error" role="alert" id="name-error">A persona named',
        html,
    )
    sales.refresh_from_db()
    assert (sales.name, sales.revision) == ("Sales", 1)


# --- The editor as people read it -------------------------------------------------------------


def visible_text(html: str) -> str:
    """The page's words, without its tags and attributes (where spec paths may rightly appear)."""
    body = html.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def edit_form(client, persona) -> tuple[str, dict[str, str]]:
    url = f"/console/personas/{persona.pk}/"
    return url, form_of(client.get(url).content.decode())


def test_a_bad_number_is_shown_back_as_typed_marked_invalid_and_named_by_its_label(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url, data = edit_form(client, persona)
    data["access.passcode.min_length"] = "abc"
    data["encryption.rotate_after_days"] = "0"  # refused by validation, reported at the same time
    response = client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 400
    field = re.search(r'<input id="access.passcode.min_length"[^>]*>', html).group(0)
    assert 'value="abc"' in field and 'aria-invalid="true"' in field
    assert 'aria-describedby="access.passcode.min_length-error"' in field
    assert '<span class="error" role="alert" id="access.passcode.min_length-error">Enter a whole number' in html
    assert 'value="None"' not in html
    rotate = re.search(r'<input id="encryption.rotate_after_days"[^>]*>', html).group(0)
    assert 'value="0"' in rotate and 'aria-invalid="true"' in rotate
    # The summary names each field by its label and links to it; no spec path among the words.
    assert '<a href="#access.passcode.min_length">Passcode minimum length</a>' in html
    assert '<a href="#encryption.rotate_after_days">Rotate the container key every (days)</a>' in html
    words = visible_text(html)
    assert "access.passcode.min_length" not in words and "encryption.rotate_after_days" not in words
    # A field the form accepted is not marked.
    assert "aria-invalid" not in re.search(r'<input id="access.max_offline_days"[^>]*>', html).group(0)
    persona.refresh_from_db()
    assert persona.revision == 1 and persona.passcode_min_length == 4


def test_the_validations_own_keys_are_put_in_words(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url, data = edit_form(client, persona)
    data["enforcement.block_after_days"] = "10"
    data["enforcement.wipe_after_days"] = "5"
    data["access.min_os_version.ios"] = "sixteen"
    html = client.post(url, data).content.decode()
    words = visible_text(html)
    assert "Must be more than the days before the lock (10): lock first, wipe later." in words
    assert "iOS: a version such as 14 or 16.4." in words
    # The whole persona's checks run once its parts are valid.
    url, data = edit_form(client, persona)
    data["apps[0].id"] = "com.acme.mail"
    data["apps[1].id"] = "com.acme.mail"
    html = client.post(url, data).content.decode()
    words = visible_text(html)
    assert "com.acme.mail is already listed (app 1)." in words
    assert "App 2 (com.acme.mail): App id" in words
    for raw in ("block_after_days", "apps[", "min_os_version", "non_field_errors"):
        assert raw not in words, raw
    app = re.search(r'<input id="app-1-id"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in app and "app-1-id-error" in app


def test_platforms_are_named_as_their_makers_write_them(client, actors):
    client.force_login(actors.auditor)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    html = client.get(f"/console/personas/{persona.pk}/").content.decode()
    for label in ("Minimum Android version", "Minimum iOS version", "Minimum macOS version", "Minimum Windows version"):
        assert f">{label}</label>" in html
    assert "Minimum ios version" not in html and "Minimum android version" not in html


def test_the_tables_sit_in_scrolling_regions_and_presets_have_names(client, actors):
    client.force_login(actors.admin)
    html = client.get("/console/personas/").content.decode()
    assert re.search(
        r'<div class="table-wrap" role="region" aria-labelledby="personas-title" tabindex="0">\s*<table>', html
    )
    assert html.index("</table>") < html.index("</div>", html.index("table-wrap")) < html.index("New persona")
    assert "Personal device, enhanced protection" in html
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    editor = client.get(f"/console/personas/{persona.pk}/").content.decode()
    assert editor.count('class="table-wrap" role="region"') == 2
    assert "Personal device, basic protection" in client.get("/console/personas/").content.decode()


def test_the_revision_and_the_policy_version_are_explained(client, actors):
    client.force_login(actors.auditor)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    html = client.get(f"/console/personas/{persona.pk}/").content.decode()
    assert "revision 1" in html and ">r1<" not in html
    assert "counts its saved edits" in html and "policies signed and sent to that device" in html
    assert "apply_policy" not in html


def test_the_editor_summarises_the_persona_in_the_employees_words(client, actors):
    from devices.privacy import persona_preview

    client.force_login(actors.auditor)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    html = client.get(f"/console/personas/{persona.pk}/").content.decode()
    expected = persona_preview(spec_of(persona))
    assert "In plain words" in html
    for sentence in [*expected["rules"], *expected["sharing"]]:
        assert f"<li>{escape(sentence)}</li>" in html, sentence
    assert "You cannot copy from work apps into personal apps." in html


def test_the_app_picker_offers_the_organizations_known_apps_only(client, actors):
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    make_device(actors.org, persona=persona, work_apps=[{"id": "com.acme.reported", "version": "1"}, "junk"])
    make_device(actors.org, persona=persona, work_apps=[{"id": "com.acme.reported", "version": "2"}])
    make_device(actors.org, work_apps={"not": "a list"})
    make_device(actors.org, state=DeviceState.RETIRED, work_apps=[{"id": "com.acme.retired", "version": "1"}])
    make_device(actors.other_org, work_apps=[{"id": "com.globex.secret", "version": "1"}])
    persona_create(organization=actors.org, name="Sales", preset="byod-strict",
                   changes={"apps": [{"id": "com.acme.crm"}]})  # fmt: skip
    persona_create(organization=actors.other_org, name="Theirs", preset="byod-strict",
                   changes={"apps": [{"id": "com.globex.crm"}]})  # fmt: skip
    client.force_login(actors.admin)
    html = client.get(f"/console/personas/{persona.pk}/").content.decode()
    datalist = re.search(r'<datalist id="known-apps">(.*?)</datalist>', html, flags=re.S).group(1)
    options = dict(re.findall(r'<option value="([^"]+)">([^<]*)</option>', datalist))
    assert options == {"com.acme.crm": "in Sales", "com.acme.reported": "reported by 2 devices"}
    assert re.search(r'<input id="app-0-id" name="apps\[0\].id" value="" [^>]*list="known-apps"', html)
    # Anything else may still be typed, and is validated as before.
    url, data = edit_form(client, persona)
    data["apps[0].id"] = "com.acme.typed"
    assert "Confirm: save and push" in client.post(url, data).content.decode()


def test_save_and_push_asks_first_showing_the_change_in_words_and_the_devices_reached(client, actors, agent_factory):
    agent_factory()
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url, data = edit_form(client, persona)
    data["data_sharing.clipboard.work_to_personal"] = "allow"
    data["access.passcode.min_length"] = "6"
    data["access.min_os_version.ios"] = "17"
    data["apps[0].id"] = "com.acme.mail"
    response = client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 200 and Push.objects.count() == 0
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td></tr>', html)
    assert ("Clipboard, work to personal", "Deny", "Allow") in rows
    assert ("Passcode minimum length", "4", "6") in rows
    assert ("Minimum iOS version", "not set", "17") in rows
    assert ("Work app com.acme.mail", "not listed (blocked)", "Available (the user may install it)") in rows
    assert "4 changes" in html and "sends it to the 1 device that uses this persona" in html
    # And what the persona will mean for its employees once saved.
    assert "After saving, in plain words" in html and "<li>Your work passcode has at least 6 characters.</li>" in html
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    assert hidden["access.passcode.min_length"] == "6" and hidden["revision"] == "1"
    assert "confirm" not in hidden
    # Going back shows the edit again, unsaved, with what was typed.
    back = client.post(url, {**hidden, "back": "1"}).content.decode()
    assert re.search(r'<input id="access.passcode.min_length"[^>]*value="6"', back)
    assert "Confirm: save and push" not in back
    persona.refresh_from_db()
    assert persona.revision == 1 and persona.passcode_min_length == 4
    # Confirming saves and pushes.
    done = client.post(url, {**hidden, "confirm": "1"})
    assert done.status_code == 302
    persona.refresh_from_db()
    assert persona.revision == 2 and persona.passcode_min_length == 6 and Push.objects.count() == 1


def test_a_confirmation_made_stale_by_another_save_is_shown_again(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url, data = edit_form(client, persona)
    data["access.max_offline_days"] = "20"
    hidden = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', client.post(url, data).content.decode())
    )
    persona_update(persona=persona, patch={"description": "changed meanwhile"}, actor=SYSTEM)
    again = client.post(url, {**hidden, "confirm": "1"})
    html = again.content.decode()
    assert again.status_code == 200 and "Someone saved this persona (now revision 2)" in html
    assert 'name="revision" value="2"' in html
    persona.refresh_from_db()
    assert persona.revision == 2 and persona.max_offline_days == 30
    assert (
        client.post(
            url, {**dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)), "confirm": "1"}
        ).status_code
        == 302
    )
    persona.refresh_from_db()
    assert persona.revision == 3 and persona.max_offline_days == 20


def test_nothing_changed_needs_no_confirmation(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url, data = edit_form(client, persona)
    response = client.post(url, data)
    assert response.status_code == 302 and Push.objects.count() == 0
    persona.refresh_from_db()
    assert persona.revision == 1


def test_a_push_to_no_device_says_so_without_a_bar(client, actors):
    client.force_login(actors.admin)
    persona = Persona.objects.get(organization=actors.org, is_default=True)
    url, data = edit_form(client, persona)
    data["access.max_offline_days"] = "20"
    confirmation = client.post(url, data).content.decode()
    assert "No device uses this persona yet" in confirmation
    done = client.post(url, {**data, "revision": "1", "confirm": "1"})
    page = client.get(done["Location"]).content.decode()
    assert "No device uses this persona yet" in page
    assert "<progress" not in page and "0 of 0" not in page


def test_the_human_diff_names_fields_and_values_in_words():
    from personas.labels import Change, human_diff
    from personas.spec import preset_spec, validate_spec

    old = validate_spec(preset_spec("byod-basic", name="A"))
    new = validate_spec(
        {
            **preset_spec("byod-basic", name="A"),
            "apps": [{"id": "com.acme.mail", "install": "required", "min_version": "3"}],
        }
    )
    new["enforcement"]["block_after_days"] = None
    new["access"]["passcode"]["required"] = False
    assert human_diff(old, new) == [
        Change("Passcode required for the work profile", "Yes", "No"),
        Change("Lock the work profile after (days)", "7", "never"),
        Change(
            "Work app com.acme.mail", "not listed (blocked)", "Required (installed for the user); version 3 or later"
        ),
    ]
    assert human_diff(new, old)[-1] == Change(
        "Work app com.acme.mail", "Required (installed for the user); version 3 or later", "removed (blocked)"
    )
    assert human_diff(old, old) == []
    configured = copy.deepcopy(new)
    configured["apps"][0]["managed_config"] = {"server": "mail.acme.test"}
    assert human_diff(new, configured) == [
        Change(
            "Work app com.acme.mail",
            "Required (installed for the user); version 3 or later",
            "Required (installed for the user); version 3 or later; with a managed configuration",
        )
    ]
    configured2 = copy.deepcopy(configured)
    configured2["apps"][0]["managed_config"] = {"server": "mx.acme.test"}
    assert human_diff(configured, configured2)[0].new.endswith("(managed configuration changed)")
