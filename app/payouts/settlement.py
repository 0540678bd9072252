"""Settlement (P1, P5, P7): unpaid earning lines become payouts, payouts become bank transfers.

One run, three steps, each safe to interrupt and rerun, and safe in two workers at once:

1. **Build** (one transaction, serialised by an advisory lock): one INSERT ... SELECT ... GROUP BY
   makes the payouts of every (group, period) whose pay date has come in the group's time zone (ON
   CONFLICT DO NOTHING: one payout per group and period, P5); one UPDATE attaches the unpaid lines to
   the still-scheduled payouts it has locked; one UPDATE sets each touched payout's amount to the
   exact sum of its lines. Set-based: no statement per line, session or group, nothing loaded into Python.
2. **Send**: payouts `scheduled` (or `failed` before this run began: the retry) are locked a batch at
   a time with FOR UPDATE SKIP LOCKED, sent to the bank with an idempotency key derived from the payout
   (its id for attempt 1, `id:n` for attempt n), marked `in_transit` and committed. A crash after the
   bank accepted but before the commit leaves the payout as it was: the rerun sends the same key and
   the bank answers with the same transfer, so nothing is paid twice.
3. **Poll**: `in_transit` payouts ask the bank; they become `paid`, or `failed` with the bank's reason
   (retried by the next run, step 2).

Late lines (the catch-up rule). A line whose period's payout has already left (`in_transit`, `paid`
or `failed`) is never added to it: a payout's amount never changes once sent. Such a line, like any
line for a period at or before the group's latest payout that left, joins the group's payout of the
first period after that one, created on that period's pay date if the group has no other line then.
The line keeps its own `period_date`/`pay_date` (what S6 promised); the payout it joined says when it
was paid. So no line is lost (it is always unpaid until attached) and none is paid twice (it is
attached once, by `payout_id IS NULL`, to a payout that has not been sent).

Groups without a bank account keep their payouts `scheduled`, with `failure_reason` saying so; the run
goes on with the others and the payout leaves with the first run after an account is added.
"""

import calendar
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Date, DateTime, Integer, String, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import crypto
from app.payouts import schedule
from app.payouts.bank import Bank, BankError, Transfer

log = structlog.get_logger("caseload.settlement")

BANK_ACCOUNT_NUMBER = "bank_account_number"  # app/practice/service.py encrypts under this purpose
NO_BANK_ACCOUNT = "No bank account on file: the payout waits until the group adds one (PUT /v1/groups/{group_id}/bank-account)."
# Any constant: settlement's build step runs one at a time across every worker.
_BUILD_LOCK = 0x5E771E
# Period dates ahead of today the calendar covers: a catch-up period is at most one period ahead.
_CALENDAR_AHEAD_DAYS = 62


@dataclass
class SettlementResult:
    payouts_created: int = 0
    lines_attached: int = 0
    payouts_touched: int = 0
    waiting_for_bank_account: int = 0
    transfers_sent: int = 0
    paid: int = 0
    failed: int = 0
    still_in_transit: int = 0
    bank_errors: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def transfer_key(payout_id: uuid.UUID, attempt: int) -> str:
    """The bank idempotency key: the payout id for the first attempt, `id:n` for the n-th."""
    return str(payout_id) if attempt <= 1 else f"{payout_id}:{attempt}"


def next_period_date(period_date: date) -> date:
    if period_date.day == 15:
        return period_date.replace(day=calendar.monthrange(period_date.year, period_date.month)[1])
    following = period_date + timedelta(days=1)
    return following.replace(day=15)


def period_calendar(first: date, last: date) -> tuple[list[date], list[date], list[date]]:
    """Every period date in [first, last], with its pay date and latest arrival (P3, P4).

    Computed here, where the bank-holiday calendar is, and handed to SQL as three arrays.
    """
    current = first.replace(day=15) if first.day <= 15 else first.replace(day=calendar.monthrange(first.year, first.month)[1])
    periods, pays, latest = [], [], []
    while current <= last:
        earliest, arrives_latest = schedule.arrival_window(current)
        periods.append(current)
        pays.append(earliest)
        latest.append(arrives_latest)
        current = next_period_date(current)
    return periods, pays, latest


_CALENDAR = """
cal AS (
    SELECT * FROM unnest(:periods, :pays, :latest) AS c(period_date, pay_date, arrives_latest)
),
gone AS (
    -- Per group, the latest period whose payout has left, and the first period after it: where
    -- catch-up lines go (see the module docstring).
    SELECT p.group_id, max(p.period_date) AS last_gone,
           (SELECT min(c.period_date) FROM cal c WHERE c.period_date > max(p.period_date)) AS catch_up
      FROM payouts p
     WHERE p.status <> 'scheduled'
     GROUP BY p.group_id
)"""

