from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def errors_at(errors: dict[str, list[str]] | None, path: str) -> list[str]:
    """The validation messages of one field, by its path in the persona's spec (`apps[0].id`)."""
    return (errors or {}).get(path, [])


@register.filter
def at(mapping: dict[str, Any] | None, key: str) -> Any:
    """mapping[key], for keys that are not valid template identifiers."""
    return (mapping or {}).get(key)


@register.simple_tag
def path(*parts: object) -> str:
    """Join parts into a spec path: {% path "data_sharing" channel "work_to_personal" %}."""
    return ".".join(str(part) for part in parts)


@register.simple_tag
def invalid(errors: dict[str, list[str]] | None, path: str) -> str:
    """` aria-invalid="true" aria-describedby="<path>-error"` on a field the form refused (its
    messages are in the element `field_errors` renders), nothing on the others."""
    if not (errors or {}).get(path):
        return ""
    return format_html(' aria-invalid="true" aria-describedby="{}-error"', path)


@register.simple_tag
def field_errors(errors: dict[str, list[str]] | None, path: str) -> str:
    """The messages of one refused field, in the element its `invalid` attributes point to."""
    found = (errors or {}).get(path)
    if not found:
        return ""
    return format_html('<span class="error" role="alert" id="{}-error">{}</span>', path, " ".join(found))
