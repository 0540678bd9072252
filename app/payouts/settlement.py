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
   the bank's reason (retried by the next run, step 2).

A payout's amount never changes once it has left `accruing`: lines only add to accruing payouts.
Groups without a bank account keep their payouts `scheduled`, with `failure_reason` saying so; the run
goes on with the others and the payout leaves with the first run after an account is added.
"""

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import Date, DateTime, Integer, String, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import crypto
from app.payouts.bank import Bank, BankError, Transfer, TransferStatus

log = structlog.get_logger("caseload.settlement")

BANK_ACCOUNT_NUMBER = "bank_account_number"  # app/practice/service.py encrypts under this purpose
NO_BANK_ACCOUNT = "No bank account on file: the payout waits until the group adds one (PUT /v1/groups/{group_id}/bank-account)."


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
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def transfer_key(payout_id: uuid.UUID, attempt: int) -> str:
    """The bank idempotency key: the payout id for the first attempt, `id:n` for the n-th."""
    return str(payout_id) if attempt <= 1 else f"{payout_id}:{attempt}"


# A scan of payouts (no index covers status: see the model). `now` stands in for the database clock in tests.
CLOSE_PAYOUTS = """
UPDATE payouts p
   SET status = 'scheduled', updated_at = now()
  FROM groups g
 WHERE g.id = p.group_id
   AND p.status = 'accruing'
   AND p.pay_date <= (coalesce(CAST(:now AS timestamptz), now()) AT TIME ZONE g.time_zone)::date
   AND (CAST(:only_pay_date AS date) IS NULL OR p.pay_date = :only_pay_date)