_TARGET = "CASE WHEN gone.last_gone IS NOT NULL AND l.period_date <= gone.last_gone THEN gone.catch_up ELSE l.period_date END"

CREATE_PAYOUTS = f"""
WITH {_CALENDAR},
due AS (
    SELECT l.group_id, {_TARGET} AS target
      FROM earning_lines l
      LEFT JOIN gone ON gone.group_id = l.group_id
     WHERE l.payout_id IS NULL
)
INSERT INTO payouts (id, group_id, period_date, pay_date, arrives_earliest, arrives_latest, amount_cents, status)
SELECT gen_random_uuid(), d.group_id, d.target, c.pay_date, c.pay_date, c.arrives_latest, 0, 'scheduled'
  FROM (SELECT DISTINCT group_id, target FROM due) d
  JOIN cal c ON c.period_date = d.target
  JOIN groups g ON g.id = d.group_id
 WHERE c.pay_date <= (coalesce(CAST(:now AS timestamptz), now()) AT TIME ZONE g.time_zone)::date
   AND (CAST(:only_pay_date AS date) IS NULL OR c.pay_date = :only_pay_date)
ON CONFLICT (group_id, period_date) DO NOTHING
"""

# The payouts lines may join are locked first: a payout being sent (locked by a sender) is waited
# for, then re-checked and left out, so no line ever joins a payout whose amount already went out.
ATTACH_LINES = f"""
WITH {_CALENDAR},
open_payouts AS (
    SELECT p.id, p.group_id, p.period_date
      FROM payouts p
     WHERE p.status = 'scheduled'
       AND (CAST(:only_pay_date AS date) IS NULL OR p.pay_date = :only_pay_date)
       FOR UPDATE
),
attached AS (
    UPDATE earning_lines l
       SET payout_id = o.id
      FROM open_payouts o
      LEFT JOIN gone ON gone.group_id = o.group_id
     WHERE l.payout_id IS NULL
       AND l.group_id = o.group_id
       AND o.period_date = {_TARGET}
    RETURNING l.payout_id
)
SELECT payout_id, count(*) AS lines FROM attached GROUP BY payout_id
"""

# P6: the amount is recomputed from every line of the payout, not incremented.
SET_AMOUNTS = """
UPDATE payouts p
   SET amount_cents = s.total, updated_at = now()
  FROM (SELECT payout_id, sum(amount_cents) AS total
          FROM earning_lines
         WHERE payout_id = ANY(:payout_ids)
         GROUP BY payout_id) s
 WHERE p.id = s.payout_id
"""

MARK_NO_BANK_ACCOUNT = """
UPDATE payouts p
   SET failure_reason = :reason, updated_at = now()
 WHERE p.status = 'scheduled'
   AND p.failure_reason IS DISTINCT FROM :reason
   AND NOT EXISTS (SELECT 1 FROM bank_accounts b WHERE b.group_id = p.group_id)
"""

COUNT_NO_BANK_ACCOUNT = """
SELECT count(*) FROM payouts p
 WHERE p.status = 'scheduled' AND NOT EXISTS (SELECT 1 FROM bank_accounts b WHERE b.group_id = p.group_id)
"""

PICK_TO_SEND = """
SELECT p.id, p.status, p.attempts, p.amount_cents, p.currency, p.pay_date,
       b.routing_number, b.account_number_encrypted, b.account_last4
  FROM payouts p
  JOIN bank_accounts b ON b.group_id = p.group_id
 WHERE (p.status = 'scheduled' OR (p.status = 'failed' AND p.failed_at < :run_started))
   AND (CAST(:only_pay_date AS date) IS NULL OR p.pay_date = :only_pay_date)
   AND p.id <> ALL(:skip)
 ORDER BY p.pay_date, p.id
 LIMIT :batch
   FOR UPDATE OF p SKIP LOCKED
"""

MARK_SENT = """
UPDATE payouts p
   SET status = CASE WHEN v.reference IS NULL THEN 'paid' ELSE 'in_transit' END,
       attempts = v.attempt, transfer_reference = v.reference, bank_account_last4 = v.last4,
       sent_at = now(), paid_at = CASE WHEN v.reference IS NULL THEN now() END,
       failed_at = NULL, failure_reason = NULL, updated_at = now()
  FROM unnest(:ids, :attempts, :references, :last4s) AS v(id, attempt, reference, last4)
 WHERE p.id = v.id
"""

