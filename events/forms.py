from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from events.choices import DestinationKind
from mdm.lib import jsonsafe


def _prefixes(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


class DestinationCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=DestinationKind.choices)
    url = forms.CharField(label=gettext_lazy("Webhook URL"), max_length=2000, required=False)
    syslog_config = forms.CharField(
        label=gettext_lazy("Syslog configuration (JSON, see the documentation)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    event_types = forms.CharField(
        label=gettext_lazy("Only these event types (prefixes, comma-separated; empty: all)"),
        required=False,
        max_length=2000,
    )

    def clean_syslog_config(self):
        text = self.cleaned_data["syslog_config"].strip()
        if not text:
            return {}
        try:
            value = jsonsafe.loads(text)
            jsonsafe.check(value, max_depth=jsonsafe.MAX_BODY_DEPTH, text_safe=True)
        except (ValueError, jsonsafe.UnsafeJSON):
            raise forms.ValidationError(gettext_lazy("This is not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(gettext_lazy("A JSON object is expected."))
        return value

    def clean_event_types(self):
        return _prefixes(self.cleaned_data["event_types"])

    def config(self) -> dict:
        if self.cleaned_data["kind"] == DestinationKind.WEBHOOK:
            return {"url": self.cleaned_data["url"]}
        return self.cleaned_data["syslog_config"]


class DestinationReplayForm(forms.Form):
    from_at = forms.DateTimeField(label=gettext_lazy("From (UTC)"))
    to_at = forms.DateTimeField(label=gettext_lazy("To (UTC)"))

    def clean(self):
        data = super().clean() or {}
        if data.get("from_at") and data.get("to_at") and data["from_at"] >= data["to_at"]:
            raise forms.ValidationError(gettext_lazy("“From” must be before “To”."))
        return data
