"""JSON as it may enter the server: finite numbers only, bounded depth, text PostgreSQL can store.

Python's json module reads `1e400` as infinity and `NaN` as a float; PostgreSQL's jsonb refuses
both, so they must be refused where JSON comes in, not where it is stored. A deeply nested value
parses fine but makes every recursive walk after it (validation, deepcopy, the diff) blow the
stack: its depth is checked here, by a walk that does not recurse.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

# A request body: the deepest document we accept (a persona spec is about 6 levels deep, a
# managed configuration adds its own, capped lower by the persona validation).
MAX_BODY_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnsafeJSON(ValueError):
    """The value is not JSON the server accepts; the message says why, for a person."""


def _refuse_constant(name: str) -> NoReturn:
    raise UnsafeJSON(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJSON(f"{text} is out of range for a number.")
    return value


def loads(text: str | bytes, *, max_depth: int = MAX_BODY_DEPTH) -> Any:
    """json.loads, refusing NaN, Infinity, numbers that overflow and nesting past `max_depth`.

    Raises UnsafeJSON (a ValueError) with a message fit for a 400."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnsafeJSON:
        raise
    except RecursionError as exc:
        raise UnsafeJSON(f"Nested deeper than {max_depth} levels.") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of 5,000 digits
        raise UnsafeJSON(f"Not valid JSON: {exc}") from exc
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int, text_safe: bool = False, max_nodes: int | None = None) -> None:
    """Walk `value` without recursion; raise UnsafeJSON if it is deeper than `max_depth`, holds a
    non-finite number, has more than `max_nodes` values, or (with `text_safe`) holds a NUL or a
    lone surrogate, which PostgreSQL's text and jsonb cannot store."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise UnsafeJSON(f"More than {max_nodes} values.")
        if isinstance(item, dict):
            if depth > max_depth:
                raise UnsafeJSON(f"Nested deeper than {max_depth} levels.")
            for key, child in item.items():
                if text_safe:
                    _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise UnsafeJSON(f"Nested deeper than {max_depth} levels.")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise UnsafeJSON("NaN and infinite numbers are not allowed.")
        elif isinstance(item, str) and text_safe:
            _check_text(item)


def _check_text(text: str) -> None:
    if _UNSTORABLE.search(text):
        raise UnsafeJSON("NUL characters and lone surrogates are not allowed.")
