"""The audit log's read statements, written for generic plans (the reader pool plans each statement once).

Only the filters a request uses appear in its statement, so each combination gets its own plan and every plan
is an index range scan in (at, id) order: ix_audit_events_group_at, or the actor, client, target or action index
when the request filters on one. Pure: no I/O here.
"""

# Filter name -> SQL, in parameter order after $1 (the group).
FILTERS = {
    "actor_id": "actor_user_id = ${}::uuid",
    "api_key_id": "actor_api_key_id = ${}::uuid",
    "client_id": "client_id = ${}::uuid",
    "action": "action = ${}",
    "target_type": "target_type = ${}",
    "target_id": "target_id = ${}",
    "start": "at >= ${}::timestamptz",
    "end": "at < ${}::timestamptz",
}
COLUMNS = ("id, at, actor_user_id, actor_api_key_id, host(actor_ip) AS actor_ip, request_id, action, target_type, "
           "target_id, client_id, outcome, details::json AS details, chain_seq, encode(hash, 'hex') AS hash")
CSV_COLUMNS = ("id", "at", "actor_user_id", "actor_api_key_id", "actor_ip", "request_id", "action", "target_type",
               "target_id", "client_id", "outcome", "details", "chain_seq", "hash")

# The read of the log is itself recorded (who looked at what), in the same statement as the page it shows.
_RECORD = """INSERT INTO audit_events (actor_user_id, actor_api_key_id, actor_ip, request_id, action, target_type, target_id,
                          group_id, outcome, details)
VALUES ($2::uuid, $3::uuid, $4::inet, $5, 'audit.read', 'group', $1::uuid::text, $1::uuid, 'success', $6::text::jsonb)"""


def page_statement(filters: list[str], *, after: bool, size: int, record: bool) -> str:
    """Newest first. Parameters: $1 group; with `record`, $2-$6 the reader's audit row; then the filters' values
    in `filters` order; then, with `after`, the cursor's (at, id)."""
    assert isinstance(size, int) and size > 0
    n = 6 if record else 1
    where = ["group_id = $1::uuid"]
    for name in filters:
        n += 1
        where.append(FILTERS[name].format(n))
    if after:
        where.append(f"(at, id) < (${n + 1}::timestamptz, ${n + 2}::bigint)")
    page = f"SELECT {COLUMNS} FROM audit_events WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT {size}"
    if not record:
        return page
    return f"WITH page AS ({page}), recorded AS ({_RECORD}) SELECT * FROM page ORDER BY at DESC, id DESC"


def record_statement() -> str:
    """The reader's audit row alone ($1 group, $2-$6 as in page_statement), for the CSV export."""
    return _RECORD


def csv_cell(value: object) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: quote it as text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
