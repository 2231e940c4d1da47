"""Config errors: one line, ``SOURCE: section.field must be <what is allowed>; got <value>``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from infoflow.fields import describe, dotted, error_line, invalid, one_of

__all__ = ["ConfigError", "describe", "dotted", "from_validation_error", "invalid", "one_of"]


class ConfigError(ValueError):
    """An experiment config is invalid; the message names the field and what is allowed."""


def from_validation_error(error: ValidationError, model: type, raw: Mapping[str, Any], prefix: str) -> ConfigError:
    """Return the one-line ConfigError for the first error pydantic found (see :func:`infoflow.fields.error_line`)."""
    return ConfigError(error_line(error, model, raw, prefix))
