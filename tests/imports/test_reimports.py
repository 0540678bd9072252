"""Re-importing adds nothing twice, and finalizing nothing is refused (rule I15)."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, ClientDocument, Group
from tests.imports import fixtures_gen as gen
from tests.imports.conftest import Importer


async def test_reimporting_the_same_export_attaches_no_document_twice(
    importer: Importer, db: AsyncSession, group: Group
) -> None:
    # rule I15: a client went from 10 documents to 20 when the same export was imported again
    first = await importer.analysed(gen.simplepractice_export(), "export.zip")
    await importer.select(first["id"], "new")
    done = (await importer.finalize(first["id"])).json()["result"]
    assert done["documents_attached"] > 0 and done["documents_already_attached"] == 0
    jane = await db.scalar(select(Client).where(Client.group_id == group.id, Client.email == "jane.doe@example.com"))
    count = select(func.count()).select_from(ClientDocument).where(ClientDocument.client_id == jane.id)
    documents = await db.scalar(count)
    assert documents >= 5

    again = await importer.analysed(gen.simplepractice_export(), "export again.zip")
    rows = {r["first_name"]: r for r in await importer.rows(again["id"])}
    assert rows["Jane"]["classification"] == "existing" and rows["Jane"]["selected"]
    second = (await importer.finalize(again["id"])).json()["result"]
    assert second["clients_imported"] == 0
    assert second["documents_attached"] == 0 and second["documents_already_attached"] >= documents
    assert await db.scalar(count) == documents
    assert await db.scalar(select(func.count()).select_from(Client).where(Client.group_id == group.id)) == \
        done["clients_imported"]


async def test_finalizing_with_nothing_selected_is_refused_and_the_import_stays_open(importer: Importer) -> None:
    # rule I15: it used to close the import ("finalized", 0 imported) with no way back but another upload
    imp = await importer.analysed(gen.people_csv(2))
    refused = await importer.finalize(imp["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "nothing_selected"
    assert "Select the rows" in refused.json()["detail"]
    assert (await importer.get(imp["id"]))["status"] == "ready"
    await importer.select(imp["id"], "new")
    done = await importer.finalize(imp["id"])
    assert done.status_code == 200 and done.json()["result"]["clients_imported"] == 2