PICK_IN_TRANSIT = """
SELECT p.id, p.transfer_reference
  FROM payouts p
 WHERE p.status = 'in_transit' AND p.id <> ALL(:skip)
 ORDER BY p.sent_at, p.id
 LIMIT :batch
   FOR UPDATE SKIP LOCKED
"""

MARK_OUTCOMES = """
UPDATE payouts p
   SET status = v.status,
       paid_at = CASE WHEN v.status = 'paid' THEN now() END,
       failed_at = CASE WHEN v.status = 'failed' THEN now() END,
       failure_reason = v.reason, updated_at = now()
  FROM unnest(:ids, :statuses, :reasons) AS v(id, status, reason)
 WHERE p.id = v.id
"""

_DATES = ARRAY(Date)
_UUIDS = ARRAY(Uuid)


def _calendar_params(first: date | None) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    periods, pays, latest = period_calendar(first or today, today + timedelta(days=_CALENDAR_AHEAD_DAYS))
    return {"periods": periods, "pays": pays, "latest": latest}


def _stmt(sql: str, **types: Any) -> Any:
    return text(sql).bindparams(*(bindparam(name, type_=type_) for name, type_ in types.items()))


_CAL_TYPES = {"periods": _DATES, "pays": _DATES, "latest": _DATES, "only_pay_date": Date}
_CREATE_TYPES = _CAL_TYPES | {"now": DateTime(timezone=True)}


async def build_payouts(
    db: AsyncSession, *, only_pay_date: date | None = None, now: datetime | None = None, result: SettlementResult | None = None
) -> SettlementResult:
    """Step 1, in the caller's transaction (the caller commits): create, attach, sum.

    `now` stands in for the database clock when judging which pay dates have come (tests).
    """
    result = result or SettlementResult()
    # A batch job over every unpaid line: the API's per-statement limit is for requests, not for this.
    await db.execute(text("SET LOCAL statement_timeout = '15min'"))
    await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BUILD_LOCK})
    # The oldest unpaid line bounds the calendar (an index-only look-up on the partial index).
    oldest = await db.scalar(text("SELECT min(period_date) FROM earning_lines WHERE payout_id IS NULL"))
    if oldest is None:
        result.waiting_for_bank_account = await _mark_no_bank_account(db)
        return result
    params = _calendar_params(min(oldest, datetime.now(UTC).date())) | {"only_pay_date": only_pay_date}
    created = await db.execute(_stmt(CREATE_PAYOUTS, **_CREATE_TYPES), params | {"now": now})
    result.payouts_created += created.rowcount or 0
    touched = (await db.execute(_stmt(ATTACH_LINES, **_CAL_TYPES), params)).all()
    result.payouts_touched += len(touched)
    result.lines_attached += sum(row.lines for row in touched)
    if touched:
        await db.execute(_stmt(SET_AMOUNTS, payout_ids=_UUIDS), {"payout_ids": [row.payout_id for row in touched]})
    result.waiting_for_bank_account = await _mark_no_bank_account(db)
    return result


async def _mark_no_bank_account(db: AsyncSession) -> int:
    await db.execute(text(MARK_NO_BANK_ACCOUNT), {"reason": NO_BANK_ACCOUNT})
    return int(await db.scalar(text(COUNT_NO_BANK_ACCOUNT)) or 0)


