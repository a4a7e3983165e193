"""Console pages about the server's signing keys: which key this organization's devices pin, and
retiring a previous key (owners and admins).

The keys serve the whole server, so the page shows every key but counts only this organization's
devices; an organization's admin can retire a key only when no other organization's device or
usable enrollment token still pins it (the service refuses otherwise).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from devices.signing_keys import signing_key_pins, signing_key_retire
from mdm.choices import SigningKeyState
from mdm.console.decorators import console_view
from mdm.errors import ServiceError
from mdm.lib.http import client_ip
from mdm.models import SigningKey
from mdm.permissions import Perm

CONFIRM_CHARS = 8


class SigningKeyRetireForm(forms.Form):
    """The retirement's confirmation: the first characters of the key's id, typed out."""

    confirm = forms.CharField(label=gettext_lazy("Type the key's first 8 characters to confirm"), max_length=64)

    def __init__(self, *args, key: SigningKey, **kwargs):
        super().__init__(*args, **kwargs)
        self.key = key

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.key.kid[:CONFIRM_CHARS]:
            raise forms.ValidationError(_("That is not the start of this key's id: nothing was retired."))
        return typed


@console_view(Perm.SIGNING_KEYS_MANAGE)
def signing_keys(request):
    """Every server signing key, with how many of this organization's devices still pin it."""
    pins = signing_key_pins(organization=request.org.organization)
    keys = list(SigningKey.objects.order_by("-created_at"))
    published = {key.kid for key in keys if key.state != SigningKeyState.RETIRED}
    context = {
        "rows": [
            {"key": key, "devices": pins.get(key.kid, 0), "retirable": key.state == SigningKeyState.PREVIOUS}
            for key in keys
        ],
        # Pinning a retired (or unknown) key: nothing the server signs reaches them any more.
        "unreachable": sum(n for kid, n in pins.items() if kid and kid not in published),
    }
    return render(request, "console/signing_keys.html", context)


@console_view(Perm.SIGNING_KEYS_MANAGE)
def signing_key_retire_view(request, kid: str):
    key = SigningKey.objects.filter(kid=kid).first()
    if key is None:
        raise Http404("No such signing key.")
    organization = request.org.organization
    devices = signing_key_pins(organization=organization).get(key.kid, 0)
    form = SigningKeyRetireForm(request.POST or None, key=key)
    if request.method == "POST" and form.is_valid():
        try:
            # The typed confirmation is the explicit consent that pinning devices are cut off.
            signing_key_retire(
                kid=key.kid,
                force=True,
                actor=request.org.actor,
                organization=organization,
                client_ip=client_ip(request),
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Signing key retired: its private key is destroyed."))
            return redirect("console:signing-keys")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "console/signing_key_retire.html",
        {"key": key, "devices": devices, "form": form, "confirm_text": key.kid[:CONFIRM_CHARS]},
        status=status,
    )
