"""The document routes for the generated capability matrix (tests/groups/test_capability_matrix.py),
checked by test_route_samples.py.

The upload is `multipart/form-data`, not JSON: its SAMPLE_BODIES entry is the marker `{"__multipart__": True}`,
and SAMPLE_FILES holds what to send instead, as httpx's `files=` (a small PDF in the field `file`).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from app.documents.service import attach_document

SAMPLE_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

SAMPLE_BODIES: dict[str, dict] = {
    "clients-upload_document": {"__multipart__": True},
    "clients-share_document": {"shared_with_client": True},
}
SAMPLE_FILES: dict[str, dict] = {"clients-upload_document": {"file": ("sample.pdf", SAMPLE_PDF, "application/pdf")}}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """A document of client `client_id` (group `group_id`), stored in the app's storage, as `document_id`."""
    document = await attach_document(
        db,
        storage,
        group_id=ids["group_id"],
        client_id=ids["client_id"],
        file_name="sample.pdf",
        content_type="application/pdf",
        data=SAMPLE_PDF,
        source="upload",
        uploaded_by=ids["user_id"],
    )
    ids["document_id"] = document.id
