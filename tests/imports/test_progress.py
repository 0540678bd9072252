"""Progress while a file is parsed: bytes read, then rows, never 0/0 for seconds (rule I5)."""

import pytest

from app.imports import analysis
from tests.imports import fixtures_gen as gen
from tests.imports.conftest import Importer


async def test_rows_read_are_reported_while_the_child_parses(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # rule I5: a 100,000-row file used to show 0/0 for the whole parse
    monkeypatch.setattr(analysis, "PROGRESS_SECONDS", 0.02)
    path = tmp_path / "big.csv"
    path.write_bytes(gen.people_csv(100_000))
    heard: list[int] = []

    async def on_rows(count: int) -> None:
        heard.append(count)

    outcome = await analysis.parse_in_child(str(path), None, 2 * 1024**3, on_rows=on_rows)
    assert outcome[0] == "parsed" and len(outcome[4]) == 100_000
    assert heard, "no progress was reported during the parse"
    assert heard == sorted(heard) and 0 < heard[0] <= 100_000
    assert all(count % 4096 == 0 or count == 100_000 for count in heard)


async def test_a_finished_analysis_shows_every_byte_and_row(importer: Importer) -> None:
    data = gen.people_csv(30)
    imp = await importer.analysed(data)
    progress = imp["progress"]
    assert progress == {"phase": "done", "bytes_done": len(data), "bytes_total": len(data), "rows_read": 30,
                        "rows_done": 30, "rows_total": 30}


async def test_a_queued_import_says_so(importer: Importer) -> None:
    response = await importer.upload(gen.people_csv(3))
    progress = response.json()["progress"]
    assert progress["phase"] == "queued" and progress["bytes_total"] == len(gen.people_csv(3))
    assert progress["bytes_done"] == progress["rows_read"] == 0
