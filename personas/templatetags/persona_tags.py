from typing import Any

from django import template

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