RETURNING p.id
"""

# P6, proven: the sum of each just-closed payout's lines against its running amount; a mismatch is
# set to the sum of the lines. One aggregate over the closed payouts' lines, one UPDATE (of nothing,
# normally). Payouts without lines cannot be closed with an amount: they sum to zero.
VERIFY_AMOUNTS = """
WITH closed AS (
    SELECT id FROM unnest(CAST(:ids AS uuid[])) AS c(id)
),
sums AS (
    SELECT l.payout_id, sum(l.amount_cents) AS total, count(*) AS lines
      FROM earning_lines l
     WHERE l.payout_id = ANY(CAST(:ids AS uuid[]))
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

# Send and poll find their payouts with one scan per run (ids only), then lock and handle them a batch
# at a time by primary key, re-checking the state under the lock: a row another worker holds is
# skipped (it is that worker's); a payout the bank refused stays as it was, for the next run.
TO_SEND = """
SELECT p.id FROM payouts p
 WHERE (p.status = 'scheduled' OR (p.status = 'failed' AND p.failed_at < :run_started))
   AND (CAST(:only_pay_date AS date) IS NULL OR p.pay_date = :only_pay_date)
   AND EXISTS (SELECT 1 FROM bank_accounts b WHERE b.group_id = p.group_id)
 ORDER BY p.group_id, p.id  -- a group's payouts together: one decryption of its account per batch
"""

PICK_TO_SEND = """
SELECT p.id, p.group_id, p.status, p.attempts, p.amount_cents, p.currency, p.pay_date,
       b.routing_number, b.account_number_encrypted, b.account_last4
  FROM payouts p
  JOIN bank_accounts b ON b.group_id = p.group_id
 WHERE p.id = ANY(:ids)
   AND (p.status = 'scheduled' OR (p.status = 'failed' AND p.failed_at < :run_started))
   FOR UPDATE OF p SKIP LOCKED
"""

MARK_SENT = """
UPDATE payouts p
   SET status = CASE WHEN v.reference IS NULL THEN 'paid' ELSE 'in_transit' END,
       attempts = v.attempt, transfer_reference = v.reference, bank_account_last4 = v.last4,
       sent_at = now(), paid_at = CASE WHEN v.reference IS NULL THEN now() END,
       failed_at = NULL, failure_reason = NULL, updated_at = now()
  FROM unnest(:ids, :attempts, :references, :last4s) AS v(id, attempt, reference, last4)
 WHERE p.id = v.id AND p.id = ANY(:ids)  -- by primary key, not a hash of the whole table
"""

IN_TRANSIT = "SELECT p.id FROM payouts p WHERE p.status = 'in_transit' ORDER BY p.id"

PICK_IN_TRANSIT = """
SELECT p.id, p.transfer_reference
  FROM payouts p
 WHERE p.id = ANY(:ids) AND p.status = 'in_transit'
   FOR UPDATE SKIP LOCKED
"""

MARK_OUTCOMES = """
UPDATE payouts p
   SET status = v.status,
       paid_at = CASE WHEN v.status = 'paid' THEN now() END,
       failed_at = CASE WHEN v.status = 'failed' THEN now() END,
       failure_reason = v.reason, updated_at = now()
  FROM unnest(:ids, :statuses, :reasons) AS v(id, status, reason)
 WHERE p.id = v.id AND p.id = ANY(:ids)
"""

_UUIDS = ARRAY(Uuid)


def _stmt(sql: str, **types: Any) -> Any:
    return text(sql).bindparams(*(bindparam(name, type_=type_) for name, type_ in types.items()))


async def build_payouts(
    db: AsyncSession, *, only_pay_date: date | None = None, now: datetime | None = None, result: SettlementResult | None = None
) -> SettlementResult:
    """Step 1, in the caller's transaction (the caller commits): close the due payouts, prove their sums.

    `now` stands in for the database clock when judging which pay dates have come (tests).
    """
    result = result or SettlementResult()
    # One aggregate over the closing payouts' lines: a batch job, not a request (its own time limit,
    # and room to aggregate in memory rather than sort on disk).
    await db.execute(text("SET LOCAL statement_timeout = '15min'"))
    await db.execute(text("SET LOCAL work_mem = '64MB'"))
    closed = list(
        await db.scalars(
            _stmt(CLOSE_PAYOUTS, only_pay_date=Date, now=DateTime(timezone=True)), {"only_pay_date": only_pay_date, "now": now}
        )
    )
    result.payouts_scheduled += len(closed)
    if closed:
        checked = (await db.execute(_stmt(VERIFY_AMOUNTS, ids=_UUIDS), {"ids": closed})).one()
        result.lines_settled += int(checked.lines)
        result.amounts_corrected += len(checked.corrected)
        for payout_id in checked.corrected:
            log.error("payout_amount_corrected_to_sum_of_lines", payout_id=str(payout_id))
    result.waiting_for_bank_account = await _mark_no_bank_account(db)
    return result


async def _mark_no_bank_account(db: AsyncSession) -> int:
    await db.execute(text(MARK_NO_BANK_ACCOUNT), {"reason": NO_BANK_ACCOUNT})
    return int(await db.scalar(text(COUNT_NO_BANK_ACCOUNT)) or 0)


async def _send_many(bank: Bank, transfers: Sequence[Transfer]) -> list[str | BankError]:
    """The bank's answers, or, if the whole call failed, that refusal for each transfer (retried next run)."""
    try:
        answers = await bank.send_many(transfers)
    except BankError as exc:
        return [exc] * len(transfers)
    assert len(answers) == len(transfers)
    return answers


async def _status_many(bank: Bank, references: Sequence[str]) -> list[TransferStatus | BankError]:
    try:
        answers = await bank.status_many(references)
    except BankError as exc:
        return [exc] * len(references)
    assert len(answers) == len(references)
    return answers


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
    """Step 2: one transaction and one bank call per batch of payouts; each payout is idempotent at the bank.

    `stop_after_send` sends the first batch and returns without recording it: what a worker killed
    between the bank call and the commit leaves behind (tests use it).
    """
    result = result or SettlementResult()
    async with sessionmaker() as db:
        candidates = list(
            await db.scalars(_stmt(TO_SEND, only_pay_date=Date), {"run_started": run_started, "only_pay_date": only_pay_date})
        )
    pick = _stmt(PICK_TO_SEND, ids=_UUIDS)
    mark = _stmt(MARK_SENT, ids=_UUIDS, attempts=ARRAY(Integer), references=ARRAY(String), last4s=ARRAY(String))
    for start in range(0, len(candidates), batch_size):
        async with sessionmaker() as db:
            ids = candidates[start : start + batch_size]
            rows = (await db.execute(pick, {"run_started": run_started, "ids": ids})).all()
            if not rows:
                continue
            # A failed payout's next attempt is a new transfer (a new key); a scheduled one's is the
            # attempt it has not yet recorded, whose key the bank may already know.
            attempts = {row.id: row.attempts + 1 for row in rows}
            # One decryption per account (a group's payouts share it), kept for this batch only.
            accounts: dict[bytes, str] = {}
            to_send = [row for row in rows if row.amount_cents != 0]  # nothing to move: paid as is
            transfers = []
            for row in to_send:
                account = accounts.get(row.account_number_encrypted)
                if account is None:
                    account = accounts[row.account_number_encrypted] = crypto.decrypt(
                        row.account_number_encrypted, purpose=BANK_ACCOUNT_NUMBER
                    )
                transfers.append(
                    Transfer(
                        idempotency_key=transfer_key(row.id, attempts[row.id]),
                        amount_cents=row.amount_cents,
                        currency=row.currency,
                        routing_number=row.routing_number,
                        account_number=account,
                        account_last4=row.account_last4,
                        description=f"Caseload payout {row.pay_date.isoformat()}",
                    )
                )
            accounts.clear()
            answers: dict[uuid.UUID, str | BankError | None] = {row.id: None for row in rows}
            answers.update(zip((row.id for row in to_send), await _send_many(bank, transfers), strict=True))
            sent_ids, attempt_list, references, last4s = [], [], [], []
            for row in rows:
                answer = answers[row.id]
                if isinstance(answer, BankError):
                    log.warning("payout_send_refused", payout_id=str(row.id), error=str(answer))
                    result.bank_errors += 1
                    continue
                if answer is not None:
                    result.transfers_sent += 1
                sent_ids.append(row.id)
                attempt_list.append(attempts[row.id])
                references.append(answer)
                last4s.append(row.account_last4)
            if stop_after_send:
                await db.rollback()
                return result
            if sent_ids:
                await db.execute(mark, {"ids": sent_ids, "attempts": attempt_list, "references": references, "last4s": last4s})
                result.paid += references.count(None)
            await db.commit()
    return result


async def poll_transfers(
    sessionmaker: async_sessionmaker[AsyncSession], bank: Bank, *, batch_size: int = 200, result: SettlementResult | None = None
) -> SettlementResult:
    """Step 3: in_transit payouts become paid or failed (with the bank's reason), one bank call per batch."""
    result = result or SettlementResult()
    async with sessionmaker() as db:
        candidates = list(await db.scalars(text(IN_TRANSIT)))
    pick = _stmt(PICK_IN_TRANSIT, ids=_UUIDS)
    mark = _stmt(MARK_OUTCOMES, ids=_UUIDS, statuses=ARRAY(String), reasons=ARRAY(String))
    for start in range(0, len(candidates), batch_size):
        async with sessionmaker() as db:
            rows = (await db.execute(pick, {"ids": candidates[start : start + batch_size]})).all()
            if not rows:
                continue
            ids, statuses, reasons = [], [], []
            outcomes = await _status_many(bank, [row.transfer_reference for row in rows])
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, BankError):
                    log.warning("payout_status_unavailable", payout_id=str(row.id), error=str(outcome))
                    result.bank_errors += 1
                    continue
                if outcome.state == "in_transit":
                    result.still_in_transit += 1
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
    return result


async def settle(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: Bank,
    *,
    pay_date: date | None = None,
    batch_size: int = 200,
) -> SettlementResult:
    """One settlement run: close, send, poll. Safe to run again, and in several workers at once (P5)."""
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