async def send_transfers(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: Bank,
    *,
    run_started: datetime,
    only_pay_date: date | None = None,
    batch_size: int = 200,
    result: SettlementResult | None = None,
    stop_after_send: bool = False,
) -> SettlementResult:
    """Step 2: one transaction per batch of payouts; each payout is idempotent at the bank.

    `stop_after_send` sends the first batch and returns without recording it: what a worker killed
    between the bank call and the commit leaves behind (tests use it).
    """
    result = result or SettlementResult()
    skip: list[uuid.UUID] = []
    pick = _stmt(PICK_TO_SEND, only_pay_date=Date, skip=_UUIDS)
    mark = _stmt(MARK_SENT, ids=_UUIDS, attempts=ARRAY(Integer), references=ARRAY(String), last4s=ARRAY(String))
    while True:
        async with sessionmaker() as db:
            rows = (
                await db.execute(
                    pick, {"run_started": run_started, "only_pay_date": only_pay_date, "skip": skip, "batch": batch_size}
                )
            ).all()
            if not rows:
                return result
            ids, attempts, references, last4s = [], [], [], []
            for row in rows:
                # A failed payout's next attempt is a new transfer (a new key); a scheduled one's is
                # the attempt it has not yet recorded, whose key the bank may already know.
                attempt = row.attempts + 1
                if row.amount_cents == 0:
                    reference = None  # nothing to move: paid as is
                else:
                    try:
                        reference = await bank.send(
                            Transfer(
                                idempotency_key=transfer_key(row.id, attempt),
                                amount_cents=row.amount_cents,
                                currency=row.currency,
                                routing_number=row.routing_number,
                                account_number=crypto.decrypt(row.account_number_encrypted, purpose=BANK_ACCOUNT_NUMBER),
                                account_last4=row.account_last4,
                                description=f"Caseload payout {row.pay_date.isoformat()}",
                            )
                        )
                    except BankError as exc:
                        log.warning("payout_send_refused", payout_id=str(row.id), error=str(exc))
                        result.bank_errors += 1
                        skip.append(row.id)
                        continue
                    result.transfers_sent += 1
                ids.append(row.id)
                attempts.append(attempt)
                references.append(reference)
                last4s.append(row.account_last4)
            if stop_after_send:
                await db.rollback()
                return result
            if ids:
                await db.execute(mark, {"ids": ids, "attempts": attempts, "references": references, "last4s": last4s})
                result.paid += references.count(None)
            await db.commit()


async def poll_transfers(
    sessionmaker: async_sessionmaker[AsyncSession], bank: Bank, *, batch_size: int = 200, result: SettlementResult | None = None
) -> SettlementResult:
    """Step 3: in_transit payouts become paid or failed (with the bank's reason)."""
    result = result or SettlementResult()
    skip: list[uuid.UUID] = []
    pick = _stmt(PICK_IN_TRANSIT, skip=_UUIDS)
    mark = _stmt(MARK_OUTCOMES, ids=_UUIDS, statuses=ARRAY(String), reasons=ARRAY(String))
    while True:
        async with sessionmaker() as db:
            rows = (await db.execute(pick, {"skip": skip, "batch": batch_size})).all()
            if not rows:
                return result
            ids, statuses, reasons = [], [], []
            for row in rows:
                try:
                    outcome = await bank.status(row.transfer_reference)
                except BankError as exc:
                    log.warning("payout_status_unavailable", payout_id=str(row.id), error=str(exc))
                    result.bank_errors += 1
                    skip.append(row.id)
                    continue
                if outcome.state == "in_transit":
                    result.still_in_transit += 1
                    skip.append(row.id)
                    continue
                ids.append(row.id)
                statuses.append(outcome.state)
                reasons.append(outcome.failure_reason)
                if outcome.state == "paid":
                    result.paid += 1
                else:
                    result.failed += 1
                    log.info("payout_failed", payout_id=str(row.id))
            if ids:
                await db.execute(mark, {"ids": ids, "statuses": statuses, "reasons": reasons})
            await db.commit()


async def settle(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: Bank,
    *,
    pay_date: date | None = None,
    batch_size: int = 200,
) -> SettlementResult:
    """One settlement run: build, send, poll. Safe to run again, and in several workers at once (P5)."""
    result = SettlementResult()
    started = time.perf_counter()
    async with sessionmaker() as db:
        # Failed payouts older than this run are retried by it; those failing during it wait for the next.
        run_started = await db.scalar(text("SELECT clock_timestamp()"))
        await build_payouts(db, only_pay_date=pay_date, result=result)
        await db.commit()
    result.timings["build_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    await send_transfers(sessionmaker, bank, run_started=run_started, only_pay_date=pay_date, batch_size=batch_size, result=result)
    result.timings["send_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    await poll_transfers(sessionmaker, bank, batch_size=batch_size, result=result)
    result.timings["poll_s"] = time.perf_counter() - mark
    log.info("settlement_done", **{k: v for k, v in result.as_dict().items() if k != "timings"})
    return result


async def settle_job(ctx: dict[str, Any], pay_date: str | None = None) -> dict[str, Any]:
    """The arq job `settle` (cron and on demand): ids and dates only, idempotent, safe concurrently."""
    from app.payouts.bank import bank_from_settings

    settings = ctx["settings"]
    bank = bank_from_settings(ctx["redis"], settings)
    result = await settle(
        ctx["sessionmaker"],
        bank,
        pay_date=date.fromisoformat(pay_date) if pay_date else None,
        batch_size=settings.settlement_batch_size,
    )
    return result.as_dict()
