"""Bank account: billing settings (admin column), P1, DESIGN 8 (encrypted at rest, never returned whole), R1, R2."""

import re

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.models import BankAccount, Group, User
from tests.fixtures.factories import api_key, bearer, user_headers
from tests.fixtures.mail import mails_to
from tests.practice.conftest import audit_events

NUMBER = "000987654321"
ACCOUNT = {"account_holder_name": "Olive Owner", "routing_number": "021000021", "account_number": NUMBER, "account_type": "checking"}


def url(group: Group) -> str:
    return f"/v1/groups/{group.id}/bank-account"


async def raw_row(db: AsyncSession, group: Group) -> dict | None:
    row = (await db.execute(text("SELECT * FROM bank_accounts WHERE group_id = :g"), {"g": group.id})).mappings().first()
    return dict(row) if row else None


def confirmation_token(body: str) -> str:
    match = re.search(r"token=(cbc_[A-Za-z0-9_-]+)", body)
    assert match, "no confirmation link in the mail"
    return match.group(1)


async def owner_mails(db: AsyncSession, owner: User, template: str) -> list:
    return [m for m in await mails_to(db, owner.email) if m.template == template]


async def confirm(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, action: str = "confirm") -> httpx.Response:
    [*_, mail] = await owner_mails(db, owner, "bank_account_confirm")
    return await client.post(f"{url(group)}/{action}", json={"token": confirmation_token(mail.body_text)},
                             headers=await user_headers(db, owner))


async def test_the_account_number_is_encrypted_at_rest_and_only_its_last_four_returned(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, owner: User) -> None:
    # DESIGN 8: bank account numbers are encrypted at rest and never returned whole
    headers = await user_headers(db, admin)
    response = await client.put(url(group), json=ACCOUNT, headers=headers)
    assert response.status_code == 202, response.text
    pending = response.json()
    assert set(pending) == {"id", "account_holder_name", "account_type", "routing_number", "account_last4", "status",
                            "requested_at", "expires_at"}
    assert (pending["account_last4"], pending["routing_number"], pending["status"]) == ("4321", "021000021", "pending_owner_confirmation")
    assert NUMBER not in response.text
    confirmed = await confirm(client, db, group, owner)
    assert confirmed.status_code == 200, confirmed.text
    summary = confirmed.json()
    assert (summary["account_last4"], summary["status"]) == ("4321", "confirmed") and NUMBER not in confirmed.text
    for table in ("bank_accounts", "bank_account_changes"):
        rows = (await db.execute(text(f"SELECT * FROM {table} WHERE group_id = :g"), {"g": group.id})).mappings().all()
        assert rows
        for row in rows:  # no column holds the number in clear, in any encoding
            for column, value in row.items():
                assert NUMBER.encode() not in (value if isinstance(value, bytes) else str(value).encode()), column
            assert crypto.decrypt(row["account_number_encrypted"], purpose="bank_account_number") == NUMBER
    row = await raw_row(db, group)
    assert row is not None and row["updated_by_user_id"] == admin.id

    settings = await client.get(f"/v1/groups/{group.id}/settings", headers=headers)
    assert settings.json()["bank_account"] == summary and NUMBER not in settings.text
    assert settings.json()["pending_bank_account"] is None
    # rule R2: who changed it, field names only
    [event] = await audit_events(db, group, "bank_account.change_requested")
    assert (event.actor_user_id, event.target_type, event.target_id) == (admin.id, "bank_account", str(group.id))
    assert event.details["fields"] == ["account_holder_name", "account_number", "account_type", "routing_number"]
    assert event.details["replaced"] is False
    assert NUMBER not in str(event.details)
    [event] = await audit_events(db, group, "bank_account.confirmed")
    assert event.actor_user_id == owner.id


async def test_a_new_account_replaces_the_old_one_once_confirmed(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # P1: one account per group, the one payouts go to; rule P8: a change takes the owner's confirmation
    headers = await user_headers(db, owner)
    await client.put(url(group), json=ACCOUNT, headers=headers)
    await confirm(client, db, group, owner)
    second = {**ACCOUNT, "account_number": "55501234", "account_type": "savings", "routing_number": "011000015"}
    response = await client.put(url(group), json=second, headers=headers)
    assert response.json()["account_last4"] == "1234" and response.json()["account_type"] == "savings"
    settings = (await client.get(f"/v1/groups/{group.id}/settings", headers=headers)).json()
    assert settings["bank_account"]["account_last4"] == "4321"  # the account in force until the owner confirms
    assert settings["pending_bank_account"]["account_last4"] == "1234"
    assert (await confirm(client, db, group, owner)).status_code == 200
    stored = (await db.execute(select(BankAccount.account_number_encrypted).where(BankAccount.group_id == group.id))).scalars().all()
    assert [crypto.decrypt(value, purpose="bank_account_number") for value in stored] == ["55501234"]
    assert [e.details["replaced"] for e in await audit_events(db, group, "bank_account.change_requested")] == [False, True]


async def test_invalid_routing_and_account_numbers_are_refused_without_echoing_them(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User) -> None:
    headers = await user_headers(db, admin)
    cases = {
        "body.routing_number": {**ACCOUNT, "routing_number": "021000022"},  # check digit off by one
        "body.account_number": {**ACCOUNT, "account_number": "12-3456789"},
    }
    for field, body in cases.items():
        response = await client.put(url(group), json=body, headers=headers)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]
        assert body["account_number"] not in response.text and body["routing_number"] not in response.text
    short = await client.put(url(group), json={**ACCOUNT, "account_number": "123"}, headers=headers)
    assert short.status_code == 422
    kind = await client.put(url(group), json={**ACCOUNT, "account_type": "brokerage"}, headers=headers)
    assert kind.status_code == 422
    extra = await client.put(url(group), json={**ACCOUNT, "account_last4": "0000"}, headers=headers)
    assert extra.status_code == 422 and extra.json()["errors"][0]["type"] == "extra_forbidden"
    assert await raw_row(db, group) is None


