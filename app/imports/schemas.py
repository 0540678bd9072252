import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.schemas import Strict, omittable

ImportStatus = Literal["queued", "analyzing", "needs_mapping", "ready", "failed", "finalizing", "finalized", "undone"]
MappableField = Literal["first_name", "middle_name", "last_name", "email", "phone"]
RowClass = Literal["new", "existing", "uncertain", "invalid"]


class Failure(BaseModel):
    code: str = Field(description="Stable: e.g. `missing_columns`, `zip_bomb`, `simplepractice_zip_solo_only`.")
    detail: str = Field(description="What was wrong and how to fix it; never quotes the file's content.")


class Progress(BaseModel):
    phase: Literal["queued", "reading", "classifying", "writing", "done"] = Field(
        description="`reading` the file (bytes, then rows read), `classifying` its rows against the clients, "
                    "`writing` the analysed rows (rows_done of rows_total)."
    )
    bytes_done: int = Field(description="Bytes of the file read so far.")
    bytes_total: int = Field(description="The file's size.")
    rows_read: int = Field(description="Rows found in the file so far, while it is read.")
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
    documents_already_attached: int = Field(0, description="Documents the client already had (same content): "
                                                           "not attached twice when an export is imported again.")
    skipped: int = Field(description="Rows not selected, or invalid.")
    welcome_emails: int = 0


class UndoResult(BaseModel):
    rows_undone: int = Field(description="Rows whose client was removed or unlinked.")
    clients_removed: int = Field(description="Client records the import had made, deleted.")
    accounts_removed: int = Field(description="Accounts the import had made and nobody used, deleted.")
    roster_entries_removed: int
    invitations_removed: int = Field(description="Pending invitations of the removed records, withdrawn.")
    documents_removed: int = Field(description="Documents the import had attached, detached and deleted.")


class FileColumns(BaseModel):
    headers: list[str] = Field(description="The file's header cells, in order (the file's content: personal data).")
    samples: list[list[str]] = Field(description="A few rows below the header, to tell the columns apart.")
    missing: list[str] = Field(description="The required columns that were not recognised.")


class MappingIn(Strict):
    columns: dict[MappableField, str] = Field(
        description="Which of the file's headers holds each field: `first_name` and `last_name` are required; "
                    "`email` is needed for new clients; `middle_name` and `phone` are optional.",
        examples=[{"first_name": "Given", "last_name": "Family", "email": "E-mail address"}],
    )
    save: bool = Field(True, description="Apply the same mapping to the next file with the same columns.")


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
    columns: FileColumns | None = Field(None, description="While `needs_mapping`: the file's headers to map.")
    mapping: dict[str, str] | None = Field(None, description="The column mapping the file was read with, if any.")
    result: ImportResult | None = Field(None, description="What finalizing did.")
    created_at: datetime
    analyzed_at: datetime | None
    finalized_at: datetime | None
    undone_at: datetime | None = Field(None, description="When the import was undone (status `undone`).")
    undo: UndoResult | None = Field(None, description="What undoing the import removed.")


class Candidate(BaseModel):
    client_id: uuid.UUID
    first_name: str
    last_name: str
    email: str


class RowDocument(BaseModel):
    file_name: str
    size: int
    category: str


class RowProblem(BaseModel):
    row: int = Field(description="The row number in the file (as `line`).")
    column: str = Field(description="The field concerned: `first_name`, `middle_name`, `last_name`, `email`, `phone` or `name`.")
    code: str = Field(description="Stable: `required`, `invalid`, `too_long`, `unreadable`, `extension_dropped`, "
                                  "`second_person_not_imported`, `maybe_not_a_client`.")
    message: str


class ImportRowOut(BaseModel):
    id: int
    line: int = Field(description="Row number in the file (the header counts) or card number.")
    source_ref: str
    first_name: str | None
    middle_name: str | None = Field(description="Given names after the first, kept whole; a new client's first name "
                                                "is the first and middle names together.")
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
    outcome: Literal["imported", "linked", "skipped", "undone"] | None
    client_id: uuid.UUID | None
    problems: list[RowProblem] = Field(description="What in this row cannot be imported or is left out, per column.")


_NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


class RowUpdate(Strict):
    """Leave out what does not change. Correcting a name or the email analyses the row again; the row
    then carries the badge `edited`."""

    first_name: str = omittable(min_length=1, max_length=100, pattern=_NAME_PATTERN)
    middle_name: str = omittable(max_length=100, description="An empty string clears it.")
    last_name: str = omittable(min_length=1, max_length=100, pattern=_NAME_PATTERN)
    email: str = omittable(min_length=3, max_length=320, pattern=r"^[^\x00-\x1f\x7f\s]+$",
                           description="Correcting the name or email analyses the row again (new, existing, uncertain).")
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
