"""Console pages for personas: list, create from a preset, edit every setting with its errors
in place (and, next to it, whether Android enforces it), preview the policy and the Android
Management API policy, and follow the push a change started.

The edit form's inputs are named by their path in the persona's spec (`apps[2].min_version`,
`data_sharing.clipboard.work_to_personal`), so the service's validation errors, keyed by the same
paths, land next to the field they are about.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from devices.models import Push
from devices.persona_changes import persona_change
from devices.privacy import persona_preview as employee_preview
from devices.push import push_progress
from devices.selectors import persona_device_counts, reported_work_apps
from mdm.console.decorators import console_view
from mdm.errors import NON_FIELD, ServiceError
from mdm.lib import jsonsafe
from mdm.lib.http import client_ip
from mdm.permissions import OrgContext, Perm
from personas import selectors
from personas.android import unenforced_paths
from personas.choices import PLATFORMS, Channel, Decision, Direction, InstallMode, PasscodeComplexity
from personas.labels import field_label, human_diff, in_words, platform_choices, preset_label
from personas.models import Persona
from personas.services import persona_create, spec_of
from personas.spec import MAX_APPS, MAX_MANAGED_CONFIG_DEPTH, PRESETS, validate_spec

EXTRA_APP_ROWS = 3
# Row indexes the form can have: the persona's apps (at most MAX_APPS) plus the empty rows.
MAX_APP_ROW = MAX_APPS + EXTRA_APP_ROWS
# Any field about an app row, well-formed or not: `apps[...]`, ASCII digits only when well-formed.
_APP_FIELD = re.compile(r"^apps\[([^\]]*)\]")
_ROW_INDEX = r"[0-9]{1,4}"
_APP_ROW = re.compile(rf"^apps\[({_ROW_INDEX})\]\.id$")


class ConsoleRequest(HttpRequest):
    """A request that came through the console's door (`console_view` sets `org`)."""

    org: OrgContext


def _is_app_row(index: str) -> bool:
    return re.fullmatch(_ROW_INDEX, index) is not None and int(index) < MAX_APP_ROW


def errors_of(exc: ServiceError) -> dict[str, list[str]]:
    """A refusal's messages by field path, as the page shows them next to its fields (one that
    names no field is about the whole form)."""
    return exc.errors or {NON_FIELD: [exc.message]}


@console_view(Perm.PERSONAS_VIEW)
def persona_list(request: ConsoleRequest) -> HttpResponse:
    org = request.org.organization
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        request.org.require(Perm.PERSONAS_CHANGE)
        preset = request.POST.get("preset", "")
        name = request.POST.get("name", "").strip()
        try:
            persona = persona_create(
                organization=org,
                name=name,
                preset=preset,
                changes={"name": name},
                actor=request.org.actor,
                client_ip=client_ip(request),
            )
        except ServiceError as exc:
            errors = errors_of(exc)
        else:
            messages.success(request, _("Persona created from %(preset)s.") % {"preset": preset_label(preset)})
            return redirect("console:persona", pk=persona.pk)
    counts = persona_device_counts(organization_id=org.pk)
    personas = [
        (p, counts.get(p.pk, 0), preset_label(p.preset) if p.preset else "")
        for p in selectors.persona_list(organization_id=org.pk, with_rules=False)
    ]
    context = {
        "personas": personas,
        "presets": [(key, preset_label(key), value["description"]) for key, value in PRESETS.items()],
        "errors": _in_words(errors),
        # What a refused creation was given, shown back as it was typed.
        "typed": {"name": request.POST.get("name", ""), "preset": request.POST.get("preset", "")} if errors else {},
        "can_change": request.org.can(Perm.PERSONAS_CHANGE),
    }
    return render(request, "console/personas/list.html", context, status=400 if errors else 200)


def _split(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text or "") if part]


def _int(
    post: Mapping[str, str], key: str, errors: dict[str, list[str]], *, blank_is_none: bool = False
) -> int | str | None:
    raw = (post.get(key) or "").strip()
    if raw == "" and blank_is_none:
        return None
    # ASCII digits only (int() also takes other scripts' digits, "1_000" and 5,000-digit numbers).
    if not (raw.lstrip("-").isascii() and raw.lstrip("-").isdigit() and len(raw) <= 9):
        errors[key] = [_("Enter a whole number, such as 6.")]
        # What was typed, so that the form shows it back (the spec is refused anyway).
        return raw
    return int(raw)


