"""An enrollment token's code, shown again while the token can still be used (its QR code, a
printable page, the downloads), and e-mailed to an employee with the instructions.

The token itself is stored hashed; only its wrapped copy (under the KEK, erased once the token is
used up, revoked or expired) can give it back, so everything here answers None, or refuses, once
the token cannot enroll a device any more."""

from __future__ import annotations

import io
import json
import smtplib
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from devices.android.tokens import android_token_secret
from devices.choices import ManagementChannel
from devices.models import EnrollmentToken
from devices.services import enrollment_qr_payload, enrollment_token_secret
from mdm.actors import Actor
from mdm.audit import audit_event_record
from mdm.errors import ServiceError


@dataclass(frozen=True)
class EnrollmentCode:
    """What a usable token's QR code encodes, and what a person copies instead of scanning."""

    enrollment_token: EnrollmentToken
    qr_contents: str  # the QR payload (our agent) or Google's QR code (Android)
    token: str  # the enrollment code itself
    link: str = ""  # Android: the enrollment link a phone in use opens

    @property
    def android(self) -> bool:
        return self.enrollment_token.channel == ManagementChannel.ANDROID


def enrollment_code_of(record: EnrollmentToken) -> EnrollmentCode | None:
    """The token's code while it can still enroll a device; None once it cannot."""
    if record.channel == ManagementChannel.ANDROID:
        google = android_token_secret(record)
        if google is None:
            return None
        return EnrollmentCode(record, qr_contents=google.qr_code, token=google.value, link=google.link)
    secret = enrollment_token_secret(record)
    if secret is None:
        return None
    payload = json.dumps(enrollment_qr_payload(secret, record.signing_kid), separators=(",", ":"))
    return EnrollmentCode(record, qr_contents=payload, token=secret)


def enrollment_qr(contents: str, *, kind: str, title: str = "Enrollment QR code") -> bytes:
    """The QR code as a PNG or SVG file (segno writes both itself; no imaging library)."""
    buffer = io.BytesIO()
    qr = segno.make(contents, error="m")
    if kind == "png":
        qr.save(buffer, kind="png", scale=10, border=4)
    else:
        qr.save(buffer, kind="svg", scale=8, border=4, title=title)
    return buffer.getvalue()


def enrollment_gone_message(record: EnrollmentToken) -> str:
    return (
        f"This enrollment token is {record.status}: its code is no longer available, "
        "so it cannot be shown, printed, downloaded or sent. Issue a new token."
    )


@transaction.atomic
def enrollment_instructions_send(
    *, enrollment_token: EnrollmentToken, email: str, actor: Actor | None = None, client_ip: str | None = None
) -> None:
    """E-mail `email` how to enroll a device with this token (its code, and its link on Android).

    A token bound to an employee goes only to that employee's address: the device it enrolls
    will be theirs. The audit event records the address; a mail that cannot be sent undoes it."""
    record = EnrollmentToken.objects.select_related("organization", "employee").get(pk=enrollment_token.pk)
    code = enrollment_code_of(record)
    if code is None:
        raise ServiceError(enrollment_gone_message(record), code="gone", status=410)
    email = email.strip()
    if record.employee is not None and record.employee.email.lower() != email.lower():
        raise ServiceError(
            f"This token enrolls a device for {record.employee.email}: send it to that address only.", field="email"
        )
    audit_event_record(
        organization=record.organization,
        action="enrollment_token.instructions_sent",
        actor=actor,
        target=record,
        details={"prefix": record.prefix, "email": email},
        client_ip=client_ip,
    )
    context = {
        "organization": record.organization.name,
        "code": code,
        "expires_at": record.expires_at,
        "portal_url": settings.MDM_ISSUER + "/portal/enroll/",
    }
    subject = "".join(render_to_string("console/enrollment/instructions_subject.txt", context).splitlines())
    body = render_to_string("console/enrollment/instructions_email.txt", context)
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[email])
    except (OSError, smtplib.SMTPException) as exc:
        raise ServiceError(
            "The e-mail could not be sent (the mail server did not answer); nothing was sent, try again later.",
            code="mail_failed",
            status=503,
        ) from exc
