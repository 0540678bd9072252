"""Realistic request (and main response) examples for the OpenAPI document, keyed by operationId (X1).

Kept apart from the routers so the examples read as one set and the routes stay short. Values are
invented: example.com addresses, 555 phone numbers, made-up ids.
"""

from typing import Any

GROUP_ID = "3f6b1c2e-8a4d-4e51-9d0b-2c7a5e1f9a10"
USER_ID = "a1c9e7d2-5b3f-4a8e-9c61-7d2e4f0b8a33"
CLIENT_ID = "c4d8a2b6-1e3f-4c5a-8b7d-9e0f1a2b3c4d"
LOCATION_ID = "0b5e7c9a-2d4f-4e6a-8c1b-3d5f7a9b1c2e"

REQUEST_EXAMPLES: dict[str, Any] = {}
RESPONSE_EXAMPLES: dict[str, Any] = {}


def apply_examples(operation: dict[str, Any]) -> None:
    operation_id = operation.get("operationId", "")
    if operation_id in REQUEST_EXAMPLES and "requestBody" in operation:
        for media in operation["requestBody"]["content"].values():
            media["example"] = REQUEST_EXAMPLES[operation_id]
            break
    if operation_id in RESPONSE_EXAMPLES:
        for status, response in operation["responses"].items():
            if status.startswith("2") and "application/json" in response.get("content", {}):
                response["content"]["application/json"]["example"] = RESPONSE_EXAMPLES[operation_id]
                break
