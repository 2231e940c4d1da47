"""The value types of a config: strict scalars (no "3" for 3, no true for 1, no NaN), tuples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AllowInfNan, ConfigDict, Strict
from pydantic_core import ArgsKwargs

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
