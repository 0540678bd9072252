"""The OpenAPI document (X1): every route, every error and every schema, for generated clients."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, ProblemDocument


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["ProblemDocument"] = problem
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            # FastAPI documents its own validation error shape; ours is a problem document (X4).
            if "422" in operation["responses"]:
                operation["responses"]["422"] = {
                    "description": "Validation failed: see `errors`.",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
