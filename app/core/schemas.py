"""Pieces every feature's request schemas share: the one strict base (X5) and its helpers.

`Strict` is the base of every request body. On top of refusing unknown fields it tightens every field
of every subclass once, when the model is built, so no feature can forget it and the OpenAPI document
shows the same limits the server enforces:

- numbers and booleans are never converted: `true` is not 1, `"150"` is not 150, `1` is not `true`;
  floats refuse NaN and infinity; decimals take a number or decimal text (their documented exact form);
- integers fit a PostgreSQL `integer` unless the field declares its own bounds (ids in request bodies
  are UUIDs; a bigint column's field says so with its own `le`);
- text refuses NUL, other control characters and lone surrogates (PostgreSQL cannot store the first,
  UTF-8 cannot encode the last); a field where a newline means something is declared `MultilineText`,
  which allows newline, carriage return and tab;
- dates and datetimes are ISO 8601 text (a number is not a date) between 1900-01-01 and 2200-12-31.
"""

import copy
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, GetCoreSchemaHandler, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)

# Python's `re` engine (set on Strict below) because Rust's cannot name surrogates.
SINGLE_LINE = r"^[^\x00-\x1f\x7f-\x9f\ud800-\udfff]*$"
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]*$"

MultilineText = Annotated[str, StringConstraints(pattern=MULTILINE)]
"""Text in which newlines are meaningful (messages, notes, bios): newline, carriage return and tab allowed."""


def _date_as_text(value: Any) -> Any:
    # A JSON number is not a date (lax parsing would read 0 as 1970-01-01).
    if isinstance(value, str | date):
        return value
    raise PydanticCustomError("date_type", "Send a date as ISO 8601 text, e.g. 2026-03-01 or 2026-03-01T09:00:00Z.")


def _decimal_not_bool(value: Any) -> Any:
    # Decimal text ("12.50") is the documented exact form (the schema says number or string); `true` is not 1.
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PydanticCustomError("decimal_type", "Send a number, or decimal text such as \"12.50\".")
    return value


def _in_range(value: date) -> date:
    if not EARLIEST.year <= value.year <= LATEST.year:
        raise PydanticCustomError(
            "date_range", f"Dates must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}."
        )
    return value


_DONE = "caseload_strict"


def _tighten(schema: Any) -> Any:
    """Walk a core schema, tightening every leaf type as the module docstring says; returns the new node."""
    if isinstance(schema, list):
        return [_tighten(item) for item in schema]
    if not isinstance(schema, dict) or schema.get("metadata", {}).get(_DONE):
        return schema
    kind = schema.get("type")
    if kind == "decimal":
        # Strict decimals would refuse JSON numbers themselves (they arrive as float or int).
        schema["allow_inf_nan"] = False
        return core_schema.no_info_before_validator_function(_decimal_not_bool, schema, metadata={_DONE: True})
    if kind in ("int", "bool", "float"):
        schema["strict"] = True
        if kind == "float":
            schema["allow_inf_nan"] = False
        if kind == "int":
            if "le" not in schema and "lt" not in schema:
                schema["le"] = INT32_MAX
            if "ge" not in schema and "gt" not in schema:
                schema["ge"] = INT32_MIN
        return schema
    if kind == "str":
        # A field that declares its own pattern (MultilineText, codes) keeps it.
        schema.setdefault("pattern", SINGLE_LINE)
        return schema
    if kind in ("date", "datetime"):
        return core_schema.no_info_before_validator_function(
            _date_as_text,
            core_schema.no_info_after_validator_function(_in_range, schema),
            metadata={_DONE: True},
        )
    for key, value in schema.items():
        if key in ("metadata", "serialization", "ref", "config", "cls", "function", "expected"):
            continue
        schema[key] = _tighten(value)
    return schema


class Strict(BaseModel):
    """A request body: unknown fields are refused (422), never ignored: no mass assignment, no silent typos."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler) -> Any:
        # A copy: a plain model nested here keeps its own schema untouched for responses.
        return _tighten(copy.deepcopy(handler(source)))


InstantQuery = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A datetime query parameter: with an offset, between 1900 and 2200 like every date (X5)."""


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
    """A PATCH field that may be left out (unchanged) but not sent as null: the schema says so too.

    Type the field without `| None`: the default is never validated, so leaving it out works, while an
    explicit `null` is refused (422) like any other wrong type.
    """
    return Field(default=None, json_schema_extra=_no_default, **kwargs)

