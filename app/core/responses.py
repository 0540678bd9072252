"""Hot read paths answer with documents serialised directly: a page of nested pydantic models costs
more CPU than the query behind it. The route keeps `response_model` (or its return annotation's
model) for the OpenAPI document; the document must have that shape.
"""

from typing import Any

import orjson
from fastapi import Response

# Timestamps end in "Z" as pydantic writes them, so a list and a single read of one object agree.
_OPTIONS = orjson.OPT_UTC_Z


def json_response(document: Any) -> Response:
    # `default=str`: UUIDs of asyncpg's own type (orjson writes only uuid.UUID natively) and Decimals.
    return Response(orjson.dumps(document, default=str, option=_OPTIONS), media_type="application/json")
