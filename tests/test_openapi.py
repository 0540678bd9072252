"""The OpenAPI document: rule X1 (every route, every error, every schema), X4."""

import json
from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from app.main import create_app

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_committed_document_matches_the_app() -> None:
    # rule X1: generated clients are built from the committed file
    document = json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"
    assert COMMITTED.read_text() == document, "openapi/openapi.json is stale: run `caseload openapi`"


def test_every_operation_is_named_documented_and_declares_who_may_call_it() -> None:
    app = create_app()
    spec = app.openapi()
    operation_ids = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            assert operation["operationId"].startswith(operation["tags"][0] + "-")
            assert operation.get("description"), f"{method} {path} has no docstring"
            assert operation.get("x-capability"), f"{method} {path} declares no capability"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):  # rule X4: every error is a problem document
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    assert len(operation_ids) == len(set(operation_ids))
    routes = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    assert len(routes) == len(operation_ids)  # no route is hidden from the document


def test_authenticated_operations_document_401() -> None:
    spec = create_app().openapi()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if operation.get("security"):
                assert "401" in operation["responses"], f"{method} {path}"
