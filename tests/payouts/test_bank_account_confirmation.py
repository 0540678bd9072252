"""A new payout account receives money only once the owner confirms it (rule P8), with settlement's own runs:
the account in force keeps being paid meanwhile, and without one payouts wait with that reason."""

import re



from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import Actor, GroupRole
from app.models import MailMessage, User
from app.payouts.bank import SimulatedBank
from app.payouts.service import upcoming_payouts
from app.payouts.settlement import PENDING_OWNER_CONFIRMATION, settle
from app.practice.schemas import BankAccountIn
from app.practice.service import confirm_bank_account, set_bank_account
from tests.payouts.conftest import Cast
from tests.payouts.test_settlement import JAN_EARLY, JAN_LATE, add_lines, payouts_of, seed

NEW = BankAccountIn(account_holder_name="Mallory Practice", routing_number="011000015", account_number="000055554444",
                    account_type="checking")


def as_member(user: User, cast: Cast, **role: bool) -> Actor:
    return Actor(kind="user", id=user.id, memberships={cast.group.id: GroupRole(cast.group.id, cast.group.name, **role)},
                 email=user.email, first_name=user.first_name, last_name=user.last_name, email_verified=True)


async def request_change(sessionmaker: async_sessionmaker[AsyncSession], cast: Cast) -> str:
    """An admin asks for the new account; returns the token mailed to the owner."""
    async with sessionmaker() as db:
        await set_bank_account(db, as_member(cast.admin, cast, is_admin=True), cast.group.id, NEW)
        await db.commit()
        [mail] = await db.scalars(select(MailMessage).where(MailMessage.template == "bank_account_confirm"))
    assert mail.to_address == cast.owner.email
    match = re.search(r"token=(cbc_[A-Za-z0-9_-]+)", mail.body_text)
    assert match
    return match.group(1)


async def owner_confirms(sessionmaker: async_sessionmaker[AsyncSession], cast: Cast, token: str) -> None:
    async with sessionmaker() as db:
        await confirm_bank_account(db, as_member(cast.owner, cast, is_owner=True, is_provider=True), cast.group.id, token)
        await db.commit()


async def test_the_account_in_force_is_paid_until_the_owner_confirms_the_new_one(sessionmaker, bank: SimulatedBank) -> None:
    # rule P8: an admin's change does not redirect the money; the owner's confirmation does
    cast = await seed(sessionmaker)  # an account ending in 6789 is in force
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 6000)])
    token = await request_change(sessionmaker, cast)
    first = await settle(sessionmaker, bank)
    assert first.paid == 1 and first.waiting_for_bank_account == 0
    [paid] = await payouts_of(sessionmaker, cast.group.id)
    assert paid.bank_account_last4 == "6789"
    assert [t["account_last4"] for t in await bank.transfers()] == ["6789"]

    await owner_confirms(sessionmaker, cast, token)
    await add_lines(sessionmaker, cast, [("provider", JAN_LATE, 2500)])
    await settle(sessionmaker, bank)
    [_, later] = await payouts_of(sessionmaker, cast.group.id)
    assert (later.status, later.bank_account_last4, later.amount_cents) == ("paid", "4444", 2500)


async def test_without_an_account_in_force_payouts_wait_with_that_reason(sessionmaker, bank: SimulatedBank) -> None:
    # rule P8: the first account too waits for the owner; the payout says why, and leaves once confirmed
    cast = await seed(sessionmaker, bank_account=None)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 100)])
    token = await request_change(sessionmaker, cast)
    async with sessionmaker() as db:
        upcoming = await upcoming_payouts(db, as_member(cast.admin, cast, is_admin=True), cast.group.id)
    assert upcoming.waiting_reason == PENDING_OWNER_CONFIRMATION
    result = await settle(sessionmaker, bank)
    assert result.waiting_for_bank_account == 1 and result.transfers_sent == 0 and result.paid == 0
    [waiting] = await payouts_of(sessionmaker, cast.group.id)
    assert waiting.status == "scheduled" and waiting.failure_reason.startswith("pending_owner_confirmation")
    assert await settle(sessionmaker, bank) and await bank.transfers() == []  # rerun: still waiting, nothing sent

    await owner_confirms(sessionmaker, cast, token)
    await settle(sessionmaker, bank)
    [paid] = await payouts_of(sessionmaker, cast.group.id)
    assert (paid.status, paid.bank_account_last4, paid.failure_reason, paid.attempts) == ("paid", "4444", None, 1)
    async with sessionmaker() as db:
        assert (await upcoming_payouts(db, as_member(cast.admin, cast, is_admin=True), cast.group.id)).waiting_reason is None


async def test_two_changes_at_once_leave_one_waiting(sessionmaker, bank: SimulatedBank) -> None:
    # rule P8: concurrent changes queue; the later supersedes the earlier, neither fails
    import asyncio

    from sqlalchemy import text

    cast = await seed(sessionmaker)

    async def change(number: str) -> None:
        async with sessionmaker() as db:
            body = NEW.model_copy(update={"account_number": number})
            await set_bank_account(db, as_member(cast.admin, cast, is_admin=True), cast.group.id, body)
            await db.commit()

    await asyncio.gather(change("000011112222"), change("000033334444"))
    async with sessionmaker() as db:
        statuses = sorted((await db.execute(text("SELECT status FROM bank_account_changes"))).scalars())
    assert statuses == ["pending_owner_confirmation", "superseded"]
