"""Settlement (P1, P5, P7): payouts whose pay date has come leave, through the bank.

Payouts are running balances kept as lines are recorded (app/payouts/earnings.py): a payout is
`accruing` while its period is open and holds the exact sum of its lines. One run, three steps,
each committed, safe to interrupt and rerun, and safe in two workers at once:

1. **Close** (one transaction): one UPDATE flips the `accruing` payouts whose pay date has come in
   the group's time zone to `scheduled` (row locks: a second run at once waits, then finds nothing
   left to flip; a line being recorded either lands before the flip, or finds the payout gone and
   joins the next period, the catch-up rule); then one aggregate recomputes the sum of the lines of
   each payout just flipped and compares it with its amount (P6). A mismatch (which only a bug or a
   hand edit can make) is corrected to the sum of the lines, which are the truth, and logged as an
   error with the payout id. No earning line is written: the lines were attached when recorded.
2. **Send**: payouts `scheduled` (or `failed` before this run began: the retry) are locked a batch at
   a time with FOR UPDATE SKIP LOCKED, sent to the bank in one batched call with an idempotency key
   per payout (its id for attempt 1, `id:n` for attempt n), marked `in_transit` and committed. A crash
   after the bank accepted but before the commit leaves the payouts as they were: the rerun sends the
   same keys and the bank answers with the same transfers, so nothing is paid twice.
3. **Poll**: `in_transit` payouts ask the bank, a batch per call; they become `paid`, or `failed` with
   the bank's reason (retried by the next run, step 2). No lock: an outcome is written only where the
   payout still waits on that transfer, so two pollers at once record it once.

4. **Returns** (P9): transfers the bank reported paid and then took back. The payout goes `failed` with
   the bank's reason; its lines are owed again and leave with the next run (step 2, a new transfer key).
   Each return is recorded where the payout still holds that very transfer, then acknowledged at the
   bank: a return reported twice is recorded once. A payout failing for the third time (a failed
   transfer or a return) stops retrying: `needs_attention`, the practice's admins and staff are told
   (app/payouts/events.py), and staff resume it.

A payout's amount never changes once it has left `accruing`: lines only add to accruing payouts.
Groups without a bank account in force keep their payouts `scheduled`, with `failure_reason` saying so
(no account, or a new one still waiting for the owner's confirmation: P8); the run goes on with the others
and the payout leaves with the first run after the owner confirms one. `bank_accounts` holds only confirmed
accounts (a change waits in `bank_account_changes`), so sending reads it as before.
"""

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import crypto
from app.core.db import driver_connection
from app.core.job_console import report_progress
from app.payouts import events
from app.payouts.bank import Bank, BankError, Transfer
from app.webhooks.events import emit_many


log = structlog.get_logger("caseload.settlement")
# Told what a run has done so far (a dict of counts and the phase): the job console's progress.
Progress = Callable[[dict[str, Any]], Awaitable[None]]

BANK_ACCOUNT_NUMBER = "bank_account_number"  # app/practice/service.py encrypts under this purpose
NO_BANK_ACCOUNT = "No bank account on file: the payout waits until the group adds one (PUT /v1/groups/{group_id}/bank-account)."
PENDING_OWNER_CONFIRMATION = (
    "pending_owner_confirmation: the new bank account waits for the owner to confirm it through the link mailed to "
    "them; the payout leaves with the first settlement after that."
)


@dataclass
class SettlementResult:
    payouts_scheduled: int = 0
    lines_settled: int = 0
    amounts_corrected: int = 0
    waiting_for_bank_account: int = 0
    transfers_sent: int = 0
    paid: int = 0
    failed: int = 0
    still_in_transit: int = 0
    bank_errors: int = 0
    returned: int = 0
    needs_attention: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def transfer_key(payout_id: uuid.UUID, attempt: int) -> str:
    """The bank idempotency key: the payout id for the first attempt, `id:n` for the n-th."""
    return str(payout_id) if attempt <= 1 else f"{payout_id}:{attempt}"


