"""Console pages for personas: create from a preset, edit with errors in place, push progress."""

import re

from devices.models import Push
from personas.models import Persona


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
    response = client.post(url, data)
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
    assert "Nothing was saved" in html and "A whole number" in html
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
    html = client.post("/console/personas/", {"name": "BYOD Basic", "preset": "byod-basic"}).content.decode()
    assert re.search(r'name="name"[^>]*required>\s*<span class="error" role="alert">A persona named', html)
    html = client.post("/console/personas/", {"name": "Lab", "preset": "byod-lax"}).content.decode()
    assert '<span class="error" role="alert">Unknown preset &#x27;byod-lax&#x27;' in html
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
    assert re.search(r'name="name" value="byod basic"[^>]*>\s*<span class="error" role="alert">A persona named', html)
    sales.refresh_from_db()
    assert (sales.name, sales.revision) == ("Sales", 1)
