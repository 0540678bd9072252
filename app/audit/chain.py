"""R3: checking the audit log's hash chains. Each group's events form one chain (events without a group form one
more): row n carries sha256(hash of row n-1 || content of row n), the first row's predecessor is 32 zero bytes,
positions run 1, 2, 3 ... without gaps, and the chain head (audit_chain_heads) names the last row. An edited row,
a removed row (in the middle or at the end), a reordered or inserted one breaks one of these.

The content is `audit_event_content(row)`, the same SQL function the insert trigger hashes, so there is one
definition of it.
"""

import hashlib
import uuid
from dataclasses import dataclass

import asyncpg

GENESIS = bytes(32)
NIL = uuid.UUID(int=0)


@dataclass(frozen=True)
class ChainCheck:
    group_id: uuid.UUID | None  # None: the chain of events without a group
    rows: int
    broken_at_id: int | None = None  # the first row that does not verify
    broken_at_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


async def verify_chain(conn: asyncpg.Connection, group_id: uuid.UUID | None) -> ChainCheck:
    """Recompute one chain. `conn` must be inside a transaction (the rows are read through a cursor)."""
    where = "e.group_id = $1" if group_id is not None else "e.group_id IS NULL"
    args = [group_id] if group_id is not None else []
    previous, expected_seq, rows = GENESIS, 1, 0
    async for row in conn.cursor(
        f"SELECT e.id, e.chain_seq, e.hash, audit_event_content(e) AS content FROM audit_events e WHERE {where} "
        "ORDER BY e.chain_seq, e.id", *args, prefetch=2000,
    ):
        rows += 1
        if row["chain_seq"] != expected_seq:
            reason = "a row is missing before this one" if row["chain_seq"] > expected_seq else "position repeated"
            return ChainCheck(group_id, rows, row["id"], row["chain_seq"], reason)
        digest = hashlib.sha256(previous + row["content"]).digest()
        if digest != bytes(row["hash"]):
            return ChainCheck(group_id, rows, row["id"], row["chain_seq"], "content or hash altered")
        previous, expected_seq = digest, expected_seq + 1
    head = await conn.fetchrow("SELECT seq, hash FROM audit_chain_heads WHERE chain_key = $1", group_id or NIL)
    head_seq, head_hash = (head["seq"], bytes(head["hash"])) if head else (0, GENESIS)
    if (head_seq, head_hash) != (expected_seq - 1, previous):
        return ChainCheck(group_id, rows, None, expected_seq, "rows are missing at the end of the chain")
    return ChainCheck(group_id, rows)


async def verify(conn: asyncpg.Connection, group_id: uuid.UUID | None = None) -> list[ChainCheck]:
    """One group's chain, or every chain (each group with a head or with events, and the group-less one)."""
    if group_id is not None:
        return [await verify_chain(conn, group_id)]
    keys = await conn.fetch(
        "SELECT chain_key FROM audit_chain_heads UNION "
        f"SELECT DISTINCT coalesce(group_id, '{NIL}'::uuid) FROM audit_events ORDER BY 1"
    )
    return [await verify_chain(conn, None if row[0] == NIL else row[0]) for row in keys]
