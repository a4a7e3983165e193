"""The console's audit log as people read it: details in words (no Python syntax, no empty
values), dates that do not wrap, and "Verify now" showing its result on the page it returns to."""

import re

from django.core.cache import cache

from mdm.audit import audit_event_record
from mdm.models import AuditEvent
from tests.mdm.test_audit import _tamper


def _row(page: str, action_title: str) -> str:
    """The table row of the newest event with this action."""
    start = page.index(f'<span title="{action_title}">')
    return page[page.rindex("<tr>", 0, start) : page.index("</tr>", start)]


def test_details_read_as_words_not_python(client, actors):
    from personas.models import Persona
    from personas.services import persona_update

    persona = Persona.objects.get(organization=actors.org, is_default=True)
    persona_update(persona=persona, patch={
        "access": {"passcode": {"min_length": 8}, "min_os_version": {"ios": "17"}, "block_compromised": False},
        "data_sharing": {"clipboard": {"work_to_personal": "allow"}},
        "apps": [{"id": "com.acme.mail", "install": "required"}],
    })  # fmt: skip
    audit_event_record(organization=actors.org, action="enrollment_token.created", details={
        "prefix": "mdm_et_ab12", "employee": None, "note": "", "uses_allowed": 1, "persona": "BYOD basic",
        "expires_at": "2026-12-03T10:15:00+00:00",
    })  # fmt: skip
    audit_event_record(organization=actors.org, action="signing_key.retired",
                       details={"kid": "k2", "devices_pinning": 0, "forced": False})  # fmt: skip
    client.force_login(actors.auditor)
    page = client.get("/console/audit/").content.decode()

    diff = _row(page, "persona.updated")
    assert "Persona updated" in diff
    for line in (
        "Minimum passcode length: 4 → 8",
        "Minimum iOS version: none → 17",
        "Block rooted or jailbroken devices: Yes → No",
        "Clipboard, work to personal: Blocked → Allowed",
        "Work app added: com.acme.mail (required)",
    ):
        assert f"<li>{line}</li>" in diff, line
    assert "access.passcode" not in diff and "->" not in diff and "[" not in diff and "&#x27;" not in diff

    token = _row(page, "enrollment_token.created")
    assert "Employee" not in token and "None" not in token and "Note" not in token  # empty values left out
    assert "Expires:</span> 2026-12-03 10:15 UTC" in token and "Uses:</span> 1" in token
    retired = _row(page, "signing_key.retired")
    assert "Forced:</span> No" in retired and "False" not in retired
    # Nowhere a Python or JSON repr, an empty label, or a raw action name as the "What".
    table = page[page.index("<tbody>") : page.index("</tbody>")]
    assert not re.search(r"None|True|False|\{'|\['|: </li>|reason:</span>\s*</li>", table)
    # The table scrolls in a named, focusable region; "When" is one line (date and time).
    assert '<div class="table-wrap" role="region" tabindex="0" aria-label="Audit events">' in page
    assert re.search(
        r'<td class="nowrap"><time datetime="[^"]+" title="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d</time></td>', table
    )


def test_verify_now_shows_its_result_on_the_page(client, actors):
    cache.delete(f"audit-verify:{actors.org.pk}")
    client.force_login(actors.auditor)
    assert "Not verified yet" in client.get("/console/audit/").content.decode()
    count = AuditEvent.objects.filter(organization=actors.org).count()
    response = client.post("/console/audit/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain == [("/console/audit/", 302)]
    assert f"Chain verified: {count} events intact." in page  # the message, and the integrity card
    state = page[page.index('id="chain-state"') : page.index("</p>", page.index('id="chain-state"'))]
    assert f"Chain verified: {count} events intact." in state and "dana@acme.test" in state
    event = AuditEvent.objects.get(organization=actors.org, action="audit.chain_verified")
    assert event.actor_label == "dana@acme.test" and event.details["ok"] is True
    # Again within 5 minutes: nothing walks the chain again, the page says why.
    again = client.post("/console/audit/", follow=True).content.decode()
    assert "verified less than 5 minutes ago" in again
    assert AuditEvent.objects.filter(organization=actors.org, action="audit.chain_verified").count() == 1


def test_verify_now_shows_a_broken_chain(client, actors, raw_sql):
    cache.delete(f"audit-verify:{actors.org.pk}")
    target = AuditEvent.objects.get(organization=actors.org, seq=3)
    _tamper(raw_sql, 'UPDATE mdm_auditevent SET details = \'{"role": "owner"}\' WHERE id = %s', [target.pk])
    client.force_login(actors.auditor)
    page = client.post("/console/audit/", follow=True).content.decode()
    assert "Chain broken at event #3: event #3 was changed after it was written." in page
    state = page[page.index('id="chain-state"') : page.index("</p>", page.index('id="chain-state"'))]
    assert 'role="alert"' in state and "Chain broken at event #3" in state


def test_a_long_chain_is_verified_by_the_worker(client, actors, monkeypatch):
    from mdm.console import views

    cache.delete(f"audit-verify:{actors.org.pk}")
    monkeypatch.setattr(views, "AUDIT_VERIFY_IN_REQUEST_MAX", 2)
    client.force_login(actors.auditor)
    page = client.post("/console/audit/", follow=True).content.decode()
    assert "its result appears here in a few minutes" in page
    assert not AuditEvent.objects.filter(organization=actors.org, action="audit.chain_verified").exists()