def spec_from_post(post: Mapping[str, str], base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The spec the form describes, and the errors found while reading it (before validation)."""
    errors: dict[str, list[str]] = {}
    rows = sorted(int(m.group(1)) for key in post if (m := _APP_ROW.match(key)))
    if any(not _is_app_row(m.group(1)) for key in post if (m := _APP_FIELD.match(key))):
        # A hand-made form: say so rather than read a row that the page never showed.
        errors["apps"] = [_("The form names app rows this page does not have; reload the page and try again.")]
        rows = []
    apps: list[dict[str, Any]] = []
    for index in rows:
        prefix = f"apps[{index}]"
        app_id = post.get(f"{prefix}.id", "").strip()
        if not app_id or post.get(f"{prefix}.remove"):
            continue
        raw_config = post.get(f"{prefix}.managed_config", "").strip() or "{}"
        try:
            config = jsonsafe.loads(raw_config, max_depth=MAX_MANAGED_CONFIG_DEPTH)
        except jsonsafe.UnsafeJSON as exc:
            errors[f"apps[{len(apps)}].managed_config"] = [_("Not JSON the device can use: %(why)s") % {"why": exc}]
            config = {}
        apps.append(
            {
                "id": app_id,
                "install": post.get(f"{prefix}.install", InstallMode.AVAILABLE),
                "min_version": post.get(f"{prefix}.min_version", "").strip() or None,
                "signing_cert_sha256": _split(post.get(f"{prefix}.signing_cert_sha256", "")),
                "managed_config": config,
            }
        )
    sharing: dict[str, Any] = {}
    for channel in Channel.values:
        entry: dict[str, Any] = {"exemptions": {}}
        for direction in Direction.values:
            entry[direction] = post.get(f"data_sharing.{channel}.{direction}", Decision.DENY)
            entry["exemptions"][direction] = _split(post.get(f"data_sharing.{channel}.exemptions.{direction}", ""))
        sharing[channel] = entry
    sharing["clipboard"]["max_chars"] = _int(post, "data_sharing.clipboard.max_chars", errors)
    spec = {
        "name": post.get("name", "").strip(),
        "description": post.get("description", "").strip(),
        "apps": apps,
        "data_sharing": sharing,
        "encryption": {
            "cipher": base["encryption"]["cipher"],
            "rotate_after_days": _int(post, "encryption.rotate_after_days", errors),
        },
        "access": {
            "passcode": {
                "required": post.get("access.passcode.required") == "on",
                "min_length": _int(post, "access.passcode.min_length", errors),
                "complexity": post.get("access.passcode.complexity", PasscodeComplexity.LOW),
            },
            "max_offline_days": _int(post, "access.max_offline_days", errors),
            "min_os_version": {
                platform: value
                for platform in PLATFORMS
                if (value := post.get(f"access.min_os_version.{platform}", "").strip())
            },
            "block_compromised": post.get("access.block_compromised") == "on",
        },
        "enforcement": {
            "block_after_days": _int(post, "enforcement.block_after_days", errors, blank_is_none=True),
            "wipe_after_days": _int(post, "enforcement.wipe_after_days", errors, blank_is_none=True),
        },
    }
    return spec, errors


def _persona(request: ConsoleRequest, pk: uuid.UUID) -> Persona:
    persona = selectors.persona_get(organization_id=request.org.organization.pk, persona_id=pk)
    if persona is None:
        raise Http404
    return persona


def android_notes(spec: dict[str, Any]) -> dict[str, str]:
    """What Android does not enforce of the spec the page shows, by field path. A posted spec that
    does not validate has none: its fields are about to be corrected, and the compiler takes only
    valid specs (its paths would not match the rows the page shows either)."""
    try:
        cleaned = validate_spec(spec)
    except ServiceError:
        return {}
    return unenforced_paths(cleaned)


# What the edit form posts besides the spec: the revision it was read at and the step it is at.
_FORM_CONTROLS = ("csrfmiddlewaretoken", "revision", "confirm", "back")
# The editor's ids of an app row's inputs, by the spec's field name (errors link to them).
_APP_INPUTS = {"id": "id", "install": "install", "min_version": "min", "signing_cert_sha256": "certs"}
_APP_INPUTS["managed_config"] = "config"
# The ids of the editor's other inputs: their spec paths.
_INPUT_IDS = {
    "name",
    "description",
    "data_sharing.clipboard.max_chars",
    "encryption.rotate_after_days",
    "access.passcode.required",
    "access.passcode.min_length",
    "access.passcode.complexity",
    "access.max_offline_days",
    "access.block_compromised",
    "enforcement.block_after_days",
    "enforcement.wipe_after_days",
    *(f"access.min_os_version.{platform}" for platform in PLATFORMS),
    *(f"data_sharing.{c}.{d}" for c in Channel.values for d in Direction.values),
    *(f"data_sharing.{c}.exemptions.{d}" for c in Channel.values for d in Direction.values),
}
_APP_ERROR = re.compile(r"^apps\[(\d+)\]\.(\w+)$")


def read_form(post: Mapping[str, str], base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, dict]:
    """The spec the form describes (with what was typed where it could not be read, to show it
    back), the spec cleaned by validation (None when refused), and every error by field path at
    once: the form's own (a number that is not one) and the validation's."""
    posted, errors = spec_from_post(post, base)
    try:
        cleaned = validate_spec(posted)
    except ServiceError as exc:
        for path, found in errors_of(exc).items():
            errors.setdefault(path, found)
        cleaned = None
    return posted, (None if errors else cleaned), errors


def _in_words(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    return {path: [in_words(message) for message in found] for path, found in errors.items()}


def _error_list(errors: dict[str, list[str]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The refusals for the summary at the top of the form: each field by its label, with a link
    to its input."""
    items = []
    for path, found in errors.items():
        anchor = path if path in _INPUT_IDS else ""
        if match := _APP_ERROR.match(path):
            field = _APP_INPUTS.get(match.group(2))
            anchor = f"app-{match.group(1)}-{field}" if field else ""
        elif path == "access.min_os_version":
            anchor = f"{path}.{PLATFORMS[0]}"
        elif path.startswith("data_sharing.") and path.endswith(".exemptions"):
            anchor = f"{path}.{Direction.WORK_TO_PERSONAL}"
        items.append({"label": field_label(path, spec), "messages": found, "anchor": anchor})
    return items


def _app_picker(organization_id: uuid.UUID) -> list[dict[str, str]]:
    """The apps the organization knows, for the app id inputs' suggestions: those its devices
    report in their work profiles and those its personas list (any other id may still be typed)."""
    reported = reported_work_apps(organization_id=organization_id)
    listed = selectors.persona_app_ids(organization_id=organization_id)
    options = []
    for app_id in sorted(set(reported) | set(listed)):
        where = []
        if app_id in reported:
            where.append(
                ngettext("reported by %(n)s device", "reported by %(n)s devices", reported[app_id])
                % {"n": reported[app_id]}
            )
        if app_id in listed:
            where.append(_("in %(personas)s") % {"personas": ", ".join(listed[app_id])})
        options.append({"id": app_id, "where": "; ".join(where)})
    return options


@console_view(Perm.PERSONAS_VIEW)
def persona_edit(request: ConsoleRequest, pk: uuid.UUID) -> HttpResponse:
    """The editor. "Save and push" shows what changes and how many devices receive it; confirming
    that (a second POST of the same values, carried in hidden fields) saves and pushes; going
    back shows the edit again, unsaved."""
    persona = _persona(request, pk)
    saved = spec_of(persona)
    spec = saved
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        request.org.require(Perm.PERSONAS_CHANGE)
        spec, cleaned, errors = read_form(request.POST, saved)
        if cleaned is not None and selectors.persona_name_taken(
            organization_id=persona.organization_id, name=cleaned["name"], exclude_id=persona.pk
        ):
            errors = {"name": [_("A persona named %(name)r already exists.") % {"name": cleaned["name"]}]}
            cleaned = None
        if cleaned is not None and not request.POST.get("back"):
            changes = human_diff(saved, cleaned)
            if not changes:
                messages.info(request, _("Nothing changed."))
                return redirect("console:persona", pk=persona.pk)
            read_at = request.POST.get("revision", "")
            if request.POST.get("confirm") and read_at == str(persona.revision):
                return _save_and_push(request, persona, cleaned, spec)
            stale = bool(request.POST.get("confirm"))
            return _confirmation(request, persona, changes, cleaned, stale=stale)
    push = None
    if push_id := request.GET.get("push"):
        push = Push.objects.filter(organization=persona.organization, pk=push_id).first() if _uuid(push_id) else None
    return _edit_page(request, persona, spec, errors, push=push, saved=saved)


def _save_and_push(
    request: ConsoleRequest, persona: Persona, cleaned: dict[str, Any], spec: dict[str, Any]
) -> HttpResponse:
    try:
        done = persona_change(persona=persona, spec=cleaned, actor=request.org.actor, client_ip=client_ip(request))
    except ServiceError as exc:
        return _edit_page(request, persona, spec, errors_of(exc), saved=spec_of(persona))
    if done.push is None:
        messages.info(request, _("Nothing changed."))
        return redirect("console:persona", pk=done.persona.pk)
    messages.success(request, _("Saved as revision %(n)s; pushing it to its devices.") % {"n": done.persona.revision})
    return redirect(f"{request.path}?push={done.push.pk}")


def _confirmation(
    request: ConsoleRequest, persona: Persona, changes: list, cleaned: dict[str, Any], *, stale: bool
) -> HttpResponse:
    devices = persona_device_counts(organization_id=persona.organization_id).get(persona.pk, 0)
    context = {
        "persona": persona,
        "changes": changes,
        "devices": devices,
        "summary": employee_preview(cleaned),
        "stale": stale,
        "fields": [(key, value) for key, value in request.POST.items() if key not in _FORM_CONTROLS],
    }
    return render(request, "console/personas/confirm.html", context)


def _edit_page(
    request: ConsoleRequest,
    persona: Persona,
    spec: dict[str, Any],
    errors: dict[str, list[str]],
    *,
    saved: dict[str, Any],
    push: Push | None = None,
) -> HttpResponse:
    errors = _in_words(errors)
    android = android_notes(spec)
    app_errors: dict[int, dict[str, str]] = {}
    for path, found in errors.items():
        if match := _APP_ERROR.match(path):
            app_errors.setdefault(int(match.group(1)), {})[match.group(2)] = " ".join(found)
    context = {
        "persona": persona,
        "spec": spec,
        "errors": errors,
        "error_list": _error_list(errors, spec),
        "android": android,
        "app_rows": [
            {
                **app,
                "config_json": _config_json(app.get("managed_config")),
                "android_id": android.get(f"apps[{index}].id"),
                "android_min_version": android.get(f"apps[{index}].min_version"),
                "errors": app_errors.get(index, {}),
            }
            for index, app in enumerate([*spec["apps"], *[{} for _ in range(EXTRA_APP_ROWS)]])
        ],
        "known_apps": _app_picker(persona.organization_id),
        "summary": employee_preview(saved),
        "channels": Channel.choices,
        "directions": Direction.choices,
        "install_modes": InstallMode.choices,
        "complexities": PasscodeComplexity.choices,
        "platforms": platform_choices(),
        "push": push,
        "can_change": request.org.can(Perm.PERSONAS_CHANGE),
        **(_progress_context(push) if push is not None else {}),
    }
    return render(request, "console/personas/edit.html", context, status=400 if errors else 200)


def _config_json(config: Any) -> str:
    return json.dumps(config) if config else ""


def _uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@console_view(Perm.PERSONAS_VIEW)
def persona_preview(request: ConsoleRequest, pk: uuid.UUID) -> HttpResponse:
    persona = _persona(request, pk)
    document = selectors.persona_policy_preview(persona=persona)
    return render(
        request, "console/personas/preview.html", {"persona": persona, "document": json.dumps(document, indent=2)}
    )


@console_view(Perm.PERSONAS_VIEW)
def persona_android_policy(request: ConsoleRequest, pk: uuid.UUID) -> HttpResponse:
    """The Android Management API policy the persona compiles to, and what Android does not enforce."""
    persona = _persona(request, pk)
    spec = spec_of(persona)
    compiled = selectors.persona_android_policy(persona=persona)
    context = {
        "persona": persona,
        "policy": json.dumps(compiled.policy, indent=2, sort_keys=True),
        "unenforced": [
            {"label": field_label(item.path, spec), "message": item.message} for item in compiled.unenforced
        ],
    }
    return render(request, "console/personas/android_policy.html", context)


@console_view(Perm.PUSHES_VIEW)
def push_progress_view(request: ConsoleRequest, pk: uuid.UUID) -> HttpResponse:
    """The live progress bar of a push (htmx polls it until every device has answered)."""
    push = get_object_or_404(Push.objects.filter(organization=request.org.organization), pk=pk)
    return render(request, "console/personas/_push_progress.html", _progress_context(push))


def _progress_context(push: Push) -> dict[str, Any]:
    progress = push_progress(push)
    answered = progress["acknowledged"] + progress["failed"] + progress["expired"]
    android = progress["android"]
    # The Android part ends when Google refused the policy, or every Android device reports it.
    android_done = android["sync"] in ("not_needed", "failed") or (
        android["sync"] == "sent" and android["applied"] >= android["targeted"]
    )
    finished = push.state in (Push.State.DONE, Push.State.SUPERSEDED) and answered >= push.processed and android_done
    return {"push": push, "progress": progress, "answered": answered, "finished": finished, "android": android}
