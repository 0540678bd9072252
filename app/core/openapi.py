"""The OpenAPI document (X1): every route, every error and every schema, for generated clients."""

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.contract import API_DESCRIPTION, TAGS
from app.core.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, ProblemDocument
from app.core.examples import apply_examples
from app.webhooks.openapi import tidy_webhooks


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
# Response headers, documented once and referenced from each response that carries them.
HEADERS = {
    "X-Request-ID": {
        "description": "This request's id (yours, when you sent a valid `X-Request-ID`): quote it to support.",
        "schema": {"type": "string", "maxLength": 64},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
    "Location": {
        "description": "Where the created resource is read (or, when it has no address of its own, where it is listed).",
        "schema": {"type": "string", "format": "uri-reference"},
    },
}


# Docstrings cite PRODUCT.md's rule ids for the people who maintain the code ("(S1, S2)"); a partner reading the
# document has no use for them, so they are taken out of every description here rather than from the code.
_RULE_IDS = re.compile(r"\s*\((?:[A-Z]\d{1,2}(?:, |/|\)))+(?<=\))")
_LEADING_RULE_IDS = re.compile(r"^(?:[A-Z]\d{1,2}(?:, |/)?)+:\s*")
RULE_ID = re.compile(r"\b[ACGIOPRSX]\d{1,2}\b")


def _without_rule_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                text = _RULE_IDS.sub("", value)
                if _LEADING_RULE_IDS.match(text):
                    text = _LEADING_RULE_IDS.sub("", text)
                    text = text[:1].upper() + text[1:]
                node[key] = text
            else:
                _without_rule_ids(value)
    elif isinstance(node, list):
        for item in node:
            _without_rule_ids(item)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _document_headers(operation: dict[str, Any]) -> None:
    idempotent = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = _ref("X-Request-ID")
        if status in ("429", "503"):
            headers["Retry-After"] = _ref("Retry-After")
        if status == "201":
            headers["Location"] = _ref("Location")
        if idempotent and status.startswith("2"):
            headers["Idempotent-Replayed"] = _ref("Idempotent-Replayed")


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=API_DESCRIPTION, routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    components["headers"] = HEADERS
    used_tags = set()
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            used_tags.update(operation.get("tags", []))
            responses = operation["responses"]
            # FastAPI documents its own validation error shape; ours is a problem document (X4).
            responses["422"] = {"description": VALIDATION_DESCRIPTION, "content": _PROBLEM_CONTENT}
            # What any operation can answer, whatever it does (X1, X5): documented here once, not per route.
            public = operation.get("x-capability") == PUBLIC
            for status, description in COMMON_RESPONSES.items():
                if status in ("401", "403") and public:
                    continue
                responses.setdefault(status, {"description": description, "content": _PROBLEM_CONTENT})
            _document_headers(operation)
            apply_examples(operation)
    schema["tags"] = [{"name": name, "description": description} for name, description in TAGS if name in used_tags]
    _without_rule_ids(schema)
    tidy_webhooks(schema)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = schema
    return schema
