"""Drill: several machines (rule O2). Two API processes and two workers on one PostgreSQL and one Redis,
files in an S3-compatible bucket (a moto server), each process with its OWN data and files directory,
as if each ran on a machine of its own. It shows:

  * a document uploaded through API 1 is downloaded, byte for byte, through API 2, and an import
    uploaded through API 1 is analysed by whichever worker took the job (they share nothing but the bucket);
  * the settlement both workers start at once pays every payout once (no transfer twice at the bank);
  * an import finalized through both APIs at the same moment creates every client once.

    python scripts/drills/two_machines.py [--sessions 4000] [--groups 40] [--rows 3000]

Run with the project's virtualenv python (moto is a development dependency). Exit status 1 when a goal
is missed. DRILL_KEEP=1 keeps the temporary directory (server and process logs).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drill_kit import CASELOAD, Figures, Proc, Stack, free_port, wait_for  # noqa: E402
from drills import bank_transfers, connect, import_csv, seed_practice  # noqa: E402

from tests.fixtures.s3 import MotoServer, object_names  # noqa: E402

BUCKET = "caseload-drill"
PREFIX = "two-machines"


def start_api(s: Stack, n: int, env: dict[str, str]) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(f"api{n}", [CASELOAD, "serve", "--host", "127.0.0.1", "--port", str(port)], env, s.root / f"api{n}.log")
    proc.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"API {n} did not get ready; see {proc.log}")


def machine_env(s: Stack, n: int, moto: MotoServer) -> dict[str, str]:
    """One machine's settings: the shared servers and bucket, and a data directory no other process sees."""
    own = s.root / f"machine{n}"
    return {**s.env, **moto.settings_env(BUCKET, PREFIX), "DATA_DIR": str(own), "FILES_DIR": str(own / "files"),
            "LOG_LEVEL": "INFO"}


def local_files(s: Stack) -> list[Path]:
    return [p for n in (1, 2) for p in (s.root / f"machine{n}" / "files").rglob("*") if p.is_file()]


