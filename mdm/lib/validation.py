"""Validation of a JSON document against a declared shape, in plain Python, naming every error by
its input path (`apps[0].id`, `access.max_offline_days`, `non_field_errors` for an object as a whole).

A shape is a tree of nodes: `Object` (named fields), `ObjectList` (a list of objects), `ListOf`,
`MapOf`, and the leaves `Text`, `Integer`, `Boolean`, `Choice`. `validate(node, value)` returns the
cleaned value or raises `ServiceError` with every error found, by path. The rules and their
messages are those of the admin API's fields (which used to do this job), so a domain can validate
its documents without the API framework and the API still answers in the words it always had:

- a field missing from an object is required unless it has a `default` (given when missing) or is
  `required=False` (then left out); `null` is refused unless `allow_null`;
- types are strict: a string is not a number, `1` is not `true`, `7.0` is not an integer;
- text is trimmed, and may not be blank unless `allow_blank`; NUL and lone surrogates are refused;
- keys an object does not declare are ignored;
- a node's `check` runs on its cleaned value (an object's only when its fields are all valid) and
  may return a new value, or raise `Invalid`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mdm.errors import NON_FIELD, ServiceError

Check = Callable[[Any], Any]
Errors = dict[str, list[str]]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""A field absent from its object (distinct from an explicit `null`)."""

REQUIRED = _("This field is required.")
NULL = _("This field may not be null.")


class Invalid(Exception):
    """Raised by a check: what is wrong with the value at hand (`messages`), or with some of its
    parts (`errors`, by path relative to it: `install`, `apps[2].id`)."""

    def __init__(self, *messages: str | Promise, errors: Mapping[str, Sequence[str | Promise]] | None = None):
        super().__init__(*messages)
        self.messages = [str(m) for m in messages]
        self.errors = {str(k): [str(m) for m in v] for k, v in (errors or {}).items()}


class _Refused(Exception):
    """Errors found below a node, by absolute path (internal: `validate` turns it into ServiceError)."""

    def __init__(self, errors: Errors):
        super().__init__(errors)
        self.errors = errors


class _Skip(Exception):
    """An optional field without a default is absent: leave it out of the cleaned object."""


def join_path(parent: str, key: str) -> str:
    """The path of `key` under `parent`: `access.passcode`, and `[n]` for keys made of digits
    (list indexes, as `apps[0]`). The top level's keys are used as they are; a key that names
    nothing (an empty one) leaves the error on the parent."""
    if not parent:
        return key
    head, _sep, rest = key.partition(".")
    if not head and not rest:
        return parent
    base = f"{parent}[{head}]" if head.isdigit() else f"{parent}.{head}"
    return f"{base}.{rest}" if rest else base


def _refuse(path: str, *messages: str | Promise) -> _Refused:
    return _Refused({path: [str(m) for m in messages]})


class Node:
    """One value of the document. `check(value)` runs on the cleaned value and returns it (or a
    replacement); `help_text` documents the node (the API's schema shows it)."""

    def __init__(
        self,
        *,
        required: bool | None = None,
        default: Any = MISSING,
        allow_null: bool = False,
        check: Check | None = None,
        help_text: str = "",
    ):
        self.default = default
        self.required = default is MISSING if required is None else required
        self.allow_null = allow_null
        self.check = check
        self.help_text = help_text

    def run(self, value: Any, path: str) -> Any:
        """The cleaned value; raises _Refused (errors by path) or _Skip (absent, no default)."""
        if value is MISSING:
            if self.required:
                raise _refuse(path, REQUIRED)
            if self.default is MISSING:
                raise _Skip
            return self._checked(self.default() if callable(self.default) else self.default, path)
        if value is None:
            if not self.allow_null:
                raise _refuse(path, NULL)
            return self._checked(None, path)
        try:
            cleaned = self.parse(value, path)
        except Invalid as exc:
            raise _Refused({path: exc.messages}) from exc
        messages = self.limits(cleaned)
        if messages:
            raise _refuse(path, *messages)
        return self._checked(cleaned, path)

    def parse(self, value: Any, path: str) -> Any:
        """The value converted to its type (a subclass's job); `Invalid` when it is not one."""
        return value

    def limits(self, value: Any) -> list[str]:
        """Every bound the parsed value breaks (all of them, not only the first)."""
        return []

    def _checked(self, value: Any, path: str) -> Any:
        if self.check is None:
            return value
        try:
            return self.check(value)
        except Invalid as exc:
            raise _Refused(self._check_errors(exc, path)) from exc

    def _check_errors(self, exc: Invalid, path: str) -> Errors:
        errors = {join_path(path, key): messages for key, messages in exc.errors.items()}
        if exc.messages:
            errors = {path: exc.messages, **errors}
        return errors


