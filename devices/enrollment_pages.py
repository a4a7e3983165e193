"""Console pages for sharing a usable enrollment token: the issued page again, a printable page of
its QR code, the QR code as PNG and SVG downloads, and the instructions e-mailed to an employee.

All of them need the token's code, which only its wrapped copy gives back while the token can
still enroll a device: once it is used up, revoked or expired they answer 410 with words. They
need the right to issue tokens (the admin API's QR code asks the same)."""

from __future__ import annotations

import uuid

import segno
from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from devices.enrollment_instructions import (
    EnrollmentCode,
    enrollment_code_of,
    enrollment_gone_message,
    enrollment_instructions_send,
    enrollment_qr,
)
from devices.models import EnrollmentToken
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib import cache
from mdm.lib.http import client_ip
from mdm.permissions import Perm

# One e-mail a minute per token: each carries the code, and a double click must not send two.
INSTRUCTIONS_INTERVAL_SECONDS = 60


class InstructionsForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail the instructions to"), max_length=254)


def _record(request, pk: uuid.UUID) -> EnrollmentToken:
    tokens = EnrollmentToken.objects.filter(organization=request.org.organization)
    return get_object_or_404(tokens.select_related("persona", "employee"), pk=pk)


def _gone(request, record: EnrollmentToken) -> HttpResponse:
    context = {"record": record, "reason": enrollment_gone_message(record)}
    return render(request, "console/enrollment/gone.html", context, status=410)


def _qr_inline(code: EnrollmentCode) -> str:
    title = _("Android enrollment QR code") if code.android else _("Enrollment QR code")
    return mark_safe(segno.make(code.qr_contents, error="m").svg_inline(scale=5, title=title))  # noqa: S308 (segno's own SVG)


def issued_context(code: EnrollmentCode) -> dict[str, object]:
    """What the issued pages show, from the token's code (as the issuing POST shows it)."""
    record = code.enrollment_token
    if code.android:
        issued: dict[str, object] = {"enrollment_token": record, "value": code.token, "link": code.link}
        return {"issued": issued, "qr": _qr_inline(code)}
    issued = {"enrollment_token": record, "token": code.token}
    return {"issued": issued, "payload": code.qr_contents, "qr": _qr_inline(code)}


def _issued_page(request, code: EnrollmentCode, form: InstructionsForm | None = None, status: int = 200):
    context = {**issued_context(code), "send_form": form, "again": True}
    template = "console/enrollment/issued_android.html" if code.android else "console/enrollment/issued.html"
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"  # it carries the code: no copy in a browser's cache
    return response


@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_detail(request, pk: uuid.UUID) -> HttpResponse:
    """The issued page again, while the token can still be used."""
    record = _record(request, pk)
    code = enrollment_code_of(record)
    if code is None:
        return _gone(request, record)
    return _issued_page(request, code)


@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_print(request, pk: uuid.UUID) -> HttpResponse:
    """The QR code and the steps on one page, laid out for paper (app.css's print rules)."""
    record = _record(request, pk)
    code = enrollment_code_of(record)
    if code is None:
        return _gone(request, record)
    response = render(request, "console/enrollment/print.html", {**issued_context(code), "code": code})
    response["Cache-Control"] = "no-store"
    return response


@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_qr(request, pk: uuid.UUID, kind: str) -> HttpResponse:
    """The QR code as a file to download: `kind` is "png" or "svg" (the URL map says which)."""
    record = _record(request, pk)
    code = enrollment_code_of(record)
    if code is None:
        return _gone(request, record)
    content_type = "image/png" if kind == "png" else "image/svg+xml"
    response = HttpResponse(enrollment_qr(code.qr_contents, kind=kind), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="enrollment-{record.prefix}.{kind}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@console_view(Perm.ENROLLMENT_TOKENS_MANAGE)
def enrollment_token_send(request, pk: uuid.UUID) -> HttpResponse:
    """E-mail the instructions (with the code) to the address in the form."""
    record = _record(request, pk)
    code = enrollment_code_of(record)
    if code is None:
        return _gone(request, record)
    form = InstructionsForm(request.POST)
    if not form.is_valid():
        return _issued_page(request, code, form, status=400)
    if cache.incr_in_window(f"enrollment-instructions:{record.pk}", timeout=INSTRUCTIONS_INTERVAL_SECONDS) not in (
        None,
        1,
    ):
        form.add_error("email", _("Instructions for this token were sent less than a minute ago: wait a minute."))
        return _issued_page(request, code, form, status=429)
    email = form.cleaned_data["email"]
    try:
        enrollment_instructions_send(
            enrollment_token=record, email=email, actor=request.org.actor, client_ip=client_ip(request)
        )
    except ServiceError as exc:
        if exc.status == 410:
            return _gone(request, record)
        form.add_error("email", exc.message)
        return _issued_page(request, code, form, status=exc.status)
    messages.success(request, _("Enrollment instructions sent to %(email)s.") % {"email": email})
    return redirect("console:enrollment-token", pk=record.pk)
