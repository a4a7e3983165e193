from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from devices.choices import ManagementChannel, Ownership


class WipeConfirmForm(forms.Form):
    """The corporate wipe's confirmation: the device's name typed out, and a reason."""

    device_name = forms.CharField(label=_("Type the device's name to confirm"), max_length=120)
    reason = forms.CharField(label=_("Reason (kept in the audit log)"), max_length=500, widget=forms.Textarea)

    def __init__(self, *args, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_device_name(self):
        typed = self.cleaned_data["device_name"].strip()
        if typed != self.device.name:
            raise forms.ValidationError(_("That is not this device's name: nothing was wiped."))
        return typed

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why."))
        return reason


class BulkWipeConfirmForm(forms.Form):
    """The bulk corporate wipe's confirmation: the single wipe's typed confirmation (the device's
    name; for several devices, their number, as the employee wipe asks) and its very reason field."""

    confirmation = forms.CharField(max_length=120)
    reason = WipeConfirmForm.base_fields["reason"]
    clean_reason = WipeConfirmForm.clean_reason

    def __init__(self, *args, devices, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = devices[0].name if len(devices) == 1 else str(len(devices))
        self.fields["confirmation"].label = (
            _("Type the device's name to confirm") if len(devices) == 1 else _("Type the number of devices to confirm")
        )

    def clean_confirmation(self):
        typed = self.cleaned_data["confirmation"].strip()
        if typed != self.expected:
            raise forms.ValidationError(_("That is not what was asked: nothing was wiped."))
        return typed


class BulkPersonaForm(forms.Form):
    persona = forms.ChoiceField(label=_("Persona"))

    def __init__(self, *args, personas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.personas = {str(p.pk): p for p in personas}
        persona_field = self.fields["persona"]
        assert isinstance(persona_field, forms.ChoiceField)  # noqa: S101  (declared so above)
        persona_field.choices = [("", _("Choose a persona…"))] + [(str(p.pk), p.name) for p in personas]

    def clean_persona(self):
        return self.personas[self.cleaned_data["persona"]]


class EnrollmentTokenForm(forms.Form):
    EXPIRY = [("1h", _("1 hour")), ("1d", _("1 day")), ("7d", _("7 days")), ("30d", _("30 days"))]
    CHANNELS = [
        (ManagementChannel.AGENT.value, _("Agent (our app)")),
        (ManagementChannel.ANDROID.value, _("Android work profile (Google)")),
    ]

    # Not required: a form sent without it (the page before Android Enterprise) is for the agent.
    channel = forms.ChoiceField(
        label=_("Device type"), choices=CHANNELS, initial=ManagementChannel.AGENT, required=False
    )
    persona = forms.ChoiceField(label=_("Persona"))
    ownership = forms.ChoiceField(label=_("Ownership"), choices=Ownership.choices, initial=Ownership.PERSONAL)
    uses = forms.IntegerField(label=_("Devices it may enroll"), min_value=1, max_value=10_000, initial=1)
    expires = forms.ChoiceField(label=_("Valid for"), choices=EXPIRY, initial="7d")
    employee = forms.EmailField(label=_("Employee (optional)"), required=False)
    note = forms.CharField(label=_("Note for the admins (optional)"), required=False, max_length=200)

    def __init__(self, *args, personas=(), android: bool = False, **kwargs):
        """`android`: the organization is connected to Android Enterprise (else only the agent)."""
        super().__init__(*args, **kwargs)
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ChoiceField)  # noqa: S101  (declared so above)
        channel_field.choices = self.CHANNELS if android else self.CHANNELS[:1]
        self.personas = {str(p.pk): p for p in personas}
        default = next((p for p in personas if p.is_default), None)
        persona_field = self.fields["persona"]
        assert isinstance(persona_field, forms.ChoiceField)  # noqa: S101  (declared so above)
        persona_field.choices = [(str(p.pk), p.name) for p in personas]
        if default is not None:
            self.fields["persona"].initial = str(default.pk)

    def clean_channel(self):
        return self.cleaned_data["channel"] or ManagementChannel.AGENT

    def clean_persona(self):
        return self.personas[self.cleaned_data["persona"]]

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("employee") and cleaned.get("uses", 1) != 1:
            self.add_error("uses", _("A token bound to one employee is for one device."))
        return cleaned


class AndroidConnectForm(forms.Form):
    """Start the signup at Google; the e-mail, when given, is filled in on Google's page."""

    admin_email = forms.EmailField(label=_("Your Google account's e-mail (optional)"), required=False)


class AndroidDisconnectForm(forms.Form):
    """Disconnecting removes every Android device's work profile: the organization's name, typed
    (the service compares it)."""

    confirm = forms.CharField(label=_("Type the organization's name to confirm"), max_length=200)


class EmployeeWipeForm(forms.Form):
    employee = forms.EmailField(label=_("Employee's e-mail"))
    reason = forms.CharField(label=_("Reason (kept in the audit log)"), max_length=500, widget=forms.Textarea)
    confirm = forms.CharField(label=_("Number of devices to wipe (to confirm)"), required=False, max_length=6)
