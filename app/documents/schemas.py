import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.schemas import Strict
from app.documents.content import ALLOWED_DESCRIPTION, ALLOWED_TYPES

DocumentCategory = Literal["clinical", "administrative", "billing", "psychotherapy_note", "message"]
CATEGORY_DESCRIPTION = (
    "`clinical` (the default), `administrative`, `billing`, `psychotherapy_note` or `message` (a secure message "
    "brought in by an import). Psychotherapy notes and messages are filed, listed and read only by the client's "
    "treating providers: admins and API keys never see them, not even their names."
)


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: uuid.UUID
    file_name: str = Field(
        description="The uploaded name made safe: no path parts or control characters, at most 255 characters, "
        "ending in an extension of the detected type."
    )
    content_type: str = Field(
        description="Read from the content, never from the upload's declared type.",
        json_schema_extra={"enum": [kind.content_type for kind in ALLOWED_TYPES]},
    )
    size_bytes: int
    sha256: str = Field(description="Hex SHA-256 of the content, to check a download against.")
    source: Literal["upload", "import"] = Field(description="`import`: attached by a SimplePractice import.")
    category: DocumentCategory = Field(description=CATEGORY_DESCRIPTION)
    uploaded_by_user_id: uuid.UUID | None = Field(description="Null when a partner's API key or an import attached it.")
    created_at: datetime
    shared_with_client: bool = Field(description="The client lists and downloads it from `/v1/me/documents`.")

    @field_validator("sha256", mode="before")
    @classmethod
    def _hex(cls, value: Any) -> Any:
        return value.hex() if isinstance(value, bytes) else value


class SharingIn(Strict):
    shared_with_client: bool = Field(description="`true` shares the document with the client; psychotherapy notes and messages never.")


class MyDocumentOut(BaseModel):
    """A document a practice shared with you."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    file_name: str
    content_type: str
    size_bytes: int
    category: DocumentCategory
    created_at: datetime


# The upload is multipart/form-data, parsed by the route itself (see router.py); this documents it.
UPLOAD_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "title": "DocumentUpload",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": f"One file: {ALLOWED_DESCRIPTION}. The type is read from the content; the "
                        "declared type and name are not trusted.",
                    },
                    "category": {
                        "type": "string",
                        "enum": ["clinical", "administrative", "billing", "psychotherapy_note", "message"],
                        "default": "clinical",
                        "description": CATEGORY_DESCRIPTION,
                    },
                },
            }
        }
    },
}
