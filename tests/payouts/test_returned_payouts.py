"""Returned payouts and the retry cap, against real PostgreSQL and Redis: rule P9."""

import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import BankAccount, MailMessage, Payout
from app.payouts.bank import BankError, SimulatedBank
from app.payouts.events import NEEDS_ATTENTION_TEMPLATE
from app.payouts.service import resume_payout
from app.payouts.settlement import settle
from tests.fixtures.factories import make_user, user_headers
from tests.payouts.conftest import Cast
from tests.payouts.factories import confirmed_session_with_line, make_bank_account, make_payout
from tests.payouts.test_settlement import JAN_EARLY, add_lines, payouts_of, seed


async def test_a_returned_payout_is_owed_again_and_paid_once_by_the_next_run(sessionmaker, bank: SimulatedBank) -> None:
    # rule P9: paid -> failed with the bank's reason; its lines go out again in the next run, exactly once
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 6000), ("colleague", JAN_EARLY, 4000)])
    assert (await settle(sessionmaker, bank)).paid == 1
    [paid] = await payouts_of(sessionmaker, cast.group.id)
    await bank.return_transfer(paid.transfer_reference, "R01: insufficient funds")

    noticed = await settle(sessionmaker, bank)
    assert (noticed.returned, noticed.transfers_sent) == (1, 0)  # recorded now, sent by the next run
    [returned] = await payouts_of(sessionmaker, cast.group.id)
    assert (returned.status, returned.failure_reason, returned.failures, returned.paid_at) == (
        "failed", "returned by the bank: R01: insufficient funds", 1, None)
    assert returned.amount_cents == 10000  # the same lines, owed again

    again = await settle(sessionmaker, bank)
    assert (again.transfers_sent, again.paid) == (1, 1)
    [repaid] = await payouts_of(sessionmaker, cast.group.id)
    assert (repaid.status, repaid.attempts, repaid.failure_reason) == ("paid", 2, None)
    # The old transfer's return reported again changes nothing; nor do more runs.
    await bank.return_transfer(paid.transfer_reference, "R01: insufficient funds")
    later = await settle(sessionmaker, bank)
    assert (later.returned, later.transfers_sent) == (0, 0)
    transfers = await bank.transfers()
    assert sorted(t["key"] for t in transfers) == sorted([str(paid.id), f"{paid.id}:2"])
    assert [t["amount_cents"] for t in transfers] == [10000, 10000]  # one returned, one kept: paid once
    [final] = await payouts_of(sessionmaker, cast.group.id)
    assert final.status == "paid" and await bank.returns(10) == []


async def test_the_bank_returns_only_paid_transfers_within_the_window(sessionmaker, redis) -> None:
    # rule P9: a return comes "within days": the simulated bank refuses one past BANK_RETURN_WINDOW_DAYS
    bank = SimulatedBank(redis, return_window_days=14)
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 500)])
    await settle(sessionmaker, bank)
    [paid] = await payouts_of(sessionmaker, cast.group.id)
    with pytest.raises(BankError, match="return window"):
        await bank.return_transfer(paid.transfer_reference, "R01", now=time.time() + 15 * 86400)
    with pytest.raises(BankError, match="unknown transfer"):
        await bank.return_transfer("simtr_nothing", "R01")


async def test_three_failures_stop_the_retries_and_tell_admins_and_staff(sessionmaker, bank: SimulatedBank) -> None:
    # rule P9: after three failures a payout stops retrying; the practice's admins and staff get a mail
    cast = await seed(sessionmaker, bank_account="111122220000")  # the simulated bank closes ...0000
    async with sessionmaker() as db:
        staff = await make_user(db, is_staff=True)
        await db.commit()
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 6000)])
    for run in (1, 2):
        assert (await settle(sessionmaker, bank)).failed == 1
        [payout] = await payouts_of(sessionmaker, cast.group.id)
        assert (payout.status, payout.failures) == ("failed", run)
    third = await settle(sessionmaker, bank)
    assert (third.failed, third.needs_attention) == (1, 1)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert (payout.status, payout.failures, payout.attempts, payout.failure_reason) == ("needs_attention", 3, 3, "account closed")
    async with sessionmaker() as db:
        mails = (await db.scalars(select(MailMessage).where(MailMessage.template == NEEDS_ATTENTION_TEMPLATE))).all()
    assert sorted(m.to_address for m in mails) == sorted([cast.owner.email, cast.admin.email, staff.email])
    assert all(str(payout.id) in m.body_text and "Casey" not in m.body_text for m in mails)  # ids, no client names
    assert (await settle(sessionmaker, bank)).transfers_sent == 0  # no more retries

    async with sessionmaker() as db:  # the owner fixes the account; staff resume the payout
        await db.delete(await db.get(BankAccount, cast.group.id))
        await db.flush()
        await make_bank_account(db, cast.group.id, account_number="222233334444")
        staff = await db.get(type(staff), staff.id)
        await resume_payout(db, _actor(staff), payout.id)
        await db.commit()
    resumed = await settle(sessionmaker, bank)
    assert (resumed.transfers_sent, resumed.paid) == (1, 1)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert (payout.status, payout.attempts, payout.failures) == ("paid", 4, 0)


def _actor(user):
    from app.core.auth import Actor

    return Actor(kind="user", id=user.id, memberships={}, is_staff=True)


async def test_staff_resume_a_payout_that_needs_attention(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    # rule P9: only staff resume, only a payout waiting in needs_attention
    _, line = await confirmed_session_with_line(
        db, group_id=cast.group.id, provider_id=cast.provider.id, client_id=cast.client.id, confirmed_at=JAN_EARLY, amount_cents=900,
    )
    payout = await make_payout(db, cast.group.id, [line], status="failed")
    payout.status, payout.failures = "needs_attention", 3
    await db.flush()
    staff = await user_headers(db, await make_user(db, is_staff=True))
    path = f"/v1/ops/payouts/{payout.id}/resume"
    assert (await client.post(path, headers=await user_headers(db, cast.owner))).status_code == 403
    response = await client.post(path, headers=staff)
    assert response.status_code == 200 and response.json()["status"] == "failed"
    again = await client.post(path, headers=staff)
    assert again.status_code == 409 and again.json()["code"] == "payout_not_waiting"
    assert (await db.get(Payout, payout.id, populate_existing=True)).failures == 0
