"""The import routes for the generated capability matrix (tests/groups/test_capability_matrix.py),
checked by test_route_samples.py.

The upload is multipart: its SAMPLE_BODIES entry is the marker `{"__multipart__": True}` and
SAMPLE_FILES holds the file (a two-line CSV) as httpx's `files=`. The undo route has no body: the matrix calls it on
the world's ready import (409 `import_not_finalized` for those allowed); test_route_samples.py undoes it once finalized.
"""

import hashlib
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from app.imports.service import storage_key
from app.models import ClientImport, ImportRow

SAMPLE_CSV = b"First Name,Last Name,Email\r\nMatrix,Imported,matrix.imported@example.com\r\n"

SAMPLE_BODIES: dict[str, dict] = {
    "imports-upload_import": {"__multipart__": True},
    "imports-update_row": {"selected": True},
    "imports-select_rows": {"classification": "new", "selected": True},
    "imports-finalize_import": {"send_welcome_email": False},
    "imports-set_mapping": {"columns": {"first_name": "First Name", "last_name": "Last Name"}},
}
SAMPLE_FILES: dict[str, dict] = {"imports-upload_import": {"file": ("clients.csv", SAMPLE_CSV, "text/csv")}}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """A ready import into provider `user_id`'s roster with one new row: `import_id`, `row_id`."""
    import_id = uuid.uuid4()
    key = storage_key(ids["group_id"], import_id)
    await storage.put(key, SAMPLE_CSV, "text/csv")
    db.add(ClientImport(
        id=import_id, group_id=ids["group_id"], provider_user_id=ids["user_id"], uploaded_by_user_id=ids["user_id"],
        file_name="clients.csv", size_bytes=len(SAMPLE_CSV), sha256=hashlib.sha256(SAMPLE_CSV).digest(),
        storage_key=key, status="ready", format="csv", container="csv", rows_total=1, rows_done=1, warnings=[],
    ))
    await db.flush()
    row = ImportRow(
        import_id=import_id, line=2, source_ref="row 2", first_name="Matrix", last_name="Imported",
        email="matrix.imported@example.com", email_key="matrix.imported@example.com", classification="new",
        badges=[], candidate_client_ids=[], selected=True, documents=[],
    )
    db.add(row)
    await db.flush()
    ids["import_id"], ids["row_id"] = import_id, row.id
