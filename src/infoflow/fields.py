"""Validated settings objects: strict value types and one-line error messages (pydantic).

Every settings object of infoflow (a config table, :class:`~infoflow.measure.settings.MeasurementSettings`)
is a frozen pydantic dataclass built from these types; :func:`one_line_errors` makes its
constructor raise one ``ValueError`` line naming the field and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AllowInfNan, ConfigDict, Strict, ValidationError
from pydantic_core import ArgsKwargs, PydanticCustomError

# A float field also takes an integer (3 -> 3.0); never a boolean, a string or NaN/inf.
Number = Annotated[float, Strict(), AllowInfNan(False)]
Integer = Annotated[int, Strict()]
Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
# Containers are tuples (hashable, frozen) and read from TOML lists; their items stay strict.
Vector = tuple[Number, ...]
Matrix = tuple[Vector, ...]

# Every table: frozen (hashable, comparable by value, picklable) and closed to unknown keys.
SECTION = ConfigDict(extra="forbid")


def fill_defaults(data: Any, fill: Callable[[dict[str, Any]], None]) -> Any:
    """Return ``data`` (a table, or a constructor's arguments) with ``fill`` applied to its keys.

    A before-validator of a pydantic dataclass sees a dict when validating a table and
    ``ArgsKwargs`` when called as a constructor; defaults that depend on other keys are filled
    in both (positional arguments are left as given).
    """
    if isinstance(data, dict):
        data = dict(data)
        fill(data)
        return data
    if isinstance(data, ArgsKwargs) and not data.args:
        kwargs = dict(data.kwargs or {})
        fill(kwargs)
        return ArgsKwargs((), kwargs)
    return data


def one_of(choices: Any) -> str:
    """Return 'one of "a", "b"' for the allowed-values part of a message."""
    return "one of " + ", ".join(f'"{choice}"' for choice in choices)


def _plain(value: Any) -> Any:
    """Return ``value`` with tuples as lists, as the TOML that gave it would show it."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def describe(value: Any) -> str:
    """Return a short text of a value for an error message (lists and tables say so)."""
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


def error_line(error: ValidationError, model: type, raw: Mapping[str, Any], prefix: str = "") -> str:
    """Return one line, ``field must be <allowed>; got <value>``, for the first error pydantic found.

    Parameters
    ----------
    error : ValidationError
        What validating ``raw`` as ``model`` raised.
    model : type
        The pydantic dataclass that was validated; its fields' descriptions say what is allowed.
    raw : mapping
        The values as given (the "got" value is the whole field as written, not one element).
    prefix : str
        The table's dotted path ("network", "" for the top level).
    """
    first = error.errors(include_url=False)[0]
    kind, location = first["type"], first["loc"]
    if kind == "config":
        context = first["ctx"]
        return f"{dotted(prefix, context['field'])} must be {context['allowed']}; got {context['shown']}"
    fields = model.__pydantic_fields__
    key = next((part for part in location if isinstance(part, str)), None)
    if key is None:
        return f"{prefix or 'the config'} is invalid: {first['msg']}"
    name = dotted(prefix, key)
    aliases = {alias: field for field, info in fields.items() for alias in _aliases(info)}
    field = aliases.get(key, key)
    if kind in ("unexpected_keyword_argument", "extra_forbidden") or field not in fields:
        return f"{name} is not a known key; allowed: {', '.join(fields)}"
    allowed = fields[field].description or first["msg"]
    if kind == "missing":
        return f"{name} is required: {allowed}"
    value = raw[key] if key in raw else first["input"]
    return f"{name} must be {allowed}; got {describe(value)}"


def _aliases(info: Any) -> list[str]:
    """Return the other names a field is read under (its validation aliases)."""
    alias = info.validation_alias
    choices = getattr(alias, "choices", None)
    if choices is not None:
        return [choice for choice in choices if isinstance(choice, str)]
    return [alias] if isinstance(alias, str) else []


Model = TypeVar("Model", bound=type)


def one_line_errors(cls: Model) -> Model:
    """Make a pydantic dataclass's constructor raise one ValueError line naming the bad field.

    Validation of a table (``TypeAdapter(cls).validate_python``) keeps pydantic's
    ValidationError, which config loading turns into its own one-line ConfigError.
    """
    validated_init = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            validated_init(self, *args, **kwargs)
        except ValidationError as error:
            raise ValueError(error_line(error, cls, kwargs)) from None

    __init__.__doc__ = validated_init.__doc__
    cls.__init__ = __init__  # type: ignore[misc]
    return cls
