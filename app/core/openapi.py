"""The OpenAPI document (X1): every route, every error and every schema, for generated clients."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, ProblemDocument


PUBLIC = "public"  # app.core.routing.PUBLIC (imported there from here would be circular)
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}}
VALIDATION_DESCRIPTION = (
    "Validation failed: see `errors`. Input is strict: numbers and booleans are never converted from text or "
    "from each other, text may not hold NUL or other control characters (newlines only where the field says "
    "so), dates and datetimes are ISO 8601 text between 1900-01-01 and 2200-12-31, integers fit their column."
)
COMMON_RESPONSES = {
    "400": "The request could not be read: a body that is not UTF-8 or not well-formed for its media type.",
    "401": "No valid credentials: send a bearer token or an API key.",
    "403": "Your role (or the API key's scope) does not allow this.",
    "404": "No such resource, or you may not see it (another group's objects are not found).",
    "413": "The request body is larger than this endpoint accepts.",
    "431": "The request line and headers together are over 64 KiB (answered by the server before the app).",
    "429": "Too many requests: retry after the `Retry-After` seconds.",
    "503": "The service is busy or a dependency is unavailable: retry after the `Retry-After` seconds.",
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            responses = operation["responses"]
            # FastAPI documents its own validation error shape; ours is a problem document (X4).
            responses["422"] = {"description": VALIDATION_DESCRIPTION, "content": _PROBLEM_CONTENT}
            # What any operation can answer, whatever it does (X1, X5): documented here once, not per route.
            public = operation.get("x-capability") == PUBLIC
            for status, description in COMMON_RESPONSES.items():
                if status in ("401", "403") and public:
                    continue
                responses.setdefault(status, {"description": description, "content": _PROBLEM_CONTENT})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
