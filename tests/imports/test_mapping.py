"""Column mapping: a file with headers we do not recognise imports after one mapping, and the next file of
the same shape is read with it (rule I13)."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.imports.analysis import analyze_import
from app.models import AuditEvent, Client, Group, ImportMapping, OutboxJob
from tests.imports import fixtures_gen as gen
from tests.imports.conftest import Importer

HAND_MADE = [["Given", "Surname", "E-mail address", "Cell #", "Notes"],
             ["Jane", "Doe", "jane@example.com", "212-555-0101", "prefers mornings"],
             ["Omar", "Haddad", "omar@example.com", "", ""]]
MAPPING = {"first_name": "Given", "last_name": "Surname", "email": "E-mail address", "phone": "Cell #"}


async def put_mapping(importer: Importer, import_id: str, columns: dict, **extra) -> object:
    return await importer.http.put(f"{importer.url}/{import_id}/mapping", json={"columns": columns, **extra},
                                   headers=importer.headers)


async def test_unknown_headers_import_after_one_mapping(importer: Importer, db: AsyncSession, group: Group) -> None:
    # rule I13: the import waits with the file's headers and samples; one mapping later it is ready
    imp = await importer.analysed(gen.csv_bytes(HAND_MADE))
    assert imp["status"] == "needs_mapping"
    assert imp["columns"]["headers"] == HAND_MADE[0]
    assert imp["columns"]["samples"][0][:2] == ["Jane", "Doe"]
    assert (await importer.finalize(imp["id"])).status_code == 409  # nothing to finalize yet
    mapped = await put_mapping(importer, imp["id"], {**MAPPING, "email": " e-mail ADDRESS "})
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["status"] == "queued" and mapped.json()["mapping"]["email"] == "E-mail address"
    assert await db.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.function == "analyze_import")) == 2
    assert await analyze_import(importer.ctx, imp["id"]) == "ready"
    rows = await importer.rows(imp["id"])
    assert [(r["first_name"], r["last_name"], r["email"], r["phone_e164"]) for r in rows] == [
        ("Jane", "Doe", "jane@example.com", "+12125550101"), ("Omar", "Haddad", "omar@example.com", None)]
    await importer.select(imp["id"], "new")
    assert (await importer.finalize(imp["id"])).json()["result"]["clients_imported"] == 2
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "import.mapped"))
    assert event.details == {"fields": ["email", "first_name", "last_name", "phone"], "saved": True}


async def test_a_saved_mapping_reads_the_next_file_of_the_same_shape(importer: Importer, db: AsyncSession, group: Group) -> None:
    # rule I13: same columns (in another order, another case): no question asked the second time
    first = await importer.analysed(gen.csv_bytes(HAND_MADE))
    await put_mapping(importer, first["id"], MAPPING)
    assert await db.scalar(select(func.count()).select_from(ImportMapping).where(ImportMapping.group_id == group.id)) == 1
    reordered = [[row[1], row[0], row[4], row[3], row[2]] for row in HAND_MADE]
    reordered[0] = [h.upper() for h in reordered[0]]
    reordered[1][1] = "Ana"
    second = await importer.analysed(gen.csv_bytes(reordered))
    assert second["status"] == "ready", second
    assert second["mapping"] == MAPPING
    rows = await importer.rows(second["id"])
    assert (rows[0]["first_name"], rows[0]["last_name"], rows[0]["email"]) == ("Ana", "Doe", "jane@example.com")
    # another shape is asked about again
    other = await importer.analysed(gen.csv_bytes([["Given", "Surname"], ["Jane", "Doe"]]))
    assert other["status"] == "needs_mapping"


async def test_an_unsaved_mapping_is_not_reused(importer: Importer) -> None:
    first = await importer.analysed(gen.csv_bytes(HAND_MADE))
    await put_mapping(importer, first["id"], MAPPING, save=False)
    assert (await importer.analysed(gen.csv_bytes(HAND_MADE)))["status"] == "needs_mapping"


async def test_a_mapping_that_does_not_fit_the_file_is_refused(importer: Importer) -> None:
    # rule I13: each refusal says what to fix
    imp = await importer.analysed(gen.csv_bytes(HAND_MADE))
    missing_last = await put_mapping(importer, imp["id"], {"first_name": "Given"})
    assert missing_last.status_code == 422
    assert missing_last.json()["errors"] == [{"field": "body.columns.last_name", "message": "required"}]
    unknown = await put_mapping(importer, imp["id"], {"first_name": "Given", "last_name": "Family name"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.columns.last_name"
    twice = await put_mapping(importer, imp["id"], {"first_name": "Given", "last_name": "given"})
    assert twice.status_code == 422 and "same column" in twice.json()["errors"][0]["message"]
    not_a_field = await put_mapping(importer, imp["id"], {"first_name": "Given", "last_name": "Surname", "insurance_id": "Notes"})
    assert not_a_field.status_code == 422  # insurance and payment data are never imported (I4)
    assert (await importer.get(imp["id"]))["status"] == "needs_mapping"


async def test_a_mapping_is_refused_when_none_is_needed(importer: Importer, other_group: Group) -> None:
    imp = await importer.analysed(gen.people_csv(1))
    refused = await put_mapping(importer, imp["id"], MAPPING)
    assert refused.status_code == 409 and refused.json()["code"] == "mapping_not_needed"
    elsewhere = await importer.http.put(f"/v1/groups/{other_group.id}/imports/{imp['id']}/mapping",
                                        json={"columns": MAPPING}, headers=importer.headers)
    assert elsewhere.status_code in (403, 404)


async def test_a_workbook_with_unknown_headers_is_mapped_too(importer: Importer, db: AsyncSession, group: Group) -> None:
    data = gen.xlsx_bytes([("Sheet1", HAND_MADE)])
    imp = await importer.analysed(data, "clients.xlsx")
    assert imp["status"] == "needs_mapping" and imp["columns"]["headers"][:2] == ["Given", "Surname"]
    await put_mapping(importer, imp["id"], MAPPING)
    assert await analyze_import(importer.ctx, imp["id"]) == "ready"
    assert (await importer.get(imp["id"]))["counts"]["new"] == 2
    assert await db.scalar(select(func.count()).select_from(Client).where(Client.group_id == group.id)) == 0
