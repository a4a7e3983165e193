"""What the console's device page reads and says about one device, in people's words: the actions
that make sense in its state (and why the others do not), its history as one timeline, and why a
work app its persona requires is not there.

Reads only, of a device already looked up within the organization (devices.views does that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import jwt
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from devices import channels
from devices.choices import ContainerState, DeviceState, ManagementChannel, Ownership
from devices.compliance import ANDROID_REASONS, _version, evaluate_compliance
from devices.models import Command, ComplianceChange, Device, PolicyVersion, Wipe
from mdm.models import AuditEvent
from personas.choices import InstallMode
from personas.models import AppRule

LOCK, UNLOCK, WIPE, APPLY_POLICY = "lock_corporate", "unlock_corporate", "wipe_corporate", "apply_policy"

COMMAND_LABELS = {
    APPLY_POLICY: gettext_lazy("Apply policy"),
    LOCK: gettext_lazy("Lock work profile"),
    UNLOCK: gettext_lazy("Unlock work profile"),
    "rotate_container_key": gettext_lazy("Rotate the work profile's key"),
    WIPE: gettext_lazy("Corporate wipe"),
}

COMMAND_STATE_LABELS = {
    Command.State.QUEUED: gettext_lazy("Waiting for the device"),
    Command.State.DELIVERED: gettext_lazy("Delivered, not answered yet"),
    Command.State.ACKNOWLEDGED: gettext_lazy("Done"),
    Command.State.ERROR: gettext_lazy("Failed"),
    Command.State.EXPIRED: gettext_lazy("Not done (replaced or expired)"),
}

# The facts an agent reports, and what each "yes" means.
COMPLIANCE_FACTS = {
    "passcode_compliant": gettext_lazy("Passcode meets the policy"),
    "compromised": gettext_lazy("Rooted or jailbroken"),
    "policy_compliant": gettext_lazy("Applies its policy (Google)"),
    "posture": gettext_lazy("Security posture (Google)"),
}
HIDDEN_FACTS = {"source", "non_compliance"}

# Audit actions about a device that the timeline shows on their own (lock requests join their
# command's entry, wipe events come from the wipe rows, the enrollment from the device row).
AUDIT_ENTRIES = {
    "device.unenrolled": (gettext_lazy("Removed from the device by its user"), "warn"),
    "device.retired": (gettext_lazy("Retired"), ""),
    "device.wiped_by_agent": (gettext_lazy("Work profile wiped by the device itself (offline too long)"), "danger"),
    "device.signing_key_rolled_over": (gettext_lazy("Moved to the server's new signing key"), ""),
    "device.reported_lost": (gettext_lazy("Reported lost by its owner"), "warn"),
}
AUDIT_FOLDED = {"device.enrolled", "device.lock_requested", "device.unlock_requested"}

MAX_TIMELINE_PAGES = 20


def command_label(command_type: str) -> str:
    return str(COMMAND_LABELS.get(command_type) or command_type.replace("_", " ").capitalize())


def fact_label(fact: str) -> str:
    return str(COMPLIANCE_FACTS.get(fact) or fact.replace("_", " ").capitalize())


def compliance_facts(device: Device) -> list[tuple[str, object]]:
    """The facts the device reported, each with its label; Google's words (`POTENTIALLY_COMPROMISED`)
    as sentences. Booleans stay booleans (the page says yes or no)."""
    facts = []
    for fact, value in (device.compliance or {}).items():
        if fact in HIDDEN_FACTS:
            continue
        if isinstance(value, str):
            value = value.replace("_", " ").capitalize()
        facts.append((fact_label(fact), value))
    return facts


def owner_label(device: Device) -> str:
    """'Personal device (BYOD) · erin@acme.test', 'Company-owned device · No owner'."""
    kind = _("Personal device (BYOD)") if device.ownership == Ownership.PERSONAL else _("Company-owned device")
    owner = device.owner.email if device.owner_id and device.owner else _("No owner")
    return f"{kind} · {owner}"


# --- The actions that make sense --------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceActions:
    """Which of lock, unlock and wipe make sense now; for each one that does not, why (one
    sentence for a person). The console offers only the first and refuses the others."""

    lock_refusal: str | None
    unlock_refusal: str | None
    wipe_refusal: str | None
    locked: bool  # the work profile is locked, or a lock is on its way
    pending_lock: Command | None  # the lock or unlock on its way to the device
    open_wipe: Wipe | None

    @property
    def can_lock(self) -> bool:
        return self.lock_refusal is None

    @property
    def can_unlock(self) -> bool:
        return self.unlock_refusal is None

    @property
    def can_wipe(self) -> bool:
        return self.wipe_refusal is None

    def refusal(self, *, lock: bool) -> str | None:
        return self.lock_refusal if lock else self.unlock_refusal


def device_actions(*, device: Device) -> DeviceActions:
    """Two queries: the open wipe and the lock or unlock still pending (at most one each: a lock
    and an unlock supersede each other)."""
    open_wipe = Wipe.objects.filter(device=device, state__in=Wipe.OPEN_STATES).first()
    pending = (
        Command.objects.filter(device=device, type__in=[LOCK, UNLOCK]).pending().order_by("-created_at", "id").first()
    )
    locked = pending.type == LOCK if pending is not None else device.container_state == ContainerState.LOCKED
    both: str | None = None
    wipe: str | None = None
    if device.state != DeviceState.ACTIVE:
        both = wipe = _("This device is retired: there is nothing left to lock, unlock or wipe.")
    elif device.container_state == ContainerState.WIPED:
        both = wipe = _("The work profile was wiped: there is nothing left to lock, unlock or wipe.")
    elif open_wipe is not None and open_wipe.state == Wipe.State.HELD:
        both = _("A corporate wipe waits for a second admin's approval: approve or cancel it first.")
        wipe = _("A corporate wipe of this device already waits for a second admin's approval.")
    elif open_wipe is not None or device.container_state == ContainerState.WIPE_PENDING:
        both = _("A corporate wipe is on its way to the device: locking or unlocking makes no sense now.")
        wipe = _("A corporate wipe is already on its way to this device.")
    lock, unlock = both, both
    if both is None:
        if locked:
            lock = (
                _("A lock is already on its way to the device.")
                if pending is not None
                else _("The work profile is already locked.")
            )
        else:
            unlock = (
                _("An unlock is already on its way to the device.")
                if pending is not None
                else _("The work profile is not locked.")
            )
        lock = lock or channels.refusal(device.channel, LOCK)
        unlock = unlock or channels.refusal(device.channel, UNLOCK)
    if wipe is None:
        wipe = channels.refusal(device.channel, WIPE)
    return DeviceActions(
        lock_refusal=lock,
        unlock_refusal=unlock,
        wipe_refusal=wipe,
        locked=locked,
        pending_lock=pending,
        open_wipe=open_wipe,
    )


# --- Status badges --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # ok, warn, danger, info, muted
    title: str = ""  # what the badge is about, for a screen reader and a tooltip


WORK_PROFILE_BADGES: dict[str, tuple[object, str]] = {
    ContainerState.PENDING: (gettext_lazy("Work profile not reported yet"), "muted"),
    ContainerState.ACTIVE: (gettext_lazy("Work profile active"), "ok"),
    ContainerState.LOCKED: (gettext_lazy("Work profile locked"), "warn"),
    ContainerState.WIPE_PENDING: (gettext_lazy("Work profile being wiped"), "danger"),
    ContainerState.WIPED: (gettext_lazy("Work profile wiped"), "muted"),
}


def device_badges(*, device: Device, actions: DeviceActions, now: datetime | None = None) -> list[Badge]:
    now = now or timezone.now()
    badges = [
        Badge(_("Active"), "ok", _("Device state"))
        if device.is_active
        else Badge(_("Retired"), "muted", _("Device state"))
    ]
    label, tone = WORK_PROFILE_BADGES.get(device.container_state, (gettext_lazy("Work profile state unknown"), "muted"))
    badges.append(Badge(str(label), tone, _("Work profile")))
    if device.is_active:
        if device.compliant is None:
            badges.append(Badge(_("Compliance not reported yet"), "muted", _("Compliance")))
        elif device.compliant:
            badges.append(Badge(_("Compliant"), "ok", _("Compliance")))
        else:
            badges.append(Badge(_("Not compliant"), "danger", _("Compliance")))
    if actions.pending_lock is not None:
        text = _("Lock on its way") if actions.pending_lock.type == LOCK else _("Unlock on its way")
        badges.append(Badge(text, "info", _("Lock")))
    if actions.open_wipe is not None:
        if actions.open_wipe.state == Wipe.State.HELD:
            badges.append(Badge(_("Wipe held for approval"), "warn", _("Corporate wipe")))
        else:
            badges.append(Badge(_("Wipe pending"), "danger", _("Corporate wipe")))
    if device.is_active:
        if device.last_seen_at is None:
            badges.append(Badge(_("Never checked in"), "warn", _("Check-in")))
        elif device.silent:
            delta = timesince(device.last_seen_at, now, depth=1)
            badges.append(Badge(_("Silent for %(delta)s") % {"delta": delta}, "warn", _("Check-in")))
    return badges


# --- The policy numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyStatus:
    signed: int | None  # the newest policy version signed for the device
    applied: int | None  # the version the device reports applied
    persona_revision: int | None  # the persona revision that newest version was compiled from
    current_revision: int | None  # the persona's revision now

    @property
    def up_to_date(self) -> bool:
        return self.signed is not None and self.applied is not None and self.applied >= self.signed

    @property
    def persona_moved_on(self) -> bool:
        return (
            self.persona_revision is not None
            and self.current_revision is not None
            and self.current_revision > self.persona_revision
        )


def policy_status(*, device: Device) -> PolicyStatus:
    revision = (
        PolicyVersion.objects.filter(device=device)
        .order_by("-version")
        .values_list("persona_revision", flat=True)
        .first()
    )
    return PolicyStatus(
        signed=device.policy_version,
        applied=device.applied_policy_version,
        persona_revision=revision,
        current_revision=device.persona.revision if device.persona_id and device.persona else None,
    )


# --- The timeline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    title: str
    detail: str = ""
    tone: str = ""  # "", ok, warn, danger (the timeline's dot)
    who: str = ""


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    page: int
    has_more: bool

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.has_more and self.page < MAX_TIMELINE_PAGES else None


def _sent_entry(command: Command, *, who: dict[str, tuple]) -> TimelineEntry:
    """A lock, an unlock or a key rotation sent (a policy's entry is its version's, a wipe's its own)."""
    by, reason = who.get(str(command.pk), ("", ""))
    if command.type == LOCK:
        title, detail = _("Lock sent to the device"), reason
    elif command.type == UNLOCK:
        title, detail = _("Unlock sent to the device"), reason
    else:
        title, detail = _("Sent: %(what)s") % {"what": command_label(command.type)}, ""
    if command.state in (Command.State.QUEUED, Command.State.DELIVERED):
        state = str(COMMAND_STATE_LABELS[Command.State(command.state)])
        detail = f"{detail} · {state}" if detail else state
    return TimelineEntry(command.created_at, title, detail, "", by)


def _policy_entry(record: PolicyVersion, command: Command | None, applied: int | None) -> TimelineEntry:
    detail = _("Compiled from persona revision r%(r)s.") % {"r": record.persona_revision}
    if command is not None and command.state in (Command.State.QUEUED, Command.State.DELIVERED):
        detail = f"{detail} {COMMAND_STATE_LABELS[Command.State(command.state)]}."
    elif command is None and applied is not None and record.version <= applied:
        detail = f"{detail} {_('The device has applied it or a newer one.')}"
    return TimelineEntry(record.created_at, _("Policy version %(n)s issued") % {"n": record.version}, detail, "")


def _result_entry(command: Command) -> TimelineEntry:
    version = command.payload.get("version") if command.type == APPLY_POLICY else None
    at = command.completed_at or command.created_at
    if command.state == Command.State.ACKNOWLEDGED:
        titles = {
            APPLY_POLICY: _("Policy version %(n)s applied") % {"n": version},
            LOCK: _("Work profile locked"),
            UNLOCK: _("Work profile unlocked"),
            "rotate_container_key": _("Work profile key rotated"),
        }
        return TimelineEntry(at, titles.get(command.type) or _("Done: %(what)s") % {
            "what": command_label(command.type)
        }, "", "ok")  # fmt: skip
    if command.state == Command.State.ERROR:
        title = (
            _("The device could not apply policy version %(n)s") % {"n": version}
            if version
            else _("%(what)s failed") % {"what": command_label(command.type)}
        )
        return TimelineEntry(at, title, command.detail or _("The device gave no reason."), "danger")
    what = _("Policy version %(n)s") % {"n": version} if version else command_label(command.type)
    return TimelineEntry(
        at, _("%(what)s: not done") % {"what": what}, _("Why: %(detail)s.") % {
            "detail": (command.detail or _("expired")).rstrip(".")
        }, "",
    )  # fmt: skip


def _wipe_entries(wipe: Wipe) -> list[TimelineEntry]:
    entries = []
    was_held = wipe.state == Wipe.State.HELD or wipe.approved_at is not None or wipe.cancelled_at is not None
    detail = _("Reason: %(reason)s") % {"reason": wipe.reason}
    if was_held:
        detail = f"{detail} · {_('Held for the approval of a second admin (many wipes lately).')}"
    entries.append(TimelineEntry(wipe.requested_at, _("Corporate wipe requested"), detail, "warn", wipe.requested_by))
    if wipe.approved_at:
        entries.append(TimelineEntry(wipe.approved_at, _("Corporate wipe approved and sent"), "", "danger",
                                     wipe.approved_by))  # fmt: skip
    if wipe.cancelled_at:
        entries.append(TimelineEntry(wipe.cancelled_at, _("Corporate wipe cancelled"), "", "ok", wipe.cancelled_by))
    if wipe.completed_at:
        if wipe.state == Wipe.State.DONE:
            entries.append(TimelineEntry(wipe.completed_at, _("Work profile wiped (the device confirmed)"), "",
                                         "danger"))  # fmt: skip
        else:
            entries.append(TimelineEntry(wipe.completed_at, _("Corporate wipe failed"),
                                         wipe.detail or _("The device gave no reason."), "danger"))  # fmt: skip
    return entries


def _compliance_entry(change: ComplianceChange) -> TimelineEntry:
    if change.compliant is True:
        title = _("Compliant again") if change.previous is False else _("Compliant")
        return TimelineEntry(change.created_at, title, "", "ok")
    if change.compliant is False:
        return TimelineEntry(change.created_at, _("Not compliant"), " ".join(change.reasons), "danger")
    return TimelineEntry(change.created_at, _("Compliance no longer reported"), "", "warn")


def _audit_entry(event: AuditEvent) -> TimelineEntry:
    title, tone = AUDIT_ENTRIES.get(event.action, (None, ""))
    reason = event.details.get("reason") if isinstance(event.details, dict) else None
    detail = _("Reason: %(reason)s") % {"reason": reason} if reason else ""
    text = str(title) if title else event.action.split(".", 1)[-1].replace("_", " ").capitalize()
    return TimelineEntry(event.created_at, text, detail, tone, event.actor_label)


def device_timeline(*, device: Device, with_audit: bool, page: int = 1, size: int = 50) -> Timeline:
    """The device's history, newest first: its enrollment, the commands sent to it and their
    results, its wipes, its compliance changes, and (for those who may read the audit log) who
    asked for each lock and the other audited events about it.

    Page `page` of `size` entries: each source gives its newest page*size + 1 rows (any entry of
    the first page*size overall is among its own source's first page*size), merged here."""
    page = max(1, min(page, MAX_TIMELINE_PAGES))
    wanted = page * size + 1
    entries: list[TimelineEntry] = [
        TimelineEntry(
            device.enrolled_at,
            _("Enrolled"),
            " ".join(part for part in (device.get_platform_display(), device.model) if part),
            "ok",
        )
    ]
    commands = Command.objects.filter(device=device).exclude(type=WIPE)
    sent = list(commands.order_by("-created_at", "-id")[:wanted])
    done = list(commands.filter(completed_at__isnull=False).order_by("-completed_at", "-id")[:wanted])
    policies = list(PolicyVersion.objects.filter(device=device).order_by("-version").defer("jws")[:wanted])
    by_version = {c.payload.get("version"): c for c in reversed(sent) if c.type == APPLY_POLICY}
    who: dict[str, tuple] = {}
    audit = AuditEvent.objects.filter(
        organization_id=device.organization_id, target_type="devices.device", target_id=str(device.pk)
    )
    if with_audit:
        lock_ids = [str(c.pk) for c in sent if c.type in (LOCK, UNLOCK)]
        if lock_ids:
            for event in audit.filter(action__in=["device.lock_requested", "device.unlock_requested"],
                                      details__command_id__in=lock_ids):  # fmt: skip
                who[str(event.details.get("command_id"))] = (event.actor_label, event.details.get("reason") or "")
        others = audit.exclude(action__in=AUDIT_FOLDED).exclude(action__startswith="wipe.").order_by("-seq")
        entries += [_audit_entry(event) for event in others[:wanted]]
    entries += [_sent_entry(c, who=who) for c in sent if c.type != APPLY_POLICY]
    entries += [_result_entry(c) for c in done]
    entries += [_policy_entry(r, by_version.get(r.version), device.applied_policy_version) for r in policies]
    for wipe in Wipe.objects.filter(device=device).order_by("-requested_at", "id")[:wanted]:
        entries += _wipe_entries(wipe)
    changes = ComplianceChange.objects.filter(device=device).order_by("-created_at", "-id")[:wanted]
    entries += [_compliance_entry(change) for change in changes]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    start = (page - 1) * size
    return Timeline(entries=entries[start : start + size], page=page, has_more=len(entries) > start + size)


# --- Why a required work app is missing ------------------------------------------------------------


@dataclass(frozen=True)
class WorkAppProblem:
    app_id: str
    status: str  # what is wrong, in words
    tone: str  # warn, danger
    reasons: list[str] = field(default_factory=list)


def _applied_apps(device: Device) -> set[str] | None:
    """The app ids of the policy the device applied (None: no policy of ours applied, or an
    Android device, whose policy is Google's)."""
    if device.channel == ManagementChannel.ANDROID or device.applied_policy_version is None:
        return None
    record = PolicyVersion.objects.filter(device=device, version=device.applied_policy_version).first()
    if record is None:
        return None
    try:
        rules = record.document.get("apps", {}).get("rules", [])
    except (jwt.PyJWTError, AttributeError, KeyError):  # a document we cannot read tells nothing
        return None
    return {str(rule.get("id")) for rule in rules if isinstance(rule, dict)}


def _device_reasons(device: Device, now: datetime) -> list[str]:
    """What keeps any app from arriving on this device, whatever the app."""
    reasons = []
    if device.last_seen_at is None:
        reasons.append(_("The device has not checked in since it enrolled: it has reported no apps yet."))
    elif device.silent:
        reasons.append(
            _("The device has been offline since %(when)s (%(ago)s ago): nothing installs until it checks in again.")
            % {"when": device.last_seen_at.strftime("%Y-%m-%d %H:%M UTC"), "ago": timesince(device.last_seen_at, now,
                                                                                                 depth=1)}
        )  # fmt: skip
    if device.container_state == ContainerState.LOCKED:
        reasons.append(_("The work profile is locked: nothing installs in it until it is unlocked."))
    return reasons


def required_apps_missing(*, device: Device, now: datetime | None = None) -> list[WorkAppProblem]:
    """Each app the device's persona requires that the device does not report installed (or
    reports too old, or signed by a certificate the persona does not allow), with what the data
    tells of why."""
    if not device.is_active or device.persona_id is None:
        return []
    rules = list(AppRule.objects.filter(persona_id=device.persona_id, install=InstallMode.REQUIRED).order_by("app_id"))
    if not rules:
        return []
    now = now or timezone.now()
    reported = {app.get("id"): app for app in device.work_apps or [] if isinstance(app, dict)}
    problems: list[WorkAppProblem] = []
    missing_rules = [rule for rule in rules if rule.app_id not in reported]
    for rule in rules:
        app = reported.get(rule.app_id)
        if app is None:
            continue
        version = str(app.get("version") or "")
        if rule.min_version and _version(version) < _version(rule.min_version):
            problems.append(WorkAppProblem(rule.app_id, _("Too old"), "warn", [
                _("Version %(have)s is installed; the persona requires %(want)s or newer. The employee "
                  "updates it from the store, or the device updates it itself.") % {
                    "have": version or _("unknown"), "want": rule.min_version},
            ]))  # fmt: skip
        cert = str(app.get("signing_cert_sha256") or "").lower()
        if rule.signing_cert_sha256 and cert and cert not in rule.signing_cert_sha256:
            problems.append(WorkAppProblem(rule.app_id, _("Blocked"), "danger", [
                _("The installed copy is signed by a certificate the persona does not allow (not the "
                  "publisher's build): the work profile blocks it."),
            ]))  # fmt: skip
    if not missing_rules:
        return problems
    common = _device_reasons(device, now)
    applied = _applied_apps(device)
    last_policy = (
        Command.objects.filter(device=device, type=APPLY_POLICY).order_by("-created_at", "-id").first()
        if device.channel != ManagementChannel.ANDROID
        else None
    )
    google = {
        detail.get("package"): detail.get("reason", "")
        for detail in (device.compliance or {}).get("non_compliance", [])
        if isinstance(detail, dict) and detail.get("package")
    }
    compliant, todo = evaluate_compliance(device=device, facts=device.compliance, os_version=device.os_version)
    for rule in missing_rules:
        reasons = list(common)
        if rule.app_id in google:
            words = ANDROID_REASONS.get(google[rule.app_id], _("is not applied"))
            reasons.append(_("Google reports that this app %(words)s.") % {"words": words})
        if last_policy is not None and last_policy.state == Command.State.ERROR:
            reasons.append(
                _("The device could not apply policy version %(n)s: %(detail)s")
                % {"n": last_policy.payload.get("version"), "detail": last_policy.detail or _("it gave no reason.")}
            )
        elif last_policy is not None and last_policy.state in (Command.State.QUEUED, Command.State.DELIVERED):
            reasons.append(
                _("Policy version %(n)s, sent %(ago)s ago, is not applied yet: the device installs the app when "
                  "it applies it.") % {"n": last_policy.payload.get("version"),
                                        "ago": timesince(last_policy.created_at, now, depth=1)}
            )  # fmt: skip
        elif device.channel != ManagementChannel.ANDROID and device.applied_policy_version is None:
            reasons.append(_("The device has not applied any policy yet, so it was never told to install the app."))
        elif applied is not None and rule.app_id not in applied:
            reasons.append(
                _("The app was added to the persona after policy version %(n)s, the one the device applied: "
                  "push the persona to send it.") % {"n": device.applied_policy_version}
            )  # fmt: skip
        if compliant is False and todo:
            reasons.append(_("The device is not compliant, so work apps stay blocked: %(todo)s") % {
                "todo": " ".join(todo)})  # fmt: skip
        if not reasons:
            reasons.append(
                _(
                    "Not in the device's inventory yet although it applied the policy that requires it: the install "
                    "may still be running, or have failed on the device without a report."
                )
            )
        problems.append(WorkAppProblem(rule.app_id, _("Not installed"), "danger", reasons))
    return sorted(problems, key=lambda problem: problem.app_id)
