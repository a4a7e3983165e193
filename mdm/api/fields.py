"""Serializer fields that take JSON types as they are.

DRF turns 7 into "7", "no" into False and "7" into 7. An agent or a script sending the wrong
type has a bug worth reporting, not guessing around: these fields refuse it (400, the field named).
"""

import unicodedata

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID as a string only (DRF also takes an integer and makes a UUID of it)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class PrintableCharField(StrictCharField):
    """Text shown to people (a device's model, say): no control or format characters, which
    would break a page, a typed confirmation or an e-mail header."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if any(unicodedata.category(ch).startswith("C") for ch in value):
            raise serializers.ValidationError("Control and format characters are not allowed.")
        return value