async def test_providers_and_partner_keys_are_refused_and_other_groups_get_404(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User, stranger: User) -> None:
    # rule R1; capability table: billing settings are "no" for a provider; keys never change where money goes
    assert (await client.put(url(group), json=ACCOUNT, headers=await user_headers(db, provider))).status_code == 403
    key = bearer(await api_key(db, group))
    refused = await client.put(url(group), json=ACCOUNT, headers=key)
    assert refused.status_code == 403 and refused.json()["capability"] == "billing_settings"
    assert (await client.put(url(group), json=ACCOUNT, headers=await user_headers(db, stranger))).status_code == 404
    assert await raw_row(db, group) is None
    # The key reads the settings (account settings), but not the bank account summary.
    await client.put(url(group), json=ACCOUNT, headers=await user_headers(db, owner))
    await confirm(client, db, group, owner)
    settings = await client.get(f"/v1/groups/{group.id}/settings", headers=key)
    assert settings.status_code == 200 and settings.json()["bank_account"] is None
    assert settings.json()["pending_bank_account"] is None
    assert "4321" not in settings.text


async def test_the_owner_is_mailed_every_change_with_who_which_last_four_and_how_to_refuse(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User, owner: User
) -> None:
    # rule P8: every change is mailed to the owner
    response = await client.put(url(group), json=ACCOUNT, headers=await user_headers(db, admin))
    assert response.status_code == 202
    [mail] = await owner_mails(db, owner, "bank_account_confirm")
    assert "4321" in mail.body_text and NUMBER not in mail.body_text
    assert admin.email in mail.body_text and "Ada Admin" in mail.body_text
    assert "/bank-account/refuse" in mail.body_text and "/bank-account/confirm" in mail.body_text
    assert not [m for m in await mails_to(db, admin.email) if m.template.startswith("bank_account")]
    assert (await confirm(client, db, group, owner)).status_code == 200
    [decided] = await owner_mails(db, owner, "bank_account_decided")
    assert "4321" in decided.body_text and "now in force" in decided.body_text


async def test_only_the_owner_confirms_with_a_live_token(client: httpx.AsyncClient, db: AsyncSession, group: Group, admin: User,
                                                         owner: User) -> None:
    # rule P8: the confirmation is the owner's, through the mailed single-use link
    admin_headers, owner_headers = await user_headers(db, admin), await user_headers(db, owner)
    await client.put(url(group), json=ACCOUNT, headers=admin_headers)
    [mail] = await owner_mails(db, owner, "bank_account_confirm")
    token = confirmation_token(mail.body_text)
    by_admin = await client.post(f"{url(group)}/confirm", json={"token": token}, headers=admin_headers)
    assert by_admin.status_code == 403
    forged = await client.post(f"{url(group)}/confirm", json={"token": "cbc_" + "x" * 43}, headers=owner_headers)
    assert forged.status_code == 404 and forged.json()["code"] == "bank_confirmation_unknown"
    await db.execute(text("UPDATE bank_account_changes SET expires_at = now() - interval '1 second' WHERE group_id = :g"), {"g": group.id})
    expired = await client.post(f"{url(group)}/confirm", json={"token": token}, headers=owner_headers)
    assert expired.status_code == 410 and expired.json()["code"] == "bank_confirmation_expired"
    assert await raw_row(db, group) is None

    # A newer change supersedes the one waiting: its link no longer works.
    await client.put(url(group), json=ACCOUNT, headers=admin_headers)
    await client.put(url(group), json={**ACCOUNT, "account_number": "55501234"}, headers=admin_headers)
    first, second = [confirmation_token(m.body_text) for m in (await owner_mails(db, owner, "bank_account_confirm"))[1:]]
    stale = await client.post(f"{url(group)}/confirm", json={"token": first}, headers=owner_headers)
    assert stale.status_code == 409 and stale.json()["change_status"] == "superseded"
    assert (await client.post(f"{url(group)}/confirm", json={"token": second}, headers=owner_headers)).status_code == 200
    again = await client.post(f"{url(group)}/confirm", json={"token": second}, headers=owner_headers)
    assert again.status_code == 409 and again.json()["code"] == "bank_confirmation_used"
    assert (await raw_row(db, group))["account_last4"] == "1234"


async def test_the_owner_refuses_a_change_and_the_account_in_force_stays(client: httpx.AsyncClient, db: AsyncSession, group: Group,
                                                                         admin: User, owner: User) -> None:
    # rule P8: refusing changes nothing but the change; both are audited
    admin_headers = await user_headers(db, admin)
    await client.put(url(group), json=ACCOUNT, headers=admin_headers)
    await confirm(client, db, group, owner)
    await client.put(url(group), json={**ACCOUNT, "account_number": "55501234"}, headers=admin_headers)
    refused = await confirm(client, db, group, owner, "refuse")
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    settings = (await client.get(f"/v1/groups/{group.id}/settings", headers=admin_headers)).json()
    assert settings["bank_account"]["account_last4"] == "4321" and settings["pending_bank_account"] is None
    assert [e.actor_user_id for e in await audit_events(db, group, "bank_account.change_refused")] == [owner.id]
    assert len(await audit_events(db, group, "bank_account.change_requested")) == 2