# A scan of payouts (no index covers status: see the model). $2 stands in for the database clock in tests.
CLOSE_PAYOUTS = """
UPDATE payouts p
   SET status = 'scheduled', updated_at = now()
  FROM groups g
 WHERE g.id = p.group_id
   AND p.status = 'accruing'
   AND p.pay_date <= (coalesce($2::timestamptz, now()) AT TIME ZONE g.time_zone)::date
   AND ($1::date IS NULL OR p.pay_date = $1)
RETURNING p.id, p.group_id
"""

# P6, proven: the sum of each just-closed payout's lines against its running amount; a mismatch is
# set to the sum of the lines. One aggregate over the closed payouts' lines, one UPDATE (of nothing,
# normally). Payouts without lines cannot be closed with an amount: they sum to zero. A statement of
# its own, after the close: its snapshot sees a line whose recording the close waited for.
VERIFY_AMOUNTS = """
WITH closed AS (
    SELECT id FROM unnest($1::uuid[]) AS c(id)
),
sums AS (  -- `= ANY`, not a join: the planner hashes the ids, not the lines
    SELECT l.payout_id, sum(l.amount_cents) AS total, count(*) AS lines
      FROM earning_lines l
     WHERE l.payout_id = ANY($1::uuid[])
     GROUP BY l.payout_id
),
corrected AS (
    UPDATE payouts p
       SET amount_cents = coalesce(s.total, 0), updated_at = now()
      FROM closed c
      LEFT JOIN sums s ON s.payout_id = c.id
     WHERE p.id = c.id AND p.amount_cents <> coalesce(s.total, 0)
    RETURNING p.id
)
SELECT (SELECT coalesce(sum(lines), 0) FROM sums) AS lines,
       (SELECT coalesce(array_agg(id), '{}') FROM corrected) AS corrected
"""

MARK_NO_BANK_ACCOUNT = """
WITH waiting AS (
    SELECT p.id, p.failure_reason,
           CASE WHEN EXISTS (SELECT 1 FROM bank_account_changes c
                              WHERE c.group_id = p.group_id AND c.status = 'pending_owner_confirmation')
                THEN $2 ELSE $1 END AS reason
      FROM payouts p
     WHERE p.status = 'scheduled' AND NOT EXISTS (SELECT 1 FROM bank_accounts b WHERE b.group_id = p.group_id)
),
marked AS (
    UPDATE payouts p SET failure_reason = w.reason, updated_at = now()
      FROM waiting w
     WHERE p.id = w.id AND w.failure_reason IS DISTINCT FROM w.reason
)
SELECT count(*) FROM waiting
"""

# The step before has just moved thousands of payouts into the status the next one looks for, faster
# than autovacuum refreshes statistics: planned on stale ones ("no payout is in_transit"), each batch's
# UPDATE becomes a nested loop of batch x batch rows (0.3 s instead of 7 ms per 1,000). One column's
# statistics, 15 ms at 26,000 payouts.
REFRESH_STATUS_STATISTICS = "ANALYZE payouts (status)"

# Send finds its payouts with one scan per run (ids only), then locks and handles them a batch at a
# time by primary key, re-checking the state under the lock: a row another worker holds is skipped
# (it is that worker's); a payout the bank refused stays as it was, for the next run.
TO_SEND = """
SELECT p.id FROM payouts p
 WHERE (p.status = 'scheduled' OR (p.status = 'failed' AND p.failed_at < $1))
   AND ($2::date IS NULL OR p.pay_date = $2)
   AND EXISTS (SELECT 1 FROM bank_accounts b WHERE b.group_id = p.group_id)
 ORDER BY p.group_id, p.id  -- a group's payouts together: one decryption of its account per batch
"""

PICK_TO_SEND = """
SELECT p.id, p.attempts, p.amount_cents, p.currency, p.pay_date,
       b.routing_number, b.account_number_encrypted, b.account_last4
  FROM payouts p
  JOIN bank_accounts b ON b.group_id = p.group_id
 WHERE p.id = ANY($1::uuid[])
   AND (p.status = 'scheduled' OR (p.status = 'failed' AND p.failed_at < $2))
   FOR UPDATE OF p SKIP LOCKED
"""

