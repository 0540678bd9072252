"""The real-writer corpus through the API: upload -> review -> finalize (rule I12)."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Group
from tests.imports.conftest import Importer
from tests.imports.corpus.make_corpus import expected_people

CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.mark.parametrize("name", ["openpyxl.xlsx", "xlsxwriter.xlsx", "libreoffice.xlsx", "excel_shaped.xlsx",
                                  "numbers_shaped.xlsx", "google_sheets_shaped.xlsx", "theranest_xlsxwriter.xlsx",
                                  "libreoffice.csv", "excel_csv_utf8.csv"])
async def test_a_file_written_by_a_real_program_imports_with_names_whole(
    importer: Importer, db: AsyncSession, group: Group, name: str
) -> None:
    # rule I12: workbooks saved by Excel, LibreOffice, openpyxl... import; no part of a name is lost
    imp = await importer.analysed((CORPUS / name).read_bytes(), name)
    assert imp["status"] == "ready", imp["failure"]
    assert imp["counts"]["new"] >= len(expected_people())
    await importer.select(imp["id"], "new")
    done = await importer.finalize(imp["id"])
    assert done.status_code == 200, done.text
    assert done.json()["result"]["clients_imported"] >= len(expected_people())
    found = await db.execute(select(Client.first_name, Client.last_name, Client.email).where(Client.group_id == group.id))
    stored = {tuple(row) for row in found}
    assert set(expected_people()) <= stored
