"""Format gate: an agent's raw output must validate against its pydantic schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from state.schemas import Violation

M = TypeVar("M", bound=BaseModel)


def _field_name(loc: tuple[int | str, ...]) -> str:
    """Dotted name of a pydantic error location; `*` for the whole object."""
    return ".".join(str(part) for part in loc) or "*"


def check_format(
    schema: type[M], raw: Mapping[str, Any] | BaseModel | Any
) -> tuple[M | None, list[Violation]]:
    """Validate an agent's raw output against its schema.

    A model instance is validated again from its dump, so an instance built without
    validation (`model_construct`) or of another class is held to the schema too.

    Args:
        schema: The agent's structured-output schema.
        raw: The output as the model returned it (a mapping or a model instance).

    Returns:
        The validated model and no violations, or `None` and one `format` violation per
        pydantic error, its field the error's dotted location.
    """
    data = raw.model_dump() if isinstance(raw, BaseModel) else raw
    try:
        return schema.model_validate(data), []
    except ValidationError as exc:
        return None, [
            Violation(kind="format", field=_field_name(error["loc"]), message=error["msg"])
            for error in exc.errors()
        ]