MARK_SENT = """
UPDATE payouts p
   SET status = CASE WHEN v.reference IS NULL THEN 'paid' ELSE 'in_transit' END,
       attempts = v.attempt, transfer_reference = v.reference, bank_account_last4 = v.last4,
       sent_at = now(), paid_at = CASE WHEN v.reference IS NULL THEN now() END,
       failed_at = NULL, failure_reason = NULL, updated_at = now()
  FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::text[]) AS v(id, attempt, reference, last4)
 WHERE p.id = v.id AND p.id = ANY($1::uuid[])  -- by primary key, not a hash of the whole table
RETURNING p.id, p.group_id, p.status
"""

# Poll takes no lock: asking the bank changes nothing there, and each outcome is written only where
# the payout still waits on that very transfer (a second poller at once writes nothing twice).
IN_TRANSIT = "SELECT p.id, p.transfer_reference FROM payouts p WHERE p.status = 'in_transit' ORDER BY p.id"

MARK_OUTCOMES = """
UPDATE payouts p
   SET status = CASE WHEN v.status = 'failed' AND p.failures + 1 >= $5 THEN 'needs_attention' ELSE v.status END,
       failures = p.failures + CASE WHEN v.status = 'failed' THEN 1 ELSE 0 END,
       paid_at = CASE WHEN v.status = 'paid' THEN now() END,
       failed_at = CASE WHEN v.status = 'failed' THEN now() END,
       failure_reason = v.reason, updated_at = now()
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, reference, status, reason)
 WHERE p.id = v.id AND p.id = ANY($1::uuid[]) AND p.status = 'in_transit' AND p.transfer_reference = v.reference
RETURNING p.id, p.status, p.group_id, p.failure_reason
"""

# P9: a return is recorded only where the payout is still paid by that very transfer, within the window
# (a return reported again, or after the retry left, changes nothing). No index on transfer_reference:
# returns are rare, and this runs only when the bank reports some.
MARK_RETURNED = """
UPDATE payouts p
   SET status = CASE WHEN p.failures + 1 >= $4 THEN 'needs_attention' ELSE 'failed' END,
       failures = p.failures + 1, paid_at = NULL, failed_at = now(),
       failure_reason = left('returned by the bank: ' || v.reason, 500), updated_at = now()
  FROM unnest($1::text[], $2::text[]) AS v(reference, reason)
 WHERE p.transfer_reference = v.reference AND p.status = 'paid'
   AND p.paid_at > now() - make_interval(days => $3)
RETURNING p.id, p.status, p.group_id, p.failure_reason
"""
# A payout stops retrying at its third failure (P9).
MAX_FAILURES = 3


async def build_payouts(
    db: AsyncSession, *, only_pay_date: date | None = None, now: datetime | None = None, result: SettlementResult | None = None
) -> SettlementResult:
    """Step 1, in the caller's transaction (the caller commits): close the due payouts, prove their sums.

    `now` stands in for the database clock when judging which pay dates have come (tests).
    """
    result = result or SettlementResult()
    driver = await driver_connection(db)
    # One aggregate over the closing payouts' lines: a batch job, not a request (its own time limit,
    # and room to aggregate in memory rather than sort on disk).
    await driver.execute("SET LOCAL statement_timeout = '15min'; SET LOCAL work_mem = '64MB'")
    closed_rows = await driver.fetch(CLOSE_PAYOUTS, only_pay_date, now)
    closed = [row[0] for row in closed_rows]
    await emit_many(driver, "payout.scheduled", closed, [row[1] for row in closed_rows], ["status"])
    result.payouts_scheduled += len(closed)
    if closed:
        checked = await driver.fetchrow(VERIFY_AMOUNTS, closed)
        result.lines_settled += int(checked["lines"])
        result.amounts_corrected += len(checked["corrected"])
        for payout_id in checked["corrected"]:
            log.error("payout_amount_corrected_to_sum_of_lines", payout_id=str(payout_id))
    result.waiting_for_bank_account = await driver.fetchval(MARK_NO_BANK_ACCOUNT, NO_BANK_ACCOUNT, PENDING_OWNER_CONFIRMATION)
    return result


async def _each_answer(call: Callable[[Sequence[Any]], Awaitable[list[Any]]], items: Sequence[Any]) -> list[Any]:
    """The bank's answers, in order, or, if the whole call failed, that refusal for each item (retried next run)."""
    try:
        answers = await call(items)
    except BankError as exc:
        return [exc] * len(items)
    assert len(answers) == len(items)
    return answers


