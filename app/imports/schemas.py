import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.schemas import Strict, omittable

ImportStatus = Literal["queued", "analyzing", "ready", "failed", "finalizing", "finalized"]
RowClass = Literal["new", "existing", "uncertain", "invalid"]


class Failure(BaseModel):
    code: str = Field(description="Stable: e.g. `missing_columns`, `zip_bomb`, `simplepractice_zip_solo_only`.")
    detail: str = Field(description="What was wrong and how to fix it; never quotes the file's content.")


class Progress(BaseModel):
    rows_done: int
    rows_total: int


class ImportWarning(BaseModel):
    code: str
    detail: str
    items: list[str] = Field(default_factory=list, description="Folder or sheet names concerned (may be personal data).")


class ImportCounts(BaseModel):
    new: int = 0
    existing: int = 0
    uncertain: int = 0
    invalid: int = 0
    selected: int = 0


class ImportResult(BaseModel):
    clients_imported: int = Field(description="New client records made in the group (I8).")
    clients_linked: int = Field(description="Rows linked to a client the group already had.")
    documents_attached: int = 0
    documents_skipped: int = Field(0, description="Documents of the archive whose type is not accepted (C7).")
    skipped: int = Field(description="Rows not selected, or invalid.")
    welcome_emails: int = 0


class ImportOut(BaseModel):
    id: uuid.UUID
    group_id: uuid.UUID
    provider_id: uuid.UUID = Field(description="Whose roster receives the clients.")
    uploaded_by_user_id: uuid.UUID | None
    file_name: str
    size_bytes: int
    status: ImportStatus
    format: str | None = Field(description="Detected from the content: csv, xlsx, vcard, simplepractice_zip, jane, ...")
    container: str | None
    progress: Progress
    failure: Failure | None = None
    warnings: list[ImportWarning]
    counts: ImportCounts | None = Field(None, description="Rows per class and selected, once analysed.")
    result: ImportResult | None = Field(None, description="What finalizing did.")
    created_at: datetime
    analyzed_at: datetime | None
    finalized_at: datetime | None


class Candidate(BaseModel):
    client_id: uuid.UUID
    first_name: str
    last_name: str
    email: str


class RowDocument(BaseModel):
    file_name: str
    size: int
    category: str


class ImportRowOut(BaseModel):
    id: int
    line: int = Field(description="Row number in the file (the header counts) or card number.")
    source_ref: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    phone_e164: str | None
    classification: RowClass
    badges: list[str]
    invalid_reason: str | None
    selected: bool
    matched_client_id: uuid.UUID | None
    candidates: list[Candidate] = Field(description="For uncertain rows: the clients it may be (I7).")
    documents: list[RowDocument]
    outcome: Literal["imported", "linked", "skipped"] | None
    client_id: uuid.UUID | None


class RowUpdate(Strict):
    selected: bool = omittable()
    matched_client_id: uuid.UUID | None = Field(
        None, description="One of the row's candidates (I7); null clears a match made by hand."
    )


class BulkSelection(Strict):
    classification: RowClass = Field(description="Every row of this class; invalid rows cannot be selected.")
    selected: bool


class BulkSelectionOut(BaseModel):
    updated: int
    counts: ImportCounts


class FinalizeIn(Strict):
    send_welcome_email: bool = Field(False, description="I10: invite the new clients to set up their account and billing.")


UPLOAD_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "title": "ImportUpload",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A .csv, .xlsx, .vcf or SimplePractice export .zip; the type is read from the content.",
                    },
                    "provider_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "Whose roster receives the clients (default: the caller; required for API keys).",
                    },
                    "password": {
                        "type": "string",
                        "maxLength": 200,
                        "description": "The password of a protected SimplePractice export; kept encrypted, erased after use.",
                    },
                },
            }
        }
    },
}
