"""Pieces every feature's request schemas share."""

from collections.abc import Callable
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    """A request body: unknown fields are refused (422), never ignored: no mass assignment, no silent typos."""

    model_config = ConfigDict(extra="forbid")


def checked(check: Callable[[Any], Any], error_type: str) -> AfterValidator:
    """Run a pure check that raises ValueError; its message (never the value) becomes the 422's message."""

    def run(value: Any) -> Any:
        try:
            return check(value)
        except ValueError as refused:
            raise PydanticCustomError(error_type, str(refused)) from None

    return AfterValidator(run)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(**kwargs: Any) -> Any:
    """A PATCH field that may be left out (unchanged) but not sent as null: the schema says so too."""
    return Field(default=None, json_schema_extra=_no_default, **kwargs)