def _transfers(rows: Sequence[Any]) -> list[Transfer]:
    """The bank transfers of a batch of picked payouts (those with an amount), each account decrypted once."""
    accounts: dict[bytes, str] = {}  # a group's payouts share one account; kept for this batch only
    transfers = []
    for row in rows:
        encrypted = row["account_number_encrypted"]
        account = accounts.get(encrypted)
        if account is None:
            account = accounts[encrypted] = crypto.decrypt(encrypted, purpose=BANK_ACCOUNT_NUMBER)
        transfers.append(
            Transfer(
                # A failed payout's next attempt is a new transfer (a new key); a scheduled one's is the
                # attempt it has not yet recorded, whose key the bank may already know.
                idempotency_key=transfer_key(row["id"], row["attempts"] + 1),
                amount_cents=row["amount_cents"],
                currency=row["currency"],
                routing_number=row["routing_number"],
                account_number=account,
                account_last4=row["account_last4"],
                description=f"Caseload payout {row['pay_date'].isoformat()}",
            )
        )
    return transfers


async def send_transfers(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: Bank,
    *,
    run_started: datetime,
    only_pay_date: date | None = None,
    batch_size: int = 200,
    result: SettlementResult | None = None,
    stop_after_send: bool = False,
    progress: Progress | None = None,
) -> SettlementResult:
    """Step 2: one transaction and one bank call per batch of payouts; each payout is idempotent at the bank.

    `stop_after_send` sends the first batch and returns without recording it: what a worker killed
    between the bank call and the commit leaves behind (tests use it).
    """
    result = result or SettlementResult()
    async with sessionmaker() as db:
        driver = await driver_connection(db)
        await driver.execute(REFRESH_STATUS_STATISTICS)
        candidates = [row[0] for row in await driver.fetch(TO_SEND, run_started, only_pay_date)]
        await db.commit()  # the statistics
    for start in range(0, len(candidates), batch_size):
        async with sessionmaker() as db:
            driver = await driver_connection(db)
            rows = await driver.fetch(PICK_TO_SEND, candidates[start : start + batch_size], run_started)
            if not rows:
                continue
            to_send = [row for row in rows if row["amount_cents"] != 0]  # nothing to move: paid as is
            answers: dict[uuid.UUID, str | BankError | None] = dict.fromkeys(row["id"] for row in rows)
            answers.update(zip((row["id"] for row in to_send), await _each_answer(bank.send_many, _transfers(to_send)), strict=True))
            if stop_after_send:
                await db.rollback()
                return result
            sent_ids, attempts, references, last4s = [], [], [], []
            for row in rows:
                answer = answers[row["id"]]
                if isinstance(answer, BankError):
                    log.warning("payout_send_refused", payout_id=str(row["id"]), error=str(answer))
                    result.bank_errors += 1
                    continue
                sent_ids.append(row["id"])
                attempts.append(row["attempts"] + 1)
                references.append(answer)
                last4s.append(row["account_last4"])
            if sent_ids:
                sent = await driver.fetch(MARK_SENT, sent_ids, attempts, references, last4s)
                paid_now = [row for row in sent if row["status"] == "paid"]
                await emit_many(driver, "payout.paid", [r["id"] for r in paid_now], [r["group_id"] for r in paid_now], ["status"])
                paid_as_is = references.count(None)
                result.transfers_sent += len(references) - paid_as_is
                result.paid += paid_as_is
            await db.commit()
        if progress:
            await progress({"phase": "send", "done": min(start + batch_size, len(candidates)), "total": len(candidates)})
    return result


