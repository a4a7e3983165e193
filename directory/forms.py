from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from directory.choices import Offboarding
from directory.models import DirectoryGroup
from personas.models import Persona


class ScimTokenForm(forms.Form):
    name = forms.CharField(label=_("Name (e.g. Okta, Entra ID)"), max_length=100)


class OffboardingForm(forms.Form):
    offboarding = forms.ChoiceField(label=_("When the identity provider deactivates or deletes a person"),
                                    choices=Offboarding.choices)  # fmt: skip


class GroupMappingForm(forms.Form):
    persona = forms.ModelChoiceField(label=_("Persona"), queryset=Persona.objects.none(), required=False,
                                     empty_label=_("— none —"))  # fmt: skip
    priority = forms.IntegerField(label=_("Priority (higher wins)"), min_value=0,
                                  max_value=DirectoryGroup.PRIORITY_MAX, initial=0)  # fmt: skip

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        persona = cast(forms.ModelChoiceField, self.fields["persona"])
        persona.queryset = Persona.objects.filter(organization=organization).order_by("name")
