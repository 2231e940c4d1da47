"""Config errors: one line, ``SOURCE: section.field must be <what is allowed>; got <value>``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError


class ConfigError(ValueError):
    """An experiment config is invalid; the message names the field and what is allowed."""


def invalid(field: str, allowed: str, value: Any) -> PydanticCustomError:
    """Return the error a validator raises when ``field`` holds a ``value`` that is not ``allowed``.

    ``field`` is relative to the model being validated (``"widths"`` inside ``[network]``,
    ``"network.widths"`` for a rule of the whole experiment).
    """
    return PydanticCustomError(
        "config",
        "{field} must be {allowed}; got {shown}",
        {"field": field, "allowed": allowed, "value": value, "shown": describe(value)},
    )


def one_of(choices: Any) -> str:
    """Return 'one of "a", "b"' for the allowed-values part of a message."""
    return "one of " + ", ".join(f'"{choice}"' for choice in choices)


def _plain(value: Any) -> Any:
    """Return ``value`` with tuples as lists, as the TOML that gave it would show it."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def describe(value: Any) -> str:
    """Return a short text of a config value for an error message (lists and tables say so)."""
    value = _plain(value)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, list):
        return f"{text} (list)"
    if isinstance(value, dict):
        return f"{text} (table)"
    return text


def dotted(prefix: str, field: str) -> str:
    """Return ``prefix.field`` (``field`` at the top level)."""
    return f"{prefix}.{field}" if prefix else field


def from_validation_error(error: ValidationError, model: type, raw: Mapping[str, Any], prefix: str) -> ConfigError:
    """Return the one-line ConfigError for the first error pydantic found.

    Parameters
    ----------
    error : ValidationError
        What validating ``raw`` as ``model`` raised.
    model : type
        The pydantic dataclass that was validated; its fields' descriptions say what is allowed.
    raw : mapping
        The table as given (the "got" value is the whole field as written, not one element).
    prefix : str
        The table's dotted path ("network", "" for the top level).
    """
    first = error.errors(include_url=False)[0]
    kind, location = first["type"], first["loc"]
    if kind == "config":
        context = first["ctx"]
        return ConfigError(f"{dotted(prefix, context['field'])} must be {context['allowed']}; got {context['shown']}")
    fields = model.__pydantic_fields__
    key = next((part for part in location if isinstance(part, str)), None)
    if key is None:
        return ConfigError(f"{prefix or 'the config'} is invalid: {first['msg']}")
    name = dotted(prefix, key)
    if kind in ("unexpected_keyword_argument", "extra_forbidden") or key not in fields:
        return ConfigError(f"{name} is not a known key; allowed: {', '.join(fields)}")
    allowed = fields[key].description or first["msg"]
    if kind == "missing":
        return ConfigError(f"{name} is required: {allowed}")
    value = raw[key] if key in raw else first["input"]
    return ConfigError(f"{name} must be {allowed}; got {describe(value)}")