async def poll_transfers(
    sessionmaker: async_sessionmaker[AsyncSession], bank: Bank, *, batch_size: int = 200, result: SettlementResult | None = None,
    progress: Progress | None = None,
) -> SettlementResult:
    """Step 3: in_transit payouts become paid or failed (with the bank's reason), one bank call per batch."""
    result = result or SettlementResult()
    async with sessionmaker() as db:
        driver = await driver_connection(db)
        await driver.execute(REFRESH_STATUS_STATISTICS)
        waiting = await driver.fetch(IN_TRANSIT)
        await db.commit()  # the statistics
    for start in range(0, len(waiting), batch_size):
        batch = waiting[start : start + batch_size]
        outcomes = await _each_answer(bank.status_many, [row["transfer_reference"] for row in batch])
        ids, references, states, reasons = [], [], [], []
        for row, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BankError):
                log.warning("payout_status_unavailable", payout_id=str(row["id"]), error=str(outcome))
                result.bank_errors += 1
            elif outcome.state == "in_transit":
                result.still_in_transit += 1
            else:
                ids.append(row["id"])
                references.append(row["transfer_reference"])
                states.append(outcome.state)
                reasons.append(outcome.failure_reason)
        if not ids:
            continue
        async with sessionmaker() as db:
            driver = await driver_connection(db)
            marked = await driver.fetch(MARK_OUTCOMES, ids, references, states, reasons, MAX_FAILURES)
            failed = [row for row in marked if row["status"] != "paid"]
            paid = [row for row in marked if row["status"] == "paid"]
            await emit_many(driver, "payout.paid", [r["id"] for r in paid], [r["group_id"] for r in paid], ["status"])
            result.paid += len(marked) - len(failed)
            result.failed += len(failed)
            result.needs_attention += sum(row["status"] == "needs_attention" for row in failed)
            if failed:  # in the outcome's transaction: the notice is written exactly when the failure is
                await events.payouts_failed(db, failed)
            await db.commit()
        if progress:
            await progress({"phase": "poll", "done": min(start + batch_size, len(waiting)), "total": len(waiting)})
    return result


async def record_returns(
    sessionmaker: async_sessionmaker[AsyncSession], bank: Bank, *, return_window_days: int = 14,
    batch_size: int = 200, result: SettlementResult | None = None,
) -> SettlementResult:
    """Step 4 (P9): the bank's returns after paid; each payout becomes failed and is retried by the next run."""
    result = result or SettlementResult()
    while returned := await bank.returns(batch_size):
        async with sessionmaker() as db:
            marked = await (await driver_connection(db)).fetch(
                MARK_RETURNED, [r.reference for r in returned], [r.reason for r in returned], return_window_days, MAX_FAILURES
            )
            if marked:
                await events.payouts_failed(db, marked)
            await db.commit()
        # Acknowledged only once recorded: a crash in between reports them again, and they change nothing twice.
        await bank.acknowledge_returns([r.reference for r in returned])
        result.returned += len(marked)
        result.needs_attention += sum(row["status"] == "needs_attention" for row in marked)
        for row in marked:
            log.info("payout_returned", payout_id=str(row["id"]), status=row["status"])
    return result


async def settle(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: Bank,
    *,
    pay_date: date | None = None,
    batch_size: int = 200,
    return_window_days: int = 14,
    progress: Progress | None = None,
) -> SettlementResult:
    """One settlement run: close, send, poll, returns. Safe to run again, and in several workers at once (P5).

    `progress` is told what is done so far after each step and batch (the job console shows it).
    """
    result = SettlementResult()
    started = time.perf_counter()
    async with sessionmaker() as db:
        # Failed payouts older than this run are retried by it; those failing during it wait for the next.
        run_started = await db.scalar(text("SELECT clock_timestamp()"))
        await build_payouts(db, only_pay_date=pay_date, result=result)
        await db.commit()
    result.timings["build_s"] = time.perf_counter() - started
    if progress:
        await progress({"phase": "build", "payouts_scheduled": result.payouts_scheduled})
    mark = time.perf_counter()
    await send_transfers(sessionmaker, bank, run_started=run_started, only_pay_date=pay_date, batch_size=batch_size,
                         result=result, progress=progress)
    result.timings["send_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    await poll_transfers(sessionmaker, bank, batch_size=batch_size, result=result, progress=progress)
    result.timings["poll_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    await record_returns(sessionmaker, bank, return_window_days=return_window_days, batch_size=batch_size, result=result)
    result.timings["returns_s"] = time.perf_counter() - mark
    if progress:
        await progress({"phase": "done"})
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
        return_window_days=settings.bank_return_window_days,
        progress=lambda done: report_progress(ctx, done),
    )
    return result.as_dict()
