"""The capability matrix's samples for the import routes work against the world's import."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from app.models import Group, User
from tests.fixtures.factories import user_headers
from tests.imports.route_samples import SAMPLE_BODIES, SAMPLE_FILES, extend_world


async def test_samples_are_accepted(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, storage: Storage
) -> None:
    ids: dict = {"group_id": group.id, "user_id": owner.id}
    await extend_world(db, ids, storage)
    headers = await user_headers(db, owner)
    base = f"/v1/groups/{group.id}/imports"
    upload = await client.post(base, files=SAMPLE_FILES["imports-upload_import"], headers=headers)
    assert upload.status_code == 202, upload.text
    rows = await client.get(f"{base}/{ids['import_id']}/rows", headers=headers)
    assert [r["id"] for r in rows.json()["items"]] == [ids["row_id"]]
    patched = await client.patch(f"{base}/{ids['import_id']}/rows/{ids['row_id']}", json=SAMPLE_BODIES["imports-update_row"], headers=headers)
    assert patched.status_code == 200, patched.text
    bulk = await client.post(f"{base}/{ids['import_id']}/rows/selection", json=SAMPLE_BODIES["imports-select_rows"], headers=headers)
    assert bulk.status_code == 200, bulk.text
    done = await client.post(f"{base}/{ids['import_id']}/finalize", json=SAMPLE_BODIES["imports-finalize_import"], headers=headers)
    assert done.status_code == 200 and done.json()["result"]["clients_imported"] == 1, done.text
    # The undo route (no body): the world's import, once finalized, is undone (rule I14).
    undone = await client.post(f"{base}/{ids['import_id']}/undo", headers=headers)
    assert undone.status_code == 200 and undone.json()["status"] == "undone", undone.text