async def run(sessions: int, groups: int, rows: int) -> int:
    import httpx

    figures = Figures(f"two-machines (2 APIs, 2 workers, S3 storage; {sessions} sessions, {rows}-row import)")
    moto = MotoServer().start()
    moto.create_bucket(BUCKET)
    s = Stack("two-machines")
    procs: list[Proc] = []
    try:
        s.start(worker=False)
        assert s.api is not None
        s.api.stop()  # the kit's API stores locally; ours are the two below
        from bench_settlement import seed as seed_settlement, verify

        await seed_settlement(s.pg.url, sessions, groups)
        group_id, token = await seed_practice(s)
        auth = {"Authorization": f"Bearer {token}"}
        api1, base1 = start_api(s, 1, machine_env(s, 1, moto))
        api2, base2 = start_api(s, 2, machine_env(s, 2, moto))
        procs += [api1, api2]
        # Both workers start together: each one's startup runs the hourly settlement at once.
        for n in (1, 2):
            worker = Proc(f"worker{n}", [CASELOAD, "worker"], machine_env(s, 10 + n, moto), s.root / f"worker{n}.log")
            worker.start()
            procs.append(worker)

        async with httpx.AsyncClient(timeout=120) as http:
            # 1. A document through API 1, read through API 2.
            conn = await connect(s)
            try:
                client_id = await conn.fetchval("SELECT id FROM clients WHERE group_id = $1 LIMIT 1", group_id)
            finally:
                await conn.close()
            document = b"%PDF-1.4\n" + os.urandom(3 * 1024 * 1024) + b"\n%%EOF\n"
            url = f"/v1/groups/{group_id}/clients/{client_id}/documents"
            up = await http.post(base1 + url, files={"file": ("notes.pdf", document, "application/pdf")}, headers=auth)
            assert up.status_code == 201, up.text
            down = await http.get(f"{base2}{url}/{up.json()['id']}", headers=auth)
            same = down.status_code == 200 and hashlib.sha256(down.content).digest() == hashlib.sha256(document).digest()
            figures.values["document_bytes"] = len(document)
            figures.goal(same, "document uploaded via API 1 read byte for byte via API 2")
            figures.values["document_read_via_api2"] = "identical" if same else f"HTTP {down.status_code}"
            head = moto.client().head_object(Bucket=BUCKET, Key=f"{PREFIX}/groups/{group_id}/clients/{client_id}/{up.json()['id']}")
            figures.values["object_encryption"] = head.get("ServerSideEncryption")
            figures.goal(head.get("ServerSideEncryption") == "AES256", "server-side encryption on the object")

            # 2. An import uploaded through API 1, analysed by a worker, finalized through both APIs at once.
            imports = f"/v1/groups/{group_id}/imports"
            upload = await http.post(base1 + imports, files={"file": ("clients.csv", import_csv(rows), "text/csv")}, headers=auth)
            assert upload.status_code == 202, upload.text
            import_id = upload.json()["id"]

            async def status() -> str:
                return (await http.get(f"{base2}{imports}/{import_id}", headers=auth)).json()["status"]

            async def ready() -> bool:
                return await status() in ("ready", "failed")

            analysed = await wait_for(ready, 180)
            figures.values["import_analysed_by_a_worker_s"] = None if analysed is None else round(analysed, 1)
            figures.goal(await status() == "ready", "import read from the bucket and analysed")
            selection = await http.post(f"{base2}{imports}/{import_id}/rows/selection",
                                        json={"classification": "new", "selected": True}, headers=auth)
            assert selection.status_code == 200, selection.text
            answers = await asyncio.gather(*(
                http.post(f"{base}{imports}/{import_id}/finalize", json={}, headers=auth) for base in (base1, base2)
            ))
            figures.values["finalize_answers (api1, api2)"] = [a.status_code for a in answers]

            async def finalized() -> bool:
                return await status() in ("finalized", "failed")

            took = await wait_for(finalized, 180)
            figures.values["import_finalized_s"] = None if took is None else round(took, 1)
            figures.goal(await status() == "finalized", "import finalized")

        conn = await connect(s)
        try:
            made = await conn.fetchval("SELECT count(*) FROM clients WHERE email LIKE '%@drill.example.com'")
            dup = await conn.fetchval(
                "SELECT count(*) - count(DISTINCT lower(email)) FROM clients WHERE email LIKE '%@drill.example.com'")
            audits = await conn.fetchval(
                "SELECT count(*) FROM audit_events WHERE action = 'import.finalized' AND target_id = $1", import_id)
        finally:
            await conn.close()
        figures.count("import_clients_made", made, rows)
        figures.count("import_clients_duplicated", dup)
        figures.count("import_finalized_audit_events", audits, 1)

        # 3. Settlement, started by both workers at once.
        async def all_paid() -> bool:
            return (await verify(s.pg.url))["unpaid"] == 0

        took = await wait_for(all_paid, 300, step=0.5)
        result = await verify(s.pg.url)
        transfers = await bank_transfers(s)
        keys = collections.Counter(t["key"] for t in transfers)
        figures.values["payouts"] = result["payouts"]
        figures.values["all_paid_after_s"] = None if took is None else round(took, 1)
        figures.count("payouts_unpaid", result["unpaid"])
        figures.count("transfers_duplicated", sum(n - 1 for n in keys.values()))
        money_out = sum(t["amount_cents"] for t in transfers)
        figures.values["money_out_cents"] = money_out
        figures.goal(money_out == result["paid_total"] == result["lines_total"], "money out = sum paid = sum earned")
        # Who did what: each worker's `settlement_done` lines, summed (both may run; neither pays twice).
        for n in (1, 2):
            done = [json.loads(line) for line in (s.root / f"worker{n}.log").read_text(errors="replace").splitlines()
                    if '"settlement_done"' in line]
            figures.values[f"worker{n}_settlements (runs, sent, paid)"] = [
                len(done), sum(d.get("transfers_sent", 0) for d in done), sum(d.get("paid", 0) for d in done)]

        # Nothing went to a machine's own disk: the bucket holds it all.
        figures.count("files_on_local_disks", len(local_files(s)))
        figures.values["objects_in_bucket"] = len(object_names(moto.client(), BUCKET, PREFIX + "/"))
    finally:
        for proc in procs:
            proc.stop(10)
        s.close(keep=bool(os.environ.get("DRILL_KEEP")))
        moto.stop()
    return figures.report()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=4000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--rows", type=int, default=3000, help="import rows (more than the inline limit: finalize is a job)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.sessions, args.groups, args.rows))


if __name__ == "__main__":
    sys.exit(main())