class Text(Node):
    """A string, trimmed; blank only with `allow_blank`; at most `max_length` characters."""

    INVALID = _("Not a valid string.")
    BLANK = _("This field may not be blank.")
    MAX_LENGTH = _("Ensure this field has no more than {max_length} characters.")
    MIN_LENGTH = _("Ensure this field has at least {min_length} characters.")
    NUL = _("Null characters are not allowed.")
    SURROGATE = _("Surrogate characters are not allowed: U+{code_point:X}.")

    def __init__(
        self,
        *,
        max_length: int | None = None,
        min_length: int | None = None,
        allow_blank: bool = False,
        trim: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.min_length = min_length
        self.allow_blank = allow_blank
        self.trim = trim

    def run(self, value: Any, path: str) -> Any:
        # Blank is decided before anything else, and a blank value is not measured.
        if isinstance(value, str) and (value == "" or (self.trim and value.strip() == "")):
            if not self.allow_blank:
                raise _refuse(path, self.BLANK)
            return self._checked("", path)
        return super().run(value, path)

    def parse(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _refuse(path, self.INVALID)
        return value.strip() if self.trim else value

    def limits(self, value: str) -> list[str]:
        messages = []
        if self.max_length is not None and len(value) > self.max_length:
            messages.append(str(self.MAX_LENGTH).format(max_length=self.max_length))
        if self.min_length is not None and len(value) < self.min_length:
            messages.append(str(self.MIN_LENGTH).format(min_length=self.min_length))
        if "\x00" in value:
            messages.append(str(self.NUL))
        surrogate = next((ch for ch in value if 0xD800 <= ord(ch) <= 0xDFFF), None)
        if surrogate is not None:
            messages.append(str(self.SURROGATE).format(code_point=ord(surrogate)))
        return messages


class Integer(Node):
    """An integer (not a boolean, not a float, not a string of digits), within bounds."""

    INVALID = _("A valid integer is required.")
    MAX_VALUE = _("Ensure this value is less than or equal to {max_value}.")
    MIN_VALUE = _("Ensure this value is greater than or equal to {min_value}.")

    def __init__(self, *, min_value: int | None = None, max_value: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.min_value = min_value
        self.max_value = max_value

    def parse(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refuse(path, self.INVALID)
        try:  # an integer of more digits than Python converts to text is no number a person meant
            str(value)
        except ValueError as exc:
            raise _refuse(path, self.INVALID) from exc
        return int(value)

    def limits(self, value: int) -> list[str]:
        messages = []
        if self.max_value is not None and value > self.max_value:
            messages.append(str(self.MAX_VALUE).format(max_value=self.max_value))
        if self.min_value is not None and value < self.min_value:
            messages.append(str(self.MIN_VALUE).format(min_value=self.min_value))
        return messages


class Boolean(Node):
    """`true` or `false`, nothing that merely looks like one."""

    INVALID = _("Must be a valid boolean.")

    def parse(self, value: Any, path: str) -> bool:
        if value is not True and value is not False:
            raise _refuse(path, self.INVALID)
        return value


class Choice(Node):
    """One of `choices`: values, or (value, label) pairs such as a TextChoices' `.choices`."""

    INVALID = _('"{input}" is not a valid choice.')

    def __init__(self, *, choices: Sequence[Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.choices = choices
        values = [item[0] if isinstance(item, tuple) else item for item in choices]
        self._by_text = {str(value): value for value in values}

    def parse(self, value: Any, path: str) -> Any:
        if isinstance(value, enum.Enum) and str(value) != str(value.value):
            value = value.value
        try:
            return self._by_text[str(value)]
        except KeyError:
            raise _refuse(path, str(self.INVALID).format(input=value)) from None


class ListOf(Node):
    """A list of values of one kind (`child`), at most `max_length` of them."""

    NOT_A_LIST = _('Expected a list of items but got type "{input_type}".')
    MAX_LENGTH = _("Ensure this field has no more than {max_length} elements.")
    MIN_LENGTH = _("Ensure this field has at least {min_length} elements.")

    def __init__(self, child: Node, *, max_length: int | None = None, min_length: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.child = child
        self.max_length = max_length
        self.min_length = min_length

    def parse(self, value: Any, path: str) -> list[Any]:
        if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
            raise _refuse(path, str(self.NOT_A_LIST).format(input_type=type(value).__name__))
        return _each(self.child, value, path)

    def limits(self, value: list[Any]) -> list[str]:
        messages = []
        if self.max_length is not None and len(value) > self.max_length:
            messages.append(str(self.MAX_LENGTH).format(max_length=self.max_length))
        if self.min_length is not None and len(value) < self.min_length:
            messages.append(str(self.MIN_LENGTH).format(min_length=self.min_length))
        return messages


class MapOf(Node):
    """An object with keys of the author's choosing; each value a `child` (any JSON without one)."""

    NOT_A_DICT = _('Expected a dictionary of items but got type "{input_type}".')

    def __init__(self, child: Node | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.child = child

    def parse(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _refuse(path, str(self.NOT_A_DICT).format(input_type=type(value).__name__))
        if self.child is None:
            return {str(key): item for key, item in value.items()}
        cleaned, errors = {}, {}
        for key, item in value.items():
            try:
                cleaned[str(key)] = self.child.run(item, join_path(path, str(key)))
            except _Refused as exc:
                errors.update(exc.errors)
        if errors:
            raise _Refused(errors)
        return cleaned


class Object(Node):
    """An object with named `fields`. Its `check` sees the cleaned fields, only when every one is
    valid; what it refuses lands on the object's `non_field_errors`, or on the fields it names.
    `name` is what documentation calls the object."""

    INVALID = _("Invalid data. Expected a dictionary, but got {datatype}.")

    def __init__(self, name: str, fields: dict[str, Node], **kwargs: Any):
        super().__init__(**kwargs)
        self.name = name
        self.fields = fields

    def parse(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _refuse(join_path(path, NON_FIELD), str(self.INVALID).format(datatype=type(value).__name__))
        cleaned, errors = {}, {}
        for name, node in self.fields.items():
            try:
                cleaned[name] = node.run(value.get(name, MISSING), join_path(path, name))
            except _Refused as exc:
                errors.update(exc.errors)
            except _Skip:
                pass
        if errors:
            raise _Refused(errors)
        return cleaned

    def _check_errors(self, exc: Invalid, path: str) -> Errors:
        errors = {join_path(path, key): messages for key, messages in exc.errors.items()}
        if exc.messages:
            errors = {join_path(path, NON_FIELD): exc.messages, **errors}
        return errors


class ObjectList(Node):
    """A list of objects (`child`), at most `max_length` of them. What is wrong with the list as a
    whole (not a list, too long) lands on its `non_field_errors`, and is found before the items."""

    NOT_A_LIST = _('Expected a list of items but got type "{input_type}".')
    MAX_LENGTH = _("Ensure this field has no more than {max_length} elements.")

    def __init__(self, child: Object, *, max_length: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.child = child
        self.max_length = max_length

    def parse(self, value: Any, path: str) -> list[Any]:
        whole = join_path(path, NON_FIELD)
        if not isinstance(value, list):
            raise _refuse(whole, str(self.NOT_A_LIST).format(input_type=type(value).__name__))
        if self.max_length is not None and len(value) > self.max_length:
            raise _refuse(whole, str(self.MAX_LENGTH).format(max_length=self.max_length))
        return _each(self.child, value, path)


def _each(child: Node, items: Any, path: str) -> list[Any]:
    """Each item cleaned by `child` at `path[i]`; every item's errors, not only the first's."""
    cleaned, errors = [], {}
    for index, item in enumerate(items):
        try:
            cleaned.append(child.run(item, f"{path}[{index}]"))
        except _Refused as exc:
            errors.update(exc.errors)
    if errors:
        raise _Refused(errors)
    return cleaned


def validate(node: Node, value: Any) -> Any:
    """`value` cleaned by `node`, or ServiceError (code `invalid`) with every error by path."""
    try:
        return node.run(value, "")
    except _Refused as exc:
        errors = {path or NON_FIELD: messages for path, messages in exc.errors.items()}
        raise ServiceError.invalid_fields(errors) from None
